//! Teams: created on first use from a user's department (docs/behaviour/field-mapping.md, docs/behaviour/managers-and-teams.md).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::{GroupId, UserId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    /// Case- and Unicode-form-insensitive identity of the name.
    pub key: String,
    /// The name as first seen.
    pub name: String,
    pub manager_id: Option<UserId>,
    /// The team's manager while they are not (yet) a user here (`team_first_user` mode).
    #[serde(default)]
    pub pending_manager: Option<String>,
    /// The user whose job created the team (`team_first_user` mode): their Okta manager is the
    /// team's manager, and follows when it changes in Okta.
    #[serde(default)]
    pub first_user: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

pub fn team_key(name: &str) -> String {
    name.trim().nfc().collect::<String>().to_lowercase()
}

impl Team {
    pub fn new(name: &str, now: DateTime<Utc>) -> Self {
        Self {
            key: team_key(name),
            name: name.trim().to_owned(),
            manager_id: None,
            pending_manager: None,
            first_user: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }
}

/// Who waits for a pending manager reference to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Waiting {
    /// A user whose manager is pending.
    UserManager(UserId),
    /// A team (by key) whose manager is pending.
    TeamManager(String),
    /// A user one of whose approvers (by email) is not a user yet.
    UserApprover(UserId),
    /// A group with a member naming no user yet.
    GroupMember(GroupId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_space_and_form() {
        assert_eq!(team_key(" Platform "), team_key("platform"));
        assert_eq!(team_key("Rése\u{301}au"), team_key("RÉSÉAU").replace('É', "é"));
    }
}
