//! Tenant configurations (`ConfigStore`): `TENANT#{t}` / `CONFIG`, versioned, and listed through
//! the `TENANTS` index on `gsi1`.
use async_trait::async_trait;

use super::codec::{from_item, s, to_item, unavailable};
use super::{keys, DynamoStore};
use crate::domain::tenant::TenantConfig;
use crate::domain::TenantId;
use crate::ports::{ConfigStore, StoreError};

#[async_trait]
impl ConfigStore for DynamoStore {
    async fn get_config(&self, tenant: &TenantId) -> Result<Option<TenantConfig>, StoreError> {
        self.get(keys::tenant(tenant), keys::CONFIG.into()).await?.map(from_item).transpose()
    }

    async fn put_config(&self, config: &TenantConfig) -> Result<TenantConfig, StoreError> {
        let mut stored = config.clone();
        stored.version = config.version + 1;
        let mut item = to_item(&stored)?;
        item.insert("pk".into(), s(keys::tenant(&config.tenant)));
        item.insert("sk".into(), s(keys::CONFIG));
        item.insert("gsi1pk".into(), s(keys::TENANTS_INDEX));
        item.insert("gsi1sk".into(), s(config.tenant.as_str()));
        self.put_versioned(item, config.version).await?;
        Ok(stored)
    }

    async fn list_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let items = self.query_index(keys::TENANTS_INDEX.to_owned(), Some("gsi1sk")).await?;
        items
            .iter()
            .filter_map(|item| item.get("gsi1sk").and_then(|v| v.as_s().ok()))
            .map(|t| TenantId::parse(t).map_err(unavailable))
            .collect()
    }
}
