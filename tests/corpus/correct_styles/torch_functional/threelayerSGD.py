"""Problems 1 and 2: fit f_star(x) = (x - 2) cos(4x) with a 3-layer sigmoid MLP."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

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
        return self.l3(F.sigmoid(self.l2(F.sigmoid(self.l1(x)))))


@torch.no_grad()
def initialize(model):
    for layer in (model.l1, model.l2, model.l3):
        nn.init.normal_(layer.weight, mean=0.0, std=1.0)
        nn.init.constant_(layer.bias, 0.03)


def make_data(n=N, noise_std=0.0, generator=None):
    X = torch.randn(n, 1, generator=generator, dtype=torch.float32)
    Z = torch.randn(n, 1, generator=generator, dtype=torch.float32)
    Y = f_true(X) + noise_std * Z
    return X, Y


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    loader = DataLoader(TensorDataset(X, Y), batch_size=batch_size, shuffle=True,
                        generator=generator)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    history = []
    for _ in range(epochs):
        batch_losses = []
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
        history.append(sum(batch_losses) / len(batch_losses))
    return history


def count_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def plot_fit(model, X, Y, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xx = torch.linspace(-2, 2, 1000).unsqueeze(1)
    with torch.no_grad():
        yy = model(xx)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(X.squeeze(1).numpy(), Y.squeeze(1).numpy(), "x", ms=3, alpha=0.6, label="data")
    ax.plot(xx.squeeze(1).numpy(), f_true(xx).squeeze(1).numpy(), "k-", label=r"$f_\star$")
    ax.plot(xx.squeeze(1).numpy(), yy.squeeze(1).numpy(), "r-", label=r"$f_\theta$ (learned)")
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
    print(f"Problem 2: the MLP has {count_params(MLP())} trainable parameters")
