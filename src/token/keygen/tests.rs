//! Unit tests of key management's small rules.
use super::*;

/// Every KMS failure of a managing call is a CK_RV those functions may
/// return (PKCS#11 3.0 lists no CKR_KEY_* for them).
#[test]
fn kms_failures_become_return_values_of_the_managing_functions() {
    for (failure, rv) in [
        (Failure::AccessDenied, CKR_ACTION_PROHIBITED),
        (Failure::KeyUnusable, CKR_ACTION_PROHIBITED),
        (Failure::KeyUsage, CKR_ACTION_PROHIBITED),
        (Failure::NotFound, CKR_OBJECT_HANDLE_INVALID),
        (Failure::Refused, CKR_ATTRIBUTE_VALUE_INVALID),
        (Failure::Throttled, CKR_DEVICE_ERROR),
        (Failure::Unavailable, CKR_DEVICE_ERROR),
        (Failure::InvalidRequest, CKR_GENERAL_ERROR),
    ] {
        let e = BackendError {
            failure: failure.clone(),
            code: "Code".into(),
            message: "message".into(),
            request_id: None,
        };
        let got = management_error(e);
        assert_eq!(got.rv, rv, "{failure:?}");
        assert!(got.reason.unwrap_or_default().contains("Code: message"));
    }
}

#[test]
fn labels_become_alias_names_or_are_refused() {
    assert_eq!(alias_for("ci/", "v2").unwrap(), "alias/ci/v2");
    for bad in ["has space", "é", "", &"x".repeat(251)] {
        let e = alias_for("", bad).unwrap_err();
        assert_eq!(e.rv, CKR_ATTRIBUTE_VALUE_INVALID, "{bad:?}");
    }
    assert_eq!(tag_value("a\"b<c>"), "a_b_c_");
}
