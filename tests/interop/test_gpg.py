"""gpg through gnupg-pkcs11-scd against libkms11.so, by running the recipe of
docs/gpg.md as written: every ```sh block of the page, in order, in one
`bash -euo pipefail`, so the documentation cannot rot.

The recipe runs twice, in two fresh GnuPG homes, against one emulated
RSA-4096 key: both must give the same OpenPGP fingerprint (the key's creation
time is the KMS key's CreationDate). Signatures made by `gpg --detach-sign`
through the module are verified by `gpg --verify` in a keyring that holds only
the exported public key."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import MODULE, REPO, kmshelp

DOC = REPO / "docs" / "gpg.md"
KMS11_BIN = REPO / "target" / "debug"
ALIAS = "alias/release"
NAME, EMAIL = "Release Signing", "release@example.com"
TIMEOUT = 120  # seconds, for every subprocess

for tool in ("gpg", "gpg-agent", "gpgconf", "gpg-connect-agent", "gnupg-pkcs11-scd", "openssl"):
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (apt-get install gnupg gpg-agent gnupg-pkcs11-scd openssl)",
                    pytrace=False)


def recipe() -> str:
    """The ```sh blocks of docs/gpg.md, in order."""
    blocks = re.findall(r"^```sh\n(.*?)^```$", DOC.read_text(), re.S | re.M)
    assert len(blocks) >= 5, "docs/gpg.md lost its ```sh blocks"
    return "\n".join(blocks)


def run(argv, env, cwd=None, input=None, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in argv], env=env, cwd=cwd, input=input, capture_output=True,
                       timeout=TIMEOUT, stdin=None if input is not None else subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {r.returncode}\n"
                             f"stdout: {r.stdout.decode(errors='replace')}\n"
                             f"stderr: {r.stderr.decode(errors='replace')}")
    return r


def kill_agents(env, home: Path) -> None:
    subprocess.run(["gpgconf", "--kill", "all"], env={**env, "GNUPGHOME": str(home)},
                   capture_output=True, timeout=30, check=False)


@dataclass
class Run:
    home: Path
    work: Path
    env: dict[str, str]  # the environment the recipe ran with (its agent has it)
    out: str
    fpr: str
    created: int
    pubkey: bytes  # gpg --export

    def gpg(self, *args: str, home: Path | None = None, check=True) -> subprocess.CompletedProcess:
        env = {**self.env, "GNUPGHOME": str(home or self.home)}
        return run(["gpg", "--batch", "--status-fd", "1", *args], env, cwd=self.work, check=check)


@dataclass
class Emulator:
    url: str
    kms: object
    created: int
    modulus: int

    def signs(self) -> int:
        with urllib.request.urlopen(self.url + "/_emulator/stats", timeout=10) as r:
            return json.load(r)["requests"].get("Sign", 0)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    if not MODULE.exists():
        pytest.fail(f"{MODULE} is missing: run cargo build --workspace first")
    d = tmp_path_factory.mktemp("gpg-emulator")
    seed = d / "seed.json"
    seed.write_text(json.dumps({"Keys": [{"KeySpec": "RSA_4096", "KeyUsage": "SIGN_VERIFY", "Aliases": [ALIAS]}]}))
    server, url = kmshelp.start_emulator_process("--seed", str(seed))
    try:
        kms = kmshelp.make_client(url)
        created = int(kms.describe_key(KeyId=ALIAS)["KeyMetadata"]["CreationDate"].timestamp())
        pub = kmshelp.load_public_key(kms.get_public_key(KeyId=ALIAS)["PublicKey"])
        yield Emulator(url=url, kms=kms, created=created, modulus=pub.public_numbers().n)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def runs(emulator):
    """The recipe, run twice in two fresh GnuPG homes; agents killed at the end."""
    base = Path(tempfile.mkdtemp(prefix="kg", dir="/tmp"))  # short: agent socket paths < 108 bytes
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KMS11_", "AWS_", "GNUPG", "GPG_")) and k != "TMPDIR"}
    env.update(
        PATH=f"{KMS11_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
        KMS11_MODULE=str(MODULE),
        AWS_ENDPOINT_URL_KMS=emulator.url,
        XDG_CACHE_HOME=str(base / "cache"),
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
    )
    homes: list[Path] = []
    done: list[Run] = []
    try:
        for name in ("a", "b"):
            work = base / name
            work.mkdir()
            home = work / "gnupg"
            homes.append(home)
            (work / "SHA256SUMS").write_text(f"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  empty-{name}\n")
            # TMPDIR: the recipe's `mktemp -d` verification keyring lands in work/.
            renv = {**env, "GNUPGHOME": str(home), "TMPDIR": str(work)}
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", recipe()], env=renv, cwd=work,
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=4 * TIMEOUT)
            homes.extend(p for p in work.glob("tmp.*") if p.is_dir())
            out = (r.stdout + r.stderr).decode(errors="replace")
            assert r.returncode == 0, f"the recipe of docs/gpg.md failed (exit {r.returncode}) in {work}:\n{out}"
            colons = run(["gpg", "--with-colons", "--list-keys", EMAIL], renv).stdout.decode()
            pub = next(l for l in colons.splitlines() if l.startswith("pub:")).split(":")
            fpr = next(l for l in colons.splitlines() if l.startswith("fpr:")).split(":")[9]
            done.append(Run(home=home, work=work, env=renv, out=out, fpr=fpr, created=int(pub[5]),
                            pubkey=run(["gpg", "--export", fpr], renv).stdout))
        yield done
    finally:
        for home in homes:
            kill_agents(env, home)
        shutil.rmtree(base, ignore_errors=True)


def test_recipe_runs_and_its_own_verification_succeeds(runs):
    for r in runs:
        assert "Good signature from \"Release Signing <release@example.com>\"" in r.out, r.out
        assert (r.work / "SHA256SUMS.sig").stat().st_size > 0
        # the stub the agent uses, and nothing secret in the home
        stubs = list((r.home / "private-keys-v1.d").glob("*.key"))
        assert len(stubs) == 1 and b"shadowed-private-key" in stubs[0].read_bytes()


def test_fingerprint_is_the_same_in_two_homes(runs, emulator):
    a, b = runs
    assert re.fullmatch(r"[0-9A-F]{40}", a.fpr)
    assert a.fpr == b.fpr
    assert a.created == b.created == emulator.created  # CreationDate, whole seconds
    assert a.pubkey == b.pubkey  # even the exported key, self-signature included


def test_openpgp_key_is_the_kms_key(runs, emulator):
    colons = run(["gpg", "--with-colons", "--with-key-data", "--list-keys", runs[0].fpr], runs[0].env).stdout.decode()
    pkd = [l.split(":") for l in colons.splitlines() if l.startswith("pkd:")]
    assert pkd and int(pkd[0][3], 16) == emulator.modulus  # pkd:0:<bits>:<MPI hex> is n
    pub = next(l for l in colons.splitlines() if l.startswith("pub:")).split(":")
    assert pub[2] == "4096" and pub[3] == "1"  # RSA


def test_detach_sign_through_kms_verifies_with_only_the_public_key(runs, emulator):
    signer = runs[0]
    data = signer.work / "release.tar"
    data.write_bytes(os.urandom(100_000))
    before = emulator.signs()
    st = signer.gpg("--local-user", signer.fpr, "--detach-sign", "--output", "release.tar.sig", "release.tar")
    assert emulator.signs() == before + 1, "gpg --detach-sign did not sign through KMS"
    created = re.search(rb"^\[GNUPG:\] SIG_CREATED D 1 (\d+) 00 \d+ ([0-9A-F]{40})$", st.stdout, re.M)
    assert created, st.stdout
    assert created.group(1) in (b"8", b"9", b"10") and created.group(2).decode() == signer.fpr

    verifier = Path(tempfile.mkdtemp(prefix="kv", dir=signer.work))  # nothing but the public key
    os.chmod(verifier, 0o700)
    try:
        (signer.work / "pub.asc").write_bytes(run(["gpg", "--armor", "--export", signer.fpr], signer.env).stdout)
        signer.gpg("--import", "pub.asc", home=verifier)
        assert not (verifier / "gnupg-pkcs11-scd.conf").exists()
        secret = signer.gpg("--with-colons", "--list-secret-keys", home=verifier, check=False).stdout
        assert b"sec:" not in secret

        ok = signer.gpg("--verify", "release.tar.sig", "release.tar", home=verifier)
        assert re.search(rb"^\[GNUPG:\] GOODSIG [0-9A-F]{16} Release Signing <release@example.com>$", ok.stdout, re.M)
        assert re.search(rb"^\[GNUPG:\] VALIDSIG " + signer.fpr.encode() + rb" ", ok.stdout, re.M), ok.stdout

        tampered = bytearray(data.read_bytes())
        tampered[12345] ^= 1
        data.write_bytes(bytes(tampered))
        bad = signer.gpg("--verify", "release.tar.sig", "release.tar", home=verifier, check=False)
        assert bad.returncode != 0
        assert b"[GNUPG:] BADSIG" in bad.stdout and b"GOODSIG" not in bad.stdout
    finally:
        kill_agents(signer.env, verifier)


def test_second_home_signs_too(runs, emulator):
    """The agent of the second home (its own scdaemon, same KMS key) signs,
    and the first home's keyring verifies it: one key, two hosts."""
    a, b = runs
    (b.work / "notes.txt").write_text("kms11\n")
    before = emulator.signs()
    b.gpg("--local-user", b.fpr, "--armor", "--detach-sign", "notes.txt")
    assert emulator.signs() == before + 1
    (a.work / "notes.txt").write_bytes((b.work / "notes.txt").read_bytes())
    shutil.copy(b.work / "notes.txt.asc", a.work / "notes.txt.asc")
    ok = a.gpg("--verify", "notes.txt.asc", "notes.txt")
    assert re.search(rb"^\[GNUPG:\] VALIDSIG " + a.fpr.encode() + rb" ", ok.stdout, re.M), ok.stdout
