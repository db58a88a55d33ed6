//! A tenant's integration health (docs/behaviour/admin-api.md, issue "operability"): the facts gathered by the health
//! use case, and the pure judgement of them into `ok` / `warning` / `failing` with the problems a
//! person can act on.
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::activity::{Activity, OKTA_TOKEN_IDLE_EXPIRY};
use super::sync_run::{RunErrorEntry, RunFailure, RunStatus, SyncRun};
use super::tenant::Provisioning;

/// An Okta API token this close to expiry is a warning.
pub const TOKEN_WARNING: Duration = Duration::days(7);
/// No delivery for this long, on a tenant whose hook is verified, is a warning.
pub const QUIET_HOOK: Duration = Duration::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warning,
    Failing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub level: Level,
    pub code: &'static str,
    pub message: String,
}

/// Depth of one queue, as the queue reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueDepth {
    pub messages: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

impl QueueDepth {
    pub fn total(&self) -> u64 {
        self.messages + self.in_flight + self.delayed
    }
}

/// When a tenant secret was set and, for rotated ones, until when the old value still works.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecretFacts {
    pub set: bool,
    pub set_at: Option<DateTime<Utc>>,
    pub previous_valid_until: Option<DateTime<Utc>>,
}

/// Everything health is judged on.
#[derive(Debug, Clone)]
pub struct HealthFacts {
    pub provisioning: Provisioning,
    pub sso_enabled: bool,
    pub activity: Activity,
    pub queue: Option<QueueDepth>,
    pub dlq: Option<QueueDepth>,
    pub last_sync: Option<SyncRun>,
    /// The first few users the last run could not store.
    pub last_sync_errors: Vec<RunErrorEntry>,
    pub pending_references: u64,
    pub okta_api_token: SecretFacts,
    pub event_hook_secret: SecretFacts,
    pub oidc_client_secret: SecretFacts,
    pub scim_tokens_active: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub status: Level,
    pub problems: Vec<Problem>,
    pub checked_at: DateTime<Utc>,
    pub provisioning: Provisioning,
    pub hook: HookHealth,
    pub worker: WorkerHealth,
    pub queue: Option<QueueHealth>,
    pub last_sync: Option<SyncSummary>,
    pub pending_references: u64,
    pub secrets: SecretsHealth,
}

#[derive(Debug, Clone, Serialize)]
pub struct HookHealth {
    pub verified: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub last_delivery_at: Option<DateTime<Utc>>,
    pub last_delivery_age_seconds: Option<i64>,
    pub events_24h: u64,
    pub jobs_24h: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerHealth {
    pub last_job_at: Option<DateTime<Utc>>,
    /// How long the tenant's latest job waited in the queue before the worker took it.
    pub last_job_waited_seconds: Option<u64>,
}

/// The user-fetch queue and its DLQ are shared by every tenant of the deployment.
#[derive(Debug, Clone, Serialize)]
pub struct QueueHealth {
    pub scope: &'static str,
    pub depth: u64,
    pub messages: u64,
    pub in_flight: u64,
    pub delayed: u64,
    pub dlq_depth: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncSummary {
    pub id: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub failure: Option<RunFailure>,
    /// Users it could not store, and the first few of them with the reason.
    pub errors: u64,
    pub first_errors: Vec<RunErrorEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretsHealth {
    pub okta_api_token: TokenHealth,
    pub event_hook_secret: SecretFacts,
    pub oidc_client_secret: SecretFacts,
    pub scim_tokens_active: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenHealth {
    pub set: bool,
    pub set_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Okta expires a token 30 days after its last use.
    pub expires_at: Option<DateTime<Utc>>,
    pub expires_in_days: Option<i64>,
}

fn problem(level: Level, code: &'static str, message: impl Into<String>) -> Problem {
    Problem { level, code, message: message.into() }
}

pub fn judge(facts: HealthFacts, now: DateTime<Utc>) -> Health {
    let a = &facts.activity;
    let mut problems = Vec::new();
    let hooks = facts.provisioning == Provisioning::EventHooks;

    let last_used = match (facts.okta_api_token.set_at, a.okta_token_used_at) {
        (Some(set), Some(used)) => Some(set.max(used)),
        (set, used) => set.or(used),
    };
    let expires_at = facts.okta_api_token.set.then(|| last_used.map(|t| t + OKTA_TOKEN_IDLE_EXPIRY)).flatten();
    let token = TokenHealth {
        set: facts.okta_api_token.set,
        set_at: facts.okta_api_token.set_at,
        last_used_at: a.okta_token_used_at,
        expires_at,
        expires_in_days: expires_at.map(|e| (e - now).num_days()),
    };

    if hooks {
        if !facts.event_hook_secret.set {
            problems.push(problem(
                Level::Failing,
                "event_hook_secret_missing",
                "No event-hook secret: every delivery is refused. Generate one and paste it into the Okta event hook.",
            ));
        }
        if !token.set {
            problems.push(problem(
                Level::Failing,
                "okta_api_token_missing",
                "No Okta API token: users cannot be fetched from Okta.",
            ));
        }
        if a.hook_verified_at.is_none() {
            problems.push(problem(
                Level::Warning,
                "hook_not_verified",
                "Okta has not verified the event hook yet: press Verify on the hook in the Okta admin console.",
            ));
        } else if a.last_delivery_at.is_none_or(|t| now - t > QUIET_HOOK) {
            problems.push(problem(
                Level::Warning,
                "no_recent_deliveries",
                "No event-hook delivery in the last 24 hours: check that the hook is active in Okta.",
            ));
        }
    }
    if let Some(e) = expires_at {
        if e <= now {
            problems.push(problem(
                Level::Failing,
                "okta_api_token_expired",
                "The Okta API token has probably expired (unused for 30 days): set a new one.",
            ));
        } else if e - now <= TOKEN_WARNING {
            problems.push(problem(
                Level::Warning,
                "okta_api_token_expiring",
                format!("The Okta API token expires in {} days unless it is used.", (e - now).num_days()),
            ));
        }
    }
    if facts.provisioning != Provisioning::None && facts.sso_enabled && !facts.oidc_client_secret.set {
        problems.push(problem(
            Level::Warning,
            "oidc_client_secret_missing",
            "Single sign-on is on but no OIDC client secret is set.",
        ));
    }
    if facts.provisioning == Provisioning::Scim && facts.scim_tokens_active == 0 {
        problems.push(problem(Level::Warning, "no_scim_token", "SCIM provisioning is on but no SCIM token is active."));
    }
    if let Some(dlq) = facts.dlq.filter(|d| d.total() > 0) {
        problems.push(problem(
            Level::Warning,
            "dlq_not_empty",
            format!("{} job(s) in the dead-letter queue: look at the logs, then redrive.", dlq.total()),
        ));
    }
    if let Some((failure, at)) = a.open_okta_problem() {
        problems.push(problem(
            Level::Failing,
            failure.code(),
            format!("{} (reported {})", failure.message(), at.format("%Y-%m-%d %H:%M UTC")),
        ));
    }
    if let Some(run) = facts.last_sync.as_ref().filter(|r| r.counts.errors > 0) {
        let first: Vec<String> = facts
            .last_sync_errors
            .iter()
            .take(3)
            .map(|e| format!("{} ({}): {}", e.login.as_deref().unwrap_or("no login"), e.okta_id, e.reason))
            .collect();
        problems.push(problem(
            Level::Warning,
            "last_sync_errors",
            format!(
                "The last sync run could not store {} user(s); its errors list says who and why. First: {}",
                run.counts.errors,
                first.join("; ")
            ),
        ));
    }
    match facts.last_sync.as_ref().map(|r| r.status) {
        Some(RunStatus::Failed) => {
            let why = facts.last_sync.as_ref().and_then(|r| r.failure).map(RunFailure::message);
            problems.push(problem(
                Level::Failing,
                "last_sync_failed",
                match why {
                    Some(why) => format!("The last sync run failed: {why}"),
                    None => "The last sync run failed.".to_owned(),
                },
            ))
        }
        Some(RunStatus::NeedsApproval) => problems.push(problem(
            Level::Warning,
            "sync_needs_approval",
            "The last sync run holds deactivations for an admin's approval.",
        )),
        _ => {}
    }

    let status = problems.iter().map(|p| p.level).max().unwrap_or(Level::Ok);
    Health {
        status,
        problems,
        checked_at: now,
        provisioning: facts.provisioning,
        hook: HookHealth {
            verified: a.hook_verified_at.is_some(),
            verified_at: a.hook_verified_at,
            last_delivery_at: a.last_delivery_at,
            last_delivery_age_seconds: a.last_delivery_at.map(|t| (now - t).num_seconds().max(0)),
            events_24h: a.events_24h,
            jobs_24h: a.jobs_24h,
        },
        worker: WorkerHealth { last_job_at: a.last_job_at, last_job_waited_seconds: a.last_job_waited_seconds },
        queue: facts.queue.map(|q| QueueHealth {
            scope: "deployment",
            depth: q.total(),
            messages: q.messages,
            in_flight: q.in_flight,
            delayed: q.delayed,
            dlq_depth: facts.dlq.map_or(0, |d| d.total()),
        }),
        last_sync: facts.last_sync.map(|r| SyncSummary {
            id: r.id,
            status: r.status,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
            failure: r.failure,
            errors: r.counts.errors,
            first_errors: facts.last_sync_errors,
        }),
        pending_references: facts.pending_references,
        secrets: SecretsHealth {
            okta_api_token: token,
            event_hook_secret: facts.event_hook_secret,
            oidc_client_secret: facts.oidc_client_secret,
            scim_tokens_active: facts.scim_tokens_active,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    fn set(at: DateTime<Utc>) -> SecretFacts {
        SecretFacts { set: true, set_at: Some(at), previous_valid_until: None }
    }

    fn healthy() -> HealthFacts {
        HealthFacts {
            provisioning: Provisioning::EventHooks,
            sso_enabled: false,
            activity: Activity {
                hook_verified_at: Some(now() - Duration::days(3)),
                last_delivery_at: Some(now() - Duration::minutes(5)),
                events_24h: 12,
                jobs_24h: 10,
                okta_token_used_at: Some(now() - Duration::minutes(5)),
                ..Activity::default()
            },
            queue: Some(QueueDepth::default()),
            dlq: Some(QueueDepth::default()),
            last_sync: None,
            last_sync_errors: Vec::new(),
            pending_references: 0,
            okta_api_token: set(now() - Duration::days(40)),
            event_hook_secret: set(now() - Duration::days(3)),
            oidc_client_secret: SecretFacts::default(),
            scim_tokens_active: 0,
        }
    }

    fn codes(h: &Health) -> Vec<&'static str> {
        h.problems.iter().map(|p| p.code).collect()
    }

    #[test]
    fn a_working_hook_tenant_is_ok() {
        let h = judge(healthy(), now());
        assert_eq!((h.status, codes(&h)), (Level::Ok, vec![]));
        assert_eq!(h.hook.last_delivery_age_seconds, Some(300));
        assert_eq!(h.secrets.okta_api_token.expires_in_days, Some(29), "30 days after its last use");
    }

    #[test]
    fn a_new_tenant_is_told_what_to_do() {
        let mut f = healthy();
        f.activity = Activity::default();
        f.okta_api_token = SecretFacts::default();
        f.event_hook_secret = SecretFacts::default();
        let h = judge(f, now());
        assert_eq!(h.status, Level::Failing);
        assert_eq!(codes(&h), vec!["event_hook_secret_missing", "okta_api_token_missing", "hook_not_verified"]);
    }

    #[test]
    fn quiet_hooks_expiring_tokens_dlq_and_failed_syncs_are_reported() {
        let mut f = healthy();
        f.activity.last_delivery_at = Some(now() - Duration::hours(30));
        f.activity.okta_token_used_at = Some(now() - Duration::days(25));
        f.dlq = Some(QueueDepth { messages: 2, in_flight: 0, delayed: 1 });
        let tenant = crate::domain::TenantId::parse("acme").unwrap();
        let mut run = SyncRun::new("run_1".into(), tenant, super::super::sync_run::RunTrigger::Schedule, false, now());
        run.status = RunStatus::Failed;
        f.last_sync = Some(run);
        let h = judge(f, now());
        assert_eq!(h.status, Level::Failing);
        assert_eq!(
            codes(&h),
            vec!["no_recent_deliveries", "okta_api_token_expiring", "dlq_not_empty", "last_sync_failed"]
        );
        assert_eq!(h.queue.unwrap().dlq_depth, 3);
        let mut f = healthy();
        f.activity.okta_token_used_at = Some(now() - Duration::days(31));
        assert_eq!(codes(&judge(f, now())), vec!["okta_api_token_expired"]);
    }
}
