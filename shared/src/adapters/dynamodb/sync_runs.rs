//! Sync runs (`SyncStore`): run records (`SYNCRUN#{id}`), the per-tenant lease (`SYNCLEASE`), and
//! each run's lists kept as chunks in partitions of their own that expire.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::codec::{from_item, n, s, to_item, unavailable, Item};
use super::{keys, DynamoStore};
use crate::domain::sync_run::{RunList, SyncRun};
use crate::domain::TenantId;
use crate::ports::{StoreError, SyncStore};

/// A run's lists (seen ids, candidates, diff, errors) outlive it by two weeks, for inspection and
/// for approving a held run (which must happen within 24 hours), then expire.
const RUN_LIST_TTL_DAYS: i64 = 14;

impl DynamoStore {
    async fn put_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError> {
        let mut stored = run.clone();
        stored.version = run.version + 1;
        let mut item = to_item(&stored)?;
        item.insert("pk".into(), s(keys::tenant(&run.tenant)));
        item.insert("sk".into(), s(keys::sync_run(&run.id)));
        self.put_versioned(item, run.version).await?;
        Ok(stored)
    }
}

#[async_trait]
impl SyncStore for DynamoStore {
    async fn create_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError> {
        self.put_run(run).await
    }

    async fn save_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError> {
        self.put_run(run).await
    }

    async fn get_run(&self, tenant: &TenantId, id: &str) -> Result<Option<SyncRun>, StoreError> {
        self.get(keys::tenant(tenant), keys::sync_run(id)).await?.map(from_item).transpose()
    }

    async fn list_runs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND begins_with(sk, :s)")
            .expression_attribute_values(":p", s(keys::tenant(tenant)))
            .expression_attribute_values(":s", s("SYNCRUN#"))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100) as i32)
            .send()
            .await
            .map_err(unavailable)?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }

    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::tenant(tenant)))
            .item("sk", s(keys::SYNC_LEASE))
            .item("run_id", s(run_id))
            .item("until", n(until.timestamp_millis().max(0) as u64))
            .condition_expression("attribute_not_exists(pk) OR #until < :now OR run_id = :me")
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":now", n(now.timestamp_millis().max(0) as u64))
            .expression_attribute_values(":me", s(run_id))
            .send()
            .await;
        match put {
            Ok(_) => Ok(None),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                let holder = self.get(keys::tenant(tenant), keys::SYNC_LEASE.into()).await?;
                Ok(Some(holder.and_then(|h| h.get("run_id").and_then(|v| v.as_s().ok()).cloned()).unwrap_or_default()))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_lease(&self, tenant: &TenantId, run_id: &str) -> Result<(), StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::tenant(tenant)))
            .key("sk", s(keys::SYNC_LEASE))
            .condition_expression("run_id = :me")
            .expression_attribute_values(":me", s(run_id))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            // Someone else's lease (or none): nothing of ours to release.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn put_chunk(
        &self,
        tenant: &TenantId,
        run_id: &str,
        list: RunList,
        chunk: u64,
        entries: &[String],
    ) -> Result<(), StoreError> {
        let expires = (self.clock.now() + chrono::Duration::days(RUN_LIST_TTL_DAYS)).timestamp();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::sync_list(tenant, run_id, list)))
            .item("sk", s(keys::chunk(chunk)))
            .item("ids", s(entries.join("\n")))
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_chunks(
        &self,
        tenant: &TenantId,
        run_id: &str,
        list: RunList,
        from: u64,
        max: u32,
    ) -> Result<Vec<(u64, Vec<String>)>, StoreError> {
        let mut chunks = Vec::new();
        let mut start: Option<Item> = None;
        while chunks.len() < max as usize {
            // Chunk keys are ten digits: everything from `from` up to ":" (after "9").
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":p", s(keys::sync_list(tenant, run_id, list)))
                .expression_attribute_values(":from", s(keys::chunk(from)))
                .expression_attribute_values(":to", s(":"))
                .consistent_read(true)
                .limit(max.clamp(1, 100) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items.unwrap_or_default() {
                let n = item.get("sk").and_then(|v| v.as_s().ok()).and_then(|v| v.parse().ok());
                let entries = item
                    .get("ids")
                    .and_then(|v| v.as_s().ok())
                    .map(|ids| ids.split('\n').filter(|e| !e.is_empty()).map(str::to_owned).collect::<Vec<_>>());
                if let (Some(n), Some(entries)) = (n, entries) {
                    chunks.push((n, entries));
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        chunks.truncate(max as usize);
        Ok(chunks)
    }
}
