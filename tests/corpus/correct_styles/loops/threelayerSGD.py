"""Problems 1 and 2: fit f_star(x) = (x - 2) cos(4x) with a 3-layer sigmoid MLP."""
import torch
from torch import nn

alpha = 0.1  # stepsize of SGD
K = 1000     # number of epochs (epochs, not iterations)
B = 128      # batch size
N = 512      # number of data points


def f_true(x):
    return (x - 2) * torch.cos(4 * x)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(1, 64)
        self.l2 = nn.Linear(64, 64)
        self.l3 = nn.Linear(64, 1)

    def forward(self, x):
        x = self.l1(x)
        x = torch.sigmoid(x)
        x = self.l2(x)
        x = torch.sigmoid(x)
        x = self.l3(x)
        return x


def initialize(model):
    model.l1.weight.data = torch.normal(0, 1, model.l1.weight.shape)
    model.l1.bias.data = torch.full(model.l1.bias.shape, 0.03)
    model.l2.weight.data = torch.normal(0, 1, model.l2.weight.shape)
    model.l2.bias.data = torch.full(model.l2.bias.shape, 0.03)
    model.l3.weight.data = torch.normal(0, 1, model.l3.weight.shape)
    model.l3.bias.data = torch.full(model.l3.bias.shape, 0.03)


def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.randn(n, 1, generator=generator, dtype=torch.float32)
    noise = torch.randn(n, 1, generator=generator, dtype=torch.float32)
    Y = f_true(X) + noise_std * noise
    return X, Y


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_function = nn.MSELoss()
    n = len(X)
    epoch_losses = []
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=generator)
        total = 0.0
        count = 0
        for start in range(0, n, batch_size):
            batch = perm[start:start + batch_size]
            optimizer.zero_grad()
            y_pred = model(X[batch])
            loss = loss_function(y_pred, Y[batch])
            loss.backward()
            optimizer.step()
            total += loss.item()
            count += 1
        epoch_losses.append(total / count)
    return epoch_losses


def count_params(model):
    count = 0
    for param in model.parameters():
        if param.requires_grad:
            count += param.numel()
    return count


def plot_fit(model, X, Y, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xx = torch.linspace(-2, 2, 1000).unsqueeze(1)
    with torch.no_grad():
        learned = model(xx)
    fig = plt.figure()
    plt.plot(X.squeeze(1), Y.squeeze(1), "rx", label="Data points")
    plt.plot(xx.squeeze(1), f_true(xx).squeeze(1), "r", label="True function")
    plt.plot(xx.squeeze(1), learned.squeeze(1), "b", label="Learned function")
    plt.xlim(-2, 2)
    plt.legend()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    torch.manual_seed(0)
    for problem, noise_std in ((1, 0.0), (2, 0.5)):
        X_train, y_train = make_data(N, noise_std=noise_std)
        model = MLP()
        initialize(model)
        losses = train(model, X_train, y_train, epochs=K, lr=alpha, batch_size=B)
        print(f"Problem {problem}: mean batch loss of the last epoch {losses[-1]:.4f}")
        plot_fit(model, X_train, y_train, f"problem{problem}_fit.png")
        print(f"Problem {problem}: wrote problem{problem}_fit.png")
    print(f"Problem 2: the MLP has {count_params(MLP())} trainable parameters")
