import torch
from torch import nn
from torch.nn import functional as F


def flatten(x):
    return x.flatten(1)


class SmallCNN(nn.Module):
    def __init__(self, num_classes=3):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 2)       # bug: a wrong last layer (2 outputs, whatever num_classes)

    def forward(self, x):
        return self.fc(flatten(self.pool(torch.relu(self.conv(x)))))


def train(model, X, y, epochs=20, lr=0.1):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()                          # bug: no optimizer.step()
        losses.append(loss.item())
    return losses
