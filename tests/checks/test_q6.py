"""Question 6 checks: conv1d on the question, in every mode, and on the edge cases."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.hw3testing import grade_checks, write_submission
from hw3.checks.q6 import CORRELATION, explain_conv
from grader.outcome import Status

Q6_IDS = ["Q6.conv1d.question", "Q6.conv1d.modes", "Q6.conv1d.edge"]

LOOPS = '''
def conv1d(x, k, mode="full"):               # plain Python, returns lists
    x, k = [float(v) for v in x], [float(v) for v in k]
    if len(k) > len(x):
        x, k = k, x
    n, m = len(x), len(k)
    full = [sum(x[j] * k[t - j] for j in range(n) if 0 <= t - j < m) for t in range(n + m - 1)]
    if mode == "full":
        return full
    if mode == "valid":
        return full[m - 1:n]
    start = (m - 1) // 2
    return full[start:start + n]
'''

NUMPY = '''
import numpy as np


def conv1d(x, k, mode="full"):
    return np.convolve(np.asarray(x), np.asarray(k), mode=mode)
'''

CORRELATE = '''
import numpy as np


def conv1d(x, k, mode="full"):               # no flip: cross-correlation
    return torch.from_numpy(np.correlate(np.asarray(x), np.asarray(k), mode=mode))
'''

SAME_EVEN = '''
def conv1d(x, k, mode="full"):               # 'same' from m // 2: right for odd m only
    full = torch.from_numpy(np.convolve(np.asarray(x), np.asarray(k), "full"))
    n, m = max(len(x), len(k)), min(len(x), len(k))
    if mode == "full":
        return full
    if mode == "valid":
        return full[m - 1:n]
    return full[m // 2:m // 2 + n]
'''

SAME_SHIFTED_NO_SWAP = '''
def conv1d(x, k, mode="full"):               # 'same' one entry late; 'valid' never swaps
    full = torch.from_numpy(np.convolve(np.asarray(x), np.asarray(k), "full"))
    if mode == "full":
        return full
    if mode == "valid":
        return full[len(k) - 1:len(x)]
    n, m = max(len(x), len(k)), min(len(x), len(k))
    start = (m - 1) // 2 + 1
    return full[start:start + n]
'''


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, rubric):
    base = tmp_path_factory.mktemp("q6")
    numpy_import = "import numpy as np\n"
    subs = {
        "reference": write_submission(base / "reference"),
        "loops": write_submission(base / "loops", patch={"convolution": LOOPS}),
        "numpy": write_submission(base / "numpy", patch={"convolution": NUMPY}),
        "correlate": write_submission(base / "correlate", patch={"convolution": CORRELATE}),
        "same_even": write_submission(base / "same_even", patch={"convolution": numpy_import + SAME_EVEN}),
        "shifted": write_submission(base / "shifted", patch={"convolution": numpy_import + SAME_SHIFTED_NO_SWAP}),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:                 # one child each, side by side
        graded = {name: pool.submit(grade_checks, folder, rubric, ids=Q6_IDS) for name, folder in subs.items()}
        return {name: future.result() for name, future in graded.items()}


@pytest.mark.parametrize("style", ["reference", "loops", "numpy"])
def test_correct_solutions_pass(outcomes, style):
    for check_id in Q6_IDS:
        assert outcomes[style][check_id].status is Status.PASSED, (style, check_id, outcomes[style][check_id].detail)


def test_correlation_is_named(outcomes):
    result = outcomes["correlate"]
    for check_id in Q6_IDS:
        assert result[check_id].status is Status.FAILED
        assert result[check_id].score == 0
    message = result["Q6.conv1d.question"].message
    assert re.search(re.escape("conv1d([1, 2, 3, 4], [1, 0, 2]): values are not close!"), message)
    assert re.search(re.escape("It looks like cross-correlation: the kernel must be flipped (true convolution)."),
                     message)
    assert re.search(re.escape(CORRELATION), result["Q6.conv1d.edge"].detail)


def test_same_from_m_over_2_fails_on_even_kernels_only(outcomes):
    result = outcomes["same_even"]
    assert result["Q6.conv1d.question"].status is Status.PASSED              # m = 3 is odd
    modes = result["Q6.conv1d.modes"]
    assert modes.status is Status.FAILED
    assert re.search(re.escape("'same' is off by one: numpy.convolve keeps the entries of 'full' from index "
                               "(m - 1) // 2 = 1 (m = 4, the shorter length), not 2."), modes.message)


def test_partial_credit_on_the_question(outcomes):
    question = outcomes["shifted"]["Q6.conv1d.question"]
    assert question.status is Status.FAILED
    assert question.score == pytest.approx(2 * 2 / 3)                        # full and valid right
    assert re.search(re.escape("conv1d([1, 2, 3, 4], [1, 0, 2], mode='same'): values are not close!"),
                     question.message)
    assert re.search(re.escape("'same' is off by one: numpy.convolve keeps the entries of 'full' from index "
                               "(m - 1) // 2 = 1 (m = 3, the shorter length), not 2."), question.message)


def test_longer_kernel_must_be_swapped_in_valid(outcomes):
    edge = outcomes["shifted"]["Q6.conv1d.edge"]
    assert edge.status is Status.FAILED
    assert "off by one" not in edge.message                                   # hidden: only the hint
    assert re.search(re.escape("The kernel is longer than the signal: numpy.convolve swaps them (convolution "
                               "commutes), so 'valid' has max(n, m) - min(n, m) + 1 = 4 entries."), edge.detail)
    assert re.search(r"\.\.\. and \d+ more calls differ\.", edge.detail)


def test_explain_conv_recognises_nothing_on_other_errors():
    x, k = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, 2.0])
    assert explain_conv(np.zeros(6), x, k, "full") == ""
    assert explain_conv(np.convolve(x, k[::-1], "same"), x, k, "same").startswith("It looks like cross-correlation")
