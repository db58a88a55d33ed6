//! A learning-platform user as okta-bridge keeps it (docs/behaviour/data.md, docs/behaviour/admin-api.md).
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::mapping::FieldWarning;
use super::{Email, OktaUserId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Deactivated,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deactivated => "deactivated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "deactivated" => Some(Self::Deactivated),
            _ => None,
        }
    }
}

/// Why a user is deactivated (docs/behaviour/data.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    Unassigned,
    DeactivatedInOkta,
    SuspendedInOkta,
    DeletedInOkta,
    ScimInactive,
    ScimDeleted,
}

/// The user record. Field names are the admin API contract (docs/behaviour/admin-api.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub okta_id: Option<OktaUserId>,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub title: Option<String>,
    pub job_title: Option<String>,
    pub avatar_url: Option<String>,
    pub primary_language: Option<String>,
    pub primary_location: Option<String>,
    /// The primary team's name.
    pub primary_team: Option<String>,
    pub manager_id: Option<UserId>,
    pub status: UserStatus,
    pub status_reason: Option<StatusReason>,
    #[serde(default)]
    pub custom_fields: BTreeMap<String, String>,
    pub invited_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Okta's `lastUpdated` of the state this record was written from, if it came from Okta.
    #[serde(default)]
    pub okta_last_updated: Option<DateTime<Utc>>,
    /// Fields the last provisioning write skipped, and why (docs/behaviour/field-mapping.md). Never the values.
    #[serde(default)]
    pub warnings: Vec<FieldWarning>,
    /// A manager named by the identity provider who is not (yet) a user here: resolved the moment
    /// they appear (docs/behaviour/managers-and-teams.md). `okta:{id}` or `email:{address key}`.
    #[serde(default)]
    pub pending_manager: Option<String>,
    /// The SCIM `userName` when it is not the email (Entra sends the UPN); unique per tenant,
    /// case-insensitively, together with every other user's effective userName.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The SCIM client's own id for the user (`externalId`), unique per tenant.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Who approves this user's requests (SCIM extension `approvers`), by email: resolved to a
    /// user the moment one with that email exists (docs/behaviour/scim.md).
    #[serde(default)]
    pub approvers: Vec<Approver>,
    /// Every attribute a SCIM client wrote, as it wrote it (less `id`, `meta` and `password`),
    /// so what it reads back is what it sent (RFC 7643 core and Enterprise User, our extension,
    /// and any other extension): at most [`MAX_SCIM_ATTRIBUTES_BYTES`] serialised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// The Okta org (the tenant's `okta_domain` when the link was made) that `okta_id` belongs
    /// to: sign-in trusts the link only from that org, so changing a tenant's Okta domain does not
    /// carry old links over silently (older records without it are trusted as they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub okta_org: Option<String>,
    /// Optimistic-concurrency version: every write is conditional on it (docs/behaviour/data.md).
    pub version: u64,
}

/// The most a SCIM client's attributes may take, serialised (advertised in `Schemas` and the
/// README; a larger resource is refused with `400 invalidValue`).
pub const MAX_SCIM_ATTRIBUTES_BYTES: usize = 32 * 1024;

/// One approver: the email the identity provider named and, once they exist, the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approver {
    pub email: Email,
    pub user_id: Option<UserId>,
}

/// The uniqueness key of a userName: NFC, lowercase (as for emails).
pub fn user_name_key(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.trim().nfc().collect::<String>().to_lowercase().nfc().collect()
}

impl User {
    /// Listed to SCIM clients and counted in `totalResults`: every user but those a SCIM client
    /// deleted (kept, deactivated, for their history).
    pub fn scim_visible(&self) -> bool {
        self.status_reason != Some(StatusReason::ScimDeleted)
    }

    /// The SCIM userName: the one a client gave, else the email.
    pub fn user_name(&self) -> &str {
        self.user_name.as_deref().unwrap_or(self.email.as_str())
    }

    pub fn user_name_key(&self) -> String {
        match &self.user_name {
            Some(n) => user_name_key(n),
            None => self.email.key().to_owned(),
        }
    }

    /// A new active user with only the required fields set.
    pub fn new(id: UserId, email: Email, first_name: String, last_name: String, now: DateTime<Utc>) -> Self {
        Self {
            id,
            okta_id: None,
            email,
            first_name,
            last_name,
            title: None,
            job_title: None,
            avatar_url: None,
            primary_language: None,
            primary_location: None,
            primary_team: None,
            manager_id: None,
            status: UserStatus::Active,
            status_reason: None,
            custom_fields: BTreeMap::new(),
            invited_at: None,
            created_at: now,
            updated_at: now,
            okta_last_updated: None,
            warnings: Vec::new(),
            pending_manager: None,
            user_name: None,
            external_id: None,
            approvers: Vec::new(),
            scim_attributes: None,
            okta_org: None,
            version: 0,
        }
    }
}
