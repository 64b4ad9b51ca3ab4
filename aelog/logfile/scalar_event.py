"""A logging step's scalars as one serialized ``Event``, written in protobuf's wire format.

Building the message through the protobuf classes costs one Python object per value: a
logging step writes 60-100 scalars, and that was a tenth of a small model's logging step
(``python -m benchmarks.overhead.log_cost``). The fields involved are few and fixed:

    Event   { double wall_time = 1; int64 step = 2; Summary summary = 5; }
    Summary { repeated Value value = 1; }
    Value   { string tag = 1; oneof value { float simple_value = 2; ... } }

so the bytes are put together directly, each tag's bytes made once. The output is what
``Event.SerializeToString()`` gives for the same message, byte for byte (tested): fields in
number order, proto3 defaults (a zero step or wall time, an empty tag) left out, a
``simple_value`` always written since it sits in a oneof, a double too large for a float
written as an infinity of its sign, as a C cast would.
"""

from __future__ import annotations

import math
import struct

_PACK_DOUBLE = struct.Struct("<d").pack
_PACK_FLOAT = struct.Struct("<f").pack
_POSITIVE_INFINITY = _PACK_FLOAT(float("inf"))
_NEGATIVE_INFINITY = _PACK_FLOAT(float("-inf"))

_WALL_TIME = b"\x09"  # field 1, 64-bit
_STEP = b"\x10"  # field 2, varint
_SUMMARY = b"\x2a"  # field 5, length-delimited
_VALUE = b"\x0a"  # Summary.value: field 1, length-delimited
_TAG = b"\x0a"  # Value.tag: field 1, length-delimited
_SIMPLE_VALUE = b"\x15"  # Value.simple_value: field 2, 32-bit


def varint(value: int) -> bytes:
    """Protobuf's base-128 varint; a negative int64 as its 64-bit two's complement."""
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _float32(value: float) -> bytes:
    try:
        return _PACK_FLOAT(value)
    except OverflowError:  # finite, but past float32's range
        return _POSITIVE_INFINITY if value > 0 else _NEGATIVE_INFINITY


class ScalarEventEncoder:
    """Serializes ``{tag: value}`` at a step; remembers each tag's encoded bytes."""

    def __init__(self) -> None:
        self._tag_bytes: dict[str, bytes] = {}

    def _tag(self, tag: str) -> bytes:
        encoded = self._tag_bytes.get(tag)
        if encoded is None:
            raw = tag.encode("utf-8")
            # a Value's tag field, then the simple_value key; its 4 bytes follow
            encoded = (_TAG + varint(len(raw)) + raw if raw else b"") + _SIMPLE_VALUE
            self._tag_bytes[tag] = encoded
        return encoded

    def encode(self, step: int, wall_time: float, values: dict[str, float]) -> bytes:
        parts = []
        for tag, value in values.items():
            body = self._tag(tag) + _float32(float(value))
            parts.append(_VALUE + varint(len(body)) + body)
        summary = b"".join(parts)
        head = b""
        if wall_time != 0.0 or math.copysign(1.0, wall_time) < 0:  # -0.0 is no default
            head += _WALL_TIME + _PACK_DOUBLE(wall_time)
        if step:
            head += _STEP + varint(step)
        return head + _SUMMARY + varint(len(summary)) + summary
