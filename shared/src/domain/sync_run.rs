//! A reconciliation run (SPEC §8): its progress, its checkpoint, and the deactivation brake.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TenantId;

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

/// Counts a run reports (SPEC §8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub pages: u64,
    pub seen: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deactivated: u64,
    pub reactivated: u64,
    pub warnings: u64,
    pub errors: u64,
    pub okta_calls: u64,
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
            started_at: now,
            updated_at: now,
            finished_at: None,
            version: 0,
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.status, RunStatus::Completed | RunStatus::Failed)
    }
}

/// Would deactivating `candidates` of `active` users exceed the brake (SPEC §8)?
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
