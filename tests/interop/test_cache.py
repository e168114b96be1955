"""The on-disk public-key cache, seen from one-process-per-signature clients
(pkcs11-tool here; `openssl dgst` and gpg behave the same): a cold process
asks KMS for every key of its token, a warm one makes one request, the Sign;
a corrupt, edited, stale or foreign cache costs requests but never a wrong
signature, and never a signature by a key the configuration does not name.
Every signature is verified by openssl with the public key from KMS
GetPublicKey. Emulator counters, not time, are the measure."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import DEC_KEYS, KEYS, MAC_KEYS, MODULE, MORE_KEYS, MORE_TOKEN
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MAGIC = "kms11-cache 1"


def admin(token, method: str, path: str, body: dict | None = None) -> dict:
    url = token.env["AWS_ENDPOINT_URL_KMS"] + path
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
    return json.loads(text) if text.strip() else {}


def requests(token) -> dict[str, int]:
    return admin(token, "GET", "/_emulator/stats")["requests"]


@pytest.fixture
def env(token, tmp_path):
    """The token's environment with a cache of this test's own; emulator
    counters reset, faults off before and after."""
    admin(token, "POST", "/_emulator/faults", {})
    for _, _, key_id in KEYS:
        token.public_pem(key_id)  # the verifier's own GetPublicKey, outside the counts
    admin(token, "POST", "/_emulator/stats/reset")
    e = dict(token.env, XDG_CACHE_HOME=str(tmp_path / "cache"))
    yield e
    admin(token, "POST", "/_emulator/faults", {})


def cache_dir(env) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / "kms11"


def entries(env) -> list[Path]:
    d = cache_dir(env)
    return sorted(d.glob("*.json")) if d.exists() else []


def sign_once(token, env, tmp_path: Path, key_id: str = "b1", check: bool = True) -> subprocess.CompletedProcess:
    """One pkcs11-tool process, one ECDSA-SHA256 signature (DER), verified
    by openssl when it succeeds."""
    data = tmp_path / "data"
    data.write_bytes(b"sign me, once per process")
    sig = tmp_path / f"{key_id}.sig"
    sig.unlink(missing_ok=True)
    r = subprocess.run(
        ["pkcs11-tool", "--module", str(MODULE), "--token-label", "interop", "--sign", "--id", key_id,
         "-m", "ECDSA-SHA256", "--signature-format", "openssl", "-i", str(data), "-o", str(sig)],
        env=env, capture_output=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(token.public_pem(key_id)),
                            "-signature", str(sig), str(data)], capture_output=True, timeout=60)
        assert v.returncode == 0 and b"Verified OK" in v.stdout, v.stdout + v.stderr
    return r


def test_a_warm_process_makes_one_request(token, env, tmp_path):
    sign_once(token, env, tmp_path)
    cold = requests(token)
    assert cold == {"GetPublicKey": len(KEYS), "Sign": 1}, cold
    assert len(entries(env)) == len(KEYS)

    for n in range(3):
        admin(token, "POST", "/_emulator/stats/reset")
        sign_once(token, env, tmp_path)
        warm = requests(token)
        assert warm == {"Sign": 1}, f"warm run {n}: {warm}"


def test_a_warm_process_decrypts_with_one_request(token, env, tmp_path):
    """A decryption key's objects come from the cache as a signing key's
    do: a second process makes its one KMS Decrypt and nothing else."""
    key_id = DEC_KEYS[0][2]
    plain, enc, out = tmp_path / "k.bin", tmp_path / "k.enc", tmp_path / "k.out"
    plain.write_bytes(b"a data key for the warm cache...")
    token.run("openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", str(token.public_pem(key_id)),
              "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
              "-pkeyopt", "rsa_mgf1_md:sha256", "-in", str(plain), "-out", str(enc))
    argv = ["pkcs11-tool", "--module", str(MODULE), "--token-label", MORE_TOKEN, "--id", key_id, "--decrypt",
            "-m", "RSA-PKCS-OAEP", "--hash-algorithm", "SHA256", "--mgf", "MGF1-SHA256", "-i", str(enc),
            "-o", str(out)]
    # Cold: GetPublicKey for every key of the token, and DescribeKey for its
    # HMAC keys (which GetPublicKey does not describe).
    cold = {"GetPublicKey": len(MORE_KEYS) + len(MAC_KEYS), "DescribeKey": len(MAC_KEYS), "Decrypt": 1}
    for n, want in enumerate([cold, {"Decrypt": 1}, {"Decrypt": 1}]):
        admin(token, "POST", "/_emulator/stats/reset")
        out.unlink(missing_ok=True)
        r = subprocess.run(argv, env=env, capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        assert out.read_bytes() == plain.read_bytes()
        assert requests(token) == want, f"run {n}"


def test_files_are_private(token, env, tmp_path):
    sign_once(token, env, tmp_path)
    d = cache_dir(env)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for f in entries(env):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        assert f.stat().st_uid == os.geteuid()
    # Nothing but the entries: no temporary files left behind.
    assert sorted(d.iterdir()) == entries(env)


def test_entries_hold_what_kms_said(token, env, tmp_path):
    sign_once(token, env, tmp_path)
    by_arn = {}
    for f in entries(env):
        head, body = f.read_text().split("\n", 1)
        assert head == f"{MAGIC} {hashlib.sha256(body.encode()).hexdigest()}"
        e = json.loads(body)
        by_arn[e["arn"]] = e
    for alias, spec, _ in KEYS:
        kms = token.kms.get_public_key(KeyId=f"alias/{alias}")
        e = by_arn[kms["KeyId"]]
        assert e["reference"] == f"alias/{alias}"
        assert e["key_spec"] == spec
        assert base64.b64decode(e["public_key"]) == kms["PublicKey"]
        assert token.env["AWS_ENDPOINT_URL_KMS"] in e["scope"] and "us-east-1" in e["scope"]


CORRUPTIONS = {
    "empty": lambda text: "",
    "garbage": lambda text: "\x00\xff not a cache entry",
    "truncated": lambda text: text[: len(text) // 2],
    "one byte changed": lambda text: text[:-5] + ("A" if text[-5] != "A" else "B") + text[-4:],
    "trailing newline": lambda text: text + "\n",
}


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_a_corrupt_cache_costs_requests_not_signatures(token, env, tmp_path, how):
    sign_once(token, env, tmp_path)
    for f in entries(env):
        f.write_text(CORRUPTIONS[how](f.read_text()))
    admin(token, "POST", "/_emulator/stats/reset")
    sign_once(token, env, tmp_path)
    assert requests(token) == {"GetPublicKey": len(KEYS), "Sign": 1}
    # Rewritten: the next process is warm again.
    admin(token, "POST", "/_emulator/stats/reset")
    sign_once(token, env, tmp_path)
    assert requests(token) == {"Sign": 1}


def rewrite(path: Path, **changes) -> None:
    """Edits an entry and gives it a valid checksum: what a bug or another
    program writing the file could leave."""
    e = json.loads(path.read_text().split("\n", 1)[1])
    e.update(changes)
    body = json.dumps(e)
    path.write_text(f"{MAGIC} {hashlib.sha256(body.encode()).hexdigest()}\n{body}")


def entry_of(env, arn: str) -> Path:
    for f in entries(env):
        if json.loads(f.read_text().split("\n", 1)[1])["arn"] == arn:
            return f
    raise AssertionError(f"no cache entry for {arn}")


def test_a_wrong_public_key_in_the_cache_never_yields_a_bad_signature(token, env, tmp_path):
    """A well-formed entry whose public key is not the key's: the module's
    check of KMS's signature fails and that signature is never returned
    (CKR_DEVICE_ERROR); the entry is dropped and the key refreshed in the
    background. pkcs11-tool 0.23 tries C_Sign a second time after a failure:
    when the refresh has landed by then, that second signature is made and
    checked with the key KMS gives, so the process may succeed, and then
    its signature verifies. Either way the next process signs correctly."""
    sign_once(token, env, tmp_path)
    arn = token.kms.describe_key(KeyId="alias/p256")["KeyMetadata"]["Arn"]
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    path = entry_of(env, arn)
    rewrite(path, public_key=base64.b64encode(other.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).decode())
    r = sign_once(token, env, tmp_path, check=False)
    err = (r.stderr + r.stdout).decode(errors="replace")
    # The signature checked against the planted key was caught and withheld.
    assert "does not verify with the key's public key" in err and "not returned" in err, err
    sig = tmp_path / "b1.sig"
    if r.returncode != 0:
        assert "CKR_DEVICE_ERROR" in err, err
        assert not sig.exists() or sig.stat().st_size == 0
    else:
        # What came out was the retry's, made after the refresh: KMS's key verifies it.
        v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(token.public_pem("b1")), "-signature",
                            str(sig), str(tmp_path / "data")], capture_output=True, timeout=60)
        assert v.returncode == 0 and b"Verified OK" in v.stdout, v.stdout + v.stderr
    # Dropped; the process may have refreshed the key from KMS and written
    # KMS's answer in its place, never the planted public key.
    if path.exists():
        e = json.loads(path.read_text().split("\n", 1)[1])
        kms = token.kms.get_public_key(KeyId=arn)["PublicKey"]
        assert base64.b64decode(e["public_key"]) == kms, "the contradicted entry was kept"
    sign_once(token, env, tmp_path)


def test_an_alias_entry_past_the_refresh_interval_is_asked_again(token, env, tmp_path):
    """Entries for aliases are trusted for alias_refresh_seconds (300 by
    default); an older one is a miss, and KMS's current answer wins."""
    sign_once(token, env, tmp_path)
    arn = token.kms.describe_key(KeyId="alias/p256")["KeyMetadata"]["Arn"]
    path = entry_of(env, arn)
    e = json.loads(path.read_text().split("\n", 1)[1])
    rewrite(path, stored_at_ms=e["stored_at_ms"] - 301_000)
    admin(token, "POST", "/_emulator/stats/reset")
    sign_once(token, env, tmp_path)
    assert requests(token) == {"GetPublicKey": 1, "Sign": 1}


def test_an_alias_moved_within_the_interval_is_followed_after_it(token, env, tmp_path):
    """The alias now names another key, but a fresh entry says the old one.
    Sign goes to the alias, so KMS signs with the new key; its answer names
    that key, not the one the token's objects show, so that process gets no
    signature (CKR_DEVICE_ERROR), and the entry is dropped (or replaced by
    KMS's answer); the next process signs with the new key. Never does a
    signature by one key leave the module under the other's objects."""
    conf = tmp_path / "moved.conf"
    conf.write_text('[aws]\nalias_refresh_seconds = 300\n[[token]]\nlabel = "interop"\n'
                    '[[token.key]]\nkey = "alias/cache-moving"\nid = "c1"\n')
    a = token.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    b = token.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    token.kms.create_alias(AliasName="alias/cache-moving", TargetKeyId=a)
    e = dict(env, KMS11_CONFIG=str(conf))

    def sign_with(expected_arn: str | None):
        data = tmp_path / "data"
        data.write_bytes(b"moving alias")
        sig = tmp_path / "c1.sig"
        sig.unlink(missing_ok=True)
        r = subprocess.run(["pkcs11-tool", "--module", str(MODULE), "--sign", "--id", "c1", "-m", "ECDSA-SHA256",
                            "--signature-format", "openssl", "-i", str(data), "-o", str(sig)],
                           env=e, capture_output=True, timeout=120)
        if expected_arn is None:
            # The first C_Sign fails; pkcs11-tool 0.23 may try again, and
            # if the background refresh has landed by then, the handle
            # (which follows its configured key) signs with the new key.
            assert b"CKR_DEVICE_ERROR" in r.stdout + r.stderr, r.stderr
            if r.returncode == 0:
                assert verifies(token, b, data, sig), "signed under the old key's objects after the move"
            else:
                assert not sig.exists() or sig.stat().st_size == 0
            return
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        assert verifies(token, expected_arn, data, sig), f"not signed by {expected_arn}"

    sign_with(a)
    token.kms.update_alias(AliasName="alias/cache-moving", TargetKeyId=b)
    sign_with(None)
    assert not any(json.loads(f.read_text().split("\n", 1)[1])["arn"] == a for f in entries(e)), \
        "the entry naming the old key was kept"
    sign_with(b)
    assert entry_of(e, b).exists()


def pem_of(token, arn: str) -> Path:
    from kmshelp import load_public_key
    pem = token.dir / f"{arn.rsplit('/', 1)[1]}.pem"
    if not pem.exists():
        der = token.kms.get_public_key(KeyId=arn)["PublicKey"]
        pem.write_bytes(load_public_key(der).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return pem


def verifies(token, arn: str, data: Path, sig: Path) -> bool:
    """openssl's verdict on an ECDSA-SHA256 signature with the key's public
    key from KMS GetPublicKey."""
    v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pem_of(token, arn)), "-signature", str(sig),
                        str(data)], capture_output=True, timeout=60)
    return v.returncode == 0 and b"Verified OK" in v.stdout


def body_of(path: Path) -> dict:
    return json.loads(path.read_text().split("\n", 1)[1])


def write_entry(path: Path, e: dict) -> None:
    body = json.dumps(e)
    path.write_text(f"{MAGIC} {hashlib.sha256(body.encode()).hexdigest()}\n{body}")


@pytest.mark.parametrize("verify", [True, False], ids=["verify on", "verify off"])
@pytest.mark.parametrize("how", ["copied", "edited"])
@pytest.mark.parametrize("kind", ["key ID", "key ARN", "alias"])
def test_another_keys_entry_in_a_keys_place_never_signs_with_that_key(token, env, tmp_path, kind, how, verify):
    """The configuration names keys A and B; B's cache entry is put in A's
    place, copied as it is or edited to say A's reference (with a valid
    checksum, as anything that can write ~/.cache could do). The next
    process asked to sign with A either signs with A or fails, whether or
    not verify_signatures is on: never with B. The process after it signs
    with A."""
    tag = uuid.uuid4().hex[:8]
    arns = {}
    for name in ("a", "b"):
        arns[name] = token.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
        token.kms.create_alias(AliasName=f"alias/tamper-{tag}-{name}", TargetKeyId=arns[name])
    ref = {
        "key ID": lambda n: arns[n].rsplit("/", 1)[1],
        "key ARN": lambda n: arns[n],
        "alias": lambda n: f"alias/tamper-{tag}-{n}",
    }[kind]
    conf = tmp_path / "tamper.conf"
    conf.write_text(("" if verify else "[signing]\nverify_signatures = false\n")
                    + '[[token]]\nlabel = "interop"\n'
                    + f'[[token.key]]\nkey = "{ref("a")}"\nid = "0a"\n'
                    + f'[[token.key]]\nkey = "{ref("b")}"\nid = "0b"\n')
    e = dict(env, KMS11_CONFIG=str(conf))
    data = tmp_path / "data"
    data.write_bytes(b"which key signs this?")
    sig = tmp_path / "a.sig"

    def sign_a() -> subprocess.CompletedProcess:
        sig.unlink(missing_ok=True)
        return subprocess.run(["pkcs11-tool", "--module", str(MODULE), "--token-label", "interop", "--sign",
                               "--id", "0a", "-m", "ECDSA-SHA256", "--signature-format", "openssl",
                               "-i", str(data), "-o", str(sig)], env=e, capture_output=True, timeout=120)

    r = sign_a()
    assert r.returncode == 0 and verifies(token, arns["a"], data, sig), r.stderr
    a_entry, b_entry = entry_of(e, arns["a"]), entry_of(e, arns["b"])
    if how == "copied":
        shutil.copyfile(b_entry, a_entry)
    else:
        write_entry(a_entry, dict(body_of(b_entry), reference=body_of(a_entry)["reference"]))

    r = sign_a()
    out = (r.stdout + r.stderr).decode(errors="replace")
    if r.returncode == 0:
        assert verifies(token, arns["a"], data, sig), f"signed, but not with A: {out}"
        assert not verifies(token, arns["b"], data, sig), "signed with B"
    else:
        assert "CKR_DEVICE_ERROR" in out, out
        assert not sig.exists() or sig.stat().st_size == 0, "a failed C_Sign left a signature"
    # What the module kept for A's reference does not name B.
    assert not any(body_of(f)["reference"] == ref("a") and body_of(f)["arn"] == arns["b"] for f in entries(e))

    r = sign_a()
    assert r.returncode == 0, r.stderr
    assert verifies(token, arns["a"], data, sig) and not verifies(token, arns["b"], data, sig)


def test_access_denied_on_a_cached_key_drops_its_entry(token, env, tmp_path):
    """A cached key that KMS refuses to sign with (AccessDeniedException):
    its entry is dropped, as one for a key KMS does not know is."""
    sign_once(token, env, tmp_path)
    path = entry_of(env, token.kms.describe_key(KeyId="alias/p256")["KeyMetadata"]["Arn"])
    admin(token, "POST", "/_emulator/faults", {"deny": [{"operation": "Sign", "key": "alias/p256"}]})
    r = sign_once(token, env, tmp_path, check=False)
    assert r.returncode != 0 and b"CKR_KEY_FUNCTION_NOT_PERMITTED" in r.stdout + r.stderr, r.stderr
    assert not path.exists(), "the entry of a key KMS refused was kept"
    admin(token, "POST", "/_emulator/faults", {})
    sign_once(token, env, tmp_path)


def test_access_denied_on_a_cached_decryption_key_drops_its_entry(token, env, tmp_path):
    """The same for Decrypt: a cached decryption key KMS refuses
    (AccessDeniedException) loses its entry; a ciphertext that is not the
    key's (InvalidCiphertextException) says nothing about the key and keeps
    it."""
    key_id = DEC_KEYS[0][2]
    enc, out = tmp_path / "k.enc", tmp_path / "k.out"
    plain = tmp_path / "k.bin"
    plain.write_bytes(b"a data key")
    token.run("openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", str(token.public_pem(key_id)),
              "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
              "-pkeyopt", "rsa_mgf1_md:sha256", "-in", str(plain), "-out", str(enc))

    def decrypt(ciphertext: Path) -> subprocess.CompletedProcess:
        out.unlink(missing_ok=True)
        argv = ["pkcs11-tool", "--module", str(MODULE), "--token-label", MORE_TOKEN, "--id", key_id, "--decrypt",
                "-m", "RSA-PKCS-OAEP", "--hash-algorithm", "SHA256", "--mgf", "MGF1-SHA256", "-i", str(ciphertext),
                "-o", str(out)]
        return subprocess.run(argv, env=env, capture_output=True, timeout=120)

    assert decrypt(enc).returncode == 0 and out.read_bytes() == plain.read_bytes()
    arn = token.kms.describe_key(KeyId=f"alias/{DEC_KEYS[0][0]}")["KeyMetadata"]["Arn"]
    path = entry_of(env, arn)
    garbage = tmp_path / "garbage.enc"
    garbage.write_bytes(bytes(len(enc.read_bytes())))
    r = decrypt(garbage)
    assert r.returncode != 0 and b"CKR_ENCRYPTED_DATA_INVALID" in r.stdout + r.stderr, r.stderr
    assert path.exists(), "a bad ciphertext dropped the key's entry"
    admin(token, "POST", "/_emulator/faults", {"deny": [{"operation": "Decrypt", "key": arn}]})
    r = decrypt(enc)
    assert r.returncode != 0 and b"CKR_KEY_FUNCTION_NOT_PERMITTED" in r.stdout + r.stderr, r.stderr
    assert not path.exists(), "the entry of a key KMS refused was kept"
    admin(token, "POST", "/_emulator/faults", {})
    assert decrypt(enc).returncode == 0 and out.read_bytes() == plain.read_bytes()


def test_another_account_does_not_share_entries(token, env, tmp_path):
    """Same endpoint, region and profile, other credentials: the account
    when the credentials say it (AWS_ACCOUNT_ID here; SSO, assumed roles
    and web identity do too), else a hash of the access key ID, is part of
    the scope. Each identity starts cold and is then warm on its own
    entries, which never hold the access key ID itself."""
    identities = [
        env,
        dict(env, AWS_ACCOUNT_ID="111122223333"),
        dict(env, AWS_ACCOUNT_ID="444455556666"),
        dict(env, AWS_ACCESS_KEY_ID="AKIAOTHERIDENTITY"),
    ]
    for n, e in enumerate(identities):
        admin(token, "POST", "/_emulator/stats/reset")
        sign_once(token, e, tmp_path)
        assert requests(token) == {"GetPublicKey": len(KEYS), "Sign": 1}, f"identity {n} used another's entries"
        admin(token, "POST", "/_emulator/stats/reset")
        sign_once(token, e, tmp_path)
        assert requests(token) == {"Sign": 1}, f"identity {n} is not warm on its own entries"
    scopes = {body_of(f)["scope"] for f in entries(env)}
    assert len(scopes) == len(identities), scopes
    assert any("account=111122223333" in s for s in scopes) and any("account=444455556666" in s for s in scopes)
    for f in entries(env):
        assert "AKIAOTHERIDENTITY" not in f.read_text()


def test_another_endpoint_or_region_does_not_share_entries(token, env, tmp_path):
    sign_once(token, env, tmp_path)
    before = {f.name for f in entries(env)}
    e = dict(env, AWS_REGION="eu-west-1")
    subprocess.run(["pkcs11-tool", "--module", str(MODULE), "--list-objects"], env=e,
                   capture_output=True, timeout=120)
    # The emulator keeps keys per region: eu-west-1 has none of these aliases,
    # so nothing new is cached, and the us-east-1 entries were not used.
    assert {f.name for f in entries(env)} == before


def test_a_cache_directory_others_can_write_is_ignored(token, env, tmp_path):
    sign_once(token, env, tmp_path)
    cache_dir(env).chmod(0o777)
    admin(token, "POST", "/_emulator/stats/reset")
    sign_once(token, env, tmp_path)
    assert requests(token) == {"GetPublicKey": len(KEYS), "Sign": 1}
    cache_dir(env).chmod(0o700)


def test_cache_off(token, env, tmp_path):
    conf = tmp_path / "off.conf"
    conf.write_text("[cache]\nenabled = false\n" + Path(token.env["KMS11_CONFIG"]).read_text())
    e = dict(env, KMS11_CONFIG=str(conf))
    for _ in range(2):
        admin(token, "POST", "/_emulator/stats/reset")
        sign_once(token, e, tmp_path)
        assert requests(token) == {"GetPublicKey": len(KEYS), "Sign": 1}
    assert entries(env) == []


def test_verify_signatures_refuses_a_wrong_signature_and_can_be_turned_off(token, env, tmp_path):
    admin(token, "POST", "/_emulator/faults", {"wrong_signature_rate": 1})
    r = sign_once(token, env, tmp_path, check=False)
    assert r.returncode != 0 and b"CKR_DEVICE_ERROR" in r.stderr + r.stdout, r.stderr
    # Off: the spoiled signature reaches the caller, and openssl rejects it.
    conf = tmp_path / "noverify.conf"
    conf.write_text("[signing]\nverify_signatures = false\n" + Path(token.env["KMS11_CONFIG"]).read_text())
    e = dict(env, KMS11_CONFIG=str(conf))
    sign_once(token, e, tmp_path, check=False).check_returncode()
    v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(token.public_pem("b1")), "-signature",
                        str(tmp_path / "b1.sig"), str(tmp_path / "data")], capture_output=True, timeout=60)
    assert v.returncode != 0 and b"Verification failure" in v.stdout + v.stderr
    admin(token, "POST", "/_emulator/faults", {})
    sign_once(token, env, tmp_path)


def test_kms11_pubkey_publishes_the_key_from_kms_not_from_the_cache(token, env, tmp_path):
    """A well-formed entry with the key's ARN and another public key would
    be caught at the first signature; an export makes none, so `kms11
    pubkey` (whose output others trust: JWKS, OpenSSH, certificates) asks
    KMS and never prints the planted key."""
    sign_once(token, env, tmp_path)
    arn = token.kms.describe_key(KeyId="alias/p256")["KeyMetadata"]["Arn"]
    planted = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    rewrite(entry_of(env, arn), public_key=base64.b64encode(planted).decode())
    kms = token.kms.get_public_key(KeyId=arn)["PublicKey"]
    for name in ("alias/p256", arn):
        r = subprocess.run([str(MODULE.parent / "kms11"), "pubkey", name, "--format", "der"], env=env,
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout == kms, f"kms11 pubkey {name} did not print the key KMS holds"
        assert r.stdout != planted
