"""`kms11 doctor`: each failure the emulator can produce, and the usual
setup mistakes, are found and answered with the fix."""

import json
import subprocess

import kmshelp
from conftest import KEYS, KMS11

ONE_KEY = '[[token]]\nlabel = "t"\n[[token.key]]\nkey = "alias/p256"\n'


def doctor(cli, config=None, env=None):
    r = cli.run("doctor", config=config, env=env, check=False)
    return r.returncode, r.stdout.decode()


def failures(out: str) -> list[str]:
    """Each FAIL line joined with the fix line under it."""
    lines = out.splitlines()
    return [f"{l}\n{lines[i + 1]}" for i, l in enumerate(lines) if l.startswith("[FAIL]")]


def test_a_good_setup_passes_every_check_and_names_the_identity(cli):
    code, out = doctor(cli, env={"AWS_ENDPOINT_URL_STS": cli.url})
    assert code == 0, out
    assert out.rstrip().endswith("all checks passed")
    assert "credentials: from the EnvironmentVariable provider (access key test)" in out
    assert "identity: arn:aws:iam::111122223333:user/kms11-emulator" in out
    assert f"endpoint: {cli.url} accepts connections" in out
    for alias, spec, _ in KEYS:
        assert f"[ok]   key alias/{alias} (token 'cli'): GetPublicKey: {spec} SIGN_VERIFY {cli.arn(alias)}" in out
        assert f"[ok]   key alias/{alias} (token 'cli'): DescribeKey: Enabled" in out
    assert out.count("signature verified with the public key") == len(KEYS)
    # Secrets never appear.
    assert "AWS_SECRET_ACCESS_KEY" not in out


def fails_with(cli, *needles, config=None, env=None):
    code, out = doctor(cli, config=config, env=env)
    assert code == 1, out
    found = failures(out)
    assert any(all(n in f for n in needles) for f in found), out
    return out


def test_sign_denied_by_the_key_policy(cli, faults):
    conf = cli.write_config("one.conf", ONE_KEY)
    faults(deny=[{"operation": "Sign", "key": "alias/p256"}])
    out = fails_with(cli, "Sign: AccessDeniedException", 'add "kms:Sign" to the key policy', config=conf,
                     env={"AWS_ENDPOINT_URL_STS": cli.url})
    # The principal is named when STS told who it is.
    assert "arn:aws:iam::111122223333:user/kms11-emulator may not call kms:Sign" in out


def test_throttling(cli, faults):
    conf = cli.write_config("throttle.conf", ONE_KEY, aws="max_attempts = 2")
    faults(throttle_every=1)
    fails_with(cli, "ThrottlingException", "throttled", "max_concurrent_requests", config=conf)


def test_internal_errors(cli, faults):
    conf = cli.write_config("errors.conf", ONE_KEY, aws="max_attempts = 2")
    faults(error_rate=1.0)
    fails_with(cli, "KMSInternalException", "transient", config=conf)


def test_dropped_connections(cli, faults):
    conf = cli.write_config("drops.conf", ONE_KEY, aws="max_attempts = 2")
    faults(drop_rate=1.0)
    fails_with(cli, "DispatchFailure", "connection broke", config=conf)


def test_answers_slower_than_the_timeout(cli, faults):
    conf = cli.write_config("slow.conf", ONE_KEY, aws="max_attempts = 1\ncall_timeout_ms = 300")
    faults(latency_ms=1500)
    fails_with(cli, "Timeout", "raise call_timeout_ms", config=conf)


def test_disabled_and_pending_deletion_keys(cli):
    off = cli.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    cli.kms.disable_key(KeyId=off["KeyId"])
    gone = cli.kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    cli.kms.schedule_key_deletion(KeyId=gone["KeyId"], PendingWindowInDays=7)
    conf = cli.write_config("states.conf", f'[[token]]\nlabel = "t"\n[[token.key]]\nkey = "{off["Arn"]}"\n'
                            f'[[token.key]]\nkey = "{gone["Arn"]}"\n')
    out = fails_with(cli, "the key is Disabled", f"aws kms enable-key --key-id {off['Arn']}", config=conf)
    assert any("the key is PendingDeletion" in f and "cancel-key-deletion" in f for f in failures(out)), out


def test_missing_alias_and_key_in_another_region(cli):
    conf = cli.write_config("missing.conf", '[[token]]\nlabel = "t"\n[[token.key]]\nkey = "alias/typo"\n'
                            '[[token.key]]\nkey = "1234abcd-12ab-34cd-56ef-1234567890ab"\n')
    out = fails_with(cli, "NotFoundException", "the alias does not exist in us-east-1", config=conf)
    assert any("no such key in us-east-1" in f and "another region" in f for f in failures(out)), out


def test_a_key_that_cannot_become_a_pkcs11_key(cli):
    # A symmetric encryption key is not an object: doctor says which keys are.
    aes = cli.kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    conf = cli.write_config("aes.conf", f'[[token]]\nlabel = "t"\n[[token.key]]\nkey = "{aes["Arn"]}"\n')
    fails_with(cli, "a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key cannot become a PKCS#11 key", "SIGN_VERIFY",
               "RSA ENCRYPT_DECRYPT", "KEY_AGREEMENT", "HMAC", config=conf)


def test_wrong_endpoint(cli):
    conf = cli.dir / "wrong-endpoint.conf"
    conf.write_text('[aws]\nregion = "us-east-1"\nendpoint_url = "http://127.0.0.1:1"\n' + ONE_KEY)
    conf.chmod(0o600)
    out = fails_with(cli, "endpoint: http://127.0.0.1:1", "Connection refused", "endpoint_url", config=conf)
    assert "[skip] keys: the endpoint cannot be reached" in out


def test_no_credentials(cli):
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    r = subprocess.run([str(KMS11), "--config", str(cli.config), "doctor"], capture_output=True, timeout=60,
                       env={k: v for k, v in cli.env.items() if k not in env})
    out = r.stdout.decode()
    assert r.returncode == 1, out
    assert any("no AWS credentials found" in f and "AWS_ACCESS_KEY_ID" in f for f in failures(out)), out


def test_configuration_others_can_write(cli):
    conf = cli.write_config("open.conf", ONE_KEY)
    conf.chmod(0o666)
    fails_with(cli, "can be changed by other users (mode 0666)", f"chmod go-w {conf}", config=conf)


def test_doctor_refuses_what_the_module_refuses_in_the_same_words(cli):
    """A FIFO, a directory others can write, and another user's file: the
    module (here through `kms11 list`, which reads the configuration as
    C_Initialize does) and doctor say the same, and neither hangs."""
    import os
    bad = cli.dir / "shared"
    bad.mkdir(mode=0o755)
    in_shared = bad / "pkcs11.conf"
    in_shared.write_text(ONE_KEY)
    in_shared.chmod(0o600)
    bad.chmod(0o775)
    fifo = cli.dir / "fifo.conf"
    os.mkfifo(fifo, 0o666)
    theirs = cli.dir / "theirs.conf"
    theirs.write_text(ONE_KEY)
    os.chown(theirs, 65534, 65534)
    cases = [
        (in_shared, f"directory {bad} can be written by other users (mode 0775)", f"chmod go-w {bad}"),
        (fifo, "it is a named pipe (FIFO), not a regular file", "point the module at a configuration file"),
        (theirs, "it belongs to uid 65534", f"chown 0 {theirs}"),
    ]
    for conf, what, fix in cases:
        r = cli.run("list", config=conf, check=False)
        err = r.stderr.decode()
        assert r.returncode == 1 and f"refusing {conf}: {what}" in err and fix in err, err
        fails_with(cli, f"{conf}: {what}", fix, config=conf)


def test_configuration_syntax_error_names_the_line(cli):
    conf = cli.dir / "typo.conf"
    conf.write_text('[aws]\nregion = "us-east-1"\nregoin = "x"\n')
    conf.chmod(0o600)
    fails_with(cli, f"{conf}, line 3", "regoin", "pkcs11.conf.sample", config=conf)


def test_no_region(cli):
    conf = cli.dir / "noregion.conf"
    conf.write_text(ONE_KEY)
    conf.chmod(0o600)
    fails_with(cli, "no AWS region", "AWS_REGION", config=conf)


def test_keys_named_by_arn_are_checked_in_their_own_region(cli):
    """With no region set and every key named by ARN, the module sends each
    key's calls to its ARN's region; doctor checks (and advises about) those
    regions, not a us-east-1 the module never uses."""
    west = kmshelp.make_client(cli.url, region="eu-west-1")
    key = west.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert ":eu-west-1:" in key["Arn"]
    missing = "arn:aws:kms:ap-south-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    conf = cli.dir / "arn-regions.conf"
    conf.write_text(f'[aws]\nendpoint_url = "{cli.url}"\n[[token]]\nlabel = "t"\n'
                    f'[[token.key]]\nkey = "{key["Arn"]}"\n[[token.key]]\nkey = "{missing}"\n')
    conf.chmod(0o600)
    out = fails_with(cli, "NotFoundException", "no such key in ap-south-1", config=conf)
    assert "[ok]   region: none set; every key is named by ARN (eu-west-1, ap-south-1)" in out
    assert f"[ok]   key {key['Arn']} (token 't'): DescribeKey: Enabled" in out
    assert out.count("signature verified with the public key") == 1, out
    assert "us-east-1" not in out, out


def test_a_decryption_key_is_checked_with_a_decryption(cli, faults):
    """An RSA ENCRYPT_DECRYPT key: doctor encrypts with the public key and
    KMS must decrypt it back; without kms:Decrypt, it names the permission."""
    key = cli.kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    conf = cli.write_config("dec.conf", f'[[token]]\nlabel = "t"\n[[token.key]]\nkey = "{key["Arn"]}"\n')
    code, out = doctor(cli, config=conf)
    assert code == 0, out
    assert f"GetPublicKey: RSA_2048 ENCRYPT_DECRYPT {key['Arn']}" in out
    assert "Decrypt: RSAES_OAEP_SHA_256 of the public key's encryption" in out
    faults(deny=[{"operation": "Decrypt", "key": key["Arn"]}])
    fails_with(cli, "Decrypt: AccessDeniedException", 'add "kms:Decrypt" to the key policy', config=conf)


def test_an_hmac_key_is_checked_with_a_mac(cli, faults):
    """An HMAC key has no public key: doctor describes it, makes a MAC and
    has KMS verify it; without kms:VerifyMac, it names the permission."""
    key = cli.kms.create_key(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    conf = cli.write_config("mac.conf", f'[[token]]\nlabel = "t"\n[[token.key]]\nkey = "{key["Arn"]}"\n')
    code, out = doctor(cli, config=conf)
    assert code == 0, out
    assert f"DescribeKey (a secret key has no public key): HMAC_384 GENERATE_VERIFY_MAC {key['Arn']}" in out
    assert "GenerateMac and VerifyMac: HMAC_SHA_384" in out
    faults(deny=[{"operation": "VerifyMac", "key": key["Arn"]}])
    fails_with(cli, "VerifyMac: AccessDeniedException", 'add "kms:VerifyMac" to the key policy', config=conf)


def test_a_key_agreement_key_is_checked_with_an_ecdh(cli, faults):
    """A KEY_AGREEMENT key: doctor has KMS derive a secret with a fresh local
    key, which must agree; without kms:DeriveSharedSecret, it names it."""
    key = cli.kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    conf = cli.write_config("ka.conf", f'[[token]]\nlabel = "t"\n[[token.key]]\nkey = "{key["Arn"]}"\n')
    code, out = doctor(cli, config=conf)
    assert code == 0, out
    assert f"GetPublicKey: ECC_NIST_P384 KEY_AGREEMENT {key['Arn']}" in out
    assert "DeriveSharedSecret: ECDH secret agreed with a local key" in out
    faults(deny=[{"operation": "DeriveSharedSecret", "key": key["Arn"]}])
    fails_with(cli, "DeriveSharedSecret: AccessDeniedException", 'add "kms:DeriveSharedSecret" to the key policy',
               config=conf)


def test_an_mldsa_key_is_checked_with_a_signature_over_mu(cli):
    """doctor signs FIPS 204's μ with an ML-DSA key (EXTERNAL_MU) and
    verifies the signature with the public key."""
    key = cli.kms.create_key(KeySpec="ML_DSA_44", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    conf = cli.write_config("mldsa.conf", f'[[token]]\nlabel = "t"\n[[token.key]]\nkey = "{key["Arn"]}"\n')
    code, out = doctor(cli, config=conf)
    assert code == 0, out
    assert "Sign: ML_DSA_SHAKE_256 signature verified with the public key" in out


MANAGED = ONE_KEY.replace('label = "t"\n', 'label = "t"\nallow_key_management = true\nalias_prefix = "ci/"\n')


def test_key_management_is_reported_per_token(cli):
    code, out = doctor(cli)
    assert code == 0, out
    assert "[ok]   key management (token 'cli'): off: C_GenerateKeyPair" in out
    conf = cli.write_config("managed.conf", MANAGED)
    before = cli.stats()["requests"]
    code, out = doctor(cli, config=conf)
    assert code == 0, out
    line = next(l for l in out.splitlines() if l.startswith("[ok]   key management (token 't')"))
    assert "on: new keys are named alias/ci/<CKA_LABEL>, retired keys deleted after 30 days" in line
    assert "allowed: kms:ScheduleKeyDeletion, kms:DeleteAlias" in line
    assert "kms:CreateKey, kms:CreateAlias and kms:TagResource not checked" in line
    # Nothing was made: the probes name a key and an alias that do not exist.
    after = cli.stats()["requests"]
    assert after.get("CreateKey", 0) == before.get("CreateKey", 0)
    assert after.get("ScheduleKeyDeletion", 0) == before.get("ScheduleKeyDeletion", 0) + 1


def test_a_role_that_may_not_retire_keys_is_told_what_to_grant(cli, faults):
    conf = cli.write_config("managed-denied.conf", MANAGED)
    faults(deny=[{"operation": "ScheduleKeyDeletion", "key": "*"}])
    fails_with(cli, "key management (token 't')", "may not call kms:ScheduleKeyDeletion",
               "grant kms:ScheduleKeyDeletion", "allow_key_management = false", config=conf)


def test_doctor_and_list_say_which_keys_fail_over(cli):
    """With fallback_regions, doctor asks each fallback region for the
    replica of every multi-Region key: one with the same public key is
    ready, a missing one is a warning with the command that makes it;
    single-Region keys are said not to fail over. `kms11 list` gives the
    regions each key signs in."""
    kms = cli.kms
    ready = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", MultiRegion=True)["KeyMetadata"]
    kms.replicate_key(KeyId=ready["KeyId"], ReplicaRegion="us-west-2")
    lone = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", MultiRegion=True)["KeyMetadata"]
    conf = cli.write_config(
        "failover.conf",
        f'[[token]]\nlabel = "cli"\n[[token.key]]\nkey = "{ready["Arn"]}"\n'
        f'[[token.key]]\nkey = "{lone["Arn"]}"\n[[token.key]]\nkey = "alias/p256"\n',
        aws='fallback_regions = ["us-west-2"]',
    )
    code, out = doctor(cli, config=conf, env={"AWS_ENDPOINT_URL_STS": cli.url})
    assert code == 0, out
    assert f"[ok]   key {ready['Arn']} (token 'cli') failover: signs in us-east-1, then us-west-2" in out, out
    assert (f"[warn] key {lone['Arn']} (token 'cli') failover: no replica in us-west-2; make one: "
            f"aws kms replicate-key --region us-east-1 --key-id {lone['Arn']} --replica-region us-west-2") in out, out
    assert "[ok]   key alias/p256 (token 'cli') failover: a single-Region key" in out, out
    listed = json.loads(cli.run("list", "--json", config=conf).stdout)
    keys = {k["key"]: k for k in listed["tokens"][0]["keys"]}
    assert keys[ready["Arn"]]["regions"] == ["us-east-1", "us-west-2"]
    assert keys[ready["Arn"]]["failover"] == "multi-Region key: fails over"
    assert keys["alias/p256"]["regions"] is None
    assert keys["alias/p256"]["failover"] == "single-Region key"
    text = cli.run("list", config=conf).stdout.decode()
    assert "regions      us-east-1, then us-west-2 (multi-Region key: fails over)" in text, text
