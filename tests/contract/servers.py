"""The servers the contract and emulator-hooks suites run: the emulator
binary and moto_server, as child processes whose output never blocks them.

kmshelp re-exports everything here; tests import it from there.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Upper bounds for everything that waits.
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


def contract_target() -> str:
    target = os.environ.get("KMS_CONTRACT_TARGET", "emulator").strip().lower()
    if target not in ("emulator", "moto"):
        raise pytest.UsageError(
            f"KMS_CONTRACT_TARGET must be 'emulator' or 'moto', not {target!r}"
        )
    return target


def emulator_binary() -> Path:
    """Path of the emulator binary; fails loudly (never skips) if missing."""
    path = Path(
        os.environ.get("KMS11_EMULATOR", REPO_ROOT / "target" / "debug" / "kms11-emulator")
    )
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"emulator binary not found or not executable: {path} "
            "(build it with `cargo build -p kms11-emulator` or set KMS11_EMULATOR)",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A child server process whose stdout is drained in the background.

    stderr goes to a temporary file so that it can be shown when something
    fails, without ever blocking the child on a full pipe.
    """

    def __init__(self, argv: list[str], env: dict[str, str] | None = None):
        self.argv = [str(a) for a in argv]
        self._stderr = tempfile.TemporaryFile()
        # Fault settings must come only from the test, never from the caller's
        # environment (the emulator reads KMS11_EMULATOR_* variables).
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("KMS11_EMULATOR_")}
        if env:
            full_env.update({k: str(v) for k, v in env.items()})
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=full_env,
        )
        self._stdout_lines: list[str] = []
        self._first_line: str | None = None

    def read_first_line(self, timeout: float = START_TIMEOUT_S) -> str:
        """Read the first stdout line (bounded), then drain the rest."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stop()
                    raise RuntimeError(
                        f"{self.argv[0]} printed no line within {timeout}s; "
                        f"stderr:\n{self.stderr_text()}"
                    )
                if not sel.select(timeout=min(left, 0.5)):
                    if self.proc.poll() is not None:
                        break
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        finally:
            sel.close()
        if b"\n" not in buf:
            code = self.proc.poll()
            self.stop()
            raise RuntimeError(
                f"{self.argv} exited (code {code}) before printing its URL; "
                f"stdout: {buf!r}\nstderr:\n{self.stderr_text()}"
            )
        line, rest = buf.split(b"\n", 1)
        self._first_line = line.decode().strip()
        if rest:
            self._stdout_lines.append(rest.decode(errors="replace"))
        threading.Thread(target=self._drain, daemon=True).start()
        return self._first_line

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        with contextlib.suppress(Exception):
            for raw in iter(lambda: self.proc.stdout.read1(4096), b""):
                self._stdout_lines.append(raw.decode(errors="replace"))

    def stderr_text(self) -> str:
        with contextlib.suppress(Exception):
            self._stderr.flush()
            self._stderr.seek(0)
            return self._stderr.read().decode(errors="replace")[-8000:]
        return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int | None:
        """terminate, then kill after a bounded wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        return self.proc.returncode


def start_emulator_process(
    *args: str, env: dict[str, str] | None = None
) -> tuple[ServerProcess, str]:
    """Start the emulator with ``--port 0`` and the given args; return (process, URL)."""
    argv = [str(emulator_binary())]
    if "--port" not in args:
        argv += ["--port", "0"]
    argv += list(args)
    server = ServerProcess(argv, env=env)
    url = server.read_first_line()
    if not re.fullmatch(r"https?://[^\s/]+(:\d+)?/?", url):
        server.stop()
        raise RuntimeError(
            f"emulator's first stdout line is not a URL: {url!r}; "
            f"stderr:\n{server.stderr_text()}"
        )
    return server, url.rstrip("/")


def moto_server_executable() -> str:
    beside = Path(sys.executable).parent / "moto_server"
    if beside.exists():
        return str(beside)
    found = shutil.which("moto_server")
    if not found:
        pytest.fail("moto_server not found; install tests/requirements.txt", pytrace=False)
    return found


def start_moto_server() -> tuple[ServerProcess, str]:
    port = free_port()
    server = ServerProcess([moto_server_executable(), "-H", "127.0.0.1", "-p", str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if not server.alive():
            raise RuntimeError(f"moto_server exited early:\n{server.stderr_text()}")
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=1.0) as resp:
                resp.read()
            return server, url
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"moto_server did not answer within {START_TIMEOUT_S}s:\n"
                    f"{server.stderr_text()}"
                )
            time.sleep(0.2)
