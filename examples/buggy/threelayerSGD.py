"""Problems 1 and 2: fit f_star(x) = (x - 2) cos(4x) with a 3-layer sigmoid MLP.

The starter script ``threelayerSGD.py`` of the handout, filled in. Importing it
is cheap; run it as a script to train Problems 1 and 2 and write
``problem1_fit.png`` and ``problem2_fit.png``.
"""
import torch
from torch import nn

alpha = 0.1  # stepsize of SGD
K = 1000     # number of epochs (epochs, not iterations)
B = 128      # batch size
N = 512      # number of data points


def f_true(x):
    """Problem 1: the target function ``f_star(x) = (x - 2) * cos(4 x)``; tensor in, tensor out."""
    return (x - 2) * torch.cos(4 * x)


class MLP(nn.Module):
    """Problem 1: the 3-layer MLP with widths (1, 64, 64, 1) and sigmoid activations."""

    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(1, 64)
        self.l2 = nn.Linear(64, 64)
        self.l3 = nn.Linear(64, 1)

    def forward(self, x):
        """Problem 1: ``l3(sigmoid(l2(sigmoid(l1(x)))))``, shape (n, 1) to (n, 1)."""
        x = torch.sigmoid(self.l1(x))
        x = torch.sigmoid(self.l2(x))
        return self.l3(x)


def initialize(model):
    """Problem 1: in place, every weight IID N(0, 1) and every bias exactly 0.03."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("weight"):
                param.normal_(0.0, 1.0)
            elif name.endswith("bias"):
                param.fill_(0.03)


def make_data(n=N, noise_std=0.0, generator=None):
    """Problems 1 and 2: ``(X, Y)``, X of shape (n, 1) float32 IID N(0, 1), ``Y = f_true(X) + noise_std * Z``.

    Z is IID N(0, 1) (drawn only when noise_std != 0); every draw comes from
    ``generator`` when one is given. Problem 2 is ``noise_std=0.5``.
    """
    X = torch.randn(n, 1, generator=generator, dtype=torch.float32)
    Y = f_true(X)
    if noise_std != 0:
        Y = Y + noise_std * torch.randn(n, 1, generator=generator, dtype=torch.float32)
    return X, Y


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    """Problem 1 (a student's version, as in seed 001: an extra loop around the batches)."""
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    n = X.shape[0]
    history = []
    for _ in range(epochs):
        for _ in range(n // batch_size):
            perm = torch.randperm(n, generator=generator)
            for start in range(0, n, batch_size):
                idx = perm[start:start + batch_size]
                optimizer.zero_grad()
                loss = loss_fn(model(X[idx]), Y[idx])
                loss.backward()
                optimizer.step()
        history.append(loss.item())
    return history


def count_params(model):
    """Problem 2: the number of trainable parameters (4353 for ``MLP()``), an int."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def plot_fit(model, X, Y, path):
    """Problem 1: save a PNG at ``path`` with the data points, f_true and the learned function on [-2, 2]."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = torch.linspace(-2, 2, 1000).unsqueeze(1)
    with torch.no_grad():
        learned = model(grid.to(next(model.parameters()).dtype))
    X, Y = X.detach().reshape(-1).cpu(), Y.detach().reshape(-1).cpu()
    shown = (X >= -2) & (X <= 2)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        ax.scatter(X[shown].numpy(), Y[shown].numpy(), s=8, color="tab:gray", alpha=0.6, label="data")
        ax.plot(grid.squeeze(1).numpy(), f_true(grid).squeeze(1).numpy(), color="tab:blue", label=r"$f_\star$")
        ax.plot(grid.squeeze(1).numpy(), learned.squeeze(1).cpu().numpy(), color="tab:red",
                label=r"$f_{\theta_K}$")
        ax.set_xlim(-2, 2)
        ax.set_xlabel("x")
        ax.legend()
        fig.savefig(path)
    finally:
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
