"""Keep a remote directory a copy of a local one, from a background thread.

A run logged to a bucket is written to a local staging directory first, exactly as a local
run is (one write per record, nothing buffered in memory), and this thread copies each
changed file up whole. Training only sets an event; it never waits on the network. Object
stores replace an object atomically, so a reader (TensorBoard, ``aelog diagnose``) sees an
earlier complete upload or the newer one, never half of one. A failed upload is retried
with growing pauses and warned about once; the local copy stays until an upload succeeds,
so nothing is lost when the store is away.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from typing import Any

from aelog.logfile import storage
from aelog.sdk.probe_guard import AelogWarning

UPLOAD_EVERY = 5.0
"""seconds between uploads while the run writes: TensorBoard reloads every 5 s."""
RETRY_FIRST = 1.0
RETRY_MAX = 60.0
"""pause after the first failed upload, doubled after each failure up to this."""


class Uploader:
    """Mirrors every file under ``local_dir`` to ``remote_dir`` of ``fs`` (``url`` names it
    for the user)."""

    def __init__(self, fs: Any, remote_dir: str, url: str, local_dir: str,
                 every: float | None = None) -> None:
        self._fs = fs
        self._remote_dir = remote_dir
        self.url = url
        self.local_dir = local_dir
        self._every = UPLOAD_EVERY if every is None else every
        self._sizes: dict[str, int] = {}
        """bytes of each local file (relative path) the store holds."""
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self.failures = 0
        self.last_error: str | None = None
        self._warned = False
        self._last_upload = 0.0
        self._thread = threading.Thread(target=self._run, name="aelog-upload", daemon=True)
        self._thread.start()

    def changed(self) -> None:
        """A file under the local directory grew: upload it soon. Costs the caller nothing."""
        self._wake.set()

    @property
    def in_sync(self) -> bool:
        """The store holds every byte written locally."""
        return not self._pending()

    def close(self, timeout: float) -> bool:
        """Upload what is pending, waiting at most ``timeout`` seconds; True when the store
        holds everything. On False the thread goes on retrying while the process lives."""
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout)
        return self.in_sync

    def _run(self) -> None:
        retry_in: float | None = None
        while True:
            self._wake.wait(retry_in)
            if not self._closing.is_set():
                # gather the writes of a few seconds into one upload
                self._closing.wait(max(0.0, self._last_upload + self._every - time.monotonic()))
            self._wake.clear()
            uploaded = self._sync()
            if uploaded:
                retry_in = None
            else:
                retry_in = RETRY_FIRST if retry_in is None else min(2 * retry_in, RETRY_MAX)
            if self._closing.is_set():
                if uploaded and not self._pending():
                    return
                if uploaded:  # written while an upload was under way (or retried): again
                    self._wake.set()
                else:
                    retry_in = min(retry_in, 2.0)  # the process is ending: keep trying hard

    def _pending(self) -> list[tuple[str, str, int]]:
        """``(relative path, local path, size)`` of each file the store is behind on."""
        pending = []
        for directory, _, files in os.walk(self.local_dir):
            for name in sorted(files):
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, self.local_dir).replace(os.sep, "/")
                try:
                    size = os.path.getsize(path)
                except OSError:
                    continue
                if self._sizes.get(relative) != size:
                    pending.append((relative, path, size))
        return pending

    def _sync(self) -> bool:
        with self._lock:
            try:
                for relative, path, size in self._pending():
                    with open(path, "rb") as handle:
                        data = handle.read(size)  # what was written by now, whole records
                    self._fs.pipe_file(storage.join(self._remote_dir, relative), data)
                    self._sizes[relative] = len(data)
            except Exception as error:  # noqa: BLE001 - any store error: keep the copy, retry
                self.failures += 1
                self.last_error = f"{type(error).__name__}: {error}"
                if not self._warned:
                    self._warned = True
                    warnings.warn(
                        f"aelog: cannot upload to {self.url} ({self.last_error}); retrying in "
                        f"the background, training goes on. Nothing is lost: the run is kept "
                        f"at {self.local_dir}", AelogWarning, stacklevel=2)
                return False
            self._last_upload = time.monotonic()
            return True
