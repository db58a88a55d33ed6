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
use super::settings::{Settings, SettingsError};
use super::sqs::SqsQueue;
use super::sqs_admin::SqsQueueAdmin;
use super::system::{OsRandom, SystemClock};
use crate::app::root::{HealthQueues, Ports, Root, Tuning};
use crate::domain::tenant::ConfigRules;
use crate::ports::QueueAdmin;
use crate::ports::{Clock, Random};

pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The AWS deployment: its clients and adapters, and the [`Root`] of use cases wired on them.
#[derive(Clone)]
pub struct Adapters {
    pub settings: Settings,
    pub store: Arc<DynamoStore>,
    pub sqs: aws_sdk_sqs::Client,
    pub okta: Arc<OktaHttp>,
    /// The OpenID Connect client (its discovery and JWKS cache lives as long as the process).
    pub oidc: Arc<OidcHttp>,
    /// EMF metrics, written out when a handler calls `metrics.flush()` (the HTTP edge does).
    pub metrics: Arc<EmfMetrics>,
    /// The use cases, wired once (see `app::root`).
    pub root: Root,
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
        let metrics = Arc::new(EmfMetrics::stdout(clock.clone()));
        let outbound = super::outbound::OutboundPolicy::from_settings(settings.allow_insecure_okta);
        let okta = Arc::new(
            OktaHttp::new(OktaHttpOptions { outbound, ..OktaHttpOptions::default() })
                .with_metrics(metrics.clone())
                .with_clock(clock.clone()),
        );
        let oidc = Arc::new(OidcHttp::new(outbound));
        let ports = Ports {
            configs: store.clone(),
            users: store.clone(),
            writer: store.clone(),
            changes: store.clone(),
            teams: store.clone(),
            pending: store.clone(),
            dedupe: store.clone(),
            groups: store.clone(),
            runs: store.clone(),
            activity: store.clone(),
            logins: store.clone(),
            tokens: store.clone(),
            positions: store.clone(),
            secrets: Arc::new(SecretsManagerStore::new(secretsmanager)),
            okta: okta.clone(),
            oidc: oidc.clone(),
            saml_metadata: oidc.clone(),
            metrics: metrics.clone(),
            clock,
            random,
        };
        let tuning = Tuning {
            secret_names: settings.secret_names.clone(),
            secrets_cache_ttl: settings.secrets_cache_ttl,
            config_cache_ttl: settings.config_cache_ttl,
            rules: ConfigRules { allow_insecure_okta: settings.allow_insecure_okta },
        };
        Self { root: Root::new(ports, tuning), settings, store, sqs, okta, oidc, metrics }
    }

    /// The user-fetch queue (`USER_FETCH_QUEUE_URL`), for the functions that send to or take from it.
    pub fn user_fetch_queue(&self) -> Result<Arc<SqsQueue>, SettingsError> {
        let url = Settings::require(&self.settings.user_fetch_queue_url, "USER_FETCH_QUEUE_URL")?;
        Ok(Arc::new(SqsQueue::new(self.sqs.clone(), url)))
    }

    /// The sync-continuation queue (`SYNC_QUEUE_URL`).
    pub fn sync_queue(&self) -> Result<Arc<SqsQueue>, SettingsError> {
        let url = Settings::require(&self.settings.sync_queue_url, "SYNC_QUEUE_URL")?;
        Ok(Arc::new(SqsQueue::new(self.sqs.clone(), url)))
    }

    /// Both queues with their DLQs, for health and DLQ redrive (the admin function).
    pub fn health_queues(&self) -> Result<HealthQueues, SettingsError> {
        let s = &self.settings;
        let admin = |queue: &Option<String>, q: &str, dlq: &Option<String>, d: &str| {
            let (queue, dlq) = (Settings::require(queue, q)?, Settings::require(dlq, d)?);
            Ok::<Arc<dyn QueueAdmin>, SettingsError>(Arc::new(SqsQueueAdmin::new(self.sqs.clone(), queue, dlq)))
        };
        Ok(HealthQueues {
            user_fetch: Some(admin(
                &s.user_fetch_queue_url,
                "USER_FETCH_QUEUE_URL",
                &s.user_fetch_dlq_url,
                "USER_FETCH_DLQ_URL",
            )?),
            sync: Some(admin(&s.sync_queue_url, "SYNC_QUEUE_URL", &s.sync_dlq_url, "SYNC_DLQ_URL")?),
        })
    }

    pub async fn from_env() -> Result<Self, SettingsError> {
        let settings = Settings::from_env()?;
        Ok(Self::new(&sdk_config().await, settings))
    }
}
