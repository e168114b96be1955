"""Endpoint selection and shared fixtures for the KMS contract suite.

* ``KMS_ENDPOINT_URL`` set: the suite uses that endpoint as-is.
* otherwise ``KMS_CONTRACT_TARGET`` = ``emulator`` (default) or ``moto``:
  - emulator: runs ``$KMS11_EMULATOR`` (default target/debug/kms11-emulator)
    with ``--port 0`` and reads its URL from the first stdout line;
  - moto: runs ``moto_server`` on a free port.

When the target is moto, tests listed in known_differences.MOTO are marked
``xfail(strict=True)`` with the recorded reason.
"""

from __future__ import annotations

import contextlib
import os
import threading

import pytest

import kmshelp
from known_differences import MOTO


def pytest_report_header(config):
    url = os.environ.get("KMS_ENDPOINT_URL")
    where = f"KMS_ENDPOINT_URL={url}" if url else "started by the suite"
    return f"kms contract target: {kmshelp.contract_target()} ({where})"


def pytest_collection_modifyitems(config, items):
    if kmshelp.contract_target() != "moto":
        return
    for item in items:
        for pattern, reason in MOTO.items():
            if pattern in item.nodeid:
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"moto: {reason}"))
                break


@pytest.fixture(scope="session")
def target() -> str:
    return kmshelp.contract_target()


@pytest.fixture(scope="session")
def endpoint(target):
    url = os.environ.get("KMS_ENDPOINT_URL")
    if url:
        yield url.rstrip("/")
        return
    if target == "emulator":
        server, url = kmshelp.start_emulator_process()
    else:
        server, url = kmshelp.start_moto_server()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kms(endpoint):
    return kmshelp.make_client(endpoint)


class KeyFactory:
    """Creates keys through CreateKey and caches shared ones per session.

    ``create`` always makes a fresh key (for tests that change key state or
    aliases); ``shared`` returns one key per (KeySpec, KeyUsage) that tests
    must not modify.  All keys are scheduled for deletion at session end
    (best effort), so that a persistent endpoint does not fill up.
    """

    def __init__(self, kms):
        self.kms = kms
        self._lock = threading.Lock()
        self._shared: dict[tuple[str, str], dict] = {}
        self.created: list[str] = []

    def create(self, **kwargs) -> dict:
        kwargs.setdefault("Description", "kms11 contract test key")
        meta = self.kms.create_key(**kwargs)["KeyMetadata"]
        self.created.append(meta["KeyId"])
        return meta

    def shared(self, spec: str, usage: str) -> dict:
        with self._lock:
            if (spec, usage) not in self._shared:
                self._shared[(spec, usage)] = self.create(KeySpec=spec, KeyUsage=usage)
            return self._shared[(spec, usage)]

    def cleanup(self) -> None:
        for key_id in self.created:
            with contextlib.suppress(Exception):
                self.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)


@pytest.fixture(scope="session")
def keys(kms):
    factory = KeyFactory(kms)
    yield factory
    factory.cleanup()


@pytest.fixture(scope="session")
def account(keys) -> str:
    """The account ID the endpoint uses, taken from a key ARN."""
    meta = keys.shared("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    m = kmshelp.key_arn_re().fullmatch(meta["Arn"])
    assert m, f"key ARN has the wrong form: {meta['Arn']}"
    return m.group(1)
