"""Helpers for the emulator-only features: admin endpoints and seed files.

The KMS-side helpers (clients, error assertions, crypto checks) live in
tests/contract/kmshelp.py, which conftest.py puts on sys.path.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from cryptography.hazmat.primitives import serialization

ADMIN_TIMEOUT_S = 10.0


# --------------------------------------------------------------------------
# Admin endpoints
# --------------------------------------------------------------------------


def _admin(url: str, method: str, path: str, body: dict | None = None, cafile: str | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"} if data is not None else {},
    )
    context = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(req, timeout=ADMIN_TIMEOUT_S, context=context) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        raise AssertionError(
            f"{method} {path} answered HTTP {err.code}: {err.read()[:500]!r}"
        ) from None
    assert status == 200, (method, path, status, raw[:500])
    return json.loads(raw) if raw.strip() else None


def stats(url: str, **kw) -> dict:
    return _admin(url, "GET", "/_emulator/stats", **kw)


def reset_stats(url: str, **kw) -> None:
    _admin(url, "POST", "/_emulator/stats/reset", body={}, **kw)


def get_faults(url: str, **kw) -> dict:
    return _admin(url, "GET", "/_emulator/faults", **kw)


def set_faults(url: str, **faults) -> None:
    """Replace the whole fault configuration (fields left out are off)."""
    _admin(url, "POST", "/_emulator/faults", body=faults)


def request_counts(url: str) -> dict[str, int]:
    """Per-operation request counts, without zero entries."""
    return {op: n for op, n in stats(url)["requests"].items() if n}


# --------------------------------------------------------------------------
# Seed files
# --------------------------------------------------------------------------


def pkcs8_b64(private_key) -> str:
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode()


def raw_b64(material: bytes) -> str:
    return base64.b64encode(material).decode()


def seed_key(spec: str, usage: str, **fields) -> dict:
    """One entry of the seed/state file's ``keys`` list."""
    entry = {"KeySpec": spec, "KeyUsage": usage}
    entry.update(fields)
    return entry


def write_seed(path: Path, keys: list[dict]) -> Path:
    path.write_text(json.dumps({"Keys": keys}, indent=2))
    return path


# --------------------------------------------------------------------------
# Calls and timing
# --------------------------------------------------------------------------

# What botocore raises when the server closes the connection without answering.
DROPPED = (ConnectionClosedError, EndpointConnectionError)


def random_call(kms):
    return kms.generate_random(NumberOfBytes=8)


def outcome(call, *args, **kwargs) -> str:
    """'ok', the KMS error code, or 'dropped' for one call."""
    try:
        call(*args, **kwargs)
        return "ok"
    except ClientError as err:
        return err.response["Error"]["Code"]
    except DROPPED:
        return "dropped"


def random_outcomes(kms, n: int) -> list[str]:
    return [outcome(random_call, kms) for _ in range(n)]



def timed(fn, *args, **kwargs):
    """(result, seconds) of one call."""
    start = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - start
