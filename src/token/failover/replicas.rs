//! The replica check: each fallback region's replica of a multi-Region key
//! must have the key's public key before it signs without the module's own
//! signature check (docs/availability.md).

use super::{arn_in_region, region_of, Regions, Replica};
use crate::backend::{Backend, Failure};
use crate::keyref::KeyRef;
use crate::log_at;

impl Regions {
    /// Whether the replicas of the key `arn` still need checking (the first
    /// caller for a key gets true, and checks them with `check_replicas`).
    pub fn claim_check(&self, arn: &str) -> bool {
        self.covers(arn)
            && KeyRef::key_id_in(arn).is_some_and(|id| self.checked.lock().insert(id.to_string()))
    }

    /// Asks each fallback region for its replica of `key` (resolved in
    /// `home`): one with the key's public key may sign there; one with
    /// another public key is refused, with a log line; a region without a
    /// replica is skipped. A region that does not answer is asked again
    /// at the key's next resolution.
    pub async fn check_replicas(
        &self,
        backend: &dyn Backend,
        key: &crate::backend::RemoteKey,
        grant_tokens: &[String],
    ) {
        let Some(key_id) = KeyRef::key_id_in(&key.arn).map(str::to_string) else {
            return;
        };
        let home = region_of(&key.arn).unwrap_or_default().to_string();
        let mut unanswered = false;
        for region in self.fallbacks.iter().filter(|r| **r != home) {
            let Some(replica) = arn_in_region(&key.arn, region) else {
                continue;
            };
            let found = match backend
                .get_public_key_in(region, &replica, grant_tokens)
                .await
            {
                Ok(r) if r.arn == replica && r.public_key == key.public_key => Replica::Same,
                Ok(r) => {
                    log_at!(
                        Error,
                        "{} answers with another public key than {} (its ARN: {}); this \
                         replica is never used",
                        replica,
                        key.arn,
                        r.arn
                    );
                    Replica::Different
                }
                Err(e) if e.failure == Failure::NotFound => {
                    log_at!(Info, "{} has no replica in {region}", key.arn);
                    Replica::Absent
                }
                Err(e) => {
                    log_at!(Info, "the replica {replica} could not be checked: {e}");
                    unanswered = true;
                    continue;
                }
            };
            self.replicas
                .lock()
                .insert((key_id.clone(), region.clone()), found);
        }
        if unanswered {
            self.checked.lock().remove(&key_id);
        }
    }
}
