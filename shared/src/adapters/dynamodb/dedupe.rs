//! Seen-before records (`DedupeStore`): `TENANT#{t}` / `DEDUPE#{key}` with an expiry, read and
//! written in batches.
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{s, unavailable};
use super::{keys, DynamoStore};
use crate::domain::TenantId;
use crate::ports::{DedupeStore, StoreError};

#[async_trait]
impl DedupeStore for DynamoStore {
    async fn seen(&self, tenant: &TenantId, keys_in: &[String], now_epoch: i64) -> Result<Vec<String>, StoreError> {
        let keys_wanted = keys_in
            .iter()
            .map(|k| HashMap::from([("pk".to_owned(), s(keys::tenant(tenant))), ("sk".to_owned(), s(keys::dedupe(k)))]))
            .collect();
        let mut seen = Vec::new();
        for item in self.batch_get(keys_wanted, Some("sk, expires_at")).await? {
            let live = item
                .get("expires_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .is_none_or(|exp| exp > now_epoch);
            if let (true, Some(sk)) = (live, item.get("sk").and_then(|v| v.as_s().ok())) {
                seen.push(sk.trim_start_matches("DEDUPE#").to_owned());
            }
        }
        Ok(seen)
    }

    async fn mark_seen(&self, tenant: &TenantId, keys_in: &[String], expires_at_epoch: i64) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let requests = keys_in
            .iter()
            .map(|k| {
                let put = PutRequest::builder()
                    .item("pk", s(keys::tenant(tenant)))
                    .item("sk", s(keys::dedupe(k)))
                    .item("expires_at", AttributeValue::N(expires_at_epoch.to_string()))
                    .build()
                    .map_err(unavailable)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(requests).await
    }
}
