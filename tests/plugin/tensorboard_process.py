"""A real ``tensorboard`` on 127.0.0.1 for tests: a free port, started and stopped by PID."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

STARTUP_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TensorBoard:
    def __init__(
        self, logdir: str, load_fast: bool, log_path: str, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        command = [
            sys.executable, "-m", "tensorboard.main", "--logdir", logdir,
            "--host", "127.0.0.1", "--port", str(self.port),
            f"--load_fast={'true' if load_fast else 'false'}", "--reload_interval", "1",
            *extra_args,
        ]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get_json(self, path: str):
        status, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def wait_for_runs(self, count: int, last_steps: dict[str, int] | None = None) -> list[dict]:
        """Block until the plugin lists ``count`` runs, each (when given) up to its last step
        on disk: the loaders read files incrementally, so "listed" is not "fully read"."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        runs: list[dict] = []
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tensorboard exited with {self.process.returncode}")
            try:
                status, body = self.get("/data/plugin/aelog/runs")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = 0
            if status == 200:
                runs = json.loads(body)["runs"]
                seen = {row["run"]: row["last_step"] for row in runs}
                complete = all(step is not None for step in seen.values()) and all(
                    seen.get(run) == step for run, step in (last_steps or {}).items()
                )
                if len(runs) >= count and complete:
                    return runs
            time.sleep(0.5)
        raise TimeoutError(f"tensorboard listed {len(runs)} of {count} runs in time")


    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def last_steps_on_disk(logdir: str) -> dict[str, int]:
    """Each aelog run's last logged step, read from its event files."""
    from aelog.logfile.runs import load_runs

    return {run.name: run.last_step for run in load_runs(logdir) if run.last_step is not None}
