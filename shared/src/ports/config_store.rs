use async_trait::async_trait;

use super::StoreError;
use crate::domain::tenant::TenantConfig;
use crate::domain::TenantId;

/// Tenant integration config.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    async fn get_config(&self, tenant: &TenantId) -> Result<Option<TenantConfig>, StoreError>;

    /// Creates (when `config.version` is 0 and none exists) or replaces the config stored at
    /// `config.version`; returns it with the new version. A concurrent change → `VersionConflict`.
    async fn put_config(&self, config: &TenantConfig) -> Result<TenantConfig, StoreError>;

    /// Every tenant with a config, in id order (for the nightly fan-out; not a request path).
    async fn list_tenants(&self) -> Result<Vec<TenantId>, StoreError>;
}
