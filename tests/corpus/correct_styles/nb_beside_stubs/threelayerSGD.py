"""Problems 1 and 2: fit f_star(x) = (x - 2) cos(4x) with a 3-layer sigmoid MLP.

This is the starter script ``threelayerSGD.py`` that the handout names. The
constants, ``f_true`` and the layers of ``MLP`` are given; you write
``MLP.forward``, ``initialize``, ``make_data``, ``train``, ``count_params`` and
``plot_fit``. Each of them still raises ``NotImplementedError``: replace that line
with your code.

Once everything is filled in, run it as a script::

    python threelayerSGD.py

It trains the network of Problem 1 (clean labels) and of Problem 2 (labels with
noise of standard deviation 0.5), writes ``problem1_fit.png`` and
``problem2_fit.png`` and prints the number of trainable parameters. The grader
only imports this file, so keep anything slow under ``if __name__ == "__main__":``.

Shapes: data points are column vectors, ``X`` and ``Y`` of shape (n, 1), float32.
"""
import torch
from torch import nn

alpha = 0.1  # stepsize of SGD
K = 1000     # number of epochs (epochs, not iterations)
B = 128      # batch size
N = 512      # number of data points


def f_true(x):
    """The target function of Problem 1: f_star(x) = (x - 2) * cos(4 x). Given.

    Tensor in, tensor of the same shape and dtype out.
    """
    return (x - 2) * torch.cos(4 * x)


class MLP(nn.Module):
    """The 3-layer MLP of Problem 1, layer widths (n0, n1, n2, n3) = (1, 64, 64, 1).

    The layers are given and must keep their names ``l1``, ``l2``, ``l3`` (the
    grader and the handout's initialization hint use them).
    """

    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(1, 64)
        self.l2 = nn.Linear(64, 64)
        self.l3 = nn.Linear(64, 1)

    def forward(self, x):
        """Problem 1: the forward pass, ``l3(sigmoid(l2(sigmoid(l1(x)))))``.

        ``x`` has shape (n, 1); return shape (n, 1). The activation is the sigmoid
        (``torch.sigmoid``) after the first two layers; the last layer is linear
        (no activation after ``l3``).
        """
        raise NotImplementedError("Problem 1: implement MLP.forward")


def initialize(model):
    """Problem 1: initialize ``model`` (an ``MLP``) in place.

    Every weight of all three layers IID N(0, 1) (unit Gaussians), every bias
    exactly 0.03. Return nothing; change ``model``'s parameters in place. The
    handout's hint does it layer by layer::

        model.l1.weight.data = torch.normal(0, 1, model.l1.weight.shape)
        model.l1.bias.data = torch.full(model.l1.bias.shape, 0.03)

    Keep the parameters' dtype (float32) and do all three layers. The grader
    checks the statistics of the weights, so do not rescale them, and checks that
    the biases equal 0.03 exactly.
    """
    raise NotImplementedError("Problem 1: implement initialize")


def make_data(n=N, noise_std=0.0, generator=None):
    """Problems 1 and 2: draw a training set; return ``(X, Y)``.

    - ``X``: shape (n, 1), dtype float32, IID unit Gaussians N(0, 1).
    - ``Y = f_true(X) + noise_std * Z`` with ``Z`` of shape (n, 1), IID N(0, 1),
      float32. Problem 1 is ``noise_std=0.0`` (clean labels), Problem 2 is
      ``noise_std=0.5``.

    Every random draw (both ``X`` and ``Z``) must come from ``generator`` when one
    is given, e.g. ``torch.randn(n, 1, generator=generator, dtype=torch.float32)``,
    so that the same generator state gives the same data. With
    ``generator=None`` use torch's global random state.
    """
    raise NotImplementedError("Problem 1: implement make_data")


def train(model, X, Y, epochs=K, lr=alpha, batch_size=B, generator=None):
    """Problem 1: minibatch shuffled cyclic SGD on the squared loss.

    ``X`` and ``Y`` are float32 of shape (n, 1), as ``make_data`` returns them.
    For each of the ``epochs`` epochs:

    1. draw a fresh random permutation of the n points (from ``generator`` when
       one is given: ``torch.randperm(n, generator=generator)``);
    2. walk through it in batches of ``batch_size`` consecutive entries, so that
       every point is visited exactly once per epoch; the last batch is smaller
       when ``batch_size`` does not divide n (never drop it, never pad it);
    3. for each batch take exactly one SGD step with step size ``lr``
       (``torch.optim.SGD(model.parameters(), lr=lr)``, no momentum, no weight
       decay) on the loss ``nn.MSELoss()(model(X_batch), Y_batch)`` (or half of it,
       as the handout's formula writes it: both are accepted).

    Do not re-initialize ``model``: train it from the parameters it has (call
    ``initialize`` before ``train``, not inside it). Return a list of ``epochs``
    Python floats: for each epoch, the mean of that epoch's batch losses
    (``loss.item()``).

    A ``DataLoader(TensorDataset(X, Y), batch_size=batch_size, shuffle=True,
    generator=generator)`` does all of 1 and 2 for you and is fine, and so is any
    other way of drawing the permutation. The grader records the batches your
    loop feeds to ``model`` with gradients on and replays SGD on them, so call
    ``model(X_batch)`` once per batch and evaluate anything else (e.g. an extra
    loss for printing) under ``torch.no_grad()``.
    """
    raise NotImplementedError("Problem 1: implement train")


def count_params(model):
    """Problem 2: the number of trainable parameters of ``model``, as an ``int``.

    Count every entry of every parameter with ``requires_grad`` (weights and
    biases). Compare with your count by hand for the widths (1, 64, 64, 1).
    """
    raise NotImplementedError("Problem 2: implement count_params")


def plot_fit(model, X, Y, path):
    """Problem 1: save a plot of the fit as a PNG file at ``path``.

    Draw, on x in [-2, 2]: the data points ``(X, Y)`` (e.g. as dots or crosses),
    the true function ``f_true`` and the learned function ``model`` (evaluate it
    under ``torch.no_grad()`` on a fine grid such as
    ``torch.linspace(-2, 2, 1000).unsqueeze(1)``), with a legend. Write the file
    with ``fig.savefig(path)`` and close the figure; do not call ``plt.show()``.

    Import matplotlib inside this function, not at the top of the module (the
    grader imports the module without a display, and fast)::

        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    """
    raise NotImplementedError("Problem 1: implement plot_fit")


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
