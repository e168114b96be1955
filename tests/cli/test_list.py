"""`kms11 list`: the KMS key each configured key resolves to, and URIs that
another PKCS#11 implementation (GnuTLS p11tool) resolves to the same object."""

import json
import subprocess

from conftest import KEYS, REPO

MODULE = REPO / "target" / "debug" / "libkms11.so"


def listing(cli, config=None):
    r = cli.run("list", "--json", config=config, check=False)
    return r, json.loads(r.stdout)


def test_json_names_every_key_with_its_arn_spec_and_id(cli):
    r, doc = listing(cli)
    assert r.returncode == 0, r.stderr
    assert doc["config"] == str(cli.config)
    [token] = doc["tokens"]
    assert token["label"] == "cli" and token["uri"] == "pkcs11:token=cli"
    assert [k["key"] for k in token["keys"]] == [f"alias/{a}" for a, _, _ in KEYS]
    for (alias, spec, label), k in zip(KEYS, token["keys"]):
        arn = cli.arn(alias)
        assert k["arn"] == arn
        assert k["key_spec"] == spec and k["key_usage"] == "SIGN_VERIFY"
        assert k["label"] == (label or alias)
        # The default CKA_ID is the 16 bytes of the key ID's UUID.
        assert k["id"] == arn.rsplit("/", 1)[1].replace("-", "")
        assert k["certificate"] is False
        assert set(k["objects"]) == {"private", "public"}


def test_uris_select_the_object_in_gnutls(cli):
    _, doc = listing(cli)
    env = {**cli.env, "KMS11_CONFIG": str(cli.config)}
    for k in doc["tokens"][0]["keys"]:
        for kind, uri in k["objects"].items():
            # Labels with '/' and ' ' are percent-encoded, so the URI is one path.
            if "/" in k["label"]:
                assert "release%2Frsa%202048" in uri
            r = subprocess.run(["p11tool", "--provider", str(MODULE), "--list-all", uri],
                               env=env, capture_output=True, timeout=60, text=True)
            assert r.returncode == 0, r.stderr
            objects = [line for line in r.stdout.splitlines() if line.startswith("Object ")]
            assert len(objects) == 1, r.stdout
            assert f"Label: {k['label']}" in r.stdout
            want = {"private": "Private key", "public": "Public key"}[kind]
            assert want in r.stdout, r.stdout


def test_text_output_shows_uris_and_arns(cli):
    r = cli.run("list")
    out = r.stdout.decode()
    assert f"configuration: {cli.config}" in out
    for alias, _, _ in KEYS:
        assert cli.arn(alias) in out
    assert "pkcs11:token=cli;object=p256;id=%" in out


def test_a_key_that_does_not_resolve_is_reported_with_its_aws_error(cli):
    conf = cli.write_config("missing.conf", '[[token]]\nlabel = "t"\n[[token.key]]\nkey = "alias/p256"\n'
                            '[[token.key]]\nkey = "alias/no-such-alias"\n')
    r, doc = listing(cli, conf)
    assert r.returncode == 1
    assert b"kms11 doctor" in r.stderr
    good, bad = doc["tokens"][0]["keys"]
    assert good["arn"] == cli.arn("p256")
    assert bad["key"] == "alias/no-such-alias" and "NotFoundException" in bad["error"]


def test_unreachable_kms_is_an_error_of_the_token(cli):
    conf = cli.dir / "unreachable.conf"
    conf.write_text('[aws]\nregion = "us-east-1"\nendpoint_url = "http://127.0.0.1:1"\nmax_attempts = 1\n'
                    '[[token]]\nlabel = "t"\n[[token.key]]\nkey = "alias/p256"\n')
    conf.chmod(0o600)
    r, doc = listing(cli, conf)
    assert r.returncode == 1
    assert "cannot reach KMS" in doc["tokens"][0]["error"]


def test_kms11_keys_is_read_like_the_module_reads_it(cli):
    env = {"KMS11_KEYS": "alias/p384", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_KMS": cli.url}
    r = subprocess.run([str(REPO / "target" / "debug" / "kms11"), "list", "--json"],
                       env={**cli.env, **env}, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["config"] == "KMS11_KEYS"
    assert doc["tokens"][0]["label"] == "kms11"
    assert doc["tokens"][0]["keys"][0]["arn"] == cli.arn("p384")


def test_a_minted_certificate_becomes_the_keys_certificate_object(cli):
    """`kms11 cert` output configured as `certificate` shows up in the list
    and as a CKO_CERTIFICATE object that p11tool reads back."""
    crt = cli.dir / "p256.crt"
    cli.run("cert", "alias/p256", "--subject", "CN=p256 holder", "--out", str(crt))
    conf = cli.write_config("with-cert.conf", '[[token]]\nlabel = "c"\n[[token.key]]\nkey = "alias/p256"\n'
                            f'certificate = "{crt}"\n')
    r, doc = listing(cli, conf)
    assert r.returncode == 0, r.stderr
    [k] = doc["tokens"][0]["keys"]
    assert k["certificate"] is True
    uri = k["objects"]["cert"]
    assert uri.endswith(";type=cert")
    env = {**cli.env, "KMS11_CONFIG": str(conf)}
    r = subprocess.run(["p11tool", "--provider", str(MODULE), "--export", uri], env=env,
                       capture_output=True, timeout=60, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == crt.read_text().strip()


def test_a_decryption_key_is_listed_with_its_usage(cli):
    key = cli.kms.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    conf = cli.write_config("dec.conf", f'[[token]]\nlabel = "vault"\n[[token.key]]\nkey = "{key["Arn"]}"\n')
    doc = json.loads(cli.run("list", "--json", config=conf).stdout)
    (listed,) = doc["tokens"][0]["keys"]
    assert (listed["key_spec"], listed["key_usage"], listed["arn"]) == ("RSA_3072", "ENCRYPT_DECRYPT", key["Arn"])


def test_an_hmac_key_is_listed_with_its_usage(cli):
    key = cli.kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    conf = cli.write_config("mac.conf", f'[[token]]\nlabel = "macs"\n[[token.key]]\nkey = "{key["Arn"]}"\n')
    doc = json.loads(cli.run("list", "--json", config=conf).stdout)
    (listed,) = doc["tokens"][0]["keys"]
    assert (listed["key_spec"], listed["key_usage"], listed["arn"]) == ("HMAC_256", "GENERATE_VERIFY_MAC", key["Arn"])
    # One object, a secret key: no public key, no certificate.
    assert list(listed["objects"]) == ["secret-key"], listed
    assert listed["objects"]["secret-key"].endswith(";type=secret-key")
