//! CreateKey, CreateAlias, DeleteAlias, ScheduleKeyDeletion and
//! TagResource: what key generation and retirement ask of KMS.

use super::super::{BackendError, BoxFuture, Failure, KeyMetadata, Management, NewKey};
use super::{classify, KmsBackend};
use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};

/// The most ListAliases pages a discovery reads (10,000 aliases).
const LIST_PAGES_MAX: usize = 100;

fn tags(tags: &[(String, String)]) -> Result<Vec<Tag>, BackendError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(|e| BackendError {
                    failure: Failure::InvalidRequest,
                    code: "Tag".into(),
                    message: e.to_string(),
                    request_id: None,
                })
        })
        .collect()
}

impl Management for KmsBackend {
    fn create_key<'a>(
        &'a self,
        key: &'a NewKey,
    ) -> BoxFuture<'a, Result<KeyMetadata, BackendError>> {
        Box::pin(async move {
            // A key ID or alias name goes to the configured region.
            let client = self.client("").await?;
            let _permit = self.limit.acquire().await.ok();
            let out = client
                .create_key()
                .key_spec(KeySpec::from(key.key_spec))
                .key_usage(KeyUsageType::from(key.key_usage))
                .description(&key.description)
                .set_tags(Some(tags(&key.tags)?))
                .multi_region(key.multi_region)
                .set_policy(key.policy.clone())
                .send()
                .await
                .map_err(classify)?;
            super::metadata(out.key_metadata, "CreateKey")
        })
    }

    fn create_alias<'a>(
        &'a self,
        alias: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let client = self.client(target).await?;
            let _permit = self.limit.acquire().await.ok();
            client
                .create_alias()
                .alias_name(alias)
                .target_key_id(target)
                .send()
                .await
                .map_err(classify)?;
            Ok(())
        })
    }

    fn delete_alias<'a>(
        &'a self,
        alias: &'a str,
        near: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let client = self.client(near).await?;
            let _permit = self.limit.acquire().await.ok();
            client
                .delete_alias()
                .alias_name(alias)
                .send()
                .await
                .map_err(classify)?;
            Ok(())
        })
    }

    fn schedule_key_deletion<'a>(
        &'a self,
        arn: &'a str,
        days: u32,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let client = self.client(arn).await?;
            let _permit = self.limit.acquire().await.ok();
            client
                .schedule_key_deletion()
                .key_id(arn)
                .pending_window_in_days(i32::try_from(days).unwrap_or(30))
                .send()
                .await
                .map_err(classify)?;
            Ok(())
        })
    }

    fn list_aliases<'a>(
        &'a self,
        prefix: &'a str,
        near: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, BackendError>> {
        Box::pin(async move {
            let client = self.client(near).await?;
            let mut names = Vec::new();
            let mut marker = None;
            // At most this many pages of 100: a loop that a misbehaving
            // endpoint's markers cannot make endless.
            for _ in 0..LIST_PAGES_MAX {
                let _permit = self.limit.acquire().await.ok();
                let out = client
                    .list_aliases()
                    .limit(100)
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(classify)?;
                for a in out.aliases.unwrap_or_default() {
                    match (a.alias_name, a.target_key_id) {
                        (Some(name), Some(_)) if name.starts_with(prefix) => names.push(name),
                        _ => {}
                    }
                }
                match (out.truncated, out.next_marker) {
                    (true, Some(next)) => marker = Some(next),
                    _ => return Ok(names),
                }
            }
            Err(BackendError {
                failure: Failure::MalformedAnswer,
                code: "TooManyPages".into(),
                message: format!("ListAliases gave more than {LIST_PAGES_MAX} pages"),
                request_id: None,
            })
        })
    }

    fn tag_resource<'a>(
        &'a self,
        arn: &'a str,
        tag_list: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let client = self.client(arn).await?;
            let _permit = self.limit.acquire().await.ok();
            client
                .tag_resource()
                .key_id(arn)
                .set_tags(Some(tags(tag_list)?))
                .send()
                .await
                .map_err(classify)?;
            Ok(())
        })
    }
}
