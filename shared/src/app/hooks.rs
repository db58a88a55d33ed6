//! Okta event-hook deliveries (docs/behaviour/event-hooks.md, docs/okta-wire.md §1): verification, authentication, parsing,
//! dedupe, and jobs queued durably before Okta hears "200".
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use serde::Serialize;
use tracing::instrument;

use super::secrets::SecretService;
use super::telemetry::Telemetry;
use crate::domain::activity::ActivityEvent;
use crate::domain::job::UserFetchJob;
use crate::domain::metrics::Metric;
use crate::domain::okta::HookDelivery;
use crate::domain::tenant::{Provisioning, TenantConfig};
use crate::domain::{OktaUserId, TenantId};
use crate::ports::{Cause, Clock, ConfigStore, DedupeStore, JobQueue};

/// How long a delivery or event id is remembered (docs/behaviour/event-hooks.md).
pub const DEDUPE_TTL: Duration = Duration::days(7);

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("unknown tenant")]
    TenantNotFound,
    #[error("event hooks are not enabled for this tenant")]
    NotEnabled,
    #[error("the event hook secret is missing or wrong")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("the delivery could not be stored; retry")]
    Unavailable(#[source] Cause),
}

/// What a delivery contained and what became of it (counts only: safe to log).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub events: usize,
    pub handled: usize,
    pub ignored: usize,
    pub duplicate_events: usize,
    pub jobs: usize,
    pub duplicate_delivery: bool,
}

pub struct HookService {
    configs: Arc<dyn ConfigStore>,
    secrets: Arc<SecretService>,
    dedupe: Arc<dyn DedupeStore>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<Telemetry>,
}

/// What a [`HookService`] is built from, by name (the composition root, `app::root`, fills it).
pub struct HookDeps {
    pub configs: Arc<dyn ConfigStore>,
    pub secrets: Arc<SecretService>,
    pub dedupe: Arc<dyn DedupeStore>,
    pub queue: Arc<dyn JobQueue>,
    pub clock: Arc<dyn Clock>,
    pub telemetry: Arc<Telemetry>,
}

impl HookService {
    pub fn new(deps: HookDeps) -> Self {
        let HookDeps { configs, secrets, dedupe, queue, clock, telemetry } = deps;
        Self { configs, secrets, dedupe, queue, clock, telemetry }
    }

    async fn config(&self, tenant: &TenantId) -> Result<TenantConfig, HookError> {
        let config = self
            .configs
            .get_config(tenant)
            .await
            .map_err(|e| HookError::Unavailable(Box::new(e)))?
            .ok_or(HookError::TenantNotFound)?;
        if config.provisioning != Provisioning::EventHooks {
            return Err(HookError::NotEnabled);
        }
        Ok(config)
    }

    async fn check(&self, tenant: &TenantId, presented: &str) -> Result<(), HookError> {
        match self.secrets.verify_event_hook_secret(tenant, presented).await {
            Ok(Some(true)) => Ok(()),
            Ok(_) => Err(HookError::Unauthorized),
            Err(e) => Err(HookError::Unavailable(Box::new(e))),
        }
    }

    /// The one-time verification: echo the challenge. If the auth header is present it must be
    /// right (Okta does not document whether it sends it on this GET).
    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn verify(
        &self,
        tenant: &TenantId,
        header: impl Fn(&str) -> Option<String>,
        challenge: Option<&str>,
    ) -> Result<String, HookError> {
        let config = self.config(tenant).await?;
        let challenge = challenge
            .filter(|c| !c.is_empty() && c.len() <= 1024)
            .ok_or_else(|| HookError::BadRequest("the x-okta-verification-challenge header is missing".into()))?;
        // Anyone may fetch the challenge echo; only a request with the right secret (this one, or
        // the first authenticated delivery) marks the hook verified on health.
        if let Some(presented) = header(&config.event_hook_auth_header) {
            self.check(tenant, &presented).await?;
            self.telemetry.record(tenant, ActivityEvent::HookVerified).await;
        }
        tracing::info!("event hook verification answered");
        Ok(challenge.to_owned())
    }

    fn count(&self, tenant: &TenantId, report: &DeliveryReport) {
        let deduplicated = if report.duplicate_delivery { report.events } else { report.duplicate_events };
        self.telemetry.count(tenant, Metric::EventsReceived, report.events as u64);
        self.telemetry.count(tenant, Metric::EventsEnqueued, report.handled as u64);
        self.telemetry.count(tenant, Metric::EventsDeduplicated, deduplicated as u64);
        self.telemetry.count(tenant, Metric::JobsQueued, report.jobs as u64);
    }

    /// An authenticated delivery: jobs for every new `User` target of a handled event, queued
    /// durably before returning. A duplicate delivery is acknowledged without new jobs.
    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn deliver(
        &self,
        tenant: &TenantId,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Result<DeliveryReport, HookError> {
        let config = self.config(tenant).await?;
        let presented = header(&config.event_hook_auth_header).ok_or(HookError::Unauthorized)?;
        self.check(tenant, &presented).await?;
        // An authenticated delivery proves the hook works, whether or not Okta sent the secret on
        // its verification request (docs/okta-wire.md §7).
        self.telemetry.record(tenant, ActivityEvent::HookVerified).await;
        let delivery = HookDelivery::parse(body).map_err(|e| HookError::BadRequest(e.to_string()))?;
        let now = self.clock.now();
        let mut report = DeliveryReport { events: delivery.events().len(), ..Default::default() };

        let delivery_key = delivery.event_id.as_ref().map(|id| format!("delivery:{id}"));
        let mut keys: Vec<String> = delivery_key.iter().cloned().collect();
        keys.extend(
            delivery
                .events()
                .iter()
                .filter(|e| e.is_handled())
                .filter_map(|e| e.uuid.as_ref())
                .map(|u| format!("event:{u}")),
        );
        let seen =
            self.dedupe.seen(tenant, &keys, now.timestamp()).await.map_err(|e| HookError::Unavailable(Box::new(e)))?;
        if delivery_key.as_ref().is_some_and(|k| seen.contains(k)) {
            report.duplicate_delivery = true;
            self.count(tenant, &report);
            tracing::info!(events = report.events, "duplicate delivery acknowledged");
            return Ok(report);
        }

        // Events are pings: one job per user is enough, whatever the delivery says about them.
        let mut jobs: BTreeMap<String, UserFetchJob> = BTreeMap::new();
        let mut fresh_events = Vec::new();
        for event in delivery.events() {
            if !event.is_handled() {
                report.ignored += 1;
                continue;
            }
            if let Some(uuid) = &event.uuid {
                if seen.contains(&format!("event:{uuid}")) {
                    report.duplicate_events += 1;
                    continue;
                }
                fresh_events.push(format!("event:{uuid}"));
            }
            report.handled += 1;
            for target in event.user_targets() {
                let Ok(okta_user_id) = OktaUserId::parse(target) else {
                    tracing::warn!("event target with an invalid Okta user id ignored");
                    continue;
                };
                let job = UserFetchJob {
                    tenant: tenant.clone(),
                    okta_user_id,
                    cause: event.event_type.clone().unwrap_or_default(),
                    event_uuid: event.uuid.clone().unwrap_or_default(),
                    published: event.published,
                };
                match jobs.get(target) {
                    Some(existing) if existing.published >= job.published => {}
                    _ => {
                        jobs.insert(target.to_owned(), job);
                    }
                }
            }
        }
        let bodies: Vec<String> = jobs.values().map(UserFetchJob::to_body).collect();
        report.jobs = bodies.len();
        self.queue.enqueue(&bodies).await.map_err(|e| HookError::Unavailable(Box::new(e)))?;

        // Only now that every job is durable: remember what was delivered. A failure here costs at
        // most a duplicate job later (the worker is idempotent), never a lost one.
        let mut remember = fresh_events;
        remember.extend(delivery_key);
        let expires = (now + DEDUPE_TTL).timestamp();
        if let Err(e) = self.dedupe.mark_seen(tenant, &remember, expires).await {
            tracing::warn!(error = %e, "delivery queued but not marked as seen; a retry may queue duplicate jobs");
        }
        self.count(tenant, &report);
        let activity = ActivityEvent::Delivery { events: report.events as u64, jobs: report.jobs as u64 };
        self.telemetry.record(tenant, activity).await;
        tracing::info!(
            events = report.events,
            handled = report.handled,
            ignored = report.ignored,
            duplicate_events = report.duplicate_events,
            jobs = report.jobs,
            "delivery queued"
        );
        Ok(report)
    }
}

#[cfg(test)]
#[cfg(feature = "fakes")]
mod tests {
    use super::*;
    use crate::domain::tenant::TenantConfigInput;
    use crate::fakes::Fakes;

    async fn setup(f: &Fakes) -> (HookService, String) {
        let admin = f.admin();
        let input: TenantConfigInput = serde_json::from_value(
            serde_json::json!({"okta_domain": "https://a.okta.com", "app_id": "0oaapp", "provisioning": "event_hooks"}),
        )
        .unwrap();
        admin.put_tenant(&TenantId::parse("acme").unwrap(), input).await.unwrap();
        let secret = admin.rotate_event_hook_secret(&TenantId::parse("acme").unwrap()).await.unwrap();
        let svc = f.root().hooks(f.queue.clone());
        (svc, secret.expose().to_owned())
    }

    fn body(event_id: &str, events: &[(&str, &str, &str)]) -> Vec<u8> {
        let events: Vec<_> = events
            .iter()
            .map(|(uuid, kind, user)| {
                serde_json::json!({"uuid": uuid, "eventType": kind, "published": "2026-01-01T00:00:00Z",
                "target": [{"id": "0ua1", "type": "AppUser"}, {"id": user, "type": "User"}]})
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({"eventId": event_id, "data": {"events": events}})).unwrap()
    }

    #[tokio::test]
    async fn queues_one_job_per_user_and_dedupes() {
        let f = Fakes::new();
        let (svc, secret) = setup(&f).await;
        let acme = TenantId::parse("acme").unwrap();
        let auth = |h: &str| (h == "Authorization").then(|| secret.clone());
        let b = body(
            "d1",
            &[
                ("e1", "user.lifecycle.deactivate", "00u1"),
                ("e2", "user.account.update_profile", "00u1"),
                ("e3", "user.session.start", "00u2"),
                ("e4", "application.user_membership.add", "00u3"),
            ],
        );
        let r = svc.deliver(&acme, auth, &b).await.unwrap();
        assert_eq!((r.events, r.handled, r.ignored, r.jobs), (4, 3, 1, 2));
        assert_eq!(f.queue.jobs().len(), 2);
        // The same delivery again: acknowledged, nothing queued.
        assert!(svc.deliver(&acme, auth, &b).await.unwrap().duplicate_delivery);
        // A new delivery repeating an event: only the new event makes a job.
        let again =
            body("d2", &[("e1", "user.lifecycle.deactivate", "00u1"), ("e5", "user.lifecycle.reactivate", "00u4")]);
        let r = svc.deliver(&acme, auth, &again).await.unwrap();
        assert_eq!((r.duplicate_events, r.jobs), (1, 1));
        assert_eq!(f.queue.jobs().len(), 3);
    }

    #[tokio::test]
    async fn refusals_queue_nothing() {
        let f = Fakes::new();
        let (svc, secret) = setup(&f).await;
        let acme = TenantId::parse("acme").unwrap();
        let b = body("d1", &[("e1", "user.lifecycle.deactivate", "00u1")]);
        assert!(matches!(svc.deliver(&acme, |_| Some("wrong".into()), &b).await, Err(HookError::Unauthorized)));
        assert!(matches!(svc.deliver(&acme, |_| None, &b).await, Err(HookError::Unauthorized)));
        let auth = |h: &str| (h == "Authorization").then(|| secret.clone());
        assert!(matches!(svc.deliver(&acme, auth, b"{nope").await, Err(HookError::BadRequest(_))));
        assert!(matches!(
            svc.deliver(&TenantId::parse("other").unwrap(), auth, &b).await,
            Err(HookError::TenantNotFound)
        ));
        assert!(f.queue.jobs().is_empty());
        // A queue failure is a 5xx for Okta to retry, and the delivery is not remembered.
        f.queue.fail_next();
        assert!(matches!(svc.deliver(&acme, auth, &b).await, Err(HookError::Unavailable(_))));
        let r = svc.deliver(&acme, auth, &b).await.unwrap();
        assert!(!r.duplicate_delivery);
        assert_eq!(r.jobs, 1);
    }

    #[tokio::test]
    async fn verification() {
        let f = Fakes::new();
        let (svc, secret) = setup(&f).await;
        let acme = TenantId::parse("acme").unwrap();
        assert_eq!(svc.verify(&acme, |_| None, Some("abc")).await.unwrap(), "abc");
        assert_eq!(svc.verify(&acme, |_| Some(secret.clone()), Some("abc")).await.unwrap(), "abc");
        assert!(matches!(svc.verify(&acme, |_| Some("bad".into()), Some("abc")).await, Err(HookError::Unauthorized)));
        assert!(matches!(svc.verify(&acme, |_| None, None).await, Err(HookError::BadRequest(_))));
    }
}
