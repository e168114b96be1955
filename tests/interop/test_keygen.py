"""Key generation through standard clients (issue 16): pkcs11-tool
--keypairgen makes a KMS key (CreateKey, CreateAlias from --label) on a
token that allows it, a new pkcs11-tool process signs with it (the
configuration names its alias beforehand), openssl verifies the signature
with the public key from KMS's GetPublicKey, and --delete-object schedules
the key's deletion. A token without allow_key_management refuses."""

from __future__ import annotations

import subprocess

import pytest
from conftest import MODULE, module_env
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

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
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("keygen")
    server, url = kmshelp.start_emulator_process()
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
        + 'discover_aliases = "alias/disc-"\n'
    )
    conf.chmod(0o600)
    e = module_env(conf, url, d / "cache")
    yield e, kms, d
    server.stop()


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
    fmt = ["--signature-format", "openssl"] if spec.startswith("ECC") else []
    tool(e, "--token-label", TOKEN, "--sign", "--mechanism", mechanism, "--id", key_id,
         "-i", str(data), "-o", str(sig), *fmt)
    pem = tmp_path / "key.pem"
    der = kms.get_public_key(KeyId=f"alias/{label}")["PublicKey"]
    pem.write_bytes(kmshelp.load_public_key(der).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    pss = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"] if "PSS" in mechanism else []
    v = subprocess.run(["openssl", "dgst", hash_flag, "-verify", str(pem), *pss, "-signature", str(sig), str(data)],
                       capture_output=True, timeout=60)
    assert v.returncode == 0 and b"Verified OK" in v.stdout, v.stdout + v.stderr
    data.write_bytes(DATA + b"changed")
    v = subprocess.run(["openssl", "dgst", hash_flag, "-verify", str(pem), *pss, "-signature", str(sig), str(data)],
                       capture_output=True, timeout=60)
    assert v.returncode != 0, "a changed file must not verify"

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
