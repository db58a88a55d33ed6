//! AWS clients, built once per cold start from one shared SDK config.
//!
//! The endpoint comes from the SDK's own configuration chain (`AWS_ENDPOINT_URL` and its
//! per-service variants), so the same code runs against AWS and the local emulator.
use std::sync::Arc;

use aws_config::BehaviorVersion;

use super::dynamodb::DynamoStore;
use super::emf::EmfMetrics;
use super::oidc::OidcHttp;
use super::okta_http::{OktaHttp, OktaHttpOptions};
use super::secrets_manager::SecretsManagerStore;
use super::settings::Settings;
use super::sqs::SqsQueue;
use super::sqs_admin::SqsQueueAdmin;
use super::system::{OsRandom, SystemClock};
use crate::app::health::HealthService;
use crate::app::hooks::HookService;
use crate::app::invitations::InvitationService;
use crate::app::provisioning::Provisioner;
use crate::app::secrets::SecretService;
use crate::app::sso::SsoService;
use crate::app::sync::{SyncOptions, SyncService};
use crate::app::telemetry::Telemetry;
use crate::app::tokens::TokenService;
use crate::app::user_fetch::UserFetchService;
use crate::ports::QueueAdmin;
use crate::ports::{Clock, Random};

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Every adapter a function may need, wired once.
#[derive(Clone)]
pub struct Adapters {
    pub settings: Settings,
    pub store: Arc<DynamoStore>,
    pub secrets: Arc<SecretService>,
    /// SCIM and tenant admin token records.
    pub tokens: Arc<TokenService>,
    pub user_fetch_queue: Option<Arc<SqsQueue>>,
    pub sqs: aws_sdk_sqs::Client,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub okta: Arc<OktaHttp>,
    /// EMF metrics, written out when a handler calls `metrics.flush()`.
    pub metrics: Arc<EmfMetrics>,
    pub telemetry: Arc<Telemetry>,
    /// The OpenID Connect client (its discovery and JWKS cache lives as long as the process).
    pub oidc: Arc<OidcHttp>,
    /// Tenant configs through a short, bounded cache: what the HTTP edge reads first, so a
    /// made-up tenant is refused before any secret is read.
    pub configs: Arc<crate::app::config_cache::CachedConfigs>,
}

impl Adapters {
    pub fn new(sdk: &aws_config::SdkConfig, settings: Settings) -> Self {
        // The test run records every AWS call for the least-privilege check (never in Lambda).
        let Some(file) = super::aws_calls::recording_file() else {
            return Self::from_clients(
                settings,
                aws_sdk_dynamodb::Client::new(sdk),
                aws_sdk_sqs::Client::new(sdk),
                aws_sdk_secretsmanager::Client::new(sdk),
            );
        };
        let record = || super::aws_calls::RecordCalls::new(file.clone());
        Self::from_clients(
            settings,
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(record()).build(),
            ),
            aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(sdk).interceptor(record()).build()),
            aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(sdk).interceptor(record()).build(),
            ),
        )
    }

    /// Wires the adapters around clients the caller configured (for example with interceptors).
    pub fn from_clients(
        settings: Settings,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        secretsmanager: aws_sdk_secretsmanager::Client,
    ) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let random: Arc<dyn Random> = Arc::new(OsRandom);
        let store = Arc::new(DynamoStore::new(dynamodb, settings.table_name.clone()).with_clock(clock.clone()));
        let secret_store = Arc::new(SecretsManagerStore::new(secretsmanager));
        let secrets = Arc::new(SecretService::new(
            secret_store,
            clock.clone(),
            random.clone(),
            settings.secret_names.clone(),
            settings.secrets_cache_ttl,
        ));
        let tokens = Arc::new(TokenService::new(
            store.clone(),
            secrets.clone(),
            clock.clone(),
            random.clone(),
            settings.secrets_cache_ttl,
        ));
        let user_fetch_queue =
            settings.user_fetch_queue_url.clone().map(|url| Arc::new(SqsQueue::new(sqs.clone(), url)));
        let metrics = Arc::new(EmfMetrics::stdout(clock.clone()));
        let outbound = super::outbound::OutboundPolicy::from_settings(settings.allow_insecure_okta);
        let okta = Arc::new(
            OktaHttp::new(OktaHttpOptions { outbound, ..OktaHttpOptions::default() })
                .with_metrics(metrics.clone())
                .with_clock(clock.clone()),
        );
        let telemetry = Arc::new(Telemetry::new(store.clone(), metrics.clone(), clock.clone()));
        let oidc = Arc::new(OidcHttp::new(outbound));
        let configs = Arc::new(crate::app::config_cache::CachedConfigs::new(
            store.clone(),
            clock.clone(),
            settings.config_cache_ttl,
        ));
        Self {
            settings,
            store,
            secrets,
            tokens,
            user_fetch_queue,
            sqs,
            clock,
            random,
            okta,
            metrics,
            telemetry,
            oidc,
            configs,
        }
    }

    /// The provisioning state machine on the DynamoDB store.
    pub fn provisioner(&self) -> Arc<Provisioner> {
        Arc::new(Provisioner::new(
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.random.clone(),
        ))
    }

    /// The user-fetch queue; functions that use it declare `Needs::user_fetch_queue`.
    pub fn queue(&self) -> Arc<SqsQueue> {
        self.user_fetch_queue
            .clone()
            .expect("USER_FETCH_QUEUE_URL is required by this function (Needs::user_fetch_queue)")
    }

    pub fn hook_service(&self) -> HookService {
        HookService::new(
            self.configs.clone(),
            self.secrets.clone(),
            self.store.clone(),
            self.queue(),
            self.clock.clone(),
            self.telemetry.clone(),
        )
    }

    /// The sync-continuation queue; functions that use it declare `Needs::sync_queue`.
    pub fn sync_queue(&self) -> Arc<SqsQueue> {
        let url = self
            .settings
            .sync_queue_url
            .clone()
            .expect("SYNC_QUEUE_URL is required by this function (Needs::sync_queue)");
        Arc::new(SqsQueue::new(self.sqs.clone(), url))
    }

    pub fn sync_service(&self, options: SyncOptions) -> SyncService {
        SyncService::new(
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.okta.clone(),
            Arc::new(self.user_fetch_service()),
            self.provisioner(),
            self.sync_queue(),
            self.clock.clone(),
            self.random.clone(),
            options,
        )
    }

    /// Health and DLQ redrive over the queues this function was given.
    pub fn health_service(&self) -> HealthService {
        let admin = |queue: &Option<String>, dlq: &Option<String>| -> Option<Arc<dyn QueueAdmin>> {
            match (queue, dlq) {
                (Some(q), Some(d)) => Some(Arc::new(SqsQueueAdmin::new(self.sqs.clone(), q.clone(), d.clone()))),
                _ => None,
            }
        };
        let s = &self.settings;
        HealthService::new(
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.secrets.clone(),
            self.tokens.clone(),
            admin(&s.user_fetch_queue_url, &s.user_fetch_dlq_url),
            admin(&s.sync_queue_url, &s.sync_dlq_url),
            self.clock.clone(),
        )
    }

    pub fn sso_service(&self) -> SsoService {
        SsoService::new(
            self.configs.clone(),
            self.store.clone(),
            self.store.clone(),
            self.provisioner(),
            self.store.clone(),
            self.secrets.clone(),
            self.oidc.clone(),
            self.clock.clone(),
            self.random.clone(),
        )
    }

    pub fn scim_service(&self) -> crate::app::scim::ScimService {
        crate::app::scim::ScimService::new(
            self.configs.clone(),
            self.store.clone(),
            self.store.clone(),
            self.provisioner(),
            self.telemetry.clone(),
            self.clock.clone(),
            self.random.clone(),
        )
    }

    pub fn invitation_service(&self) -> InvitationService {
        InvitationService::new(
            self.store.clone(),
            self.store.clone(),
            self.store.clone(),
            self.telemetry.clone(),
            self.clock.clone(),
        )
    }

    pub fn user_fetch_service(&self) -> UserFetchService {
        UserFetchService::new(
            self.store.clone(),
            self.secrets.clone(),
            self.okta.clone(),
            self.provisioner(),
            self.telemetry.clone(),
            self.clock.clone(),
        )
    }

    pub async fn from_env(needs: super::settings::Needs) -> Result<Self, super::settings::SettingsError> {
        let settings = Settings::from_env(needs)?;
        Ok(Self::new(&sdk_config().await, settings))
    }
}
