//! The credentials the KMS clients use, seen from the public-key cache:
//! whose they are (the cache scope's account), found without running the
//! credential provider twice.

use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use parking_lot::Mutex;
use std::time::{Duration, SystemTime};

/// The SDK's credential provider, with one change: the credentials that
/// the cache scope resolved (`KmsBackend::caller`, before the first KMS
/// request) are handed to the next request that asks, instead of running
/// the provider again. A provider that makes a network call (web identity
/// or an assumed role through STS, SSO, container or instance metadata)
/// therefore still makes it once per process, not twice. Every later call
/// goes to the provider, behind the SDK's own identity cache, as before.
#[derive(Debug)]
pub(super) struct ReuseFirst {
    pub(super) inner: SharedCredentialsProvider,
    pub(super) first: Mutex<Option<Credentials>>,
}

impl ReuseFirst {
    /// Runs the provider and keeps its answer for the next request.
    pub(super) async fn resolve_and_keep(&self) -> Option<Credentials> {
        let creds = self.inner.provide_credentials().await.ok()?;
        *self.first.lock() = Some(creds.clone());
        Some(creds)
    }
}

impl ProvideCredentials for ReuseFirst {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        // Credentials about to expire are not handed on: the provider
        // would refresh them.
        let soon = SystemTime::now() + Duration::from_secs(60);
        match self.first.lock().take() {
            Some(c) if c.expiry().is_none_or(|at| at > soon) => {
                future::ProvideCredentials::ready(Ok(c))
            }
            _ => self.inner.provide_credentials(),
        }
    }

    fn fallback_on_interrupt(&self) -> Option<Credentials> {
        self.inner.fallback_on_interrupt()
    }
}

/// Who a set of credentials belongs to, for the cache scope, without
/// writing a credential into the cache: the account when the provider
/// knows it (AWS_ACCOUNT_ID, a profile's aws_account_id, SSO, assumed
/// roles, web identity, ...), else a hash of the access key ID. The hash
/// still keeps two identities apart; its cost is that temporary
/// credentials without an account (a new access key each session) start
/// each session with a cold cache.
pub(super) fn caller_of(creds: &Credentials) -> String {
    use sha2::Digest;
    match creds.account_id() {
        Some(account) => format!("account={}", account.as_str()),
        None => {
            let digest = sha2::Sha256::digest(creds.access_key_id().as_bytes());
            format!(
                "access-key-sha256={}",
                data_encoding::HEXLOWER.encode(&digest[..16])
            )
        }
    }
}
