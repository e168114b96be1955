"""GenerateRandom."""

from __future__ import annotations

import pytest

from kmshelp import expect_error


@pytest.mark.parametrize("n", [1, 16, 32, 1024])
def test_generate_random_length(kms, n):
    data = kms.generate_random(NumberOfBytes=n)["Plaintext"]
    assert isinstance(data, bytes)
    assert len(data) == n


def test_generate_random_calls_differ(kms):
    a = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    b = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert a != b


def test_generate_random_is_not_constant(kms):
    data = kms.generate_random(NumberOfBytes=1024)["Plaintext"]
    # 1024 random bytes hit far more than 64 distinct byte values (p ~ 0).
    assert len(set(data)) > 64


@pytest.mark.parametrize("n", [0, 1025, -1])
def test_generate_random_out_of_range(kms, n):
    with expect_error("ValidationException"):
        kms.generate_random(NumberOfBytes=n)
