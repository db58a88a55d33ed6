//! API tokens (docs/behaviour/secrets-and-tokens.md, docs/behaviour/admin-api.md): a tenant's SCIM tokens and tenant admin tokens. Each is a 256-bit
//! random value shown once; one record per token keeps only its SHA-256, so issuing, rotating and
//! revoking one token never rewrites another's record.
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::secret::{digest_eq, sha256, sha256_hex, Secret};
use super::TenantId;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// `Authorization` of a SCIM client (Okta's provisioning) for one tenant.
    Scim,
    /// A tenant admin token: the admin API, for one tenant only (docs/behaviour/admin-api.md).
    Admin,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scim => "scim",
            Self::Admin => "admin",
        }
    }

    /// How logs and messages name the kind.
    pub fn label(self) -> &'static str {
        match self {
            Self::Scim => "SCIM",
            Self::Admin => "tenant admin",
        }
    }

    /// The token value's prefix: says what a leaked value is (secret scanners key on it).
    pub fn value_prefix(self) -> &'static str {
        match self {
            Self::Scim => "scim_",
            Self::Admin => "obadm_",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Self::Scim => "tok_",
            Self::Admin => "adm_",
        }
    }
}

/// Most active tokens of one kind a tenant may hold: issuing more is refused until one is revoked
/// (a leaked admin token cannot mint an unbounded number of others; lists stay one page).
pub const MAX_ACTIVE: usize = 25;

/// How long a revoked or expired record is kept (listed as inactive) before DynamoDB's TTL prunes it.
pub const RETENTION: Duration = Duration::days(30);

/// One token, as stored. `sha256` is of the whole token string; the value itself is never kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub tenant: TenantId,
    pub kind: TokenKind,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Set when the token was rotated: it keeps working until then (the overlap window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// A new token of `kind` for `tenant` from 32 random bytes (the value) and 16 (the id).
    pub fn issue(
        tenant: TenantId,
        kind: TokenKind,
        value_bytes: [u8; 32],
        id_bytes: [u8; 16],
        now: DateTime<Utc>,
    ) -> (Self, Secret) {
        let value = token_value(kind, value_bytes);
        let record = Self {
            id: format!("{}{}", kind.id_prefix(), &sha256_hex(&id_bytes)[..16]),
            tenant,
            kind,
            sha256: sha256_hex(value.expose().as_bytes()),
            created_at: now,
            revoked_at: None,
            valid_until: None,
        };
        (record, value)
    }

    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.valid_until.is_none_or(|e| e > now)
    }

    /// Is `presented` this token? Constant time over the digests.
    pub fn matches(&self, presented: &str) -> bool {
        decode_hex32(&self.sha256).is_some_and(|stored| digest_eq(&stored, &sha256(presented.as_bytes())))
    }

    /// When the record may be deleted (TTL): a while after it stopped working; never while active.
    pub fn prune_at(&self) -> Option<DateTime<Utc>> {
        match (self.revoked_at, self.valid_until) {
            (Some(r), Some(v)) => Some(r.min(v) + RETENTION),
            (Some(at), None) | (None, Some(at)) => Some(at + RETENTION),
            (None, None) => None,
        }
    }

    /// The end of this token's life if it is rotated now: the overlap, or sooner if it already ends.
    pub fn rotated_until(&self, now: DateTime<Utc>, overlap: Duration) -> DateTime<Utc> {
        let until = now + overlap;
        self.valid_until.map_or(until, |v| v.min(until))
    }

    pub fn info(&self, now: DateTime<Utc>) -> TokenInfo {
        TokenInfo {
            id: self.id.clone(),
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            expires_at: self.valid_until,
            active: self.is_active(now),
        }
    }
}

/// A token as the admin API lists it: never the hash or the value.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenInfo {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// A rotated token works until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub active: bool,
}

/// The lookup key of a presented value: its SHA-256, hex.
pub fn lookup_key(presented: &str) -> String {
    sha256_hex(presented.as_bytes())
}

/// Builds a token string of `kind` from 32 random bytes.
fn token_value(kind: TokenKind, bytes: [u8; 32]) -> Secret {
    use base64::Engine;
    Secret::new(format!("{}{}", kind.value_prefix(), base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

pub(crate) fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(0, 0).unwrap()
    }

    #[test]
    fn a_token_is_active_until_revoked_or_past_its_rotation_end() {
        let acme = TenantId::parse("acme").unwrap();
        let (mut record, value) = TokenRecord::issue(acme, TokenKind::Scim, [7; 32], [1; 16], t0());
        assert!(value.expose().starts_with("scim_"));
        assert_eq!(value.expose().len(), "scim_".len() + 43);
        assert!(record.id.starts_with("tok_"));
        assert!(record.matches(value.expose()));
        assert!(!record.matches("scim_wrong"));
        assert!(record.is_active(t0()));
        assert_eq!(record.prune_at(), None, "an active token is never pruned");
        record.valid_until = Some(record.rotated_until(t0(), Duration::hours(24)));
        assert!(record.is_active(t0() + Duration::hours(23)));
        assert!(!record.is_active(t0() + Duration::hours(24)));
        assert_eq!(record.rotated_until(t0(), Duration::hours(48)), t0() + Duration::hours(24), "never extended");
        assert_eq!(record.prune_at(), Some(t0() + Duration::hours(24) + RETENTION));
        record.revoked_at = Some(t0() + Duration::hours(1));
        assert!(!record.is_active(t0() + Duration::hours(2)));
        assert_eq!(record.prune_at(), Some(t0() + Duration::hours(1) + RETENTION));
        assert_eq!(record.info(t0()).expires_at, record.valid_until);
    }

    #[test]
    fn admin_tokens_say_what_they_are() {
        let acme = TenantId::parse("acme").unwrap();
        let (record, value) = TokenRecord::issue(acme, TokenKind::Admin, [9; 32], [2; 16], t0());
        assert!(value.expose().starts_with("obadm_"));
        assert!(record.id.starts_with("adm_"));
        assert_eq!(record.sha256, lookup_key(value.expose()));
    }
}
