//! Tenant configs read through a short cache at the HTTP edge, so a request naming a made-up tenant
//! costs one keyed read per process and TTL (then nothing), and never a secret read: the tenant
//! is refused from the (negatively) cached answer first. Bounded: past [`MAX_ENTRIES`] the cache
//! starts over, so a flood of made-up names cannot grow it.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::domain::tenant::TenantConfig;
use crate::domain::TenantId;
use crate::ports::{Clock, ConfigStore, StoreError};

/// How long a config (or its absence) is trusted: a change made elsewhere is seen within this.
pub const CONFIG_TTL: Duration = Duration::seconds(30);
pub const MAX_ENTRIES: usize = 10_000;

/// A config (or its absence) and when it was read.
type Entry = (Option<TenantConfig>, DateTime<Utc>);

pub struct CachedConfigs {
    inner: Arc<dyn ConfigStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    entries: Mutex<HashMap<TenantId, Entry>>,
}

impl CachedConfigs {
    /// `ttl` zero reads through every time (the least-privilege check runs so, to see each
    /// function's own reads).
    pub fn new(inner: Arc<dyn ConfigStore>, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self { inner, clock, ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn remember(&self, tenant: &TenantId, config: Option<TenantConfig>) {
        let now = self.clock.now();
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| now - *at < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(tenant.clone(), (config, now));
    }

    /// How many tenants (known or not) the cache holds now.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ConfigStore for CachedConfigs {
    async fn get_config(&self, tenant: &TenantId) -> Result<Option<TenantConfig>, StoreError> {
        let now = self.clock.now();
        if let Ok(entries) = self.entries.lock() {
            if let Some((config, at)) = entries.get(tenant) {
                if now - *at < self.ttl {
                    return Ok(config.clone());
                }
            }
        }
        let config = self.inner.get_config(tenant).await?;
        self.remember(tenant, config.clone());
        Ok(config)
    }

    async fn put_config(&self, config: &TenantConfig) -> Result<TenantConfig, StoreError> {
        let stored = self.inner.put_config(config).await?;
        self.remember(&stored.tenant, Some(stored.clone()));
        Ok(stored)
    }

    async fn list_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        self.inner.list_tenants().await
    }
}

#[cfg(test)]
#[cfg(feature = "fakes")]
mod tests {
    use super::*;
    use crate::fakes::Fakes;

    #[tokio::test]
    async fn made_up_tenants_cost_one_read_each_and_the_cache_stays_bounded() {
        let f = Fakes::new();
        let cache = CachedConfigs::new(f.store.clone(), f.clock.clone(), CONFIG_TTL);
        let nobody = TenantId::parse("nobody").unwrap();
        assert!(cache.get_config(&nobody).await.unwrap().is_none());
        f.event_hook_tenant(&nobody, "0oa", crate::domain::tenant::ManagerMode::Individual, 20).await;
        assert!(cache.get_config(&nobody).await.unwrap().is_none(), "negatively cached for the TTL");
        f.clock.advance(CONFIG_TTL + Duration::seconds(1));
        assert!(cache.get_config(&nobody).await.unwrap().is_some(), "then read again");
        for i in 0..(MAX_ENTRIES + 50) {
            cache.get_config(&TenantId::parse(&format!("made-up-{i}")).unwrap()).await.unwrap();
        }
        assert!(cache.len() <= MAX_ENTRIES, "{}", cache.len());
    }
}
