"""Problems 1 and 2: fit f_star(x) = (x - 2) cos(4x) with a 3-layer sigmoid MLP.

Everything in single precision (float32), as PyTorch models are by default.
"""
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
        x = x.float()
        h = torch.sigmoid(self.l1(x))
        h = torch.sigmoid(self.l2(h))
        return self.l3(h)


def initialize(model):
    for layer in [model.l1, model.l2, model.l3]:
        layer.weight.data = torch.normal(0.0, 1.0, layer.weight.shape).float()
        layer.bias.data = torch.full(layer.bias.shape, 0.03, dtype=torch.float32)


def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.randn(n, 1, generator=generator, dtype=torch.float32)
    noise = torch.randn(n, 1, generator=generator, dtype=torch.float32)
    Y = f_true(X) + noise_std * noise
    return X.float(), Y.float()


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    X, Y = X.float(), Y.float()
    n = X.shape[0]
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    mse = nn.MSELoss()
    epoch_losses = []
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=generator)
        total, count = 0.0, 0
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            loss = mse(model(X[idx]), Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            count += 1
        epoch_losses.append(total / count)
    return epoch_losses


def count_params(model):
    total = 0
    for p in model.parameters():
        if p.requires_grad:
            total += p.numel()
    return int(total)


def plot_fit(model, X, Y, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = torch.linspace(-2, 2, 1000, dtype=torch.float32).unsqueeze(1)
    with torch.no_grad():
        pred = model(grid)
    fig = plt.figure()
    plt.scatter(X.flatten().tolist(), Y.flatten().tolist(), s=6, c="gray", label="training data")
    plt.plot(grid.flatten().tolist(), f_true(grid).flatten().tolist(), "b--", label="f_true")
    plt.plot(grid.flatten().tolist(), pred.flatten().tolist(), "r", label="MLP")
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
        print(f"Problem {problem}: final epoch loss {losses[-1]:.4f}")
        plot_fit(model, X_train, y_train, f"problem{problem}_fit.png")
    print("number of trainable parameters:", count_params(MLP()))
