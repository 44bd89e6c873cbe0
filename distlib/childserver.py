"""A real engine (ZooKeeper, Prometheus, ...) as a child process on 127.0.0.1, for labs and tests.

One piece of code for what every engine needs: a free loopback port, a private temporary folder, a log
file, a readiness poll (the subclass says what "ready" means), and a clean stop (SIGTERM, then SIGKILL
after 10 s) that removes the folder. Observed start-up behaviour per engine is in
``../shared/ENGINE-FIELD-NOTES.md``. No systemd, no wall clock in anything a notebook compares.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChildServer:
    """Base class: subclasses set ``name``, build ``self.args`` in ``__init__`` (after calling
    ``super().__init__``) and implement :meth:`ready`. Use as a context manager."""

    name = "server"

    def __init__(self, *, ready_timeout: float = 30.0) -> None:
        self._tmp = tempfile.mkdtemp(prefix=f"{self.name}-")
        self.dir = Path(self._tmp)
        self.port = free_port()
        self.ready_timeout = ready_timeout
        self.args: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        self._log: Any = None

    def ready(self) -> bool:
        """True once the server serves (may raise OSError while it is still starting)."""
        raise NotImplementedError

    def start(self) -> Any:
        self._log = open(self.dir / f"{self.name}.log", "wb")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        while time.monotonic() < t0 + self.ready_timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                if self.ready():
                    self.startup_seconds = time.monotonic() - t0
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {self.ready_timeout:g}s: {self.log()[-2000:]}")

    def log(self) -> str:
        p = self.dir / f"{self.name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
