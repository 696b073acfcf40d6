"""Problems 1 and 2: fit f_star(x) = (x - 2) cos(4x) with a 3-layer sigmoid MLP."""
import numpy as np
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
        h1 = torch.sigmoid(self.l1(x))
        h2 = torch.sigmoid(self.l2(h1))
        out = self.l3(h2)
        return out


def initialize(model):
    layers = [model.l1, model.l2, model.l3]
    for layer in layers:
        layer.weight.data = torch.normal(0, 1, layer.weight.shape)
        layer.bias.data = torch.full(layer.bias.shape, 0.03)


def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.randn(n, 1, generator=generator, dtype=torch.float32)
    Z = torch.randn(n, 1, generator=generator, dtype=torch.float32)
    Y = f_true(X) + noise_std * Z
    return X, Y


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    n = X.shape[0]
    loss_fn = nn.MSELoss()
    params = list(model.parameters())
    history = []
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=generator)
        batch_losses = []
        start = 0
        while start < n:
            idx = perm[start:start + batch_size]
            xb = X[idx]
            yb = Y[idx]
            pred = model(xb)
            loss = loss_fn(pred, yb)
            # manual SGD step
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
            batch_losses.append(loss.item())
            start += batch_size
        history.append(float(np.mean(batch_losses)))
    return history


def count_params(model):
    total = 0
    for p in model.parameters():
        if p.requires_grad:
            total += int(np.prod(p.shape))
    return int(total)


def plot_fit(model, X, Y, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = torch.linspace(-2, 2, 1000).unsqueeze(1)
    with torch.no_grad():
        pred = model(grid)
    xs = grid.numpy().ravel()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(X.numpy().ravel(), Y.numpy().ravel(), "x", color="tab:red", alpha=0.5, label="data")
    ax.plot(xs, f_true(grid).numpy().ravel(), "k-", label="f_true")
    ax.plot(xs, pred.numpy().ravel(), "b-", label="learned")
    ax.set_xlim(-2, 2)
    ax.set_xlabel("x")
    ax.legend()
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
