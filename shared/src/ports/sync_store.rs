use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::sync_run::{RunList, SyncRun};
use crate::domain::TenantId;

/// Sync runs, the per-tenant lease, and the lists each run keeps (seen ids, candidates, diff, errors).
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Stores a new run (`run.version` 0) and returns it at version 1.
    async fn create_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError>;
    /// Saves a checkpoint, conditional on `run.version`; returns the run at the next version.
    async fn save_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError>;
    async fn get_run(&self, tenant: &TenantId, id: &str) -> Result<Option<SyncRun>, StoreError>;
    /// The newest runs first.
    async fn list_runs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<SyncRun>, StoreError>;

    /// Takes (or renews) the tenant's one-run-at-a-time lease for `run_id` until `until`, atomically,
    /// unless another run holds an unexpired lease: then `Some(that run's id)`.
    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;
    async fn release_lease(&self, tenant: &TenantId, run_id: &str) -> Result<(), StoreError>;

    /// Stores chunk `chunk` of one of a run's lists (idempotent: the same chunk again replaces it).
    async fn put_chunk(
        &self,
        tenant: &TenantId,
        run_id: &str,
        list: RunList,
        chunk: u64,
        entries: &[String],
    ) -> Result<(), StoreError>;

    /// Chunks `from..` of a run's list, in order, at most `max` of them, each with its number.
    async fn get_chunks(
        &self,
        tenant: &TenantId,
        run_id: &str,
        list: RunList,
        from: u64,
        max: u32,
    ) -> Result<Vec<(u64, Vec<String>)>, StoreError>;
}

/// Every entry of a run's list, chunk by chunk (for the seen ids of a run).
pub async fn load_list(
    store: &dyn SyncStore,
    tenant: &TenantId,
    run_id: &str,
    list: RunList,
) -> Result<Vec<String>, StoreError> {
    let mut all = Vec::new();
    let mut from = 0;
    loop {
        let chunks = store.get_chunks(tenant, run_id, list, from, 100).await?;
        let Some(last) = chunks.last().map(|(n, _)| *n) else { return Ok(all) };
        for (_, entries) in chunks {
            all.extend(entries);
        }
        from = last + 1;
    }
}
