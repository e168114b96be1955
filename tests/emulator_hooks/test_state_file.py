"""--state: keys and aliases persist across a restart."""

from __future__ import annotations

import json

import pytest

from kmshelp import expect_error, load_public_key, make_client

MESSAGE = b"persisted"


def test_state_persists_across_restart(start_emulator, tmp_path):
    state = tmp_path / "state.json"
    url = start_emulator("--state", state)
    kms = make_client(url)

    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    kms.create_alias(AliasName="alias/persisted-rsa", TargetKeyId=rsa["KeyId"])
    rsa_public = kms.get_public_key(KeyId=rsa["KeyId"])["PublicKey"]

    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    mac = kms.generate_mac(KeyId=hmac_key["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"]

    sym = kms.create_key(Description="persisted symmetric")["KeyMetadata"]
    blob = kms.encrypt(KeyId=sym["KeyId"], Plaintext=MESSAGE)["CiphertextBlob"]

    disabled = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])

    deleted_alias = "alias/persisted-then-deleted"
    kms.create_alias(AliasName=deleted_alias, TargetKeyId=sym["KeyId"])
    kms.delete_alias(AliasName=deleted_alias)

    start_emulator.stop(url)
    assert state.is_file()
    saved = json.loads(state.read_text())
    saved_ids = {k["KeyId"] for k in saved["Keys"]}
    assert {rsa["KeyId"], hmac_key["KeyId"], sym["KeyId"], disabled["KeyId"]} <= saved_ids

    url = start_emulator("--state", state)
    kms = make_client(url)

    again = kms.describe_key(KeyId="alias/persisted-rsa")["KeyMetadata"]
    assert again["Arn"] == rsa["Arn"]
    assert again["KeySpec"] == "RSA_2048"
    assert again["KeyUsage"] == "SIGN_VERIFY"
    assert again["CreationDate"] == rsa["CreationDate"]
    assert kms.get_public_key(KeyId=rsa["KeyId"])["PublicKey"] == rsa_public

    again_mac = kms.generate_mac(KeyId=hmac_key["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")
    assert again_mac["Mac"] == mac

    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == MESSAGE
    assert kms.describe_key(KeyId=sym["KeyId"])["KeyMetadata"]["Description"] == "persisted symmetric"

    assert kms.describe_key(KeyId=disabled["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"

    with expect_error("NotFoundException"):
        kms.describe_key(KeyId=deleted_alias)

    listed = {k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]}
    assert {rsa["KeyId"], hmac_key["KeyId"], sym["KeyId"], disabled["KeyId"]} <= listed


def test_state_changes_after_restart_are_kept(start_emulator, tmp_path):
    state = tmp_path / "state.json"
    url = start_emulator("--state", state)
    first = make_client(url).create_key()["KeyMetadata"]
    start_emulator.stop(url)

    url = start_emulator("--state", state)
    kms = make_client(url)
    second = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/second-run", TargetKeyId=second["KeyId"])
    start_emulator.stop(url)

    kms = make_client(start_emulator("--state", state))
    assert kms.describe_key(KeyId=first["KeyId"])["KeyMetadata"]["Arn"] == first["Arn"]
    assert kms.describe_key(KeyId="alias/second-run")["KeyMetadata"]["KeyId"] == second["KeyId"]


def test_without_state_keys_do_not_survive(start_emulator):
    url = start_emulator()
    key = make_client(url).create_key()["KeyMetadata"]
    start_emulator.stop(url)
    with expect_error("NotFoundException"):
        make_client(start_emulator()).describe_key(KeyId=key["KeyId"])


def test_a_link_at_the_temporary_name_is_not_followed(start_emulator, tmp_path):
    """The state holds private keys: a symbolic link left where the emulator
    writes its temporary file (state.tmp) must not receive them."""
    import os
    import stat

    state = tmp_path / "state.json"
    victim = tmp_path / "victim.txt"
    victim.write_text("not for keys\n")
    (tmp_path / "state.tmp").symlink_to(victim)
    url = start_emulator("--state", state)
    key = make_client(url).create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    start_emulator.stop(url)

    assert victim.read_text() == "not for keys\n"
    assert not (tmp_path / "state.tmp").exists() and not (tmp_path / "state.tmp").is_symlink()
    info = os.lstat(state)
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    saved = json.loads(state.read_text())
    assert key["KeyId"] in {k["KeyId"] for k in saved["Keys"]}


def test_state_keeps_ed25519_keys(start_emulator, tmp_path):
    state = tmp_path / "state.json"
    url = start_emulator("--state", state)
    kms = make_client(url)
    key = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    public = kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    start_emulator.stop(url)

    kms = make_client(start_emulator("--state", state))
    assert kms.get_public_key(KeyId=key["KeyId"])["PublicKey"] == public
    signature = kms.sign(
        KeyId=key["KeyId"], Message=MESSAGE, MessageType="RAW", SigningAlgorithm="ED25519_SHA_512"
    )["Signature"]
    load_public_key(public).verify(signature, MESSAGE)


def test_state_keeps_key_policies(start_emulator, tmp_path):
    """A key's own policy survives a restart; a key made without one keeps
    KMS's default policy, which the state file does not spell out."""
    state = tmp_path / "state.json"
    url = start_emulator("--state", state)
    kms = make_client(url)
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Sid": "kept", "Effect": "Allow",
                                                 "Principal": {"AWS": "*"}, "Action": "kms:Sign", "Resource": "*"}]}
    )
    own = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Policy=policy)["KeyMetadata"]
    plain = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    default = kms.get_key_policy(KeyId=plain["KeyId"])["Policy"]
    start_emulator.stop(url)

    saved = {k["KeyId"]: k for k in json.loads(state.read_text())["Keys"]}
    assert "Policy" not in saved[plain["KeyId"]]
    kms = make_client(start_emulator("--state", state))
    assert json.loads(kms.get_key_policy(KeyId=own["KeyId"])["Policy"]) == json.loads(policy)
    assert kms.get_key_policy(KeyId=plain["KeyId"])["Policy"] == default


def test_a_state_file_with_a_malformed_policy_is_refused(start_emulator, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"Keys": [{"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY",
                                           "Policy": "not a policy"}]}))
    state.chmod(0o600)
    with pytest.raises(RuntimeError, match="policy: The key policy is not a JSON policy document"):
        start_emulator("--state", state)
