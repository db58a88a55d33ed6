//! Batch helpers: `BatchGetItem` and `BatchWriteItem` within AWS's limits, retrying what is left
//! unprocessed.
use std::time::Duration as StdDuration;

use super::codec::{unavailable, Item};
use super::DynamoStore;
use crate::ports::StoreError;

/// `BatchGetItem` takes at most 100 keys, `BatchWriteItem` at most 25 items (the emulator accepts
/// more; AWS does not, so the limits are enforced here).
const BATCH_GET: usize = 100;
const BATCH_WRITE: usize = 25;

impl DynamoStore {
    /// BatchGetItem (consistent) in chunks of 100, retrying unprocessed keys with backoff;
    /// `projection`: the attributes to read, or all.
    pub(super) async fn batch_get(&self, wanted: Vec<Item>, projection: Option<&str>) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = Vec::new();
        for chunk in wanted.chunks(BATCH_GET) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .set_projection_expression(projection.map(str::to_owned))
                    .build()
                    .map_err(unavailable)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                found.extend(out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
                pending =
                    out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
                attempt += 1;
                if !pending.is_empty() {
                    if attempt > 8 {
                        return Err(unavailable(std::io::Error::other("BatchGetItem left keys unprocessed")));
                    }
                    tokio::time::sleep(StdDuration::from_millis(20 * u64::from(attempt))).await;
                }
            }
        }
        Ok(found)
    }

    /// BatchWriteItem in chunks of 25, retrying unprocessed items with backoff.
    pub(super) async fn batch_write(
        &self,
        requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH_WRITE) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(unavailable)?;
                pending = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                attempt += 1;
                if !pending.is_empty() {
                    if attempt > 8 {
                        return Err(unavailable(std::io::Error::other("BatchWriteItem left items unprocessed")));
                    }
                    tokio::time::sleep(StdDuration::from_millis(20 * u64::from(attempt))).await;
                }
            }
        }
        Ok(())
    }
}
