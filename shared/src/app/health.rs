//! Integration health and the operator's queue tools (docs/behaviour/admin-api.md): facts gathered from the store,
//! the secrets and the queues, judged by [`crate::domain::health::judge`].
use std::sync::Arc;

use super::admin::AdminError;
use super::secrets::SecretService;
use super::tokens::TokenService;
use crate::domain::api_token::TokenKind;
use crate::domain::health::{judge, Health, HealthFacts, SecretFacts};
use crate::domain::sync_run::{RunErrorEntry, RunList};
use crate::domain::TenantId;
use crate::ports::{ActivityStore, Clock, ConfigStore, PendingStore, QueueAdmin, SyncStore};

/// Most DLQ messages moved by one redrive request (the rest stay for the next one).
pub const MAX_REDRIVE: usize = 1000;

/// Which queue an operator means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName {
    UserFetch,
    Sync,
}

impl QueueName {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user-fetch" => Some(Self::UserFetch),
            "sync" => Some(Self::Sync),
            _ => None,
        }
    }
}

pub struct HealthService {
    configs: Arc<dyn ConfigStore>,
    activity: Arc<dyn ActivityStore>,
    runs: Arc<dyn SyncStore>,
    pending: Arc<dyn PendingStore>,
    secrets: Arc<SecretService>,
    tokens: Arc<TokenService>,
    user_fetch: Option<Arc<dyn QueueAdmin>>,
    sync: Option<Arc<dyn QueueAdmin>>,
    clock: Arc<dyn Clock>,
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> AdminError {
    AdminError::Unavailable(Box::new(e))
}

/// What a [`HealthService`] is built from, by name (the composition root, `app::root`, fills it).
pub struct HealthDeps {
    pub configs: Arc<dyn ConfigStore>,
    pub activity: Arc<dyn ActivityStore>,
    pub runs: Arc<dyn SyncStore>,
    pub pending: Arc<dyn PendingStore>,
    pub secrets: Arc<SecretService>,
    pub tokens: Arc<TokenService>,
    pub user_fetch: Option<Arc<dyn QueueAdmin>>,
    pub sync: Option<Arc<dyn QueueAdmin>>,
    pub clock: Arc<dyn Clock>,
}

impl HealthService {
    pub fn new(deps: HealthDeps) -> Self {
        let HealthDeps { configs, activity, runs, pending, secrets, tokens, user_fetch, sync, clock } = deps;
        Self { configs, activity, runs, pending, secrets, tokens, user_fetch, sync, clock }
    }

    pub async fn health(&self, tenant: &TenantId) -> Result<Health, AdminError> {
        let config = self.configs.get_config(tenant).await?.ok_or(AdminError::TenantNotFound)?;
        let now = self.clock.now();
        let (activity, runs, pending, secrets, scim_tokens) = tokio::join!(
            self.activity.activity(tenant, now),
            self.runs.list_runs(tenant, 1),
            self.pending.count_pending(tenant),
            self.secrets.status(tenant),
            self.tokens.active_count(tenant, TokenKind::Scim),
        );
        // The queues are the deployment's: if they cannot be read, health says so rather than failing.
        let (queue, dlq) = match &self.user_fetch {
            Some(q) => match q.depths().await {
                Ok((queue, dlq)) => (Some(queue), Some(dlq)),
                Err(e) => {
                    tracing::warn!(error = %e, "queue depths unavailable for health");
                    (None, None)
                }
            },
            None => (None, None),
        };
        let secrets = secrets?;
        let last_sync = runs?.into_iter().next();
        let last_sync_errors = match last_sync.as_ref().filter(|r| r.counts.errors > 0) {
            Some(run) => self
                .runs
                .get_chunks(tenant, &run.id, RunList::Errors, 0, 1)
                .await?
                .into_iter()
                .flat_map(|(_, entries)| entries)
                .filter_map(|e| serde_json::from_str::<RunErrorEntry>(&e).ok())
                .take(5)
                .collect(),
            None => Vec::new(),
        };
        let facts = |s: &super::secrets::SecretState| SecretFacts {
            set: s.set,
            set_at: s.set_at,
            previous_valid_until: s.previous_valid_until,
        };
        Ok(judge(
            HealthFacts {
                provisioning: config.provisioning,
                sso_enabled: config.sso_enabled,
                activity: activity?,
                queue,
                dlq,
                last_sync,
                last_sync_errors,
                pending_references: pending? as u64,
                okta_api_token: facts(&secrets.okta_api_token),
                event_hook_secret: facts(&secrets.event_hook_secret),
                oidc_client_secret: facts(&secrets.oidc_client_secret),
                scim_tokens_active: scim_tokens?,
            },
            now,
        ))
    }

    /// Moves up to `max` messages of a DLQ back to its queue; returns how many moved.
    pub async fn redrive(&self, queue: QueueName, max: usize) -> Result<u64, AdminError> {
        let admin = match queue {
            QueueName::UserFetch => &self.user_fetch,
            QueueName::Sync => &self.sync,
        };
        let admin = admin.as_ref().ok_or_else(|| AdminError::Invalid("this queue is not configured here".into()))?;
        admin.redrive(max.min(MAX_REDRIVE)).await.map_err(unavailable)
    }
}
