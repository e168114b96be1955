//! `kms11 doctor`'s failover line per key (docs/availability.md): whether
//! the key can sign in the fallback regions of `[aws] fallback_regions`.
//! For a multi-Region key each fallback region is asked for its replica
//! (GetPublicKey of the key's ARN moved there): a replica with the key's
//! public key is ready; one with another public key, or one the role may
//! not use, fails the check; a region without a replica is a warning.

use super::{KeyCheck, Report};
use kms11::backend::kms::KmsBackend;
use kms11::backend::{Backend, Failure};
use kms11::token::failover::{arn_in_region, is_multi_region};
use kms11::token::key::KeyInfo;

impl KeyCheck<'_> {
    pub(super) async fn failover(
        &self,
        r: &mut Report,
        backend: &KmsBackend,
        info: &KeyInfo,
        fallbacks: &[String],
    ) {
        let what = format!("{} failover", self.what);
        match (is_multi_region(&info.arn), fallbacks.is_empty()) {
            (false, true) => return,
            (false, false) => {
                return r.ok(
                    &what,
                    "a single-Region key: it signs only in its own region (docs/availability.md)",
                )
            }
            (true, true) => {
                return r.ok(
                    &what,
                    "a multi-Region key; set fallback_regions in [aws] to sign in its replicas' \
                     regions when its own fails",
                )
            }
            (true, false) => {}
        }
        let home = info.arn.split(':').nth(3).unwrap_or_default().to_string();
        let mut ready = Vec::new();
        for region in fallbacks.iter().filter(|f| **f != home) {
            let Some(replica) = arn_in_region(&info.arn, region) else {
                continue;
            };
            let answer = {
                let _p = crate::progress::Progress::start(format!("GetPublicKey {replica}"));
                backend
                    .get_public_key_in(region, &replica, &info.grant_tokens)
                    .await
            };
            match answer {
                Ok(k) if k.public_key == info.spki => ready.push(region.clone()),
                Ok(k) => r.fail(
                    &what,
                    format!(
                        "{replica} has another public key than {} ({})",
                        info.arn, k.arn
                    ),
                    "it is not a replica of this key: kms11 never signs with it; check which key \
                     that region holds under this key ID",
                ),
                Err(e) if e.failure == Failure::NotFound => r.warn(
                    &what,
                    format!(
                        "no replica in {region}; make one: aws kms replicate-key --region {home} \
                         --key-id {} --replica-region {region}",
                        info.arn
                    ),
                ),
                Err(e) if e.failure == Failure::AccessDenied => r.fail(
                    &what,
                    format!("GetPublicKey of the replica in {region}: {e}"),
                    format!(
                        "allow kms:Sign, kms:GetPublicKey and kms:DescribeKey on {replica} (or on \
                         arn:aws:kms:*:<account>:key/{} in every region)",
                        replica.rsplit('/').next().unwrap_or_default()
                    ),
                ),
                Err(e) => r.warn(
                    &what,
                    format!("the replica in {region} could not be checked: {e}"),
                ),
            }
        }
        if !ready.is_empty() {
            r.ok(
                &what,
                format!(
                    "signs in {home}, then {} (replicas with the same public key)",
                    ready.join(", ")
                ),
            );
        }
    }
}
