"""How often P1.initialize's judge fails a correct initialization, and how close correct draws come.

    python bench/init_false_fail.py [--draws 20000]

Draws the three weight matrices as a correct `initialize` does after the probe's
`torch.manual_seed(seed)` (torch.randn of (64, 1), (64, 64), (1, 64); biases 0.03), for
seeds 0, 1, ..., judges each with hw3/checks/p1.py's own `_judge_initialize`, and prints
the failures (the budget is 1e-6: expect none) and, for the order tests (SerialTest), the
largest |correlation| / limit seen (below 1 passes) and how often each exceeded half its limit.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

import torch  # noqa: E402

from grader.checks.base import JudgeContext, Observation  # noqa: E402
from grader.checks.statistical import serial_test  # noqa: E402
from grader.compare import Tolerance  # noqa: E402
from hw3.checks import p1  # noqa: E402


def correct_params(seed: int) -> dict[str, np.ndarray]:
    torch.manual_seed(seed)
    return {name: (torch.randn(shape) if name.endswith("weight") else torch.full(shape, 0.03)).numpy()
            for name, shape in p1.PARAM_SHAPES.items()}


def judge(params: dict[str, np.ndarray]):
    probe = p1._initialize_probes(np.random.default_rng(0))[0]
    context = JudgeContext((Observation(probe, returned={"params": params}),), Tolerance(), np.random.default_rng(0))
    return p1._judge_initialize(context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20_000)
    draws = parser.parse_args().draws
    started = time.monotonic()
    failures: list[tuple[int, str]] = []
    worst: dict[str, float] = {}
    over_half: dict[str, int] = {}
    for seed in range(draws):
        params = correct_params(seed)
        verdict = judge(params)
        if verdict.fraction != 1.0:
            failures.append((seed, verdict.message))
        weights = {n: w for n, w in params.items() if n.endswith("weight")}
        p = p1.FALSE_FAIL / p1._init_tests(weights)
        for name, w in weights.items():
            for where, values in p1._orders(w).items():
                test = serial_test(values, p)
                key = f"{name} {where}".strip()
                ratio = abs(test.correlation) / test.limit
                worst[key] = max(worst.get(key, 0.0), ratio)
                over_half[key] = over_half.get(key, 0) + (ratio > 0.5)
    print(f"{draws} correct draws judged in {time.monotonic() - started:.0f} s: "
          f"{len(failures)} failed ({len(failures) / draws:.2e}; budget {p1.FALSE_FAIL:.0e})")
    for seed, message in failures[:5]:
        print(f"  seed {seed}: {message}")
    for key in worst:
        print(f"  {key}: largest |correlation| / limit {worst[key]:.3f}, above half the limit {over_half[key]} times")


if __name__ == "__main__":
    main()
