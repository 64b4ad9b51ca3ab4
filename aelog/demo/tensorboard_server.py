"""Start TensorBoard on 127.0.0.1 as a child process, wait until it answers, stop it by PID."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

STARTUP_TIMEOUT_S = 90.0


class TensorBoardError(RuntimeError):
    """TensorBoard did not start (port taken, bad logdir): the reason, in one line."""


class TensorBoardProcess:
    def __init__(self, logdir: str, port: int) -> None:
        self.logdir, self.port = logdir, port
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        command = [sys.executable, "-m", "tensorboard.main", "--logdir", self.logdir,
                   "--host", "127.0.0.1", "--port", str(self.port)]
        # its own session: Ctrl-C reaches the demo only, which then stops it by PID
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TensorBoardError(f"TensorBoard exited: {self._last_log_line()}")
            if self._answers():
                return
            time.sleep(0.5)
        self.stop()
        raise TensorBoardError(f"TensorBoard did not answer on {self.url} within "
                               f"{STARTUP_TIMEOUT_S:.0f} s")

    def wait(self) -> int:
        assert self.process is not None
        return self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "data/plugins_listing", timeout=2) as reply:
                return reply.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _last_log_line(self) -> str:
        self.log.seek(0)
        lines = [line.strip() for line in self.log.read().splitlines() if line.strip()]
        return lines[-1] if lines else "no output"
