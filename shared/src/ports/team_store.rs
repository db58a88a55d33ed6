use async_trait::async_trait;

use super::StoreError;
use crate::domain::change::NewChange;
use crate::domain::team::{Team, Waiting};
use crate::domain::TenantId;

/// Teams, written with their change-log entries.
#[async_trait]
pub trait TeamStore: Send + Sync {
    async fn get_team(&self, tenant: &TenantId, key: &str) -> Result<Option<Team>, StoreError>;
    /// `AlreadyExists` if another writer created it first (then read it).
    async fn create_team(&self, tenant: &TenantId, team: &Team, change: &NewChange) -> Result<Team, StoreError>;
    async fn update_team(
        &self,
        tenant: &TenantId,
        before: &Team,
        after: &Team,
        change: &NewChange,
    ) -> Result<Team, StoreError>;
    async fn list_teams(&self, tenant: &TenantId) -> Result<Vec<Team>, StoreError>;
}

/// Pending manager references (docs/behaviour/managers-and-teams.md), keyed by the reference (`okta:{id}` or `email:{key}`).
#[async_trait]
pub trait PendingStore: Send + Sync {
    async fn add_pending(&self, tenant: &TenantId, reference: &str, waiting: &Waiting) -> Result<(), StoreError>;
    async fn pending_for(&self, tenant: &TenantId, reference: &str) -> Result<Vec<Waiting>, StoreError>;
    async fn remove_pending(&self, tenant: &TenantId, reference: &str, waiting: &Waiting) -> Result<(), StoreError>;
    /// How many references are pending in the tenant (for health).
    async fn count_pending(&self, tenant: &TenantId) -> Result<usize, StoreError>;
}

/// Seen-before records with a TTL (event-hook deliveries and events).
#[async_trait]
pub trait DedupeStore: Send + Sync {
    /// Which of `keys` were seen and have not expired at `now_epoch` (TTL deletion lags in DynamoDB).
    async fn seen(&self, tenant: &TenantId, keys: &[String], now_epoch: i64) -> Result<Vec<String>, StoreError>;
    /// Marks `keys` seen until `expires_at_epoch`.
    async fn mark_seen(&self, tenant: &TenantId, keys: &[String], expires_at_epoch: i64) -> Result<(), StoreError>;
}
