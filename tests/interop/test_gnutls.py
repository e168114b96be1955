"""GnuTLS (p11tool) against libkms11.so. GnuTLS initialises modules with
CKF_LIBRARY_CANT_CREATE_OS_THREADS, lists objects by PKCS#11 URI, and
--test-sign signs through the module and verifies with GnuTLS's own code."""

from __future__ import annotations

import pytest
from conftest import KEYS, MODULE


def p11tool(token, *args: str) -> str:
    """p11tool's output; --test-sign reports on stderr."""
    r = token.run("p11tool", "--provider", str(MODULE), *args)
    return (r.stdout + r.stderr).decode()


def test_list_tokens_and_objects_by_uri(token):
    assert "pkcs11:model=AWS%20KMS;manufacturer=kms11;" in p11tool(token, "--list-tokens")
    out = p11tool(token, "--list-all", "pkcs11:token=interop")
    for alias, _, kid in KEYS:
        assert f"object={alias};type=private" in out
        assert f"object={alias};type=public" in out


@pytest.mark.parametrize("alias,spec,key_id", KEYS, ids=[k[0] for k in KEYS])
def test_test_sign(token, alias, spec, key_id):
    out = p11tool(token, "--test-sign", f"pkcs11:token=interop;object={alias};type=private")
    assert "Verifying against public key in the token... ok" in out, out
    assert "Verifying against private key parameters... ok" in out, out
