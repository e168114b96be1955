//! The failover settings: `[aws] fallback_regions` and `[aws.endpoints]`
//! (region IDs, endpoint URLs), and `[signing] hedge_after_ms`.

use super::AwsConfig;
use serde::Deserialize;

/// `hedge_after_ms`: 0 (off), a number of milliseconds, or "auto" (the
/// region's observed 95th percentile).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Hedge {
    #[default]
    Off,
    After(u64),
    Auto,
}

impl<'de> Deserialize<'de> for Hedge {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hedge, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Hedge;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("milliseconds (0 is off) or \"auto\"")
            }
            fn visit_i64<E: serde::de::Error>(self, ms: i64) -> Result<Hedge, E> {
                match u64::try_from(ms) {
                    Ok(0) => Ok(Hedge::Off),
                    Ok(ms) => Ok(Hedge::After(ms)),
                    Err(_) => Err(E::custom(format!(
                        "hedge_after_ms = {ms}: give milliseconds (0 is off) or \"auto\""
                    ))),
                }
            }
            fn visit_str<E: serde::de::Error>(self, w: &str) -> Result<Hedge, E> {
                match w {
                    "auto" => Ok(Hedge::Auto),
                    _ => Err(E::custom(format!(
                        "hedge_after_ms = \"{w}\": give milliseconds (0 is off) or \"auto\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A region ID as AWS writes one (`us-east-1`, `ap-southeast-2`,
/// `us-gov-west-1`).
pub fn is_region_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let Some((last, words)) = parts.split_last() else {
        return false;
    };
    (2..=3).contains(&words.len())
        && s.len() <= 32
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// `fallback_regions` and `endpoints` of [aws]: region IDs, each listed
/// once, and endpoints that are http(s) URLs.
pub(super) fn check_regions(aws: &AwsConfig) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for r in &aws.fallback_regions {
        if !is_region_id(r) {
            return Err(format!(
                "[aws] fallback_regions: '{r}' is not a region ID (for example \"us-west-2\")"
            ));
        }
        if !seen.insert(r) {
            return Err(format!("[aws] fallback_regions lists '{r}' twice"));
        }
        if aws.region.as_deref() == Some(r.as_str()) {
            return Err(format!(
                "[aws] fallback_regions lists '{r}', which is region itself: list only the \
                 regions to fail over to"
            ));
        }
    }
    for (region, url) in &aws.endpoints {
        if !is_region_id(region) {
            return Err(format!(
                "[aws.endpoints] '{region}' is not a region ID (for example \"us-west-2\")"
            ));
        }
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!(
                "[aws.endpoints] {region} = '{url}': an endpoint is an https:// (or http://) URL"
            ));
        }
    }
    Ok(())
}
