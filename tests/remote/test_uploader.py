"""The uploader alone, over fsspec's in-memory filesystem (a real implementation of the
same interface as s3fs), with the store's answers slowed or refused at will."""

from __future__ import annotations

import threading
import uuid
import warnings

import fsspec

from aelog.logfile import upload
from aelog.logfile.upload import Uploader


def _store():
    return fsspec.filesystem("memory"), f"/bucket-{uuid.uuid4().hex}/run"


def test_what_is_written_while_an_upload_is_under_way_reaches_the_store_at_close(tmp_path):
    fs, remote = _store()
    events = tmp_path / "events.out.tfevents.1.host.1.aelog"
    events.write_bytes(b"a" * 100)
    started, release = threading.Event(), threading.Event()
    put = fs.pipe_file

    def slow_put(path, value, **kwargs):
        started.set()
        release.wait(10)
        return put(path, value, **kwargs)

    fs.pipe_file = slow_put
    try:
        uploader = Uploader(fs, remote, "memory:/" + remote, str(tmp_path), every=0)
        uploader.changed()
        assert started.wait(10)
        with open(events, "ab") as handle:  # the run goes on while the upload is slow
            handle.write(b"b" * 50)
        uploader.changed()
        threading.Timer(0.2, release.set).start()
        assert uploader.close(timeout=10)
    finally:
        del fs.pipe_file
    assert fs.cat_file(f"{remote}/{events.name}") == b"a" * 100 + b"b" * 50


def test_a_refusing_store_is_retried_and_warned_about_once(tmp_path, monkeypatch):
    monkeypatch.setattr(upload, "RETRY_FIRST", 0.01)
    fs, remote = _store()
    (tmp_path / "events").write_bytes(b"x" * 10)
    refusals = [4]
    put = fs.pipe_file

    def refusing_put(path, value, **kwargs):
        if refusals[0]:
            refusals[0] -= 1
            raise ConnectionError("the store is away")
        return put(path, value, **kwargs)

    fs.pipe_file = refusing_put
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            uploader = Uploader(fs, remote, "memory:/" + remote, str(tmp_path), every=0)
            uploader.changed()
            assert uploader.close(timeout=20)
    finally:
        del fs.pipe_file
    assert uploader.failures == 4 and refusals == [0]
    (message,) = [str(w.message) for w in caught]
    assert "cannot upload to memory://" in message and "ConnectionError" in message
    assert str(tmp_path) in message  # where the run is kept
    assert fs.cat_file(f"{remote}/events") == b"x" * 10
