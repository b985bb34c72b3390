"""``listener serve`` as a real subprocess on a free loopback port (tests/test_schemathesis.py, bench/web.py)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import ROOT


def free_port() -> int:
    """A TCP port free on 127.0.0.1 just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """``listener --config SETTINGS -q serve --workers N`` on 127.0.0.1; ``with`` waits until ``probe``
    answers 200 (sending ``headers``) and stops the server (and its workers) on exit."""

    def __init__(self, settings: Path, *, workers: int = 1, probe: str = "/login", headers: dict | None = None,
                 timeout: float = 60):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.probe, self.headers, self.timeout = probe, headers or {}, timeout
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("LISTENER_API_TOKEN", None)  # the settings file's token, not one from the environment
        self.proc = subprocess.Popen([sys.executable, "-m", "listener", "--config", str(settings), "-q", "serve",
                                      "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> "ServeProcess":
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", self.probe, headers=self.headers)
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"listener serve did not start: {self.proc.stderr.read()[-2000:]}")
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
