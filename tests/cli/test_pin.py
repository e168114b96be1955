"""Token PINs: `kms11 pin-hash` makes an argon2id PHC string that the
reference Argon2 implementation (argon2-cffi) accepts for the PIN and no
other; a token with that pin_hash signs only with the right PIN (KMS11_PIN
for the command), and the signature verifies with the KMS public key. A
configuration file that other users can write is refused with the fix."""

from __future__ import annotations

import subprocess

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from conftest import KMS11

PIN = "s3cret pin"


def pin_hash(cli, pin: str) -> str:
    r = subprocess.run([str(KMS11), "pin-hash"], input=pin.encode() + b"\n", capture_output=True,
                       timeout=60, env=cli.env)
    assert r.returncode == 0, r.stderr
    phc = r.stdout.decode().strip()
    assert "pin_hash = " in r.stderr.decode(), "no hint on where the hash goes"
    return phc


def test_pin_hash_is_argon2id_and_checks_with_the_reference_implementation(cli):
    phc = pin_hash(cli, PIN)
    assert phc.startswith("$argon2id$v=19$"), phc
    ph = PasswordHasher()
    assert ph.verify(phc, PIN)
    for wrong in ("", "s3cret", PIN + " ", PIN.upper()):
        with pytest.raises(VerifyMismatchError):
            ph.verify(phc, wrong)
    # A fresh salt each time: the same PIN hashes differently.
    assert pin_hash(cli, PIN) != phc
    # The hash holds nothing of the PIN.
    assert PIN not in phc and PIN.encode().hex() not in phc


@pytest.mark.parametrize("pin", ["", "12345", "ünïcø"])
def test_a_pin_shorter_than_six_characters_is_refused(cli, pin):
    r = subprocess.run([str(KMS11), "pin-hash"], input=pin.encode() + b"\n", capture_output=True, timeout=60,
                       env=cli.env)
    assert r.returncode == 1 and r.stdout == b""
    assert f"the PIN is {len(pin)} characters long; use at least 6".encode() in r.stderr, r.stderr
    # Six characters (not bytes) are enough.
    assert PasswordHasher().verify(pin_hash(cli, "123456"), "123456")


def test_a_hash_cheaper_than_owasps_minimum_is_refused(cli):
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PIN)
    conf = cli.write_config("weak.conf", f'[[token]]\nlabel = "x"\npin_hash = "{weak}"\n')
    r = cli.run("list", config=conf, check=False)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "argon2 parameters (m=1024, t=1) are below m=19456, t=2" in err, err
    strong = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(PIN)
    conf = cli.write_config("strong.conf", f'[[token]]\nlabel = "x"\npin_hash = "{strong}"\n')
    cli.run("list", config=conf)


@pytest.mark.parametrize("mode,refused", [(0o644, True), (0o604, True), (0o640, False), (0o600, False)])
def test_a_pin_hash_in_a_file_everyone_can_read_is_refused(cli, mode, refused):
    """The module, `kms11 list` and `kms11 doctor` say the same."""
    phc = pin_hash(cli, PIN)
    conf = cli.write_config(f"readable{mode:o}.conf", f'[[token]]\nlabel = "locked"\npin_hash = "{phc}"\n'
                                                     '[[token.key]]\nkey = "alias/p256"\n')
    conf.chmod(mode)
    for command in (["list"], ["doctor"]):
        r = cli.run(*command, config=conf, check=False, env={"KMS11_PIN": PIN})
        err = (r.stdout + r.stderr).decode()
        said = f"every user can read the file (mode 0{mode:o})" in err and f"chmod o-r {conf}" in err
        assert said == refused, (command, err)
        if refused:
            assert r.returncode == 1, (command, err)


def test_a_key_of_a_pin_token_needs_the_pin_however_it_is_named(cli, tmp_path):
    """The token names alias/p256; the command names the same key by its
    alias ARN, key ARN and key ID, which no configured reference matches:
    each still needs the token's PIN (before, an ad-hoc token without one
    signed)."""
    phc = pin_hash(cli, PIN)
    conf = cli.write_config("guarded.conf", f'[[token]]\nlabel = "locked"\npin_hash = "{phc}"\n'
                                            '[[token.key]]\nkey = "alias/p256"\n')
    arn = cli.arn("p256")
    alias_arn = arn.split(":key/")[0] + ":alias/p256"
    data = tmp_path / "data"
    data.write_bytes(b"guarded")
    sig = tmp_path / "sig"
    pem = tmp_path / "p256.pem"
    pem.write_bytes(cli.public_key("p256").public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    for name in (alias_arn, arn, arn.split(":key/")[1]):
        before = cli.stats()["requests"].get("Sign", 0)
        r = cli.run("sign", name, str(data), "--out", str(sig), config=conf, check=False)
        assert r.returncode == 1, (name, r.stderr)
        assert b"token 'locked' needs a PIN: set KMS11_PIN" in r.stderr, (name, r.stderr)
        assert cli.stats()["requests"].get("Sign", 0) == before, name
        cli.run("sign", name, str(data), "--out", str(sig), config=conf, env={"KMS11_PIN": PIN})
        v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(sig),
                            str(data)], capture_output=True, timeout=60)
        assert v.returncode == 0 and b"Verified OK" in v.stdout, (name, v.stdout + v.stderr)


def test_sign_on_a_pin_token(cli, tmp_path):
    phc = pin_hash(cli, PIN)
    conf = cli.write_config("pin.conf", f'[[token]]\nlabel = "locked"\npin_hash = "{phc}"\n'
                                        '[[token.key]]\nkey = "alias/p256"\n')
    data = tmp_path / "data"
    data.write_bytes(b"release 1.2.3")
    sig = tmp_path / "sig"

    # No PIN and no terminal: a clear refusal, no KMS Sign.
    before = cli.stats()["requests"].get("Sign", 0)
    r = cli.run("sign", "p256", str(data), "--out", str(sig), config=conf, check=False)
    assert r.returncode == 1
    assert b"token 'locked' needs a PIN: set KMS11_PIN" in r.stderr, r.stderr
    r = cli.run("sign", "p256", str(data), "--out", str(sig), config=conf, env={"KMS11_PIN": "wrong"},
                check=False)
    assert r.returncode == 1 and b"wrong PIN for token 'locked'" in r.stderr, r.stderr
    assert cli.stats()["requests"].get("Sign", 0) == before

    cli.run("sign", "p256", str(data), "--out", str(sig), config=conf, env={"KMS11_PIN": PIN})
    pem = tmp_path / "p256.pem"
    pem.write_bytes(cli.public_key("p256").public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(sig), str(data)],
                       capture_output=True, timeout=60)
    assert v.returncode == 0 and b"Verified OK" in v.stdout, v.stdout + v.stderr


def test_a_bad_pin_hash_names_the_line_and_the_fix(cli):
    conf = cli.write_config("badpin.conf", '[[token]]\nlabel = "x"\npin_hash = "1234"\n')
    r = cli.run("list", config=conf, check=False)
    assert r.returncode == 1
    err = r.stderr.decode()
    line = conf.read_text().splitlines().index('pin_hash = "1234"') + 1
    assert f"{conf}, line {line}: pin_hash" in err and "kms11 pin-hash" in err, err


@pytest.mark.parametrize("mode", [0o666, 0o664, 0o646])
def test_a_configuration_others_can_write_is_refused(cli, mode):
    conf = cli.write_config(f"open{mode:o}.conf", '[[token]]\nlabel = "x"\n[[token.key]]\nkey = "alias/p256"\n')
    conf.chmod(mode)
    r = cli.run("list", config=conf, check=False)
    assert r.returncode == 1 and r.stdout == b""
    err = r.stderr.decode()
    assert f"can be changed by other users (mode 0{mode:o})" in err and f"chmod go-w {conf}" in err, err
    conf.chmod(0o600)
    cli.run("list", config=conf)
