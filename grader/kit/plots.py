"""Drawing the self-check's plots: a check module's ``selfcheck_plot`` (grader/kit/selfcheck.py) computes
what to show from what its judge saw, and draws it here. Matplotlib is imported when a plot is drawn."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def draw_curves(path, x: np.ndarray, curves: Sequence[tuple[str, str, np.ndarray]], *, title: str,
                points: tuple[str, np.ndarray, np.ndarray] | None = None):
    """Save at `path` a figure of `curves` ((label, colour, y over x) each) over the range of `x`, behind
    them the `points` ((label, X, Y)) that lie in that range; returns `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    try:
        if points is not None:
            label, X, Y = points
            shown = (X >= x[0]) & (X <= x[-1])
            ax.scatter(X[shown], Y[shown], s=8, color="tab:gray", alpha=0.6, label=label)
        for label, colour, y in curves:
            ax.plot(x, y, color=colour, label=label)
        ax.set_xlim(x[0], x[-1])
        ax.set_xlabel("x")
        ax.set_title(title)
        ax.legend()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
