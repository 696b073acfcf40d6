"""The process boundary's format: plain data round-trips, nothing else gets through."""
import base64
import json
import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from grader.probes import wire

finite = st.floats(allow_nan=False, allow_infinity=False)
leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**62, 2**62), finite, st.text(max_size=20))
plain = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.text(alphabet="abc", min_size=1, max_size=3), inner, max_size=3)),
    max_leaves=12,
)


@given(plain)
def test_plain_data_round_trips_through_json(value):
    assert wire.decode(json.loads(json.dumps(wire.encode(value)))) == value


@given(hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_]),
                  shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
def test_arrays_keep_dtype_shape_and_values(arr):
    back = wire.decode(json.loads(json.dumps(wire.encode(arr))))
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    assert not isinstance(back, wire.TorchArray)


def test_tensors_come_back_marked_as_tensors():
    back = wire.decode(wire.encode(torch.arange(6, dtype=torch.float64).reshape(2, 3)))
    assert isinstance(back, wire.TorchArray) and back.shape == (2, 3)


def test_non_finite_floats_are_tagged_not_invalid_json():
    encoded = wire.encode([math.nan, math.inf, -math.inf])
    json.dumps(encoded, allow_nan=False)
    nan, inf, ninf = wire.decode(encoded)
    assert math.isnan(nan) and inf == math.inf and ninf == -math.inf


def test_objects_that_are_not_data_become_opaque():
    class Weird:
        def __repr__(self):
            raise RuntimeError("no repr for you")

    back = wire.decode(wire.encode(Weird()))
    assert isinstance(back, wire.Opaque) and back.type_name == "Weird"


def test_dicts_with_non_string_keys_survive():
    assert wire.decode(json.loads(json.dumps(wire.encode({1: "a", (2, 3): "b"})))) == {1: "a", (2, 3): "b"}


@pytest.mark.parametrize("forged", [
    {"__nd__": ["object", [1], base64.b64encode(b"x" * 8).decode()]},
    {"__nd__": ["float64", [3], base64.b64encode(b"x" * 8).decode()]},
    {"__nd__": "nonsense"},
])
def test_forged_arrays_are_refused(forged):
    with pytest.raises(wire.WireError):
        wire.decode(forged)


def test_oversized_header_is_refused():
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.parse_header(wire._HEADER.pack(wire.MAX_MESSAGE_BYTES + 1))


def test_messages_cross_a_pipe():
    r, w = os.pipe()
    wire.send(w, {"token": "t", "value": wire.encode(np.eye(2))})
    message = wire.receive(r)
    np.testing.assert_array_equal(wire.decode(message["value"]), np.eye(2))
    os.close(r)
    os.close(w)
