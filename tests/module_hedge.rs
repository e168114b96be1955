//! Hedged signing (issue 17): with `hedge_after_ms = 50`, a Sign that
//! us-east-1 has not answered after 50 ms is also sent to us-west-2, and
//! the first signature wins. The hedge budget (one saved at the start,
//! then one per 20 signatures) bounds the extra requests when every
//! request is slow: of 12 slow signatures exactly one is hedged, and the
//! audit line of that one says so. Every signature verifies with
//! pyca/cryptography against us-east-1's public key.

mod common;

use common::regions::{mrk, TwoRegions};
use common::verify::{Batch, Kind};
use common::*;

const MRK: &str = "mrk-5eed0000000000000000000000000019";
const SIGNATURES: usize = 12;

#[test]
fn a_slow_sign_is_hedged_to_the_next_region_within_the_budget() {
    let material = common::verify::keygen(&["ECC_NIST_P256"]).remove(0);
    let dir = tmp_dir();
    let log = dir.join("audit.log");
    let settings = format!(
        "[cache]\nenabled = false\n[signing]\nhedge_after_ms = 50\n\
         [log]\nlevel = \"audit\"\nfile = {}\n",
        quote(&log.to_string_lossy())
    );
    let tokens = format!(
        "[[token]]\nlabel = {}\n[[token.key]]\nkey = \"alias/release\"\nlabel = \"release\"\n",
        quote(DEFAULT_TOKEN)
    );
    let r = TwoRegions::start(
        &mrk(MRK, "alias/release", &material, None),
        &settings,
        &tokens,
    );
    let (spki, _) = r.east.public_key(MRK);
    // The first signature resolves the key; then every Sign is slow.
    let mut batch = Batch::new();
    let mut sign = |i: usize| {
        let data = format!("hedged signature {i}").into_bytes();
        let sig = r
            .sign("release", &data)
            .unwrap_or_else(|rv| panic!("signature {i}: {}", rv_name(rv)));
        batch.good(
            format!("signature {i}"),
            Kind::Ecdsa,
            Some("sha256"),
            &spki,
            &data,
            &sig,
        );
    };
    sign(0);
    r.east.set_faults(r#"{"slow_rate": 1.0, "slow_ms": 400}"#);
    for i in 1..=SIGNATURES {
        sign(i);
    }
    assert_eq!(r.west.count("Sign"), 1, "one hedge within the budget");
    assert_eq!(r.east.count("Sign"), (SIGNATURES + 1) as u64);
    let text = std::fs::read_to_string(&log).expect("the audit log");
    let signs: Vec<&str> = text.lines().filter(|l| l.contains("Audit: sign")).collect();
    assert_eq!(signs.len(), SIGNATURES + 1, "{text}");
    let hedged: Vec<&&str> = signs
        .iter()
        .filter(|l| l.ends_with("hedged=true"))
        .collect();
    assert_eq!(hedged.len(), 1, "{text}");
    assert!(
        hedged[0].contains("region=us-west-2 attempts=2"),
        "the hedge won: {}",
        hedged[0]
    );
    assert_eq!(batch.run(), SIGNATURES + 1);
}
