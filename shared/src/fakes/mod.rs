//! In-memory ports for unit tests (feature `fakes`), and the contract suites that fakes and real
//! adapters must both pass, so a fake never drifts from the adapter it stands in for.
pub mod contract;
mod memory_metrics;
mod memory_okta;
mod memory_queue;
mod memory_secrets;
mod memory_store;
mod time;

use std::sync::Arc;

pub use memory_metrics::MemoryMetrics;
pub use memory_okta::MemoryOkta;
pub use memory_queue::MemoryQueue;
pub use memory_secrets::MemorySecrets;
pub use memory_store::MemoryStore;
pub use time::{FakeClock, FakeRandom};

use crate::app::secrets::{SecretNames, SecretService};
use crate::app::AdminService;
use crate::domain::tenant::ConfigRules;

/// Every fake, wired together, for use-case tests.
pub struct Fakes {
    pub store: Arc<MemoryStore>,
    pub secrets: Arc<MemorySecrets>,
    pub queue: Arc<MemoryQueue>,
    pub clock: Arc<FakeClock>,
    pub random: Arc<FakeRandom>,
    pub metrics: Arc<MemoryMetrics>,
}

impl Default for Fakes {
    fn default() -> Self {
        Self::new()
    }
}

impl Fakes {
    pub fn new() -> Self {
        Self {
            store: Arc::new(MemoryStore::default()),
            secrets: Arc::new(MemorySecrets::default()),
            queue: Arc::new(MemoryQueue::default()),
            clock: Arc::new(FakeClock::default()),
            random: Arc::new(FakeRandom::default()),
            metrics: Arc::new(MemoryMetrics::default()),
        }
    }

    pub fn secret_names() -> SecretNames {
        SecretNames {
            prefix: "test".into(),
            admin_token: "test/admin-token".into(),
            session_key: "test/session-key".into(),
        }
    }

    pub fn secret_service(&self) -> Arc<SecretService> {
        Arc::new(SecretService::new(
            self.secrets.clone(),
            self.clock.clone(),
            self.random.clone(),
            Self::secret_names(),
            chrono::Duration::minutes(5),
        ))
    }

    /// Token records in the memory store (each call: a new process's cache).
    pub fn token_service(&self) -> Arc<crate::app::tokens::TokenService> {
        Arc::new(crate::app::tokens::TokenService::new(
            self.store.clone(),
            self.secret_service(),
            self.clock.clone(),
            self.random.clone(),
            chrono::Duration::minutes(5),
        ))
    }

    pub fn telemetry(&self) -> Arc<crate::app::telemetry::Telemetry> {
        Arc::new(crate::app::telemetry::Telemetry::new(self.store.clone(), self.metrics.clone(), self.clock.clone()))
    }

    pub fn provisioner(&self) -> Arc<crate::app::provisioning::Provisioner> {
        Arc::new(crate::app::provisioning::Provisioner::new(
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.random.clone(),
        ))
    }

    pub fn scim_service(&self) -> crate::app::scim::ScimService {
        crate::app::scim::ScimService::new(
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.provisioner(),
            self.telemetry(),
            self.clock.clone(),
            self.random.clone(),
        )
    }

    /// Stores an event-hook tenant (Okta org `https://{tenant}.okta.com`, app `app_id`) with an
    /// Okta API token, for use-case tests; returns its config.
    pub async fn event_hook_tenant(
        &self,
        tenant: &crate::domain::TenantId,
        app_id: &str,
        manager_mode: crate::domain::tenant::ManagerMode,
        brake_percent: u8,
    ) -> crate::domain::tenant::TenantConfig {
        use crate::ports::{Clock, ConfigStore};
        let now = self.clock.now();
        let config = crate::domain::tenant::TenantConfig {
            tenant: tenant.clone(),
            okta_domain: format!("https://{tenant}.okta.com"),
            issuer: None,
            client_id: None,
            app_id: Some(app_id.to_owned()),
            sso_enabled: false,
            provisioning: crate::domain::tenant::Provisioning::EventHooks,
            invite_automatically: false,
            manager_mode,
            jit_provisioning: false,
            deactivation_brake_percent: brake_percent,
            event_hook_auth_header: "Authorization".into(),
            field_mappings: Vec::new(),
            avatar_attribute: None,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let stored = self.store.put_config(&config).await.expect("the in-memory store takes a config");
        self.secret_service()
            .set(tenant, crate::app::secrets::TenantSecret::OktaApiToken, crate::domain::Secret::new("ssws-fake"))
            .await
            .expect("the in-memory secrets take a token");
        stored
    }

    /// The worker's use case on fakes, calling Okta through `okta`.
    pub fn user_fetch_service(
        &self,
        okta: Arc<dyn crate::ports::OktaDirectory>,
    ) -> crate::app::user_fetch::UserFetchService {
        crate::app::user_fetch::UserFetchService::new(
            self.store.clone(),
            self.secret_service(),
            okta,
            self.provisioner(),
            self.telemetry(),
            self.clock.clone(),
        )
    }

    /// The sync on fakes, calling Okta through `okta`.
    pub fn sync_service(&self, okta: Arc<dyn crate::ports::OktaDirectory>) -> crate::app::sync::SyncService {
        self.sync_service_with(okta, crate::app::sync::SyncOptions::default())
    }

    pub fn sync_service_with(
        &self,
        okta: Arc<dyn crate::ports::OktaDirectory>,
        options: crate::app::sync::SyncOptions,
    ) -> crate::app::sync::SyncService {
        crate::app::sync::SyncService::new(
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            okta.clone(),
            Arc::new(self.user_fetch_service(okta)),
            self.provisioner(),
            self.queue.clone(),
            self.clock.clone(),
            self.random.clone(),
            options,
        )
    }

    /// Health without queues (the fakes have no DLQ).
    pub fn health(&self) -> crate::app::health::HealthService {
        crate::app::health::HealthService::new(
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.secret_service(),
            self.token_service(),
            None,
            None,
            self.clock.clone(),
        )
    }

    pub fn invitations(&self) -> crate::app::invitations::InvitationService {
        crate::app::invitations::InvitationService::new(
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.telemetry(),
            self.clock.clone(),
        )
    }

    pub fn admin(&self) -> AdminService {
        AdminService::new(
            self.store.clone(),
            self.store.clone(),
            self.secret_service(),
            self.token_service(),
            self.clock.clone(),
            ConfigRules { allow_insecure_okta: true },
        )
    }
}
