"""The hand-made scalar Event bytes are protobuf's own, byte for byte."""

from __future__ import annotations

import math
import random

import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2

from aelog.logfile.scalar_event import ScalarEventEncoder, varint


def _protobuf_bytes(step: int, wall_time: float, values: dict[str, float]) -> bytes:
    summary = summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(tag=tag, simple_value=value) for tag, value in values.items()
    ])
    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary).SerializeToString()


ODD_VALUES = [0.0, -0.0, 1.0, -1.5, math.nan, math.inf, -math.inf, 1e39, -1e39, 1e-50,
              3.4028235e38, 1.401298464324817e-45, 123456789.123, 2.0**-149]


@pytest.mark.parametrize("step", [0, 1, 127, 128, 300, 2**31, 2**62, -1])
@pytest.mark.parametrize("wall_time", [0.0, -0.0, 1764633600.123456, 1.5])
def test_bytes_match_protobuf_for_odd_steps_times_and_values(step, wall_time):
    values = {f"aelog/signal_{i}": value for i, value in enumerate(ODD_VALUES)}
    values["aelog/layer/encoder.0/é unicode"] = 0.25
    values[""] = 2.0  # an empty tag is proto3's default: left out by both
    encoder = ScalarEventEncoder()
    assert encoder.encode(step, wall_time, values) == _protobuf_bytes(step, wall_time, values)
    # the second time each tag's bytes come from the cache
    assert encoder.encode(step, wall_time, values) == _protobuf_bytes(step, wall_time, values)


def test_random_messages_match_protobuf():
    rng = random.Random(0)
    encoder = ScalarEventEncoder()
    for _ in range(300):
        values = {
            "".join(rng.choice("abc/_.é0") for _ in range(rng.randint(1, 200))):
                rng.choice([rng.uniform(-1e6, 1e6), rng.expovariate(1e-3), rng.gauss(0, 1e-30)])
            for _ in range(rng.randint(0, 90))
        }
        step, wall = rng.randint(0, 10**9), rng.uniform(0, 2e9)
        assert encoder.encode(step, wall, values) == _protobuf_bytes(step, wall, values)


def test_empty_summary_matches_protobuf():
    assert ScalarEventEncoder().encode(5, 1.0, {}) == _protobuf_bytes(5, 1.0, {})


def test_varint_matches_protobuf_boundaries():
    for value, expected in [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"),
                            (300, b"\xac\x02"), (-1, b"\xff" * 9 + b"\x01")]:
        assert varint(value) == expected
