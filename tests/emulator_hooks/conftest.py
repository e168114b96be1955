"""Fixtures for the emulator-only suite.

``start_emulator(*args, env=None)`` starts the kms11-emulator binary
(``$KMS11_EMULATOR`` or target/debug/kms11-emulator; a missing binary fails
the test, it is never skipped) with ``--port 0`` plus ``args`` and returns
its URL. Every emulator started by a test is stopped when the test ends;
``start_emulator.stop(url)`` stops one earlier (e.g. to restart it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "contract"))

import kmshelp  # noqa: E402


class EmulatorFactory:
    def __init__(self):
        self._servers: dict[str, kmshelp.ServerProcess] = {}

    def __call__(self, *args, env: dict[str, str] | None = None) -> str:
        server, url = kmshelp.start_emulator_process(*[str(a) for a in args], env=env)
        self._servers[url] = server
        return url

    def stop(self, url: str) -> int | None:
        return self._servers.pop(url).stop()

    def stop_all(self) -> None:
        while self._servers:
            _, server = self._servers.popitem()
            server.stop()


@pytest.fixture
def start_emulator():
    factory = EmulatorFactory()
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def client_for():
    """``client_for(url, **config)``: a boto3 KMS client without retries."""
    return kmshelp.make_client
