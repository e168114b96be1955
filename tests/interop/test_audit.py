"""Audit lines: with `[log] level = "audit"` (or KMS11_LOG=audit) every KMS
Sign made for a signature writes one line with the time, pid, token, key
ARN, mechanism, outcome and AWS request id, and nothing of the data, its
digest, the signature or a PIN. Driven by pkcs11-tool, one process per
signature; the signatures are verified by openssl."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import urllib.request
from pathlib import Path

from conftest import MODULE

LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) kms11\[(?P<pid>\d+)\]: Audit: sign "
    r'token="(?P<token>[^"]*)" key=(?P<key>\S+) mechanism=(?P<mechanism>CKM_\w+) algorithm=(?P<alg>\w+) '
    r"outcome=(?P<outcome>.+?) request_id=(?P<request_id>\S+) ms=(?P<ms>\d+)"
    r"( region=(?P<region>\S+) attempts=(?P<attempts>\d+) hedged=(?P<hedged>true|false))?$")


def faults(token, body: dict) -> None:
    req = urllib.request.Request(token.env["AWS_ENDPOINT_URL_KMS"] + "/_emulator/faults",
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()


def test_one_audit_line_per_kms_sign(token, tmp_path):
    log = tmp_path / "kms11.log"
    conf = tmp_path / "audit.conf"
    conf.write_text(f'[log]\nlevel = "audit"\nfile = "{log}"\n' + Path(token.env["KMS11_CONFIG"]).read_text())
    env = dict(token.env, KMS11_CONFIG=str(conf), XDG_CACHE_HOME=str(tmp_path / "cache"))
    data = tmp_path / "data"
    secret = b"payload that must never reach a log " + bytes(range(32))
    data.write_bytes(secret)
    arn = token.kms.describe_key(KeyId="alias/p256")["KeyMetadata"]["Arn"]

    pids = []
    for i in range(3):
        sig = tmp_path / f"sig{i}"
        r = subprocess.run(["pkcs11-tool", "--module", str(MODULE), "--sign", "--id", "b1", "-m", "ECDSA-SHA256",
                            "--signature-format", "openssl", "-i", str(data), "-o", str(sig)],
                           env=env, capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(token.public_pem("b1")), "-signature",
                            str(sig), str(data)], capture_output=True, timeout=60)
        assert v.returncode == 0, v.stdout + v.stderr
        pids.append(r)

    faults(token, {"deny": [{"operation": "Sign", "key": "alias/p256"}]})
    try:
        r = subprocess.run(["pkcs11-tool", "--module", str(MODULE), "--sign", "--id", "b1", "-m", "ECDSA-SHA256",
                            "-i", str(data), "-o", str(tmp_path / "denied")], env=env, capture_output=True,
                           timeout=120)
        assert r.returncode != 0
    finally:
        faults(token, {})

    text = log.read_text()
    audit = [LINE.match(line) for line in text.splitlines() if ": Audit: " in line]
    # pkcs11-tool tries a refused signature more than once; each try is a
    # KMS call with its own line.
    assert len(audit) >= 4 and all(audit), text
    ok, denied = audit[:3], audit[3:]
    for m in audit:
        assert m["token"] == "interop" and m["key"] == arn, m.group(0)
        assert m["mechanism"] == "CKM_ECDSA_SHA256" and m["alg"] == "ECDSA_SHA_256", m.group(0)
        assert re.fullmatch(r"[0-9a-f-]{36}", m["request_id"]), m.group(0)
    assert [m["outcome"] for m in ok] == ["ok"] * 3
    for m in denied:
        assert m["outcome"] == "CKR_KEY_FUNCTION_NOT_PERMITTED (AccessDeniedException)", m.group(0)
    # One process per signature, and one line per KMS request.
    assert len({m["pid"] for m in audit}) == 4
    assert len({m["request_id"] for m in audit}) == len(audit)
    requests = json.load(urllib.request.urlopen(token.env["AWS_ENDPOINT_URL_KMS"] + "/_emulator/stats",
                                                timeout=10))["requests"]
    assert requests.get("Sign", 0) >= len(audit)

    # Nothing of what was signed: not the data, its digest (hex or base64) or a signature.
    digest = hashlib.sha256(secret).digest()

    for needle in (secret[:20].decode(), digest.hex(), base64.b64encode(digest).decode(),
                   (tmp_path / "sig0").read_bytes().hex()[:32]):
        assert needle not in text, needle
