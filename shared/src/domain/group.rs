//! Groups pushed by a SCIM client, and their members (docs/behaviour/data.md, docs/behaviour/scim.md). Members are kept one record
//! each, so adding or removing one never rewrites a member list.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{GroupId, UserId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub display_name: String,
    #[serde(default)]
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change to the group or its members (the ETag).
    pub version: u64,
}

/// One member of a group: a user, or a value naming no user (yet) — pending, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Member {
    User(UserId),
    Pending(String),
}

impl Member {
    /// The member record's key: the user id, or `?` and the value a client named.
    pub fn key(&self) -> String {
        match self {
            Self::User(id) => id.as_str().to_owned(),
            Self::Pending(v) => format!("?{v}"),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        match key.strip_prefix('?') {
            Some(v) => Some(Self::Pending(v.to_owned())),
            None => UserId::parse(key).ok().map(Self::User),
        }
    }

    /// The value SCIM shows: the user's id, or what the client sent.
    pub fn value(&self) -> &str {
        match self {
            Self::User(id) => id.as_str(),
            Self::Pending(v) => v,
        }
    }
}

/// Longest `displayName` / `externalId` stored.
pub const MAX_NAME: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_keys_round_trip() {
        let u = Member::User(UserId::from_random([1; 16]));
        let p = Member::Pending("00uNotYet".into());
        for m in [u, p] {
            assert_eq!(Member::from_key(&m.key()), Some(m));
        }
        assert_eq!(Member::from_key("nonsense"), None);
    }
}
