"""A real S3-compatible server (moto's server mode) on 127.0.0.1, started and stopped by PID.

The clients under test (s3fs for aelog, boto3 for TensorBoard) find it through the
standard ``AWS_ENDPOINT_URL`` variable, as a user's would find MinIO or a company store.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from plugin.tensorboard_process import free_port

STARTUP_TIMEOUT_S = 60.0


class S3Server:
    def __init__(self, log_path: str) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self.process: subprocess.Popen | None = None

    def environment(self) -> dict[str, str]:
        """What a user's shell would hold to reach this store."""
        return {
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.endpoint,
            "S3_ENDPOINT": self.endpoint,  # TensorBoard's own S3 reader reads this one
        }

    def start(self) -> None:
        with open(self._log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("moto server did not listen in time")

    def stop(self) -> None:
        """Kill it: the store goes away mid-run, as a network or an outage would take it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def make_bucket(self, name: str) -> None:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint).create_bucket(Bucket=name)


def fresh_s3fs() -> None:
    """s3fs keeps one client per set of arguments: a server restarted on another port, or
    changed credentials, must not meet an old client."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    os.environ.pop("AWS_PROFILE", None)
