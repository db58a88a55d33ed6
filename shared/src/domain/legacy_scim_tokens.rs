//! The legacy SCIM token document: before token records (docs/behaviour/secrets-and-tokens.md), all of a tenant's SCIM token
//! hashes lived in one Secrets Manager document. It is only read now, to carry its tokens over
//! into records (`app::tokens`), then emptied.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::api_token::{decode_hex32, TokenKind, TokenRecord};
use super::secret::{digest_eq, sha256, Secret};
use super::TenantId;

/// What is stored about one token. The hash is of the whole token string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimTokenRecord {
    pub id: String,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Set when the token was rotated: it keeps working until then (the overlap window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// All of a tenant's SCIM token records (one Secrets Manager document).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimTokenSet {
    #[serde(default)]
    pub tokens: Vec<ScimTokenRecord>,
    /// When its tokens were carried over into records (the document is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated_at: Option<DateTime<Utc>>,
}

impl ScimTokenSet {
    pub fn decode(stored: &Secret) -> Result<Self, serde_json::Error> {
        serde_json::from_str(stored.expose())
    }

    /// The document's tokens as records of `tenant`, revoked and rotated ones included.
    pub fn to_records(&self, tenant: &TenantId) -> Vec<TokenRecord> {
        self.tokens
            .iter()
            .map(|t| TokenRecord {
                id: t.id.clone(),
                tenant: tenant.clone(),
                kind: TokenKind::Scim,
                sha256: t.sha256.clone(),
                created_at: t.created_at,
                revoked_at: t.revoked_at,
                valid_until: t.expires_at,
            })
            .collect()
    }

    #[allow(clippy::expect_used, reason = "a struct of strings and timestamps always serialises to JSON")]
    pub fn encode(&self) -> Secret {
        Secret::new(serde_json::to_string(self).expect("token set serialises"))
    }

    /// Does the document hold a record of `presented` (active or not)?
    pub fn holds(&self, presented: &str) -> bool {
        let presented = sha256(presented.as_bytes());
        self.tokens
            .iter()
            .filter_map(|r| decode_hex32(&r.sha256))
            .fold(false, |found, stored| digest_eq(&stored, &presented) | found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::sha256_hex;

    #[test]
    fn holds_any_of_its_tokens_and_hands_over_their_state() {
        let token = Secret::new("scim_legacy-token-value");
        let now = DateTime::from_timestamp(0, 0).unwrap();
        let set = ScimTokenSet {
            migrated_at: None,
            tokens: vec![ScimTokenRecord {
                id: "tok1".into(),
                sha256: sha256_hex(token.expose().as_bytes()),
                created_at: now,
                revoked_at: Some(now),
                expires_at: Some(now + chrono::Duration::hours(24)),
            }],
        };
        assert!(set.holds(token.expose()), "revoked or not: activity is the record's to decide");
        assert!(!set.holds("scim_wrong"));
        let records = set.to_records(&TenantId::parse("acme").unwrap());
        assert_eq!((records[0].revoked_at, records[0].valid_until), (Some(now), set.tokens[0].expires_at));
        assert!(records[0].matches(token.expose()) && !records[0].is_active(now));
    }
}
