"""Read TensorBoard event files up to the last complete record, never raising on bad data.

A file cut short by a killed process, a corrupt record or a foreign file ends the read
at that point; what came before is kept, and the reason is returned for the user.
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from tensorboard.compat.proto import event_pb2

from aelog.logfile import record_crc
from aelog.logfile.record_crc import masked_crc32c

_HEADER = struct.Struct("<QI")
_MAX_RECORD_BYTES = 64 << 20


def _masked_data_crc(data) -> int | None:
    """The record data's masked CRC, or None where only the slow CRC is at hand."""
    return masked_crc32c(data) if record_crc.FAST else None


@dataclass
class ReadResult:
    events: list[event_pb2.Event] = field(default_factory=list)
    problem: str | None = None
    """why reading stopped early, in plain words; None when the file was read to its end."""


def iter_records(data: bytes) -> Iterator[tuple[bytes | None, str | None]]:
    """Yield (record, None) per complete record, then (None, reason) if the data is bad."""
    offset, size = 0, len(data)
    while offset < size:
        if size - offset < _HEADER.size:
            yield None, f"truncated record header at byte {offset}"
            return
        length, length_crc = _HEADER.unpack_from(data, offset)
        if masked_crc32c(data[offset : offset + 8]) != length_crc:
            yield None, f"corrupt record length at byte {offset} (not an event file?)"
            return
        if length > _MAX_RECORD_BYTES:
            yield None, f"record of {length} bytes at byte {offset} is too large"
            return
        start = offset + _HEADER.size
        end = start + length + 4
        if end > size:
            yield None, f"truncated record at byte {offset} (file still being written?)"
            return
        (data_crc,) = struct.unpack_from("<I", data, start + length)
        record = data[start : start + length]
        expected = _masked_data_crc(record)
        if expected is not None and expected != data_crc:
            yield None, f"corrupt record data at byte {offset}"
            return
        yield record, None
        offset = end


def _open_nonblocking(path: str, flags: int) -> int:
    """A FIFO named like an event file must not block the open (a shared logdir holds anything)."""
    return os.open(path, flags | os.O_NONBLOCK)


def read_event_file(path: str) -> ReadResult:
    result = ReadResult()
    try:
        with open(path, "rb", opener=_open_nonblocking) as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):  # a FIFO or /dev/zero would never end
                result.problem = f"{path} is not a regular file"
                return result
            # Mapped, not read: a huge or sparse file costs only the pages parsed.
            data = (mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
                    if info.st_size else b"")
    except (OSError, ValueError) as error:
        result.problem = f"cannot read {path}: {getattr(error, 'strerror', None) or error}"
        return result
    try:
        _parse_records(data, result)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()
    return result


def read_event_bytes(data: bytes) -> ReadResult:
    """An event file's content fetched whole (from an object store)."""
    result = ReadResult()
    _parse_records(data, result)
    return result


def _parse_records(data, result: ReadResult) -> None:
    for record, problem in iter_records(data):
        if record is None:
            result.problem = problem
            break
        event = event_pb2.Event()
        try:
            event.ParseFromString(record)
        except Exception:  # protobuf raises DecodeError or others on garbage
            result.problem = "undecodable event record"
            break
        result.events.append(event)
