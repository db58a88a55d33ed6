//! In-memory ports for unit tests (feature `fakes`), and the contract suites that fakes and real
//! adapters must both pass, so a fake never drifts from the adapter it stands in for.
// Test support: a fake or a contract check that cannot go on fails the test that uses it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
pub mod contract;
mod dynamo_model;
mod memory_metrics;
mod memory_oidc;
mod memory_okta;
mod memory_queue;
mod memory_secrets;
mod memory_store;
mod time;

use std::sync::Arc;

pub use dynamo_model::{with_modelled_time, DynamoModel, Latency, ModelConfig, ModelStats};
pub use memory_metrics::MemoryMetrics;
pub use memory_oidc::MemoryOidc;
pub use memory_okta::MemoryOkta;
pub use memory_queue::MemoryQueue;
pub use memory_secrets::MemorySecrets;
pub use memory_store::MemoryStore;
pub use time::{FakeClock, FakeRandom};

use crate::app::root::{HealthQueues, Ports, Root, Tuning};
use crate::app::secrets::{SecretNames, SecretService};
use crate::app::AdminService;
use crate::domain::tenant::ConfigRules;
use crate::ports::OktaDirectory;

/// Every fake, wired together through the one composition root, for use-case tests.
pub struct Fakes {
    pub store: Arc<MemoryStore>,
    pub secrets: Arc<MemorySecrets>,
    pub queue: Arc<MemoryQueue>,
    pub clock: Arc<FakeClock>,
    pub random: Arc<FakeRandom>,
    pub metrics: Arc<MemoryMetrics>,
    pub oidc: Arc<MemoryOidc>,
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
            oidc: Arc::new(MemoryOidc::default()),
        }
    }

    pub fn secret_names() -> SecretNames {
        SecretNames {
            prefix: "test".into(),
            admin_token: "test/admin-token".into(),
            session_key: "test/session-key".into(),
        }
    }

    /// A process on the fakes, calling Okta through `okta`: the same wiring as a Lambda's (see
    /// `app::root`), with its own caches each call. Configs are read uncached, as a test expects
    /// its writes to be seen at once.
    pub fn root_with(&self, okta: Arc<dyn OktaDirectory>) -> Root {
        let s = &self.store;
        let ports = Ports {
            configs: s.clone(),
            users: s.clone(),
            writer: s.clone(),
            changes: s.clone(),
            teams: s.clone(),
            pending: s.clone(),
            dedupe: s.clone(),
            groups: s.clone(),
            runs: s.clone(),
            activity: s.clone(),
            logins: s.clone(),
            tokens: s.clone(),
            positions: s.clone(),
            secrets: self.secrets.clone(),
            okta,
            oidc: self.oidc.clone(),
            saml_metadata: self.oidc.clone(),
            metrics: self.metrics.clone(),
            clock: self.clock.clone(),
            random: self.random.clone(),
        };
        Root::new(ports, Self::tuning())
    }

    /// The fakes' settings: configs uncached (a test sees its writes at once), loopback Okta allowed.
    pub fn tuning() -> Tuning {
        Tuning {
            secret_names: Self::secret_names(),
            secrets_cache_ttl: chrono::Duration::minutes(5),
            config_cache_ttl: chrono::Duration::zero(),
            rules: ConfigRules { allow_insecure_okta: true },
        }
    }

    /// A process on the fakes whose Okta has no users (for use cases that do not call it).
    pub fn root(&self) -> Root {
        self.root_with(Arc::new(MemoryOkta::new("0oaunused")))
    }

    pub fn secret_service(&self) -> Arc<SecretService> {
        self.root().secrets
    }

    /// Token records in the memory store (each call: a new process's cache).
    pub fn token_service(&self) -> Arc<crate::app::tokens::TokenService> {
        self.root().tokens
    }

    pub fn telemetry(&self) -> Arc<crate::app::telemetry::Telemetry> {
        self.root().telemetry
    }

    pub fn provisioner(&self) -> Arc<crate::app::provisioning::Provisioner> {
        self.root().provisioner()
    }

    pub fn scim_service(&self) -> crate::app::scim::ScimService {
        self.root().scim()
    }

    pub fn sso_service(&self) -> crate::app::sso::SsoService {
        self.root().sso()
    }

    /// Stores user number `n` ("Ann Lee", `email`) of `tenant`, linked to Okta id `okta` through
    /// `org` when given, for sign-in tests; returns it as stored.
    pub async fn numbered_user(
        &self,
        tenant: &crate::domain::TenantId,
        n: u8,
        email: &str,
        linked: Option<(&str, &str)>,
    ) -> crate::domain::user::User {
        use crate::domain::{Email, OktaUserId, UserId};
        use crate::ports::{Clock, UserWriter};
        let mut bytes = [0u8; 16];
        bytes[15] = n;
        let mut u = crate::domain::user::User::new(
            UserId::from_random(bytes),
            Email::parse(email).unwrap(),
            "Ann".into(),
            "Lee".into(),
            self.clock.now(),
        );
        u.okta_id = linked.map(|(okta, _)| OktaUserId::parse(okta).unwrap());
        u.okta_org = linked.map(|(_, org)| org.to_owned());
        self.store.create_user(tenant, &u, &[]).await.unwrap()
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
            sso_protocol: crate::domain::tenant::SsoProtocol::Oidc,
            saml_idp_metadata_url: None,
            saml_idp_metadata_xml: None,
            saml_allow_idp_initiated: true,
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
    pub fn user_fetch_service(&self, okta: Arc<dyn OktaDirectory>) -> crate::app::user_fetch::UserFetchService {
        self.root_with(okta).user_fetch()
    }

    /// The sync on fakes, calling Okta through `okta`.
    pub fn sync_service(&self, okta: Arc<dyn OktaDirectory>) -> crate::app::sync::SyncService {
        self.sync_service_with(okta, crate::app::sync::SyncOptions::default())
    }

    pub fn sync_service_with(
        &self,
        okta: Arc<dyn OktaDirectory>,
        options: crate::app::sync::SyncOptions,
    ) -> crate::app::sync::SyncService {
        self.root_with(okta).sync(self.queue.clone(), options)
    }

    /// Health without queues (the fakes have no DLQ).
    pub fn health(&self) -> crate::app::health::HealthService {
        self.root().health(HealthQueues::default())
    }

    pub fn invitations(&self) -> crate::app::invitations::InvitationService {
        self.root().invitations()
    }

    pub fn admin(&self) -> AdminService {
        self.root().admin()
    }
}
