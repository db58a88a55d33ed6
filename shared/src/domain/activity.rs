//! What a tenant's integration has been doing, for health (docs/behaviour/admin-api.md): hook verification, deliveries
//! counted in hourly buckets, the worker's last job and its queue wait, and the Okta API token's
//! last use (Okta expires tokens unused for 30 days).
use chrono::{DateTime, Duration, Timelike, Utc};
use serde::Serialize;

use super::sync_run::RunFailure;

/// Okta expires an API token that has not been used for this long (docs/okta-wire.md §0).
pub const OKTA_TOKEN_IDLE_EXPIRY: Duration = Duration::days(30);

/// One thing that happened, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityEvent {
    /// Okta's one-time verification GET was answered.
    HookVerified,
    /// An authenticated delivery: its events and the jobs they became.
    Delivery { events: u64, jobs: u64 },
    /// The worker finished a job that had waited this long in the queue.
    JobDone { waited_seconds: u64 },
    /// A call to Okta's API with the tenant's token succeeded.
    OktaTokenUsed,
    /// Okta said the tenant's configuration is wrong (the app, the token, its permissions).
    OktaProblem(RunFailure),
}

/// The recorded activity, as read back for health.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub hook_verified_at: Option<DateTime<Utc>>,
    pub last_delivery_at: Option<DateTime<Utc>>,
    /// Events and jobs in the hourly buckets of the last 24 hours.
    pub events_24h: u64,
    pub jobs_24h: u64,
    pub last_job_at: Option<DateTime<Utc>>,
    pub last_job_waited_seconds: Option<u64>,
    pub okta_token_used_at: Option<DateTime<Utc>>,
    /// The latest configuration problem Okta reported, and when; a later successful call to
    /// Okta ([`Activity::okta_token_used_at`]) means it has been fixed.
    pub okta_problem: Option<RunFailure>,
    pub okta_problem_at: Option<DateTime<Utc>>,
}

impl Activity {
    /// The configuration problem still standing: reported, and no successful call since.
    pub fn open_okta_problem(&self) -> Option<(RunFailure, DateTime<Utc>)> {
        let (problem, at) = (self.okta_problem?, self.okta_problem_at?);
        self.okta_token_used_at.is_none_or(|ok| ok <= at).then_some((problem, at))
    }
}

/// The hourly bucket an instant falls in, as a sortable key (`2026112523`).
pub fn hour_bucket(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H").to_string()
}

/// The oldest bucket that still counts towards "the last 24 hours" at `now`.
pub fn first_bucket_of_day(now: DateTime<Utc>) -> String {
    let start = now - Duration::hours(23);
    hour_bucket(start.with_minute(0).unwrap_or(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_sort_by_time_and_span_24_hours() {
        let now: DateTime<Utc> = "2026-11-25T23:40:00Z".parse().unwrap();
        assert_eq!(hour_bucket(now), "2026112523");
        assert_eq!(first_bucket_of_day(now), "2026112500");
        assert!(hour_bucket(now - Duration::hours(30)) < first_bucket_of_day(now));
    }
}
