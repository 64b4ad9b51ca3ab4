"""Append-only TensorBoard event file writer, without TensorFlow and without threads.

Every record is handed to the operating system as soon as it is written, so a training
process that dies (even by SIGKILL) loses nothing that was already logged. Logging steps
are rare by design, so the cost of an unbuffered write is paid rarely.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2

from aelog.logfile import format as fmt
from aelog.logfile.record_crc import masked_crc32c
from aelog.logfile.scalar_event import ScalarEventEncoder


def frame_record(data: bytes) -> bytes:
    """TFRecord framing: length, masked CRC of length, data, masked CRC of data."""
    header = struct.pack("<Q", len(data))
    return (
        header
        + struct.pack("<I", masked_crc32c(header))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def _json_tensor_value(tag: str, kind: str, payload: dict) -> summary_pb2.Summary.Value:
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        string_val=[json.dumps(payload, default=str).encode()],
    )
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=fmt.PLUGIN_NAME, content=fmt.plugin_content(kind)
        ),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )
    return summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)


class EventWriter:
    """Writes one run's event file: scalars, run metadata, JSON records.

    Raises ``OSError`` from the constructor when the directory cannot be written, so
    ``watch()`` can fail up front with a clear message.
    """

    def __init__(self, run_dir: str, filename_suffix: str = ".aelog") -> None:
        os.makedirs(run_dir, exist_ok=True)
        stamp, host, pid = int(time.time()), socket.gethostname(), os.getpid()
        name = f"events.out.tfevents.{stamp:010d}.{host}.{pid}{filename_suffix}"
        self.path = os.path.join(run_dir, name)
        # O_APPEND + unbuffered: one os.write per record, visible to readers at once.
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._scalars = ScalarEventEncoder()
        self._write_event(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    @property
    def closed(self) -> bool:
        return self._fd is None

    def _write_event(self, event: event_pb2.Event) -> None:
        self._write_bytes(frame_record(event.SerializeToString()))

    def _write_bytes(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError("event writer is closed")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def write_scalars(
        self, step: int, values: dict[str, float], wall_time: float | None = None
    ) -> None:
        """One Event holding every scalar of this step; tags are used as given."""
        data = self._scalars.encode(int(step), wall_time or time.time(), values)
        self._write_bytes(frame_record(data))

    def write_json(self, step: int, tag: str, kind: str, payload: dict) -> None:
        summary = summary_pb2.Summary(value=[_json_tensor_value(tag, kind, payload)])
        self._write_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def write_metadata(self, metadata: dict, step: int = 0) -> None:
        self.write_json(step, fmt.METADATA_TAG, "run_metadata", metadata)

    def write_record(self, step: int, record: dict) -> None:
        self.write_json(step, fmt.RECORD_TAG, "record", record)

    def write_verdict(self, step: int, verdict: dict) -> None:
        self.write_json(step, fmt.VERDICT_TAG, "verdict", verdict)

    def flush(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            except OSError:
                pass
            os.close(fd)
