use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::sync_run::SyncRun;
use crate::domain::TenantId;

/// Sync runs, the per-tenant lease, and the Okta ids each run has seen.
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Stores a new run (`run.version` 0) and returns it at version 1.
    async fn create_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError>;
    /// Saves a checkpoint, conditional on `run.version`; returns the run at the next version.
    async fn save_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError>;
    async fn get_run(&self, tenant: &TenantId, id: &str) -> Result<Option<SyncRun>, StoreError>;
    /// The newest runs first.
    async fn list_runs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<SyncRun>, StoreError>;

    /// Takes the tenant's one-run-at-a-time lease for `run_id` until `until`, unless another run
    /// holds an unexpired lease: then `Some(that run's id)`.
    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;
    async fn release_lease(&self, tenant: &TenantId, run_id: &str) -> Result<(), StoreError>;

    /// Records the Okta ids of one page (idempotent per page number).
    async fn save_seen(
        &self,
        tenant: &TenantId,
        run_id: &str,
        page: u64,
        okta_ids: &[String],
    ) -> Result<(), StoreError>;
    async fn load_seen(&self, tenant: &TenantId, run_id: &str) -> Result<HashSet<String>, StoreError>;
}
