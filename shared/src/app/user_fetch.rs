//! One user-fetch job (docs/behaviour/event-hooks.md): read Okta's truth for the user and converge to it.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use tracing::instrument;

use super::provisioning::{Mode, Outcome, ProvisionError, Provisioner};
use super::secrets::{SecretService, TenantSecret};
use super::telemetry::Telemetry;
use crate::domain::activity::ActivityEvent;
use crate::domain::change::Actor;
use crate::domain::convergence::Truth;
use crate::domain::job::UserFetchJob;
use crate::domain::okta::OktaLifecycle;
use crate::domain::sync_run::RunFailure;
use crate::domain::tenant::{Provisioning, TenantConfig};
use crate::domain::{OktaUserId, TenantId};
use crate::ports::okta::{OktaError, OktaOrg};
use crate::ports::{Cause, Clock, ConfigStore, OktaDirectory};

fn poisoned() -> FetchError {
    FetchError::retryable("a lock was poisoned", None)
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Okta's rate limit: retry the job after this long.
    #[error("Okta rate limit; retry in {}s", .0.as_secs())]
    RateLimited(Duration),
    /// Worth retrying later (Okta or a store unavailable, no API token yet, write contention).
    #[error("{what}")]
    Retryable {
        what: &'static str,
        #[source]
        cause: Option<Cause>,
    },
    /// Will not succeed by retrying (Okta's data cannot be stored); goes to the DLQ for a person.
    #[error("{what}")]
    Permanent {
        what: &'static str,
        #[source]
        cause: Option<Cause>,
    },
    /// Okta says the tenant's configuration is wrong (the app, the token or its permissions), not
    /// anything about the user: nobody is deactivated, health shows the reason, and the job is
    /// retried with backoff (then kept in the DLQ) until an admin fixes the configuration.
    #[error("the tenant's Okta configuration is wrong: {}", .0.code())]
    Config(RunFailure),
}

impl FetchError {
    fn retryable(what: &'static str, cause: Option<Cause>) -> Self {
        Self::Retryable { what, cause }
    }

    fn permanent(what: &'static str, cause: Option<Cause>) -> Self {
        Self::Permanent { what, cause }
    }
}

/// What an `401`/`403` from Okta says about the tenant's API token.
pub fn token_failure(code: &str) -> RunFailure {
    match code {
        "E0000005" | "E0000006" | "E0000022" | "403" => RunFailure::OktaTokenForbidden,
        _ => RunFailure::OktaTokenInvalid,
    }
}

/// How long a confirmed app is trusted before a `404` must confirm it again.
pub const APP_CONFIRMATION_TTL: chrono::Duration = chrono::Duration::seconds(60);
/// Confirmed apps remembered at most (one per tenant in practice); the cache starts over beyond.
const APP_CACHE_MAX: usize = 10_000;

/// The visibility delay of a failed job: 30 s doubling per receive, at most 15 minutes.
pub fn backoff(receive_count: u32) -> Duration {
    Duration::from_secs((30u64 << receive_count.saturating_sub(1).min(5)).min(900))
}

pub struct UserFetchService {
    configs: Arc<dyn ConfigStore>,
    secrets: Arc<SecretService>,
    okta: Arc<dyn OktaDirectory>,
    provisioner: Arc<Provisioner>,
    telemetry: Arc<Telemetry>,
    clock: Arc<dyn Clock>,
    /// (tenant, app id) → until when Okta's word that the app exists is trusted.
    confirmed_apps: Mutex<HashMap<(TenantId, String), DateTime<Utc>>>,
}

impl From<OktaError> for FetchError {
    fn from(e: OktaError) -> Self {
        match e {
            OktaError::RateLimited { retry_after } => Self::RateLimited(retry_after),
            OktaError::Unauthorized { code } => Self::Config(token_failure(&code)),
            OktaError::AppNotFound => Self::Config(RunFailure::AppNotFound),
            other => Self::retryable("Okta could not be read", Some(Box::new(other))),
        }
    }
}

/// What a [`UserFetchService`] is built from, by name (the composition root, `app::root`, fills it).
pub struct UserFetchDeps {
    pub configs: Arc<dyn ConfigStore>,
    pub secrets: Arc<SecretService>,
    pub okta: Arc<dyn OktaDirectory>,
    pub provisioner: Arc<Provisioner>,
    pub telemetry: Arc<Telemetry>,
    pub clock: Arc<dyn Clock>,
}

impl UserFetchService {
    pub fn new(deps: UserFetchDeps) -> Self {
        let UserFetchDeps { configs, secrets, okta, provisioner, telemetry, clock } = deps;
        Self { configs, secrets, okta, provisioner, telemetry, clock, confirmed_apps: Mutex::new(HashMap::new()) }
    }

    /// Okta answers a missing app exactly as an unassigned user (`404 E0000007`, docs/okta-wire.md
    /// §3.4), so before a `404` may count as "not assigned" (or "deleted") the app itself must be
    /// confirmed: `Ok` when it exists (`true` if that took a call to Okta), `Config(AppNotFound)`
    /// when it does not. A confirmation is cached for [`APP_CONFIRMATION_TTL`], so a burst of
    /// leavers costs one extra call.
    pub async fn confirm_app(&self, org: &OktaOrg, app_id: &str) -> Result<bool, FetchError> {
        let key = (org.tenant.clone(), app_id.to_owned());
        let now = self.clock.now();
        if self.confirmed_apps.lock().map_err(|_| poisoned())?.get(&key).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        match self.okta.get_app(org, app_id).await? {
            Some(_) => {
                let mut cache = self.confirmed_apps.lock().map_err(|_| poisoned())?;
                if cache.len() >= APP_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(key, now + APP_CONFIRMATION_TTL);
                Ok(true)
            }
            None => {
                self.confirmed_apps.lock().map_err(|_| poisoned())?.remove(&key);
                Err(FetchError::Config(RunFailure::AppNotFound))
            }
        }
    }

    /// Reads the truth: the user, and (only when it matters) the app assignment. Any answer that
    /// would deactivate (a `404` for the user or for the assignment) first confirms the app.
    pub async fn okta_truth(&self, org: &OktaOrg, app_id: &str, user: &OktaUserId) -> Result<Truth, FetchError> {
        let truth = match self.okta.get_user(org, user.as_str()).await? {
            None => Truth::Gone,
            Some(u) if u.lifecycle() != OktaLifecycle::Active => Truth::Present { user: u, assigned: false },
            Some(u) => {
                let assigned = self.okta.get_app_user(org, app_id, user).await?.is_some();
                Truth::Present { user: u, assigned }
            }
        };
        if matches!(truth, Truth::Gone | Truth::Present { assigned: false, .. }) {
            self.confirm_app(org, app_id).await?;
        }
        Ok(truth)
    }

    /// Records a configuration problem for health, and passes the error on.
    pub async fn note(&self, tenant: &TenantId, e: FetchError) -> FetchError {
        if let FetchError::Config(failure) = &e {
            tracing::error!(code = failure.code(), "Okta says the tenant's configuration is wrong");
            self.telemetry.record(tenant, ActivityEvent::OktaProblem(*failure)).await;
        }
        e
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// The tenant's Okta org, or why it cannot be called.
    pub async fn org(&self, config: &TenantConfig) -> Result<OktaOrg, FetchError> {
        let token = self
            .secrets
            .current(&config.tenant, TenantSecret::OktaApiToken)
            .await
            .map_err(|e| FetchError::retryable("the Okta API token could not be read", Some(Box::new(e))))?
            .ok_or(FetchError::Config(RunFailure::NotConfigured))?;
        Ok(OktaOrg { tenant: config.tenant.clone(), base_url: config.okta_domain.clone(), api_token: token })
    }

    #[instrument(skip_all, fields(tenant = %job.tenant, okta_user = %job.okta_user_id, event = %job.event_uuid))]
    pub async fn process(&self, job: &UserFetchJob) -> Result<Option<Outcome>, FetchError> {
        let Some(config) = self
            .configs
            .get_config(&job.tenant)
            .await
            .map_err(|e| FetchError::retryable("the tenant config could not be read", Some(Box::new(e))))?
        else {
            tracing::warn!("job for an unknown tenant dropped");
            return Ok(None);
        };
        if config.provisioning != Provisioning::EventHooks {
            tracing::warn!("job dropped: event-hook provisioning is off for the tenant");
            return Ok(None);
        }
        let app_id = config.app_id.clone().ok_or_else(|| FetchError::permanent("the tenant has no app_id", None))?;
        let org = self.org(&config).await?;
        for _ in 0..3 {
            let truth = match self.okta_truth(&org, &app_id, &job.okta_user_id).await {
                Ok(truth) => truth,
                Err(e) => return Err(self.note(&job.tenant, e).await),
            };
            self.telemetry.record(&job.tenant, ActivityEvent::OktaTokenUsed).await;
            match self.provisioner.converge(&config, &job.okta_user_id, &truth, Actor::Hook, Mode::Apply).await {
                Ok(outcome) => {
                    if let Some(metric) = outcome.metric() {
                        self.telemetry.count(&job.tenant, metric, 1);
                    }
                    tracing::info!(?outcome, cause = %job.cause, "job done");
                    return Ok(Some(outcome));
                }
                // Someone wrote in between: their write may rest on an older truth, so read Okta again.
                Err(ProvisionError::Conflict) => continue,
                Err(
                    e @ (ProvisionError::Invalid(_)
                    | ProvisionError::EmailTaken
                    | ProvisionError::UserNameTaken
                    | ProvisionError::ExternalIdTaken),
                ) => return Err(FetchError::permanent("Okta's user cannot be stored here", Some(Box::new(e)))),
                Err(ProvisionError::Store(e)) => {
                    return Err(FetchError::retryable("the user could not be written", Some(Box::new(e))))
                }
            }
        }
        Err(FetchError::retryable("the user kept changing while it was being written", None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(5), Duration::from_secs(480));
        assert_eq!(backoff(9), Duration::from_secs(900));
        assert_eq!(backoff(0), Duration::from_secs(30));
    }
}
