"""Known deviations of moto (moto_server) from real AWS KMS.

Keys are substrings of pytest node IDs (``test_file.py::test_name[params]``);
values say what moto does instead. When the suite runs against moto
(KMS_CONTRACT_TARGET=moto), conftest.py marks every matching test
``xfail(strict=True)``: if moto gets fixed the test XPASSes and the run
fails, so this list has to stay true. The first matching key wins.

Every entry was observed against moto 5.2.5 (see tests/requirements.txt).
"""

MOTO: dict[str, str] = {
    # --- CreateKey / DescribeKey / ListKeys -------------------------------
    "test_keys.py::test_create_key_metadata[ECC_NIST_P256-KEY_AGREEMENT]": (
        "KeyMetadata of a KEY_AGREEMENT key lists SigningAlgorithms"
    ),
    "test_keys.py::test_create_key_metadata[ECC_NIST_P384-KEY_AGREEMENT]": (
        "KeyMetadata of a KEY_AGREEMENT key lists SigningAlgorithms"
    ),
    "test_keys.py::test_create_key_metadata[ECC_NIST_P521-KEY_AGREEMENT]": (
        "KeyMetadata of a KEY_AGREEMENT key lists SigningAlgorithms"
    ),
    "test_keys.py::test_create_key_metadata[HMAC_": "KeyMetadata of an HMAC key lists SigningAlgorithms",
    "test_keys.py::test_single_region_key_reports_multi_region_false": (
        "KeyMetadata has no MultiRegion field for single-Region keys (AWS sends false)"
    ),
    "test_keys.py::test_create_key_defaults_to_symmetric_encrypt_decrypt": (
        "CreateKey without KeyUsage returns KeyMetadata without KeyUsage"
    ),
    "test_keys.py::test_create_key_invalid_spec_usage_combination": (
        "CreateKey accepts any KeySpec/KeyUsage combination"
    ),
    "test_keys.py::test_create_key_hmac_requires_explicit_mac_usage": (
        "CreateKey accepts an HMAC KeySpec with the default ENCRYPT_DECRYPT usage"
    ),
    "test_keys.py::test_create_key_unknown_key_spec['']": "CreateKey accepts an empty KeySpec",
    "test_keys.py::test_create_key_unknown_key_usage": "CreateKey accepts an unknown KeyUsage",
    "test_keys.py::test_create_multi_region_key": (
        "multi-Region key IDs are mrk-<uuid with dashes>, not mrk-<32 hex digits>"
    ),
    "test_keys.py::test_list_keys_pagination": "ListKeys ignores Limit and never paginates",
    # --- Key policies ----------------------------------------------------
    "test_policy.py::test_get_key_policy_name_defaults_to_default": (
        "GetKeyPolicy without PolicyName is NotFoundException (AWS defaults it to default)"
    ),
    "test_policy.py::test_create_key_malformed_policy": "CreateKey accepts any Policy string",
    "test_policy.py::test_create_key_policy_too_long": "CreateKey accepts a Policy over 32768 characters",
    "test_policy.py::test_create_key_policy_outside_latin1": (
        "CreateKey accepts a Policy with characters outside U+0020..U+00FF"
    ),
    "test_policy.py::test_put_malformed_policy_changes_nothing": "PutKeyPolicy accepts any Policy string",
    # --- Multi-Region keys -----------------------------------------------
    "test_multi_region.py::test_replica_has_the_primarys_key_id_in_its_own_region": (
        "ReplicateKey's replica metadata says MultiRegionKeyType PRIMARY"
    ),
    "test_multi_region.py::test_describe_key_lists_the_replicas": (
        "the replica keeps the primary's description and says it is a PRIMARY key"
    ),
    "test_multi_region.py::test_replica_has_its_own_tags": "ReplicateKey ignores Tags",
    "test_multi_region.py::test_aliases_are_regional": (
        "an alias made in one region resolves in another"
    ),
    "test_multi_region.py::test_a_single_region_key_is_not_replicated": (
        "ReplicateKey of a single-Region key fails with HTTP 500"
    ),
    "test_multi_region.py::test_a_second_replica_in_the_same_region_is_refused": (
        "ReplicateKey into a region that has the replica succeeds again"
    ),
    "test_multi_region.py::test_a_replica_is_not_replicated": "ReplicateKey of a replica succeeds",
    "test_multi_region.py::test_a_replica_in_the_primarys_region_is_refused": (
        "ReplicateKey into the primary's own region succeeds"
    ),
    # --- GetPublicKey -----------------------------------------------------
    "test_public_key.py::test_get_public_key_fields": "GetPublicKey omits KeySpec (it sends only the deprecated CustomerMasterKeySpec)",
    "test_public_key.py::test_get_public_key_unsupported_for_symmetric_and_hmac": (
        "GetPublicKey on a symmetric or HMAC key succeeds instead of UnsupportedOperationException"
    ),
    # --- Response fields --------------------------------------------------
    "test_responses.py::test_response_key_id_is_key_arn[GetPublicKey": (
        "GetPublicKey returns the bare key ID in KeyId, not the key ARN"
    ),
    "test_responses.py::test_response_key_id_is_key_arn[Encrypt-": (
        "Encrypt omits EncryptionAlgorithm from its response"
    ),
    "test_responses.py::test_response_key_id_is_key_arn[Decrypt-": (
        "Decrypt omits EncryptionAlgorithm from its response"
    ),
    "test_responses.py::test_response_key_id_is_key_arn[GenerateMac": (
        "GenerateMac returns the bare key ID in KeyId, not the key ARN"
    ),
    "test_responses.py::test_response_key_id_is_key_arn[VerifyMac": (
        "VerifyMac echoes the caller's key reference in KeyId, not the key ARN"
    ),
    "test_responses.py::test_response_key_id_is_key_arn[DeriveSharedSecret": (
        "DeriveSharedSecret is not implemented (HTTP 500)"
    ),
    "test_responses.py::test_schedule_and_cancel_deletion_responses": (
        "ScheduleKeyDeletion returns the bare key ID and omits KeyState and PendingWindowInDays"
    ),
    # --- Sign / Verify ----------------------------------------------------
    "test_sign_verify.py::test_sign_raw[RSA_2048-RSASSA_PSS": (
        "RSASSA-PSS uses the maximum salt length instead of the hash length"
    ),
    "test_sign_verify.py::test_sign_raw[RSA_3072-RSASSA_PSS": (
        "RSASSA-PSS uses the maximum salt length instead of the hash length"
    ),
    "test_sign_verify.py::test_sign_raw[RSA_4096-RSASSA_PSS": (
        "RSASSA-PSS uses the maximum salt length instead of the hash length"
    ),
    "test_sign_verify.py::test_sign_digest[": (
        "MessageType=DIGEST input is hashed again, so the signature does not verify "
        "against the original message"
    ),
    "test_sign_verify.py::test_verify_api_digest_message_type": (
        "Verify with MessageType=DIGEST hashes the digest again (SignatureValid false)"
    ),
    "test_sign_verify.py::test_pkcs1_raw_and_digest_signatures_are_identical": (
        "MessageType=DIGEST input is hashed again, so RAW and DIGEST signatures differ"
    ),
    "test_sign_verify.py::test_verify_api_rejects_tampered_signature": (
        "Verify answers SignatureValid=false instead of KMSInvalidSignatureException"
    ),
    "test_sign_verify.py::test_verify_api_rejects_other_message": (
        "Verify answers SignatureValid=false instead of KMSInvalidSignatureException"
    ),
    "test_sign_verify.py::test_sign_disallowed_algorithm": (
        "an algorithm the key does not support gives ValidationException, "
        "not InvalidKeyUsageException"
    ),
    "test_sign_verify.py::test_sign_with_non_signing_key": (
        "Sign with a non-SIGN_VERIFY key gives ValidationException, not InvalidKeyUsageException"
    ),
    "test_sign_verify.py::test_sign_digest_wrong_length": (
        "MessageType=DIGEST length is not checked against the algorithm"
    ),
    "test_sign_verify.py::test_sign_raw_message_size_limit": (
        "Sign accepts a RAW message longer than 4096 bytes"
    ),
    "test_sign_verify.py::test_sign_unknown_message_type": "Sign accepts an unknown MessageType",
    # --- Ed25519 (ECC_NIST_EDWARDS25519) -----------------------------------
    "test_keys.py::test_create_key_metadata[ECC_NIST_EDWARDS25519": (
        "CreateKey refuses KeySpec ECC_NIST_EDWARDS25519 (moto has no Ed25519 keys)"
    ),
    **{
        f"test_ed25519.py::{name}": "CreateKey refuses KeySpec ECC_NIST_EDWARDS25519 (no Ed25519 keys)"
        for name in (
            "test_get_public_key",
            "test_sign_raw_pure_ed25519",  # also ..._is_not_ed25519ph
            "test_sign_raw_size_limits",
            "test_pure_ed25519_refuses_digest",
            "test_sign_digest_ed25519ph",
            "test_ed25519ph_refuses_raw",
            "test_ed25519ph_digest_must_be_64_bytes",
            "test_verify_api",  # also ..._refuses_the_other_..., ..._checks_message_type
            "test_ed25519_key_refuses_other_algorithms",
        )
    },
    "test_ed25519.py::test_other_keys_refuse_ed25519_algorithms": (
        "an algorithm the key does not support gives ValidationException, "
        "not InvalidKeyUsageException"
    ),
    # --- ML-DSA (ML_DSA_44, ML_DSA_65, ML_DSA_87) ---------------------------
    "test_keys.py::test_create_key_metadata[ML_DSA_": (
        "CreateKey refuses the ML-DSA KeySpecs (moto has no ML-DSA keys)"
    ),
    **{
        f"test_mldsa.py::{name}": "CreateKey refuses the ML-DSA KeySpecs (no ML-DSA keys)"
        for name in (
            "test_get_public_key",
            "test_describe_key",
            "test_sign_raw_",  # ..._is_pure_ml_dsa_with_empty_context, ..._size_limits
            "test_sign_external_mu_",  # ..._signs_the_message_mu_came_from, ..._of_a_context
            "test_external_mu_must_be_64_bytes",
            "test_ml_dsa_refuses_digest",
            "test_verify_api",  # also ..._raw_and_external_mu_are_one_signature
            "test_ml_dsa_key_refuses_other_algorithms",
        )
    },
    "test_mldsa.py::test_other_keys_refuse_ml_dsa[ECC_NIST_EDWARDS25519]": (
        "CreateKey refuses KeySpec ECC_NIST_EDWARDS25519 (no Ed25519 keys)"
    ),
    "test_mldsa.py::test_other_keys_refuse_ml_dsa": (
        "an algorithm the key does not support gives ValidationException, "
        "not InvalidKeyUsageException"
    ),
    "test_mldsa.py::test_external_mu_is_for_ml_dsa_only": (
        "Sign accepts MessageType EXTERNAL_MU with RSA and ECDSA algorithms"
    ),
    # --- Key states -------------------------------------------------------
    "test_states.py::test_disable_and_enable": "Sign works on a disabled key",
    "test_states.py::test_disabled_symmetric_key_cannot_encrypt_or_decrypt": (
        "Encrypt works on a disabled key"
    ),
    "test_states.py::test_schedule_and_cancel_deletion": "Sign works on a key pending deletion",
    "test_states.py::test_schedule_deletion_window_out_of_range": (
        "ScheduleKeyDeletion accepts PendingWindowInDays outside 7..30"
    ),
    "test_states.py::test_cancel_deletion_of_key_not_pending": (
        "CancelKeyDeletion succeeds on a key that is not pending deletion"
    ),
    "test_mac.py::test_mac_disabled_key": "GenerateMac works on a disabled key",
    # --- Aliases ----------------------------------------------------------
    "test_aliases.py::test_alias_aws_prefix_is_reserved": (
        "only a fixed list of alias/aws/* names is reserved; other alias/aws/ names are accepted"
    ),
    "test_aliases.py::test_update_alias_refused_for_different_type_or_usage": (
        "UpdateAlias does not compare key type or KeyUsage"
    ),
    "test_aliases.py::test_update_alias_symmetric_to_hmac_refused": (
        "UpdateAlias does not compare key type or KeyUsage"
    ),
    "test_aliases.py::test_list_aliases_pagination": "ListAliases ignores Limit and never paginates",
    # --- Encrypt / Decrypt ------------------------------------------------
    "test_encrypt.py::test_rsa_local_encrypt_kms_decrypt": (
        "RSA keys do not do RSAES-OAEP: Decrypt rejects a real OAEP ciphertext"
    ),
    "test_encrypt.py::test_rsa_kms_encrypt_kms_decrypt": (
        "Encrypt with an RSA key returns a fake (symmetric-format) ciphertext, "
        "not a modulus-sized OAEP ciphertext"
    ),
    "test_encrypt.py::test_symmetric_decrypt_with_other_key_id": (
        "Decrypt with another KeyId gives AccessDeniedException, not IncorrectKeyException"
    ),
    "test_encrypt.py::test_encrypt_with_sign_key": "Encrypt does not check KeyUsage",
    "test_encrypt.py::test_encrypt_with_hmac_key": "Encrypt does not check KeyUsage",
    "test_encrypt.py::test_rsa_sign_key_cannot_encrypt": "Encrypt does not check KeyUsage",
    "test_encrypt.py::test_symmetric_key_rejects_rsa_algorithm": (
        "Encrypt does not check EncryptionAlgorithm against the key"
    ),
    "test_encrypt.py::test_rsa_key_rejects_symmetric_algorithm": (
        "Encrypt does not check EncryptionAlgorithm against the key"
    ),
    # --- MAC --------------------------------------------------------------
    "test_mac.py::test_wrong_mac_algorithm_for_key": (
        "GenerateMac/VerifyMac accept a MacAlgorithm that does not match the key"
    ),
    "test_mac.py::test_mac_message_size_limit": "GenerateMac accepts a message longer than 4096 bytes",
    # --- DeriveSharedSecret ------------------------------------------------
    "test_ecdh.py::": "DeriveSharedSecret is not implemented (HTTP 500)",
    # --- Imported key material ---------------------------------------------
    "test_import.py::test_external_key_waits_for_its_material": (
        "CreateKey with Origin=EXTERNAL makes a key that is Enabled at once, with key "
        "material of moto's own (KMS: PendingImport, no material)"
    ),
    "test_import.py::": "GetParametersForImport and ImportKeyMaterial are not implemented (HTTP 500)",
    # --- GenerateRandom ----------------------------------------------------
    "test_random.py::test_generate_random_out_of_range[0]": (
        "GenerateRandom accepts NumberOfBytes=0 (returns no bytes)"
    ),
    # --- Wire protocol -----------------------------------------------------
    "test_protocol.py::test_content_type_is_amz_json": (
        "responses are Content-Type text/html or application/json, "
        "not application/x-amz-json-1.1"
    ),
    "test_protocol.py::test_malformed_json": "malformed JSON gives an HTML HTTP 500",
    "test_protocol.py::test_unknown_operation": "an unknown X-Amz-Target gives an HTML HTTP 500",
    "test_protocol.py::test_missing_required_key_id": "a missing KeyId gives an HTML HTTP 500",
    "test_protocol.py::test_wrong_type_for_key_id": "a non-string KeyId gives an HTML HTTP 500",
    "test_protocol.py::test_wrong_type_for_blob": "a non-string blob gives an HTML HTTP 500",
    "test_protocol.py::test_invalid_base64_blob": "an invalid base64 blob gives an HTML HTTP 500",
}
