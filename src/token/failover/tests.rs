//! The failover rules, pinned: replica ARNs, the order of regions, cool-downs.

use super::*;

const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef";

fn err(failure: Failure) -> BackendError {
    BackendError {
        failure,
        code: "X".into(),
        message: String::new(),
        request_id: None,
    }
}

#[test]
fn a_replica_arn_is_the_key_arn_in_its_region() {
    assert_eq!(
        arn_in_region(ARN, "eu-west-1").unwrap(),
        ARN.replace("us-east-1", "eu-west-1")
    );
    assert_eq!(arn_in_region("alias/x", "eu-west-1"), None);
    assert!(is_multi_region(ARN));
    assert!(!is_multi_region(
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ));
}

#[test]
fn a_failed_region_goes_last_until_a_probe_finds_it_answering() {
    let r = Regions::new(None, vec!["us-west-2".into(), "eu-west-1".into()], 3);
    assert!(r.covers(ARN));
    let regions = |r: &Regions| -> Vec<String> {
        r.plan(ARN, "alias/release")
            .into_iter()
            .map(|a| a.region)
            .collect()
    };
    let plan = r.plan(ARN, "alias/release");
    assert_eq!(regions(&r), ["us-east-1", "us-west-2", "eu-west-1"]);
    assert_eq!(plan[0].target, "alias/release");
    assert_eq!(plan[1].target, ARN.replace("us-east-1", "us-west-2"));
    assert_eq!(plan[1].expected, plan[1].target);
    r.failed("us-east-1", &err(Failure::Unavailable));
    assert_eq!(regions(&r), ["us-west-2", "eu-west-1", "us-east-1"]);
    // Not due before its cool-down ends; then one probe at a time.
    assert_eq!(r.due_for_probe(), None);
    r.health.lock().get_mut("us-east-1").unwrap().until = Some(Instant::now());
    assert_eq!(r.due_for_probe().as_deref(), Some("us-east-1"));
    assert_eq!(r.due_for_probe(), None);
    assert!(r.cooling("us-east-1"));
    r.succeeded("us-east-1");
    assert_eq!(regions(&r), ["us-east-1", "us-west-2", "eu-west-1"]);
}

#[test]
fn cool_downs_double_up_to_a_minute() {
    let r = Regions::new(None, vec!["us-west-2".into()], 3);
    for n in 1..=10u32 {
        r.failed("us-east-1", &err(Failure::Throttled));
        // Failures while it cools down do not count.
        r.failed("us-east-1", &err(Failure::Throttled));
        let until = r.health.lock()["us-east-1"].until.unwrap();
        let wait = until - Instant::now();
        let want = COOL_DOWN
            .saturating_mul(1 << (n - 1).min(6))
            .min(COOL_DOWN_MAX);
        assert!(
            wait <= want && wait + Duration::from_secs(1) > want,
            "{n}: {wait:?}"
        );
        // As if the cool-down were over and a probe failed.
        r.health.lock().get_mut("us-east-1").unwrap().probing = true;
    }
}

#[test]
fn only_a_regions_trouble_fails_over() {
    assert!(fails_over(&err(Failure::Unavailable)));
    assert!(fails_over(&err(Failure::Throttled)));
    for f in [
        Failure::AccessDenied,
        Failure::KeyUnusable,
        Failure::NotFound,
        Failure::InvalidRequest,
        Failure::Credentials,
    ] {
        assert!(!fails_over(&err(f.clone())), "{f:?}");
    }
    let single = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    assert!(!Regions::new(None, vec!["us-west-2".into()], 3).covers(single));
    assert!(!Regions::new(None, Vec::new(), 3).covers(ARN));
}

#[test]
fn backoff_stays_under_its_cap() {
    for pass in 1..10 {
        assert!(backoff(pass) <= Duration::from_secs(2));
    }
}
