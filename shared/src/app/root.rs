//! The composition root: the one place use cases are wired, from one named bundle of ports.
//! The AWS deployment (`adapters::aws::Adapters`) and the in-memory one (`fakes::Fakes`) each
//! fill a [`Ports`] and get a [`Root`]; neither wires a use case itself.
//!
//! What a use case needs beyond the ports is a parameter of the method that builds it (the queue a
//! hook service sends to, the queues health reads), so a function cannot build a service whose
//! dependencies it did not build: that is a compile error, not a cold-start panic.
use std::sync::Arc;

use chrono::Duration;

use super::admin::{AdminDeps, AdminService};
use super::config_cache::CachedConfigs;
use super::connect::{ConnectDeps, ConnectService};
use super::health::{HealthDeps, HealthService};
use super::hooks::{HookDeps, HookService};
use super::invitations::InvitationService;
use super::provisioning::{Provisioner, ProvisionerDeps};
use super::scim::{ScimDeps, ScimService};
use super::secrets::{SecretNames, SecretService};
use super::sso::{SsoDeps, SsoService};
use super::sync::{SyncDeps, SyncOptions, SyncService};
use super::telemetry::Telemetry;
use super::tokens::TokenService;
use super::user_fetch::{UserFetchDeps, UserFetchService};
use crate::domain::tenant::ConfigRules;
use crate::ports::{
    ActivityStore, ChangeLog, Clock, ConfigStore, DedupeStore, GroupStore, IdpMetadataSource, JobQueue, ListPositions,
    LoginStateStore, Metrics, OidcProvider, OktaDirectory, PendingStore, QueueAdmin, Random, SecretStore, SyncStore,
    TeamStore, TokenStore, UserReader, UserWriter,
};

/// Every port a use case may need, by name. In a deployment most stores are one table.
#[derive(Clone)]
pub struct Ports {
    pub configs: Arc<dyn ConfigStore>,
    pub users: Arc<dyn UserReader>,
    pub writer: Arc<dyn UserWriter>,
    pub changes: Arc<dyn ChangeLog>,
    pub teams: Arc<dyn TeamStore>,
    pub pending: Arc<dyn PendingStore>,
    pub dedupe: Arc<dyn DedupeStore>,
    pub groups: Arc<dyn GroupStore>,
    pub runs: Arc<dyn SyncStore>,
    pub activity: Arc<dyn ActivityStore>,
    pub logins: Arc<dyn LoginStateStore>,
    pub tokens: Arc<dyn TokenStore>,
    /// Where paged walks got to (SCIM `startIndex`).
    pub positions: Arc<dyn ListPositions>,
    pub secrets: Arc<dyn SecretStore>,
    pub okta: Arc<dyn OktaDirectory>,
    pub oidc: Arc<dyn OidcProvider>,
    /// SAML IdP metadata by URL.
    pub saml_metadata: Arc<dyn IdpMetadataSource>,
    pub metrics: Arc<dyn Metrics>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
}

/// The deployment's settings the use cases read.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub secret_names: SecretNames,
    /// How long a warm process trusts a secret it read (credentials: at most 60 s regardless).
    pub secrets_cache_ttl: Duration,
    /// How long the unauthenticated edges trust a tenant config (or its absence).
    pub config_cache_ttl: Duration,
    pub rules: ConfigRules,
}

/// The queues health reports on and an operator redrives, as the admin function has them.
#[derive(Clone, Default)]
pub struct HealthQueues {
    pub user_fetch: Option<Arc<dyn QueueAdmin>>,
    pub sync: Option<Arc<dyn QueueAdmin>>,
}

/// The wired use cases of one process. Services that keep caches (secrets, tokens, the edge's
/// configs, telemetry) are built once here and shared by every use case of the process.
#[derive(Clone)]
pub struct Root {
    pub ports: Ports,
    pub secrets: Arc<SecretService>,
    pub tokens: Arc<TokenService>,
    pub telemetry: Arc<Telemetry>,
    /// Tenant configs through a short, bounded cache: what the unauthenticated edges read first,
    /// so a made-up tenant is refused before any secret is read. The admin reads the store.
    pub edge_configs: Arc<CachedConfigs>,
    rules: ConfigRules,
}

impl Root {
    pub fn new(ports: Ports, tuning: Tuning) -> Self {
        let secrets = Arc::new(SecretService::new(
            ports.secrets.clone(),
            ports.clock.clone(),
            ports.random.clone(),
            tuning.secret_names,
            tuning.secrets_cache_ttl,
        ));
        let tokens = Arc::new(TokenService::new(
            ports.tokens.clone(),
            secrets.clone(),
            ports.clock.clone(),
            ports.random.clone(),
            tuning.secrets_cache_ttl,
        ));
        let telemetry = Arc::new(Telemetry::new(ports.activity.clone(), ports.metrics.clone(), ports.clock.clone()));
        let edge_configs =
            Arc::new(CachedConfigs::new(ports.configs.clone(), ports.clock.clone(), tuning.config_cache_ttl));
        Self { ports, secrets, tokens, telemetry, edge_configs, rules: tuning.rules }
    }

    /// "Connect to Okta" and the event hook's registration, for the integration page.
    pub fn connect(&self) -> ConnectService {
        let p = &self.ports;
        ConnectService::new(ConnectDeps {
            configs: p.configs.clone(),
            secrets: self.secrets.clone(),
            tokens: self.tokens.clone(),
            okta: p.okta.clone(),
            oidc: p.oidc.clone(),
            saml_metadata: p.saml_metadata.clone(),
            clock: p.clock.clone(),
        })
    }

    /// The provisioning state machine.
    pub fn provisioner(&self) -> Arc<Provisioner> {
        let p = &self.ports;
        Arc::new(Provisioner::new(ProvisionerDeps {
            users: p.users.clone(),
            writer: p.writer.clone(),
            teams: p.teams.clone(),
            pending: p.pending.clone(),
            groups: p.groups.clone(),
            clock: p.clock.clone(),
            random: p.random.clone(),
        }))
    }

    /// One user-fetch job: Okta's truth for a user, converged.
    pub fn user_fetch(&self) -> UserFetchService {
        let p = &self.ports;
        UserFetchService::new(UserFetchDeps {
            configs: p.configs.clone(),
            secrets: self.secrets.clone(),
            okta: p.okta.clone(),
            provisioner: self.provisioner(),
            telemetry: self.telemetry.clone(),
            clock: p.clock.clone(),
        })
    }

    /// Event-hook deliveries, queued as user-fetch jobs on `user_fetch_queue`.
    pub fn hooks(&self, user_fetch_queue: Arc<dyn JobQueue>) -> HookService {
        let p = &self.ports;
        HookService::new(HookDeps {
            configs: self.edge_configs.clone(),
            secrets: self.secrets.clone(),
            dedupe: p.dedupe.clone(),
            queue: user_fetch_queue,
            clock: p.clock.clone(),
            telemetry: self.telemetry.clone(),
        })
    }

    /// Sync runs, continued through `sync_queue`.
    pub fn sync(&self, sync_queue: Arc<dyn JobQueue>, options: SyncOptions) -> SyncService {
        let p = &self.ports;
        SyncService::new(
            SyncDeps {
                configs: p.configs.clone(),
                runs: p.runs.clone(),
                users: p.users.clone(),
                okta: p.okta.clone(),
                fetch: Arc::new(self.user_fetch()),
                provisioner: self.provisioner(),
                queue: sync_queue,
                clock: p.clock.clone(),
                random: p.random.clone(),
            },
            options,
        )
    }

    /// Health and the operator's queue tools over `queues`.
    pub fn health(&self, queues: HealthQueues) -> HealthService {
        let p = &self.ports;
        HealthService::new(HealthDeps {
            configs: p.configs.clone(),
            activity: p.activity.clone(),
            runs: p.runs.clone(),
            pending: p.pending.clone(),
            secrets: self.secrets.clone(),
            tokens: self.tokens.clone(),
            user_fetch: queues.user_fetch,
            sync: queues.sync,
            clock: p.clock.clone(),
        })
    }

    pub fn sso(&self) -> SsoService {
        let p = &self.ports;
        SsoService::new(SsoDeps {
            configs: self.edge_configs.clone(),
            users: p.users.clone(),
            writer: p.writer.clone(),
            provisioner: self.provisioner(),
            logins: p.logins.clone(),
            secrets: self.secrets.clone(),
            oidc: p.oidc.clone(),
            saml_metadata: p.saml_metadata.clone(),
            clock: p.clock.clone(),
            random: p.random.clone(),
        })
    }

    pub fn scim(&self) -> ScimService {
        let p = &self.ports;
        ScimService::new(ScimDeps {
            configs: self.edge_configs.clone(),
            users: p.users.clone(),
            positions: p.positions.clone(),
            groups: p.groups.clone(),
            provisioner: self.provisioner(),
            telemetry: self.telemetry.clone(),
            clock: p.clock.clone(),
            random: p.random.clone(),
        })
    }

    pub fn invitations(&self) -> InvitationService {
        let p = &self.ports;
        InvitationService::new(
            p.configs.clone(),
            p.users.clone(),
            p.writer.clone(),
            self.telemetry.clone(),
            p.clock.clone(),
        )
    }

    /// Tenant config, secrets and tokens. Straight to the store: an operator reads what was just
    /// written (the short config cache is for the unauthenticated edges).
    pub fn admin(&self) -> AdminService {
        let p = &self.ports;
        AdminService::new(AdminDeps {
            configs: p.configs.clone(),
            users: p.users.clone(),
            secrets: self.secrets.clone(),
            tokens: self.tokens.clone(),
            logins: p.logins.clone(),
            clock: p.clock.clone(),
            random: p.random.clone(),
            rules: self.rules,
        })
    }
}
