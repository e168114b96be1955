"""docs/uris.md, run as written: the page's example configuration (a token
label and an object label with `/` and a space) on two new emulator keys
with the page's aliases, and its blocks in order, in one `bash -euo
pipefail`, with only the Settings block the test's own.

Checks: `kms11 list` prints what the page shows (up to the ARNs and the
UUID-derived ID, which are the emulator's); every URI it prints selects
exactly its object in p11tool (another PKCS#11 implementation's URI parser);
the URIs the page uses are the printed ones; pkcs11-tool's options name the
same key; and the signature and public keys the recipe made are verified
with Python `cryptography` against KMS GetPublicKey."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import MODULE, REPO, kmshelp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from recipes import recipes, unmarked_sh_blocks

DOC = "uris.md"
RECIPES = ["settings", "list", "p11tool", "pkcs11-tool"]
KMS11 = Path(os.environ.get("KMS11_BIN", REPO / "target" / "debug" / "kms11"))
TIMEOUT = 120  # seconds, for every subprocess

# The page's example keys: alias, KeySpec.
KEYS = {"alias/release-rsa": "RSA_3072", "alias/registry-ec": "ECC_NIST_P256"}


def doc_text() -> str:
    return (REPO / "docs" / DOC).read_text()


def marked(kind: str, name: str, lang: str) -> str:
    m = re.search(rf"<!-- {kind}: {name} -->\n```{lang}\n(.*?)```\n", doc_text(), re.S)
    assert m, f"docs/{DOC} lost its {name} block"
    return m.group(1)


def settings(config: Path) -> str:
    return (f"KMS11_MODULE={shlex.quote(str(MODULE))}\n"
            f"export KMS11_CONFIG={shlex.quote(str(config))}\n"
            "export AWS_REGION=us-east-1\n")


@pytest.fixture(scope="module")
def example(token, tmp_path_factory):
    """The page's configuration, on new emulator keys with its aliases; the
    KMS key of each alias (KeyId, ARN)."""
    keys = {}
    for alias, spec in KEYS.items():
        meta = token.kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        token.kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        keys[alias] = (meta["KeyId"], meta["Arn"])
    d = tmp_path_factory.mktemp("uris")
    config = d / "pkcs11.conf"
    config.write_text(marked("test", "config", "toml"))
    return config, keys


def run(token, argv, **kw) -> subprocess.CompletedProcess:
    env = {**token.env, "PATH": f"{KMS11.parent}:{token.env.get('PATH', os.defpath)}", **kw.pop("env", {})}
    r = subprocess.run(argv, env=env, capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT, **kw)
    assert r.returncode == 0, (f"{argv[:3]} exited {r.returncode}\nstdout: {r.stdout.decode(errors='replace')}\n"
                               f"stderr: {r.stderr.decode(errors='replace')}")
    return r


def spki(key) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def kms_public_key(token, key_id: str):
    return kmshelp.load_public_key(token.kms.get_public_key(KeyId=key_id)["PublicKey"])


def test_every_block_of_the_page_is_run():
    assert list(recipes(DOC)) == RECIPES
    assert unmarked_sh_blocks(DOC) == 0, "a ```sh block without a <!-- test: name --> marker"
    ours = re.findall(r"^(?:export )?(\w+)=", settings(Path("c")), re.M)
    assert re.findall(r"^(?:export )?(\w+)=", recipes(DOC)["settings"], re.M) == ours


def test_recipe_as_written(token, example, tmp_path):
    config, keys = example
    blocks = recipes(DOC)
    script = settings(config) + "".join(blocks[n] for n in RECIPES[1:])
    out = run(token, ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path).stdout.decode()

    # kms11 list printed what the page shows, with this host's ARNs and IDs.
    listing = out[: out.index("Object 0:")]  # p11tool's first line follows kms11 list's last
    shown = marked("test-output", "list", "text")
    doc_arns = re.findall(r"arn:aws:kms:\S+", shown)
    assert len(doc_arns) == 2
    expected = shown.replace(shown.splitlines()[0], f"configuration: {config}")
    for doc_arn, alias in zip(doc_arns, KEYS):
        key_id, arn = keys[alias]
        expected = expected.replace(doc_arn, arn)
        doc_uuid = doc_arn.rsplit("/", 1)[1].replace("-", "")
        uuid = key_id.replace("-", "")
        expected = expected.replace(doc_uuid, uuid)
        expected = expected.replace("".join(f"%{doc_uuid[i:i + 2]}" for i in range(0, 32, 2)).upper(),
                                    "".join(f"%{uuid[i:i + 2]}" for i in range(0, 32, 2)).upper())
    assert listing == expected, listing

    # The page's p11tool block: each --list-all selected one object, and
    # --test-sign signed with the key.
    rest = out[len(listing):]
    assert len(re.findall(r"^Object \d+:", rest, re.M)) == 2, rest
    assert "Label: release-rsa" in rest and "Type: Private key (RSA-3072)" in rest
    assert "Label: docker/registry token" in rest and "Type: Private key (EC/ECDSA-SECP256R1)" in rest
    # The first URI of the p11tool block is copied from kms11 list, verbatim.
    first = re.search(r"'(pkcs11:[^']+)'", blocks["p11tool"]).group(1)
    assert f"    private      {first}\n" in listing

    # Public keys read by kms11 and by pkcs11-tool are KMS's, and the
    # signature verifies with KMS's key.
    rsa = kms_public_key(token, "alias/release-rsa")
    registry = kms_public_key(token, "alias/registry-ec")
    assert (tmp_path / "release-rsa.der").read_bytes() == spki(rsa)
    assert (tmp_path / "registry.der").read_bytes() == spki(registry)
    assert spki(serialization.load_pem_public_key((tmp_path / "registry.pem").read_bytes())) == spki(registry)
    data = (tmp_path / "data.txt").read_bytes()
    rsa.verify((tmp_path / "data.sig").read_bytes(), data, padding.PKCS1v15(), hashes.SHA256())
    assert out.rstrip().endswith("Verified OK"), out


def test_every_printed_uri_selects_exactly_its_object(token, example):
    """Each URI of `kms11 list --json`, parsed by GnuTLS: one object, with
    the configured label (the `/` and the space decoded) and the type."""
    config, keys = example
    listing = json.loads(run(token, [str(KMS11), "list", "--json"], env={"KMS11_CONFIG": str(config)}).stdout)
    [tok] = listing["tokens"]
    assert tok["uri"] == "pkcs11:token=release%2F2026"
    labels = {"alias/release-rsa": "release-rsa", "alias/registry-ec": "docker/registry token"}
    uris = 0
    for k in tok["keys"]:
        assert k["label"] == labels[k["key"]]
        assert k["arn"] == keys[k["key"]][1]
        for kind, uri in k["objects"].items():
            assert "/" not in uri.removeprefix("pkcs11:") and " " not in uri, uri
            r = run(token, ["p11tool", "--provider", str(MODULE), "--list-all", uri],
                    env={"KMS11_CONFIG": str(config)})
            p11 = r.stdout.decode()
            assert len(re.findall(r"^Object \d+:", p11, re.M)) == 1, p11
            assert f"\tLabel: {k['label']}\n" in p11
            assert {"private": "Private key", "public": "Public key"}[kind] in p11
            assert "id=" + "".join(f"%{k['id'][i:i + 2]}" for i in range(0, len(k["id"]), 2)).upper() in uri
            uris += 1
    assert uris == 4
