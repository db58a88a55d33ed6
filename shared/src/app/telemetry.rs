//! Metrics and health activity, recorded on the side of the real work: a failure to record is
//! logged and never fails a delivery, a job or a run.
use crate::locks::Locked;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use crate::domain::activity::ActivityEvent;
use crate::domain::metrics::Metric;
use crate::domain::TenantId;
use crate::ports::{ActivityStore, Clock, Metrics};

pub struct Telemetry {
    activity: Arc<dyn ActivityStore>,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
    /// When this process last wrote a throttled record, per tenant and kind.
    last_written: Mutex<HashMap<(TenantId, &'static str), DateTime<Utc>>>,
}

impl Telemetry {
    pub fn new(activity: Arc<dyn ActivityStore>, metrics: Arc<dyn Metrics>, clock: Arc<dyn Clock>) -> Self {
        Self { activity, metrics, clock, last_written: Mutex::new(HashMap::new()) }
    }

    pub fn metrics(&self) -> &dyn Metrics {
        self.metrics.as_ref()
    }

    pub fn count(&self, tenant: &TenantId, metric: Metric, value: u64) {
        self.metrics.add(tenant, metric, value);
    }

    /// Frequent records (every job, every Okta call) are written at most this often per process:
    /// health needs "recently", not every instant.
    fn throttle(event: &ActivityEvent) -> Option<(&'static str, Duration)> {
        match event {
            ActivityEvent::JobDone { .. } => Some(("job", Duration::seconds(30))),
            // Often enough that a configuration problem shows as fixed within minutes of the fix.
            ActivityEvent::OktaTokenUsed => Some(("okta_token", Duration::minutes(5))),
            // A wrong app id fails every job: one write per process every half minute says so.
            ActivityEvent::OktaProblem(_) => Some(("okta_problem", Duration::seconds(30))),
            // Every authenticated delivery confirms it: once an hour per process is plenty.
            ActivityEvent::HookVerified => Some(("hook_verified", Duration::hours(1))),
            ActivityEvent::Delivery { .. } => None,
        }
    }

    pub async fn record(&self, tenant: &TenantId, event: ActivityEvent) {
        let now = self.clock.now();
        if let Some((kind, every)) = Self::throttle(&event) {
            let mut last = self.last_written.locked();
            let key = (tenant.clone(), kind);
            if last.get(&key).is_some_and(|at| now - *at < every) {
                return;
            }
            last.insert(key, now);
            if kind == "okta_problem" {
                // The next successful call must be written at once: it is what clears the problem.
                last.remove(&(tenant.clone(), "okta_token"));
            }
        }
        if let Err(e) = self.activity.record(tenant, now, event).await {
            tracing::warn!(error = %e, ?event, "activity not recorded (health may lag)");
        }
    }
}

#[cfg(test)]
#[cfg(feature = "fakes")]
mod tests {
    use super::*;
    use crate::fakes::Fakes;

    #[tokio::test]
    async fn frequent_records_are_written_at_most_every_so_often_and_deliveries_always() {
        let f = Fakes::new();
        let t = f.telemetry();
        let acme = TenantId::parse("acme").unwrap();
        t.record(&acme, ActivityEvent::JobDone { waited_seconds: 1 }).await;
        f.clock.advance(Duration::seconds(10));
        t.record(&acme, ActivityEvent::JobDone { waited_seconds: 9 }).await;
        let a = f.store.activity(&acme, f.clock.now()).await.unwrap();
        assert_eq!(a.last_job_waited_seconds, Some(1), "the second job within 30 s is not written");
        f.clock.advance(Duration::seconds(25));
        t.record(&acme, ActivityEvent::JobDone { waited_seconds: 4 }).await;
        for _ in 0..3 {
            t.record(&acme, ActivityEvent::Delivery { events: 2, jobs: 1 }).await;
        }
        let a = f.store.activity(&acme, f.clock.now()).await.unwrap();
        assert_eq!((a.last_job_waited_seconds, a.events_24h, a.jobs_24h), (Some(4), 6, 3));
    }
}
