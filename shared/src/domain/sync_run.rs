//! A reconciliation run (docs/behaviour/sync.md): its progress, its checkpoint, and the deactivation brake.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{TenantId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// The brake held deactivations: an admin must approve them.
    NeedsApproval,
    Completed,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    Schedule,
    Admin,
}

/// Where a running run is: listing Okta's pages, or applying the deactivations it computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    #[default]
    Listing,
    /// Applying the persisted candidate list, chunk by chunk (after the listing, or after approval).
    Deactivating,
}

/// Why a run failed, for health and the integration page: a code a program can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunFailure {
    /// Okta says the configured app does not exist (wrong `app_id`, or the app was deleted).
    AppNotFound,
    /// Okta refused the API token (`401`): wrong, revoked or expired.
    OktaTokenInvalid,
    /// The token is valid but may not read apps or users (`403`): give it a read-only admin role.
    OktaTokenForbidden,
    /// No API token, no app id, or provisioning switched off while the run was in flight.
    NotConfigured,
    /// Another run took the tenant's lease: this one stopped writing.
    LeaseLost,
    /// Okta answered something its API does not document.
    OktaProtocol,
}

impl RunFailure {
    pub fn code(self) -> &'static str {
        match self {
            Self::AppNotFound => "app_not_found",
            Self::OktaTokenInvalid => "okta_token_invalid",
            Self::OktaTokenForbidden => "okta_token_forbidden",
            Self::NotConfigured => "not_configured",
            Self::LeaseLost => "lease_lost",
            Self::OktaProtocol => "okta_protocol",
        }
    }

    /// What went wrong and what to fix, in a sentence an admin can act on.
    pub fn message(self) -> &'static str {
        match self {
            Self::AppNotFound => {
                "Okta has no app with the configured app id: check app_id (Applications › your app › the id in \
                 its URL). Nobody is deactivated while this is wrong; failed jobs are retried and wait in the DLQ."
            }
            Self::OktaTokenInvalid => {
                "Okta refused the API token (401): it is wrong, revoked or expired. Set a new one."
            }
            Self::OktaTokenForbidden => {
                "The API token may not read users or apps (403): give the admin who created it the Read-only \
                 Administrator role, then set a new token."
            }
            Self::NotConfigured => "The integration is not fully configured (API token, app id or provisioning).",
            Self::LeaseLost => "Another run took over this tenant's sync; this run stopped writing.",
            Self::OktaProtocol => "Okta answered something its API does not document; see the logs.",
        }
    }
}

/// A user the run would deactivate, as it was when the run computed the list: applying (or
/// approving) skips the user when the stored record moved on from this version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub user_id: UserId,
    pub okta_id: String,
    pub email: String,
    pub version: u64,
}

/// One line of a dry run's diff: what the run would do to one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffEntry {
    pub okta_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub action: DiffAction,
    /// The fields an update would change (empty for the other actions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffAction {
    Create,
    Update,
    Deactivate,
    Reactivate,
}

/// A user the run could not store, with what an admin needs to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunErrorEntry {
    pub okta_id: String,
    /// The Okta login, when Okta sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    pub reason: String,
}

/// The lists a run keeps beside its record, in numbered chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunList {
    /// The Okta ids each page listed (one chunk per page).
    Seen,
    /// The deactivation candidates ([`Candidate`] JSON), in chunks of [`CANDIDATE_CHUNK`].
    Candidates,
    /// A dry run's diff ([`DiffEntry`] JSON), a chunk per page and then the deactivations.
    Diff,
    /// The users the run could not store ([`RunErrorEntry`] JSON), a chunk per page.
    Errors,
}

impl RunList {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seen => "seen",
            Self::Candidates => "candidates",
            Self::Diff => "diff",
            Self::Errors => "errors",
        }
    }
}

/// Candidates per persisted chunk (and per checkpoint while they are applied).
pub const CANDIDATE_CHUNK: usize = 100;

/// How long a held run may wait for approval before it must be started again (docs/behaviour/sync.md).
pub const HOLD_EXPIRY: chrono::Duration = chrono::Duration::hours(24);

/// Counts a run reports (docs/behaviour/sync.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub pages: u64,
    pub seen: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deactivated: u64,
    pub reactivated: u64,
    /// Field warnings of the users it wrote (values that failed validation and were skipped).
    pub warnings: u64,
    /// Users it could not store; the list is the run's `errors` list.
    pub errors: u64,
    pub okta_calls: u64,
    /// Candidates deactivated when the list was applied.
    #[serde(default)]
    pub applied: u64,
    /// Candidates not deactivated when the list was applied: changed since the list was made, or
    /// Okta assigns them again.
    #[serde(default)]
    pub skipped: u64,
    /// Unlisted users the run never made candidates because something converged them after the
    /// run started (a hook, SCIM, SSO or another run): the run has no proof about them.
    #[serde(default)]
    pub protected: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRun {
    pub id: String,
    pub tenant: TenantId,
    pub status: RunStatus,
    pub trigger: RunTrigger,
    pub dry_run: bool,
    #[serde(flatten)]
    pub counts: RunCounts,
    /// Okta's `Link: rel="next"` URL of the next page; `None` before the first page and at the end.
    pub cursor: Option<String>,
    /// True once the last page has been read.
    pub listing_done: bool,
    /// Deactivations the run would make for users no longer assigned (held by the brake or by a dry run).
    pub pending_deactivations: u64,
    /// A few of them (user ids), for the admin to check before approving.
    pub samples: Vec<String>,
    /// Active Okta-linked users when the run started (the brake's denominator).
    pub active_at_start: u64,
    pub error: Option<String>,
    /// Why it failed, as a code (`app_not_found`, `okta_token_invalid`, `lease_lost` ...).
    #[serde(default)]
    pub failure: Option<RunFailure>,
    #[serde(default)]
    pub phase: RunPhase,
    /// How many chunks of candidates were persisted; where applying them has got to.
    #[serde(default)]
    pub candidate_chunks: u64,
    #[serde(default)]
    pub apply_chunk: u64,
    #[serde(default)]
    pub apply_offset: u64,
    /// Chunks of the diff (dry runs) and of the error list written so far.
    #[serde(default)]
    pub diff_chunks: u64,
    #[serde(default)]
    pub error_chunks: u64,
    /// When the brake held the run, and when an admin approved it.
    #[serde(default)]
    pub held_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Checkpoint version: every save is conditional on it, so a duplicated continuation is dropped.
    pub version: u64,
}

impl SyncRun {
    pub fn new(id: String, tenant: TenantId, trigger: RunTrigger, dry_run: bool, now: DateTime<Utc>) -> Self {
        Self {
            id,
            tenant,
            status: RunStatus::Running,
            trigger,
            dry_run,
            counts: RunCounts::default(),
            cursor: None,
            listing_done: false,
            pending_deactivations: 0,
            samples: Vec::new(),
            active_at_start: 0,
            error: None,
            failure: None,
            phase: RunPhase::Listing,
            candidate_chunks: 0,
            apply_chunk: 0,
            apply_offset: 0,
            diff_chunks: 0,
            error_chunks: 0,
            held_at: None,
            approved_at: None,
            started_at: now,
            updated_at: now,
            finished_at: None,
            version: 0,
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.status, RunStatus::Completed | RunStatus::Failed)
    }

    /// A held run may be approved only within [`HOLD_EXPIRY`] of being held.
    pub fn hold_expired(&self, now: DateTime<Utc>) -> bool {
        self.held_at.is_some_and(|held| now - held > HOLD_EXPIRY)
    }
}

/// Would deactivating `candidates` of `active` users exceed the brake (docs/behaviour/sync.md)?
pub fn brake_holds(candidates: u64, active: u64, brake_percent: u8) -> bool {
    candidates > 0 && candidates * 100 > active * u64::from(brake_percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brake() {
        assert!(!brake_holds(0, 0, 20));
        assert!(!brake_holds(20, 100, 20), "exactly the limit is allowed");
        assert!(brake_holds(21, 100, 20));
        assert!(brake_holds(1, 0, 20), "everyone gone from an empty base is held");
        assert!(brake_holds(1, 100, 0), "0% holds every deactivation");
        assert!(!brake_holds(100, 100, 100));
    }
}
