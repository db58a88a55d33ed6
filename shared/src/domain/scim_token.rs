//! SCIM bearer tokens: 256-bit random values shown once; only their SHA-256 is kept (SPEC §4).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::secret::{digest_eq, sha256, Secret};

pub const TOKEN_PREFIX: &str = "scim_";

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

impl ScimTokenRecord {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// All of a tenant's SCIM token records (one Secrets Manager document).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimTokenSet {
    #[serde(default)]
    pub tokens: Vec<ScimTokenRecord>,
}

impl ScimTokenSet {
    pub fn decode(stored: &Secret) -> Result<Self, serde_json::Error> {
        serde_json::from_str(stored.expose())
    }

    pub fn encode(&self) -> Secret {
        Secret::new(serde_json::to_string(self).expect("token set serialises"))
    }

    pub fn active(&self, now: DateTime<Utc>) -> impl Iterator<Item = &ScimTokenRecord> {
        self.tokens.iter().filter(move |t| t.is_active(now))
    }

    /// The id of the active token `presented` is, compared in constant time against every record.
    pub fn verify(&self, presented: &str, now: DateTime<Utc>) -> Option<&str> {
        let presented = sha256(presented.as_bytes());
        let mut found = None;
        for record in self.active(now) {
            let Some(stored) = decode_hex32(&record.sha256) else { continue };
            if digest_eq(&stored, &presented) && found.is_none() {
                found = Some(record.id.as_str());
            }
        }
        found
    }
}

/// Builds a token string from 32 random bytes.
pub fn token_from_random(bytes: [u8; 32]) -> Secret {
    use base64::Engine;
    Secret::new(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
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
    use crate::domain::secret::sha256_hex;

    #[test]
    fn verifies_active_tokens_only() {
        let token = token_from_random([7; 32]);
        let now = DateTime::from_timestamp(0, 0).unwrap();
        let mut set = ScimTokenSet {
            tokens: vec![ScimTokenRecord {
                id: "tok1".into(),
                sha256: sha256_hex(token.expose().as_bytes()),
                created_at: now,
                revoked_at: None,
                expires_at: None,
            }],
        };
        assert_eq!(set.verify(token.expose(), now), Some("tok1"));
        assert_eq!(set.verify("scim_wrong", now), None);
        // Rotated: valid until it expires.
        set.tokens[0].expires_at = Some(now + chrono::Duration::hours(24));
        assert_eq!(set.verify(token.expose(), now + chrono::Duration::hours(23)), Some("tok1"));
        assert_eq!(set.verify(token.expose(), now + chrono::Duration::hours(24)), None);
        set.tokens[0].expires_at = None;
        set.tokens[0].revoked_at = Some(now);
        assert_eq!(set.verify(token.expose(), now), None);
        assert!(token.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(token.expose().len(), TOKEN_PREFIX.len() + 43);
    }
}
