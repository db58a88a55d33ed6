//! One user-fetch job (SPEC §5): read Okta's truth for the user and converge to it.
use std::sync::Arc;
use std::time::Duration;

use tracing::instrument;

use super::provisioning::{Mode, Outcome, ProvisionError, Provisioner};
use super::secrets::{SecretService, TenantSecret};
use super::telemetry::Telemetry;
use crate::domain::activity::ActivityEvent;
use crate::domain::change::Actor;
use crate::domain::convergence::Truth;
use crate::domain::job::UserFetchJob;
use crate::domain::okta::OktaLifecycle;
use crate::domain::tenant::{Provisioning, TenantConfig};
use crate::ports::okta::{OktaError, OktaOrg};
use crate::ports::{ConfigStore, OktaDirectory};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Okta's rate limit: retry the job after this long.
    #[error("Okta rate limit; retry in {}s", .0.as_secs())]
    RateLimited(Duration),
    /// Worth retrying later (Okta or a store unavailable, no API token yet, write contention).
    #[error("{0}")]
    Retryable(String),
    /// Will not succeed by retrying (Okta's data cannot be stored); goes to the DLQ for a person.
    #[error("{0}")]
    Permanent(String),
}

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
}

/// Reads the truth: the user, and (only when it matters) the app assignment.
pub async fn okta_truth(
    okta: &dyn OktaDirectory,
    org: &OktaOrg,
    app_id: &str,
    user: &crate::domain::OktaUserId,
) -> Result<Truth, OktaError> {
    match okta.get_user(org, user.as_str()).await? {
        None => Ok(Truth::Gone),
        Some(u) if u.lifecycle() != OktaLifecycle::Active => Ok(Truth::Present { user: u, assigned: false }),
        Some(u) => {
            let assigned = okta.get_app_user(org, app_id, user).await?.is_some();
            Ok(Truth::Present { user: u, assigned })
        }
    }
}

impl From<OktaError> for FetchError {
    fn from(e: OktaError) -> Self {
        match e {
            OktaError::RateLimited { retry_after } => Self::RateLimited(retry_after),
            other => Self::Retryable(other.to_string()),
        }
    }
}

impl UserFetchService {
    pub fn new(
        configs: Arc<dyn ConfigStore>,
        secrets: Arc<SecretService>,
        okta: Arc<dyn OktaDirectory>,
        provisioner: Arc<Provisioner>,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        Self { configs, secrets, okta, provisioner, telemetry }
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
            .map_err(|e| FetchError::Retryable(e.to_string()))?
            .ok_or_else(|| FetchError::Retryable("the tenant has no Okta API token".into()))?;
        Ok(OktaOrg { tenant: config.tenant.clone(), base_url: config.okta_domain.clone(), api_token: token })
    }

    #[instrument(skip_all, fields(tenant = %job.tenant, okta_user = %job.okta_user_id, event = %job.event_uuid))]
    pub async fn process(&self, job: &UserFetchJob) -> Result<Option<Outcome>, FetchError> {
        let Some(config) =
            self.configs.get_config(&job.tenant).await.map_err(|e| FetchError::Retryable(e.to_string()))?
        else {
            tracing::warn!("job for an unknown tenant dropped");
            return Ok(None);
        };
        if config.provisioning != Provisioning::EventHooks {
            tracing::warn!("job dropped: event-hook provisioning is off for the tenant");
            return Ok(None);
        }
        let app_id = config.app_id.clone().ok_or_else(|| FetchError::Permanent("the tenant has no app_id".into()))?;
        let org = self.org(&config).await?;
        for _ in 0..3 {
            let truth = okta_truth(self.okta.as_ref(), &org, &app_id, &job.okta_user_id).await?;
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
                ) => return Err(FetchError::Permanent(e.to_string())),
                Err(ProvisionError::Store(e)) => return Err(FetchError::Retryable(e.to_string())),
            }
        }
        Err(FetchError::Retryable("the user kept changing while it was being written".into()))
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
