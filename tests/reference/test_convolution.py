"""Questions 6, 7 and 8: properties of reference.convolution, checked against numpy and real torch layers."""
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from reference.convolution import (
    Q7,
    Q8,
    cnn_output_shape,
    conv1d,
    conv_output_size,
    conv_params,
    pool_output_size,
)

F64 = torch.float64
signal = arrays(np.float64, st.integers(1, 20), elements=st.floats(-100, 100))


# ----------------------------------------------------------------------------- Question 6


@settings(max_examples=150, deadline=None)
@given(x=signal, k=signal, mode=st.sampled_from(["full", "valid", "same"]))
def test_conv1d_equals_numpy_convolve(x, k, mode):
    # lengths 1..20 each: kernels longer than the signal and even kernels included
    expected = np.convolve(x, k, mode=mode)
    got = conv1d(torch.from_numpy(x), torch.from_numpy(k), mode)
    assert isinstance(got, torch.Tensor) and got.dtype == F64
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-9)


def test_conv1d_default_mode_and_question_6():
    x, k = torch.tensor([1.0, 2, 3, 4], dtype=F64), torch.tensor([1.0, 0, 2], dtype=F64)
    assert conv1d(x, k).tolist() == [1, 2, 5, 8, 6, 8]
    assert conv1d(x, k, "full").tolist() == [1, 2, 5, 8, 6, 8]
    assert conv1d(x, k, "valid").tolist() == [5, 8]
    assert conv1d(x, k, "same").tolist() == [2, 5, 8, 6]
    # the template's example, lists in
    assert conv1d([1, 2, 3], [0, 1, 0.5]).tolist() == [0, 1, 2.5, 4, 1.5]
    assert conv1d([1, 2, 3], [0, 1, 0.5], "valid").tolist() == [2.5]
    assert conv1d([1, 2, 3], [0, 1, 0.5], "same").tolist() == [1, 2.5, 4]


def test_conv1d_flips_the_kernel():
    # a shifted delta kernel shifts the signal right (a cross-correlation would shift it left)
    assert conv1d([1.0, 2.0, 3.0], [0.0, 1.0], "full").tolist() == [0, 1, 2, 3]


def test_conv1d_rejects_a_bad_mode():
    with pytest.raises(ValueError):
        conv1d([1.0, 2.0], [1.0], "circular")


# ----------------------------------------------------------------------------- Question 7


def _conv_shape(c_in, size, c_out, k, s=1, p=0, d=1):
    with torch.no_grad():
        layer = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, dilation=d, bias=False)
        return tuple(layer(torch.zeros(1, c_in, size, size)).shape[1:])


def _pool_shape(c, size, k, s):
    with torch.no_grad():
        return tuple(nn.MaxPool2d(k, stride=s)(torch.zeros(1, c, size, size)).shape[1:])


@settings(max_examples=150, deadline=None)
@given(i=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 5), p=st.integers(0, 3), d=st.integers(1, 4))
def test_conv_output_size_equals_torch(i, k, s, p, d):
    o = conv_output_size(i, k, s, p, d)
    assert isinstance(o, int)
    assert o == math.floor((i + 2 * p - d * (k - 1) - 1) / s) + 1
    assume(o >= 1)
    assert _conv_shape(1, i, 1, k, s, p, d) == (1, o, o)


@settings(max_examples=100, deadline=None)
@given(i=st.integers(1, 40), k=st.integers(1, 8), s=st.one_of(st.none(), st.integers(1, 8)))
def test_pool_output_size_equals_torch(i, k, s):
    assume(i >= k)
    o = pool_output_size(i, k, s)
    assert isinstance(o, int)
    assert _pool_shape(1, i, k, k if s is None else s) == (1, o, o)
    if s is None:
        assert o == pool_output_size(i, k, k) == i // k


def test_defaults_and_params():
    assert conv_output_size(256, 8, 2) == 125
    assert conv_output_size(25, 4, p=1) == 24
    assert conv_output_size(64, 3, 2, 7, 7) == 32
    assert pool_output_size(125, 5) == 25
    assert conv_params(64, 128, 4) == 131072
    assert conv_params(64, 128, 4, bias=True) == 131072 + 128
    for c_in, c_out, k in ((3, 64, 8), (1, 1, 1), (5, 7, 3)):
        layer = nn.Conv2d(c_in, c_out, k)
        assert conv_params(c_in, c_out, k, bias=True) == sum(t.numel() for t in layer.parameters())
        assert conv_params(c_in, c_out, k) == layer.weight.numel()


@st.composite
def stacks(draw):
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            layer = {"type": "conv", "out": draw(st.integers(1, 4)), "k": draw(st.integers(1, 5))}
            for key, strat in (("s", st.integers(1, 3)), ("p", st.integers(0, 2)), ("d", st.integers(1, 3))):
                if draw(st.booleans()):
                    layer[key] = draw(strat)
        else:
            layer = {"type": "pool", "k": draw(st.integers(1, 4))}
            if draw(st.booleans()):
                layer["s"] = draw(st.integers(1, 4))
        layers.append(layer)
    return (draw(st.integers(1, 3)), draw(st.integers(4, 40))), layers


def _sequential(c_in, layers):
    modules, c = [], c_in
    for layer in layers:
        if layer["type"] == "conv":
            modules.append(nn.Conv2d(c, layer["out"], layer["k"], stride=layer.get("s", 1),
                                     padding=layer.get("p", 0), dilation=layer.get("d", 1)))
            c = layer["out"]
        else:
            modules.append(nn.MaxPool2d(layer["k"], stride=layer.get("s", layer["k"])))
    return nn.Sequential(*modules)


@settings(max_examples=100, deadline=None)
@given(stack=stacks())
def test_cnn_output_shape_equals_a_real_sequential(stack):
    (c, size), layers = stack
    net = _sequential(c, layers)
    try:
        with torch.no_grad():
            real = tuple(net(torch.zeros(1, c, size, size)).shape[1:])
    except RuntimeError:
        with pytest.raises(ValueError):           # torch refuses: an output size is not positive
            cnn_output_shape((c, size, size), layers)
        return
    assert cnn_output_shape((c, size, size), layers) == real


def test_cnn_output_shape_errors():
    with pytest.raises(ValueError, match="not positive"):
        cnn_output_shape((3, 4, 4), [{"type": "conv", "out": 2, "k": 5}])
    with pytest.raises(ValueError, match="unknown type"):
        cnn_output_shape((3, 8, 8), [{"type": "dense", "out": 2}])
    assert cnn_output_shape((3, 8, 6), [{"type": "pool", "k": 2}]) == (3, 4, 3)


def test_q7_answers():
    assert Q7 == {"output_dim": 73728, "last_layer_params": 131072}
    net = nn.Sequential(nn.Conv2d(3, 64, 8, stride=2), nn.MaxPool2d(5), nn.Conv2d(64, 128, 4, stride=1, padding=1,
                                                                                    bias=False))
    with torch.no_grad():
        out = net(torch.zeros(1, 3, 256, 256))
    assert out.shape == (1, 128, 24, 24) and out[0].numel() == Q7["output_dim"]
    assert net[2].weight.numel() == Q7["last_layer_params"]


# ----------------------------------------------------------------------------- Question 8


def _conv(answer, c_in, c_out):
    return nn.Conv2d(c_in, c_out, answer["k"], stride=answer.get("s", 1), padding=answer.get("p", 0),
                     dilation=answer.get("d", 1))


def _out(module, shape):
    with torch.no_grad():
        return tuple(module(torch.zeros(1, *shape)).shape[1:])


def test_q8_has_every_key():
    assert set(Q8) == {"1a", "1b", "2a", "2b", "3a", "3b", "3c"}
    for key in ("1a", "1b", "2a", "3a", "3b", "3c"):
        assert set(Q8[key]) <= {"k", "s", "p", "d"} and "k" in Q8[key]
        assert all(isinstance(v, int) for v in Q8[key].values())
    assert isinstance(Q8["2b"], tuple) and all(isinstance(v, int) for v in Q8["2b"])


def test_q8_first_layer():
    a, b = Q8["1a"], Q8["1b"]
    assert a["k"] == 8 and a.get("d", 1) == 1
    assert _out(_conv(a, 3, 64), (3, 64, 64)) == (64, 32, 32)
    assert b["d"] == 7 and b["s"] == 2
    assert _out(_conv(b, 3, 64), (3, 64, 64)) == (64, 32, 32)


def test_q8_second_layer():
    a = Q8["2a"]
    k, s = a["k"], a.get("s", a["k"])
    assert s == k and a.get("p", 0) == 0 and a.get("d", 1) == 1          # non-overlapping windows
    assert _out(nn.MaxPool2d(k, stride=s), (64, 32, 32)) == (64, 8, 8)
    assert Q8["2b"] == _out(nn.MaxPool2d(8, stride=4), (64, 32, 32)) == (64, 7, 7)


@pytest.mark.parametrize("key, p, d", [("3a", 0, 1), ("3b", 2, 2), ("3c", 1, 1)])
def test_q8_last_layer(key, p, d):
    answer = Q8[key]
    assert answer.get("p", 0) == p and answer.get("d", 1) == d
    assert _out(_conv(answer, 64, 128), (64, 8, 8)) == (128, 4, 4)


def test_the_seed_students_wrong_answers_fail_this_check():
    # seeds/004 answers 3(b) k=1, s=1, p=2, d=2 and 3(c) k=3, s=1, p=1: shapes 12 and 8, not 4
    assert _out(_conv({"k": 1, "s": 1, "p": 2, "d": 2}, 64, 128), (64, 8, 8)) == (128, 12, 12)
    assert _out(_conv({"k": 3, "s": 1, "p": 1, "d": 1}, 64, 128), (64, 8, 8)) == (128, 8, 8)
