//! A signed-in session of the integration page (docs/behaviour/integration-page.md): one tenant, the credential that
//! opened it, a CSRF token for its forms, and an expiry. The cookie carries only
//! `{tenant}.{sid}`; the record lives server-side (keyed by the sid's digest) so sign-out and
//! the revocation of the admin token that opened it end it at once.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TenantId;

/// Who opened the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpenedBy {
    /// The deployment's operator token, for the tenant named at sign-in.
    Operator,
    /// A tenant admin token (by id): the session ends when it is revoked.
    TenantToken { token_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSession {
    pub tenant: TenantId,
    /// Random, 256 bits; stored only as its digest in the key.
    pub sid: String,
    pub opened_by: OpenedBy,
    /// Every form of the page carries it; compared in constant time.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl AdminSession {
    /// The cookie's value.
    pub fn cookie_value(&self) -> String {
        format!("{}.{}", self.tenant, self.sid)
    }

    /// The tenant and sid a cookie names (nothing is trusted until the record is read).
    pub fn parse_cookie(value: &str) -> Option<(TenantId, String)> {
        let (tenant, sid) = value.split_once('.')?;
        let tenant = TenantId::parse(tenant).ok()?;
        (sid.len() >= 32 && sid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .then(|| (tenant, sid.to_owned()))
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        use crate::domain::secret::{digest_eq, sha256};
        // Digests first, so the comparison takes as long whatever the lengths.
        digest_eq(&sha256(self.csrf.as_bytes()), &sha256(presented.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_name_a_tenant_and_a_long_sid() {
        let (t, sid) = AdminSession::parse_cookie("acme.0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(t.as_str(), "acme");
        assert_eq!(sid.len(), 32);
        assert!(AdminSession::parse_cookie("acme.short").is_none());
        assert!(AdminSession::parse_cookie("ACME!.0123456789abcdef0123456789abcdef").is_none());
        assert!(AdminSession::parse_cookie("nodot").is_none());
    }
}
