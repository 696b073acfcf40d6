"""The process boundary's format: plain data round-trips, nothing else gets through.

Answers are hostile data (student code shares the child's process and can write any
bytes to the answer channel): `wire.parse_header` and `wire.read_answer` must turn
anything at all into a value or a `WireError`, never another exception.
"""
import base64
import json
import math
import os
import struct
import time
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
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
LIMIT = wire.DEFAULT_ANSWER_BYTES


def _frame_bytes(message: dict, encoded: wire.Encoded | None = None) -> bytes:
    return b"".join(bytes(part) for part in wire.frame(message, encoded))


def _through_frame(value, limit=LIMIT):
    """What the parent reads of `value` returned by a probe: child encoding, frame, parent decoding."""
    encoded = wire.encode_value(value, limit)
    data = _frame_bytes({"token": "t", "ok": True, "value": encoded.tree}, encoded)
    text_size, blob_size = wire.parse_header(data[:wire.HEADER_SIZE], limit)
    text = data[wire.HEADER_SIZE:wire.HEADER_SIZE + text_size]
    blob = bytearray(data[wire.HEADER_SIZE + text_size:])
    assert len(blob) == blob_size
    return wire.read_answer(text, blob)["value"]


def _answer(message) -> dict:
    """read_answer on a JSON message (no binary part)."""
    return wire.read_answer(json.dumps(message).encode())


# ---------------------------------------------------------------- round trips

@given(plain)
def test_plain_data_round_trips_through_json(value):
    assert wire.decode(json.loads(json.dumps(wire.encode(value)))) == value


@given(plain)
def test_plain_data_round_trips_through_an_answer_frame(value):
    assert _through_frame(value) == value


@given(hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_]),
                  shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
def test_arrays_keep_dtype_shape_and_values(arr):
    for back in (wire.decode(json.loads(json.dumps(wire.encode(arr)))), _through_frame(arr)):
        assert back.dtype == arr.dtype and back.shape == arr.shape
        np.testing.assert_array_equal(back, arr)
        assert not isinstance(back, wire.TorchArray)


def test_arrays_in_a_frame_are_views_on_its_binary_part_not_copies():
    arrays = {"a": np.arange(1000.0), "b": np.ones((7, 3), dtype=np.float32), "c": np.arange(5, dtype=np.int16)}
    encoded = wire.encode_value(arrays, LIMIT)
    data = _frame_bytes({"token": "t", "ok": True, "value": encoded.tree}, encoded)
    text_size, _ = wire.parse_header(data[:wire.HEADER_SIZE], LIMIT)
    blob = bytearray(data[wire.HEADER_SIZE + text_size:])
    back = wire.read_answer(data[wire.HEADER_SIZE:wire.HEADER_SIZE + text_size], blob)["value"]
    for name, arr in arrays.items():
        np.testing.assert_array_equal(back[name], arr)
        assert np.shares_memory(back[name], np.frombuffer(blob, dtype=np.uint8))


def test_tensors_come_back_marked_as_tensors():
    back = wire.decode(wire.encode(torch.arange(6, dtype=torch.float64).reshape(2, 3)))
    assert isinstance(back, wire.TorchArray) and back.shape == (2, 3)
    back = _through_frame(torch.arange(6, dtype=torch.float32).reshape(3, 2))
    assert isinstance(back, wire.TorchArray) and back.shape == (3, 2) and back.dtype == np.float32


def test_big_endian_arrays_arrive_with_their_values():
    arr = np.arange(5, dtype=">f8")
    np.testing.assert_array_equal(_through_frame(arr), np.arange(5.0))


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
    assert _through_frame({1: "a", (2, 3): "b", "__x": 4}) == {1: "a", (2, 3): "b", "__x": 4}


def test_odd_keys_become_hashable_keys_not_errors():
    """Opaque objects, arrays, and forged unhashable keys (a list, a dict, NaN) as dict keys."""
    back = _through_frame({frozenset({1}): 1, float("nan"): 2})
    assert {type(k) for k in back} == {wire.Opaque, float}
    forged = {"token": "t", "ok": True, "value": {"__dict__": [[[1, 2], "list"], [{"a": 1}, "dict"],
                                                                [{"__float__": "nan"}, "nan"]]}}
    value = _answer(forged)["value"]
    assert value["[1, 2]"] == "list" and value["{'a': 1}"] == "dict" and len(value) == 3


def test_huge_integers_do_not_break_the_answer():
    assert isinstance(_through_frame(10**5000), wire.Opaque)
    assert _through_frame(10**300) == 10**300
    with pytest.raises(wire.WireError):
        wire.read_answer(b'{"token": "t", "ok": true, "value": ' + b"9" * 5000 + b"}")


def test_texts_with_lone_surrogates_are_made_printable():
    value = _answer({"token": "t", "ok": True, "value": ["a\ud800b", {"k\udfff": 1}]})["value"]
    json.dumps(value, ensure_ascii=False).encode("utf-8")   # would raise on a lone surrogate
    raised = _answer({"token": "t", "raised": {"type": "E\ud800", "message": "m\ud800"}})["raised"]
    (raised["type"] + raised["message"]).encode("utf-8")


# ---------------------------------------------------------------- sizes (child side)

def test_a_long_list_of_numbers_travels_as_an_array():
    values = [0.5 * i for i in range(wire.LIST_AS_ARRAY + 10)]
    back = _through_frame(values)
    assert isinstance(back, wire.ListArray) and back.dtype == np.float64
    np.testing.assert_array_equal(back, values)
    ints = _through_frame(list(range(wire.LIST_AS_ARRAY)))
    assert isinstance(ints, wire.ListArray) and ints.dtype == np.int64
    short = _through_frame([1.5, 2.5])
    assert short == [1.5, 2.5] and isinstance(short, list)


def test_a_list_of_a_million_floats_is_refused_in_the_child_without_copying_it():
    values = [float(i) for i in range(1_000_000)]
    tracemalloc.start()
    try:
        with pytest.raises(wire.TooLarge, match="list of 1,000,000 items"):
            wire.encode_value({"out": values}, LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000   # no array, no JSON of it: refused before anything was built


def test_nested_lists_of_numbers_are_refused_once_over_the_json_limit():
    rows = [[float(j) for j in range(1000)] for _ in range(2000)]
    with pytest.raises(wire.TooLarge, match="plain Python data"):
        wire.encode_value(rows, LIMIT)


def test_arrays_over_the_limit_are_refused_before_they_are_copied():
    with pytest.raises(wire.TooLarge, match=r"shape \(1000000,\)"):
        wire.encode_value(np.zeros(1_000_000), LIMIT)          # 8 MB > 4 MB
    assert _through_frame(np.zeros(1_000_000), 16 * 2**20).shape == (1_000_000,)


def test_an_answer_over_its_limit_is_never_written():
    r, w = os.pipe()
    try:
        with pytest.raises(wire.TooLarge):
            wire.send_answer(w, {"token": "t", "raised": {"type": "E", "message": "x" * 10}}, limit=20)
        os.set_blocking(r, False)
        with pytest.raises(BlockingIOError):
            os.read(r, 1)
    finally:
        os.close(r)
        os.close(w)


def test_answer_limits_per_probe_kind():
    declared = {"big": 32 * 2**20}
    assert wire.answer_limit("call", declared) == wire.answer_limit("big") == wire.DEFAULT_ANSWER_BYTES <= 8 * 2**20
    assert wire.answer_limit("big", declared) == 32 * 2**20
    assert wire.answer_limit(None, declared) == wire.answer_limit(["not", "a", "kind"], declared) \
        == wire.DEFAULT_ANSWER_BYTES


def test_a_probe_kind_declares_its_answer_size():
    from grader.probes import registry

    registry.probe("wire_test_big", answer_bytes=32 * 2**20)(lambda student: None)
    try:
        assert registry.ANSWER_BYTES["wire_test_big"] == 32 * 2**20
        assert "call" not in registry.ANSWER_BYTES
    finally:
        del registry.PROBES["wire_test_big"], registry.ANSWER_BYTES["wire_test_big"]
    for bad in (0, -1, 2.5, wire.MAX_ANSWER_BYTES + 1, "32 MB"):
        with pytest.raises(ValueError, match="answer_bytes"):
            registry.probe("wire_test_bad", answer_bytes=bad)
    assert "wire_test_bad" not in registry.PROBES


# ---------------------------------------------------------------- hostile answers (parent side)

@pytest.mark.parametrize("forged", [
    {"__nd__": ["object", [1], base64.b64encode(b"x" * 8).decode()]},
    {"__nd__": ["float64", [3], base64.b64encode(b"x" * 8).decode()]},
    {"__nd__": "nonsense"},
    {"__nd__": ["float64", [-1], ""]},
    {"__nd__": ["float64", [2**62, 2**62], ""]},
    {"__tuple__": 5},
    {"__float__": "1e5"},
    {"__dict__": [[1]]},
    {"__dict__": 7},
    {"__opaque__": ["x"]},
    {"__tuple__": [], "__float__": "nan"},
])
def test_forged_tags_are_refused(forged):
    with pytest.raises(wire.WireError):
        wire.decode(forged)
    with pytest.raises(wire.WireError):
        _answer({"token": "t", "ok": True, "value": forged})


@pytest.mark.parametrize("value", [
    {"__nd__": ["float64", [4], 0]},                 # beyond the (empty) binary part
    {"__nd__": ["float64", [1], -8]},
    {"__nd__": ["float64", [1], "AAAAAAAAAAA="]},    # base64 is for requests, not answers
    {"__nd__": ["float64", [1], 0], "torch": "yes"},
    {"__nd__": ["float64", [1], 0], "extra": 1},
    {"__fn__": "student", "target": "losses.cross_entropy"},
    {"__what__": 1},
])
def test_strict_answers_refuse_what_the_child_never_writes(value):
    with pytest.raises(wire.WireError):
        _answer({"token": "t", "ok": True, "value": value})


@pytest.mark.parametrize("message", [
    {"token": "t", "ok": True},                          # no value
    {"token": "t", "ok": False, "value": 1},
    {"token": "t"},                                      # no kind
    {"token": "t", "ok": True, "value": 1, "raised": {"type": "E", "message": ""}},
    {"token": "t", "ok": True, "value": 1, "score": 100},
    {"token": 5, "ok": True, "value": 1},
    {"token": "t", "raised": "boom"},
    {"token": "t", "raised": {"type": 1, "message": "m"}},
    {"token": "t", "raised": {"type": "E", "message": "m", "mro": "E"}},
    {"token": "t", "missing": ["x"]},
    {"token": "t", "ready": "yes"},
    [1, 2, 3],
    "ok",
])
def test_answers_of_the_wrong_shape_are_refused(message):
    with pytest.raises(wire.WireError):
        _answer(message)


def test_json_nested_100000_deep_is_refused_before_parsing():
    for text in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                 b'{"token": "t", "ok": true, "value": ' + b"[" * 100_000):
        started = time.perf_counter()
        with pytest.raises(wire.WireError, match="nested"):
            wire.read_answer(text)
        assert time.perf_counter() - started < 1.0


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"token": "t", "ok": True, "value": ["[" * 5000, "\\\"[[[", "{" * 300]}).encode()
    assert wire.json_depth(text) == 2
    assert wire.read_answer(text)["value"][0] == "[" * 5000


@pytest.mark.parametrize("text", [b"NaN", b'{"token": "t", "ok": true, "value": NaN}',
                                  b'{"token": "t", "ok": true, "value": -Infinity}'])
def test_non_json_constants_are_refused(text):
    with pytest.raises(wire.WireError):
        wire.read_answer(text)


def test_arrays_are_read_at_their_offset_and_bools_normalized():
    blob = bytearray(b"\x00" * 3 + np.arange(3.0).tobytes() + bytes([0, 1, 2, 255]))
    value = _answer_with(blob, [{"__nd__": ["float64", [3], 3]}, {"__nd__": ["bool", [4], 27]}])
    np.testing.assert_array_equal(value[0], [0.0, 1.0, 2.0])       # misaligned: copied, still right
    assert value[1].dtype == np.bool_ and value[1].tolist() == [False, True, True, True]
    assert set(value[1].view(np.uint8).tolist()) == {0, 1}


def _answer_with(blob, value):
    return wire.read_answer(json.dumps({"token": "t", "ok": True, "value": value}).encode(), blob)["value"]


def test_the_ready_answer_may_say_how_the_child_is_confined():
    assert _answer({"token": "t", "ready": True, "confined": ""}) == {"token": "t", "ready": True, "confined": ""}
    assert _answer({"token": "t", "ready": True}) == {"token": "t", "ready": True}
    for bad in ({"token": "t", "ready": True, "confined": False}, {"token": "t", "ok": True, "value": 1, "confined": ""}):
        with pytest.raises(wire.WireError):
            _answer(bad)


def test_the_ready_answer_may_say_how_large_its_probe_kinds_answer():
    sizes = {"big": 32 * 2**20}
    assert _answer({"token": "t", "ready": True, "answer_bytes": sizes}) == {"token": "t", "ready": True,
                                                                            "answer_bytes": sizes}
    for bad in ([["big", 1]], {"big": 0}, {"big": 1.5}, {"big": True}, {"big": wire.MAX_ANSWER_BYTES + 1},
                {"k" * 300: 1}, {f"k{i}": 1 for i in range(wire.MAX_DECLARED_KINDS + 1)}):
        with pytest.raises(wire.WireError):
            _answer({"token": "t", "ready": True, "answer_bytes": bad})
    with pytest.raises(wire.WireError):   # only the "ready" answer carries sizes
        _answer({"token": "t", "ok": True, "value": 1, "answer_bytes": sizes})


def test_oversized_header_is_refused():
    header = struct.pack("!4sIQ", wire.MAGIC, 100, 100 * 2**20)
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.parse_header(header, wire.DEFAULT_ANSWER_BYTES)
    with pytest.raises(wire.WireError, match="exceeds"):   # a JSON text over its own, lower limit
        wire.parse_header(struct.pack("!4sIQ", wire.MAGIC, wire.MAX_JSON_BYTES + 1, 0), 32 * 2**20)
    with pytest.raises(wire.WireError, match="protocol"):
        wire.parse_header(b"\x00" * 8 + b"\x00\x00\x00\x05junk!"[:8], wire.DEFAULT_ANSWER_BYTES)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=wire.HEADER_SIZE, max_size=wire.HEADER_SIZE), st.integers(0, 2**40))
def test_any_header_is_sizes_within_the_limit_or_a_wire_error(header, limit):
    try:
        text_size, blob_size = wire.parse_header(header, limit)
    except wire.WireError:
        return
    assert text_size <= wire.MAX_JSON_BYTES and text_size + blob_size <= limit


@settings(max_examples=300)
@given(st.binary(max_size=300), st.binary(max_size=64))
def test_any_bytes_are_an_answer_or_a_wire_error(text, blob):
    try:
        answer = wire.read_answer(text, bytearray(blob))
    except wire.WireError:
        return
    assert isinstance(answer, dict) and len(set(answer) & set(wire.ANSWER_KINDS)) == 1


TAGS = ["__nd__", "__tuple__", "__float__", "__dict__", "__opaque__", "__fn__", "torch", "list", "repr",
        "token", "ok", "value", "raised", "type", "message", "mro", "ready", "missing", "too_large", "x"]
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.sampled_from(TAGS + ["nan", "inf"]),
              st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(TAGS), inner, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.binary(max_size=64))
def test_any_json_is_an_answer_or_a_wire_error(message, blob):
    text = json.dumps(message).encode()   # NaN and Infinity included: refused too
    try:
        answer = wire.read_answer(text, bytearray(blob))
    except wire.WireError:
        return
    kinds = set(answer) & set(wire.ANSWER_KINDS)
    assert len(kinds) == 1 and set(answer) <= {"token", "value", *kinds}
    json.dumps(answer.get("raised"))        # a dict of texts, nothing else


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_decoding_trusted_data_raises_only_wire_errors(data):
    try:
        wire.decode(data)
    except wire.WireError:
        pass


def test_messages_cross_a_pipe():
    r, w = os.pipe()
    wire.send(w, {"token": "t", "value": wire.encode(np.eye(2))})
    message = wire.receive(r)
    np.testing.assert_array_equal(wire.decode(message["value"]), np.eye(2))
    encoded = wire.encode_value({"m": np.eye(3)}, LIMIT)
    wire.send_answer(w, {"token": "u", "ok": True, "value": encoded}, LIMIT)
    text_size, blob_size = wire.parse_header(os.read(r, wire.HEADER_SIZE), LIMIT)
    answer = wire.read_answer(os.read(r, text_size), bytearray(wire.read_exact(r, blob_size)))
    np.testing.assert_array_equal(answer["value"]["m"], np.eye(3))
    assert answer["token"] == "u"
    os.close(r)
    os.close(w)


@pytest.mark.parametrize("message, typed", [
    ({"token": "t", "ready": True, "confined": "no Landlock"}, wire.Ready("t", "no Landlock", "")),
    ({"token": "t", "ok": True, "value": 3}, wire.Returned("t", 3)),
    ({"token": "t", "raised": {"type": "KeyError", "message": "'x'"}},
     wire.Raised("t", {"type": "KeyError", "message": "'x'"})),
    ({"token": "t", "missing": "f"}, wire.Missing("t", "f")),
    ({"token": "t", "import_error": "boom"}, wire.ImportFailed("t", "boom")),
    ({"token": None, "not_implemented": "todo"}, wire.NotImplementedYet(None, "todo")),
    ({"token": "t", "grader_error": "bug"}, wire.GraderError("t", "bug")),
    ({"token": "t", "too_large": "9 MB"}, wire.Oversized("t", "9 MB")),
])
def test_each_kind_of_answer_is_a_class_of_its_own(message, typed):
    """What the parent reads is one class per kind (`wire.answer_of`), after `read_answer` validated it."""
    answer = wire.answer_of(wire.read_answer(json.dumps(message).encode()))
    assert answer == typed and type(answer) is type(typed)
    assert set(wire._ANSWER_CLASSES) == set(wire.ANSWER_KINDS)
