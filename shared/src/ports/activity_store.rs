use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::activity::{Activity, ActivityEvent};
use crate::domain::TenantId;

/// Per-tenant activity records for health: cheap counters, never on a path that can lose data.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    async fn record(&self, tenant: &TenantId, at: DateTime<Utc>, event: ActivityEvent) -> Result<(), StoreError>;
    /// The recorded activity, with the events of the last 24 hours before `now` summed.
    async fn activity(&self, tenant: &TenantId, now: DateTime<Utc>) -> Result<Activity, StoreError>;
}
