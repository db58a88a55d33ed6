//! A user-fetch job: "look at this Okta user again" (docs/behaviour/event-hooks.md: events are only pings).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{OktaUserId, TenantId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFetchJob {
    pub tenant: TenantId,
    pub okta_user_id: OktaUserId,
    /// The Okta event type that caused the job (for logs and the change log only).
    pub cause: String,
    pub event_uuid: String,
    pub published: Option<DateTime<Utc>>,
}

impl UserFetchJob {
    #[allow(clippy::expect_used, reason = "a struct of strings and timestamps always serialises to JSON")]
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("a job serialises")
    }

    pub fn from_body(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}
