"""The JSON 1.1 wire protocol, driven with raw HTTP requests.

Requests are SigV4-signed with the static test credentials (kmshelp.raw_call)
so that they are well-formed for any endpoint; only the body or target is bad.
"""

from __future__ import annotations

import base64
import json

import pytest

from kmshelp import raw_call


def check_error(resp, name: str, status: int = 400) -> None:
    assert resp.status == status, resp
    body = resp.json()
    assert "__type" in body, body
    assert resp.error_type() == name, body
    assert isinstance(body.get("message", body.get("Message")), str), (
        f"error body has no message: {body}"
    )


def check_still_serving(url: str) -> None:
    resp = raw_call(url, "TrentService.GenerateRandom", {"NumberOfBytes": 8})
    assert resp.status == 200, resp
    assert len(base64.b64decode(resp.json()["Plaintext"])) == 8


def content_type(resp) -> str:
    return {k.lower(): v for k, v in resp.headers.items()}.get("content-type", "")


def test_valid_raw_request(endpoint):
    resp = raw_call(endpoint, "TrentService.GenerateRandom", {"NumberOfBytes": 16})
    assert resp.status == 200, resp
    assert len(base64.b64decode(resp.json()["Plaintext"])) == 16


def test_content_type_is_amz_json(endpoint):
    ok = raw_call(endpoint, "TrentService.GenerateRandom", {"NumberOfBytes": 16})
    assert content_type(ok).startswith("application/x-amz-json-1.1"), ok.headers
    err = raw_call(endpoint, "TrentService.DescribeKey", {"KeyId": "alias/kms11-no-such-alias"})
    assert err.status == 400
    assert content_type(err).startswith("application/x-amz-json-1.1"), err.headers


@pytest.mark.parametrize("body", [b"{", b"not json", b'{"NumberOfBytes": 8', b"[1, 2"], ids=repr)
def test_malformed_json(endpoint, body):
    resp = raw_call(endpoint, "TrentService.GenerateRandom", body)
    check_error(resp, "SerializationException")
    check_still_serving(endpoint)


def test_unknown_operation(endpoint):
    resp = raw_call(endpoint, "TrentService.NoSuchOp", {})
    check_error(resp, "UnknownOperationException")
    check_still_serving(endpoint)


def test_missing_required_key_id(endpoint):
    body = {
        "Message": base64.b64encode(b"m").decode(),
        "MessageType": "RAW",
        "SigningAlgorithm": "ECDSA_SHA_256",
    }
    resp = raw_call(endpoint, "TrentService.Sign", body)
    check_error(resp, "ValidationException")
    check_still_serving(endpoint)


def test_wrong_type_for_key_id(endpoint):
    resp = raw_call(endpoint, "TrentService.DescribeKey", json.dumps({"KeyId": 5}))
    check_error(resp, "SerializationException")
    check_still_serving(endpoint)


def test_wrong_type_for_blob(endpoint, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    body = {
        "KeyId": meta["KeyId"],
        "Message": 12345,
        "MessageType": "RAW",
        "SigningAlgorithm": "ECDSA_SHA_256",
    }
    resp = raw_call(endpoint, "TrentService.Sign", body)
    check_error(resp, "SerializationException")
    check_still_serving(endpoint)


def test_invalid_base64_blob(endpoint, keys):
    meta = keys.shared("ECC_NIST_P256", "SIGN_VERIFY")
    body = {
        "KeyId": meta["KeyId"],
        "Message": "!!!not base64!!!",
        "MessageType": "RAW",
        "SigningAlgorithm": "ECDSA_SHA_256",
    }
    resp = raw_call(endpoint, "TrentService.Sign", body)
    check_error(resp, "SerializationException")
    check_still_serving(endpoint)


def test_not_found_error_body(endpoint):
    resp = raw_call(endpoint, "TrentService.DescribeKey", {"KeyId": "alias/kms11-no-such-alias"})
    check_error(resp, "NotFoundException")


def test_many_bad_requests_then_good_ones(endpoint):
    for i in range(20):
        raw_call(endpoint, "TrentService.GenerateRandom", b"{" * (i + 1))
        raw_call(endpoint, "TrentService.NoSuchOp", b"{}")
    for _ in range(3):
        check_still_serving(endpoint)
