"""A run whose logdir is a URL: claimed in the store, staged on local disk, uploaded behind.

The event file is written to a staging directory that mirrors the URL
(``~/.cache/aelog/staging/<start>-<pid>/s3/bucket/team-a/exp1/<run>``, or under
``$AELOG_STAGING``) and uploaded by an :class:`~aelog.logfile.upload.Uploader`. Once the
store holds everything, the staged copy is removed; otherwise it stays and its path is
printed, so the run can be copied up by hand.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings

from aelog.logfile import storage
from aelog.logfile.run_dir import CLAIM_FILE, claim_text, is_claimed_name
from aelog.logfile.upload import Uploader
from aelog.sdk.probe_guard import AelogWarning, user_stacklevel

CLOSE_TIMEOUT = float(os.environ.get("AELOG_UPLOAD_TIMEOUT", "30"))
"""seconds ``close()`` waits for the last upload before leaving the run staged."""


class RemoteRun:
    def __init__(self, logdir: str, run_name: str) -> None:
        """Claim ``run_name`` (or the first free ``run_name-N``) under the URL ``logdir`` and
        start uploading. Raises ``PermissionError`` / ``ValueError`` with what to do when the
        store refuses us (no bucket, no access); a store that cannot be reached right now is
        warned about, and the run is staged until it can."""
        self.fs, root = storage.filesystem(logdir)
        self.run_name = _claim(self.fs, root, logdir, run_name)
        self.url = storage.join(logdir, self.run_name)
        self._staging = _staging_root(logdir)
        relative = f"{storage.protocol_of(logdir)}/{root}/{self.run_name}"
        self.local_dir = os.path.join(self._staging, *relative.split("/"))
        os.makedirs(self.local_dir, exist_ok=True)
        self.uploader = Uploader(self.fs, storage.join(root, self.run_name), self.url,
                                 self.local_dir)

    def changed(self) -> None:
        self.uploader.changed()

    def close(self, timeout: float | None = None) -> bool:
        """Upload what is pending; remove the staged copy once the store holds it all, or
        keep it and say where. True when everything reached the store."""
        timeout = CLOSE_TIMEOUT if timeout is None else timeout
        if self.uploader.close(timeout):
            shutil.rmtree(self._staging, ignore_errors=True)
            return True
        warnings.warn(
            f"aelog: the run could not be uploaded to {self.url} within {timeout:.0f} s "
            f"({self.uploader.last_error or 'still uploading'}). Nothing is lost: it is "
            f"kept at {self.local_dir}; copy it to {self.url} when the store is back.",
            AelogWarning, stacklevel=user_stacklevel())
        return False


def _claim(fs, root: str, logdir: str, run_name: str) -> str:
    base, suffix = run_name, 2
    while True:
        run_path = storage.join(root, run_name)
        try:
            fs.invalidate_cache(run_path)
            names = [os.path.basename(str(name).rstrip("/"))
                     for name in fs.ls(run_path, detail=False)]
        except FileNotFoundError:
            names = []
        except PermissionError as error:
            raise PermissionError(
                f"aelog.watch cannot read {storage.join(logdir, run_name)} ({error}); check "
                "the store's credentials (its standard environment variables or config "
                "file), or pass logdir= a location you can write to.") from error
        except Exception as error:  # noqa: BLE001 - unreachable now: stage, upload later
            _warn_unreachable(logdir, error)
            return run_name
        if not any(is_claimed_name(name) for name in names):
            break
        run_name, suffix = f"{base}-{suffix}", suffix + 1
    try:
        fs.pipe_file(storage.join(run_path, CLAIM_FILE), claim_text().encode())
    except (PermissionError, FileNotFoundError) as error:
        raise PermissionError(
            f"aelog.watch cannot write to {storage.join(logdir, run_name)} "
            f"({type(error).__name__}: {error}); check that the bucket exists and the "
            "store's credentials allow writing, or pass logdir= a location you can "
            "write to.") from error
    except Exception as error:  # noqa: BLE001
        _warn_unreachable(logdir, error)
    return run_name


def _warn_unreachable(logdir: str, error: Exception) -> None:
    warnings.warn(
        f"aelog: cannot reach {logdir} now ({type(error).__name__}: {error}); the run is "
        "written locally and uploaded when the store answers.", AelogWarning,
        stacklevel=user_stacklevel())


def _staging_root(logdir: str) -> str:
    """A fresh directory of this process's own under the staging area."""
    home = os.environ.get("AELOG_STAGING") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "aelog", "staging")
    prefix = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-"
    for parent in (home, tempfile.gettempdir()):
        try:
            os.makedirs(parent, exist_ok=True)
            return tempfile.mkdtemp(prefix=prefix, dir=parent)
        except OSError:
            continue
    raise PermissionError(
        f"aelog.watch: a run logged to {logdir} is staged on local disk first, and neither "
        f"{home} nor {tempfile.gettempdir()} can be written; set AELOG_STAGING to a "
        "writable directory.")

