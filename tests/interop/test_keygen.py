"""Key generation through standard clients (issue 16): pkcs11-tool
--keypairgen makes a KMS key (CreateKey, CreateAlias from --label) on a
token that allows it, a new pkcs11-tool process signs with it (the
configuration names its alias beforehand), openssl verifies the signature
with the public key from KMS's GetPublicKey, and --delete-object schedules
the key's deletion. A token without allow_key_management refuses."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import subprocess

import pytest
from conftest import MODULE, module_env
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key
from cryptography.x509.oid import NameOID

import kmshelp

TOKEN = "keygen"
LOCKED = "locked"
# Makes keys as alias/disc-<label> and discovers them in later processes.
DISCOVER = "discover"
DATA = b"made through pkcs11-tool --keypairgen\n"

# (label, --id, --key-type, KeySpec, pkcs11-tool's signing mechanism, openssl dgst's hash)
CASES = [
    ("tool-p256", "41", "EC:prime256v1", "ECC_NIST_P256", "ECDSA-SHA256", "-sha256"),
    ("tool-p384", "42", "EC:secp384r1", "ECC_NIST_P384", "ECDSA-SHA384", "-sha384"),
    ("tool-rsa2048", "43", "rsa:2048", "RSA_2048", "SHA256-RSA-PKCS", "-sha256"),
    ("tool-rsa3072", "44", "rsa:3072", "RSA_3072", "SHA256-RSA-PKCS-PSS", "-sha256"),
    ("tool-p521", "45", "EC:secp521r1", "ECC_NIST_P521", "ECDSA-SHA512", "-sha512"),
    ("tool-k256", "46", "EC:secp256k1", "ECC_SECG_P256K1", "ECDSA-SHA256", "-sha256"),
    ("tool-rsa4096", "47", "rsa:4096", "RSA_4096", "SHA512-RSA-PKCS", "-sha512"),
    # OpenSC sends CKM_EC_EDWARDS_KEY_PAIR_GEN and signs with CKM_EDDSA;
    # openssl pkeyutl verifies (Ed25519 has no separate hash).
    ("tool-ed25519", "48", "EC:edwards25519", "ECC_NIST_EDWARDS25519", "EDDSA", None),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("keygen")
    # The state file holds the material of the HMAC key the tests make, so
    # that Python's hmac can check the MAC KMS computed.
    state = d / "state.json"
    server, url = kmshelp.start_emulator_process("--state", str(state))
    kms = kmshelp.make_client(url)
    # A key the locked token names, so that it has a key to refuse to destroy.
    locked_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/locked-p256", TargetKeyId=locked_key)
    conf = d / "pkcs11.conf"
    conf.write_text(
        f'[[token]]\nlabel = "{TOKEN}"\nallow_key_management = true\ndeletion_window_days = 7\n'
        # Named before they exist (left out until pkcs11-tool makes them),
        # with the CKA_ID --keypairgen gives: a later process takes CKA_ID
        # from the configuration (else the key's UUID), not from KMS.
        + "".join(f'\n[[token.key]]\nkey = "alias/{label}"\nid = "{key_id}"\n' for label, key_id, *_ in CASES)
        + f'\n[[token]]\nlabel = "{LOCKED}"\n[[token.key]]\nkey = "alias/locked-p256"\n'
        + f'\n[[token]]\nlabel = "{DISCOVER}"\nallow_key_management = true\nalias_prefix = "disc-"\n'
        + f'discover_aliases = "alias/disc-"\ncertificate_dir = "{d / "certs"}"\n'
    )
    conf.chmod(0o600)
    e = module_env(conf, url, d / "cache")
    yield e, kms, d
    server.stop()


def verify(pem, hash_flag, mechanism, sig, data):
    """openssl's verdict on a signature: dgst for RSA and ECDSA, pkeyutl
    -rawin for Ed25519."""
    if hash_flag is None:
        argv = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin",
                "-in", str(data), "-sigfile", str(sig)]
    else:
        pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"] if "PSS" in mechanism else []
        argv = ["openssl", "dgst", hash_flag, "-verify", str(pem), *pss, "-signature", str(sig), str(data)]
    r = subprocess.run(argv, capture_output=True, timeout=60)
    said = b"Verified OK" if hash_flag else b"Signature Verified Successfully"
    return r.returncode == 0 and said in r.stdout, r.stdout + r.stderr


def tool(env, *args, check=True):
    r = subprocess.run(
        ["pkcs11-tool", "--module", str(MODULE), *args], env=env, capture_output=True, timeout=120
    )
    if check and r.returncode != 0:
        raise AssertionError(f"pkcs11-tool {' '.join(args)} exited {r.returncode}\n{r.stdout.decode()}\n{r.stderr.decode()}")
    return r


@pytest.mark.parametrize("label,key_id,key_type,spec,mechanism,hash_flag", CASES, ids=[c[0] for c in CASES])
def test_keypairgen_then_sign_in_a_new_process_then_delete(env, tmp_path, label, key_id, key_type, spec, mechanism, hash_flag):
    e, kms, _ = env
    tool(e, "--token-label", TOKEN, "--keypairgen", "--key-type", key_type, "--usage-sign", "--label", label, "--id", key_id)
    meta = kms.describe_key(KeyId=f"alias/{label}")["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"], meta["KeyState"]) == (spec, "SIGN_VERIFY", "Enabled")
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]}
    assert tags["created-by"] == "kms11" and tags["kms11:token"] == TOKEN and tags["kms11:label"] == label

    data, sig = tmp_path / "data", tmp_path / "sig"
    data.write_bytes(DATA)
    fmt = ["--signature-format", "openssl"] if mechanism.startswith("ECDSA") else []
    tool(e, "--token-label", TOKEN, "--sign", "--mechanism", mechanism, "--id", key_id,
         "-i", str(data), "-o", str(sig), *fmt)
    pem = tmp_path / "key.pem"
    der = kms.get_public_key(KeyId=f"alias/{label}")["PublicKey"]
    pem.write_bytes(kmshelp.load_public_key(der).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    good, out = verify(pem, hash_flag, mechanism, sig, data)
    assert good, out
    data.write_bytes(DATA + b"changed")
    good, out = verify(pem, hash_flag, mechanism, sig, data)
    assert not good, "a changed file must not verify"

    tool(e, "--token-label", TOKEN, "--delete-object", "--type", "privkey", "--id", key_id)
    meta = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert (meta["KeyState"], meta["PendingDeletionWindowInDays"]) == ("PendingDeletion", 7)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=f"alias/{label}")


def test_a_token_without_key_management_makes_and_deletes_nothing(env):
    e, kms, _ = env
    before = len(kms.list_keys()["Keys"])
    # The token does not list the generation mechanisms, so pkcs11-tool
    # stops before asking (the module's own refusal, CKR_ACTION_PROHIBITED
    # with the setting named, is tests/module_keygen.rs's).
    r = tool(e, "--token-label", LOCKED, "--keypairgen", "--key-type", "EC:prime256v1", "--usage-sign",
             "--label", "never", check=False)
    assert r.returncode != 0
    assert b"not supported" in r.stderr, r.stderr
    r = tool(e, "--token-label", LOCKED, "--delete-object", "--type", "privkey", "--label", "locked-p256", check=False)
    assert r.returncode != 0
    # pkcs11-tool 0.23 has no name for CKR_ACTION_PROHIBITED (0x1b).
    assert b"(0x1b)" in r.stderr, r.stderr
    assert b"allow_key_management" in r.stderr, r.stderr
    assert len(kms.list_keys()["Keys"]) == before
    assert kms.describe_key(KeyId="alias/locked-p256")["KeyMetadata"]["KeyState"] == "Enabled"


def test_pkcs11_tools_default_usages_are_refused_with_the_fix(env):
    """Without --usage-sign, pkcs11-tool asks an RSA key to sign and to
    decrypt; a KMS key does one, and the message says which option to add."""
    e, kms, _ = env
    before = len(kms.list_keys()["Keys"])
    r = tool(e, "--token-label", TOKEN, "--keypairgen", "--key-type", "rsa:2048", "--label", "both", check=False)
    assert r.returncode != 0
    assert b"CKR_TEMPLATE_INCONSISTENT" in r.stdout + r.stderr, r.stdout + r.stderr
    assert len(kms.list_keys()["Keys"]) == before


def test_a_key_made_in_one_process_is_discovered_by_the_next(env, tmp_path):
    """With discover_aliases, nothing is added to the configuration: the
    next process lists the aliases and signs with the new key (its CKA_ID
    there is the key's UUID, the rule for keys not configured by hand)."""
    e, kms, _ = env
    tool(e, "--token-label", DISCOVER, "--keypairgen", "--key-type", "EC:prime256v1", "--usage-sign",
         "--label", "found")
    meta = kms.describe_key(KeyId="alias/disc-found")["KeyMetadata"]
    listed = tool(e, "--token-label", DISCOVER, "--list-objects").stdout.decode()
    assert "label:      found" in listed, listed
    uuid_id = meta["KeyId"].replace("-", "")
    data, sig = tmp_path / "data", tmp_path / "sig"
    data.write_bytes(DATA)
    tool(e, "--token-label", DISCOVER, "--sign", "--mechanism", "ECDSA-SHA256", "--id", uuid_id,
         "-i", str(data), "-o", str(sig), "--signature-format", "openssl")
    pem = tmp_path / "key.pem"
    der = kms.get_public_key(KeyId="alias/disc-found")["PublicKey"]
    pem.write_bytes(kmshelp.load_public_key(der).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(sig), str(data)],
                       capture_output=True, timeout=60)
    assert v.returncode == 0 and b"Verified OK" in v.stdout, v.stdout + v.stderr


@pytest.mark.parametrize("algorithm,extra,spec", [
    ("ECDSA", ["--curve", "secp256r1"], "ECC_NIST_P256"),
    # Without --mark-sign, p11tool asks an RSA key to sign and to decrypt.
    ("RSA", ["--bits", "2048", "--mark-sign"], "RSA_2048"),
], ids=["ecdsa", "rsa"])
def test_p11tool_generates_a_key_that_the_next_process_signs_with(env, tmp_path, algorithm, extra, spec):
    """GnuTLS's p11tool --generate-privkey makes the KMS key and prints its
    public key, which must be KMS's; a new p11tool process (the key found
    by discovery) --test-signs with it, verified by GnuTLS's own code."""
    e, kms, _ = env
    label = f"gnutls-{algorithm.lower()}"
    r = subprocess.run(
        ["p11tool", "--provider", str(MODULE), "--generate-privkey", algorithm, *extra, "--label", label,
         "--login", "--set-pin", "1234", f"pkcs11:token={DISCOVER}"],
        env=e, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    printed = r.stdout.decode()
    meta = kms.describe_key(KeyId=f"alias/disc-{label}")["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"]) == (spec, "SIGN_VERIFY")
    der = kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"]
    pem = kmshelp.load_public_key(der).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    assert pem.strip() in printed, printed
    r = subprocess.run(
        ["p11tool", "--provider", str(MODULE), "--test-sign", f"pkcs11:token={DISCOVER};object={label};type=private"],
        env=e, capture_output=True, timeout=120)
    out = (r.stdout + r.stderr).decode()
    assert "Verifying against public key in the token... ok" in out, out


def test_keygen_makes_an_hmac_key_that_the_next_process_macs_with(env, tmp_path):
    """pkcs11-tool --keygen GENERIC:32 makes an HMAC_256 key (--sensitive:
    without it pkcs11-tool asks for a secret whose value could be read);
    a new process computes a SHA256-HMAC through KMS, checked by Python's
    hmac with the key material the emulator keeps in its state file."""
    e, kms, d = env
    r = tool(e, "--token-label", DISCOVER, "--keygen", "--key-type", "GENERIC:32", "--usage-sign",
             "--label", "tool-hmac", check=False)
    assert r.returncode != 0 and b"--sensitive" in r.stderr, r.stderr
    tool(e, "--token-label", DISCOVER, "--keygen", "--key-type", "GENERIC:32", "--usage-sign", "--sensitive",
         "--label", "tool-hmac")
    meta = kms.describe_key(KeyId="alias/disc-tool-hmac")["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    data, mac = tmp_path / "data", tmp_path / "mac"
    data.write_bytes(DATA)
    tool(e, "--token-label", DISCOVER, "--sign", "--mechanism", "SHA256-HMAC", "--label", "tool-hmac",
         "-i", str(data), "-o", str(mac))
    saved = json.loads((d / "state.json").read_text())
    (key,) = [k for k in saved["Keys"] if k["KeyId"] == meta["KeyId"]]
    material = base64.b64decode(key["Material"])
    assert len(material) == 32
    assert hmac.compare_digest(mac.read_bytes(), hmac.new(material, DATA, hashlib.sha256).digest())
    tool(e, "--token-label", DISCOVER, "--delete-object", "--type", "secrkey", "--label", "tool-hmac")
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"


def test_write_object_stores_a_certificate_for_later_processes(env, tmp_path):
    """After --keypairgen, pkcs11-tool --write-object --type cert stores the
    key's certificate in the token's certificate_dir; a later process lists
    it, reads back the same DER, and pairs the key with the certificate's
    CKA_ID; --delete-object removes it and leaves the key."""
    e, kms, d = env
    tool(e, "--token-label", DISCOVER, "--keypairgen", "--key-type", "EC:prime256v1", "--usage-sign",
         "--label", "certified", "--id", "c0de")
    der = kms.get_public_key(KeyId="alias/disc-certified")["PublicKey"]
    ca = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certified")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kms11 test CA")]))
        .public_key(load_der_public_key(der))
        .serial_number(4242)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .sign(ca, hashes.SHA256())
    )
    path = tmp_path / "cert.der"
    path.write_bytes(cert.public_bytes(Encoding.DER))
    tool(e, "--token-label", DISCOVER, "--write-object", str(path), "--type", "cert", "--id", "c0de",
         "--label", "certified")
    assert list((d / "certs").iterdir()), "the certificate is stored"
    listed = tool(e, "--token-label", DISCOVER, "--list-objects", "--type", "cert").stdout.decode()
    assert "subject:    DN: CN=certified" in listed, listed
    back = tmp_path / "back.der"
    tool(e, "--token-label", DISCOVER, "--read-object", "--type", "cert", "--id", "c0de", "-o", str(back))
    assert back.read_bytes() == path.read_bytes()
    # The key now carries the certificate's CKA_ID in every process, and signs.
    data, sig = tmp_path / "data", tmp_path / "sig"
    data.write_bytes(DATA)
    tool(e, "--token-label", DISCOVER, "--sign", "--mechanism", "ECDSA-SHA256", "--id", "c0de",
         "-i", str(data), "-o", str(sig), "--signature-format", "openssl")
    cert.public_key().verify(sig.read_bytes(), DATA, ec.ECDSA(hashes.SHA256()))
    tool(e, "--token-label", DISCOVER, "--delete-object", "--type", "cert", "--id", "c0de")
    listed = tool(e, "--token-label", DISCOVER, "--list-objects", "--type", "cert").stdout.decode()
    assert "CN=certified" not in listed, listed
    assert kms.describe_key(KeyId="alias/disc-certified")["KeyMetadata"]["KeyState"] == "Enabled"
