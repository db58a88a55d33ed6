//! A signed-in session of the integration page (docs/behaviour/integration-page.md): one tenant, the credential that
//! opened it, a CSRF token for its forms, and an expiry. The cookie carries only
//! `{tenant}.{sid}`; the record lives server-side, keyed by the sid's digest and holding neither
//! the sid nor the CSRF token (derived from the sid), so reading the table gives no session away.
//! Sign-out, and the revocation or rotation of the credential that opened it, end it at once.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TenantId;

/// Who opened the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpenedBy {
    /// The deployment's operator token (by its SHA-256, hex), for the tenant named at sign-in: the
    /// session ends once that value is no longer accepted (rotated out, or its overlap revoked).
    Operator { token_digest: String },
    /// A tenant admin token (by id): the session ends when it is revoked.
    TenantToken { token_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSession {
    pub tenant: TenantId,
    /// Random, 256 bits; stored only as its digest in the key.
    #[serde(skip)]
    pub sid: String,
    pub opened_by: OpenedBy,
    /// Every form of the page carries it; compared in constant time. Derived from the sid
    /// ([`csrf_of`]), never stored.
    #[serde(skip)]
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The CSRF token of the session `sid`: a digest only the holder of the sid can compute.
pub fn csrf_of(sid: &str) -> String {
    crate::domain::secret::sha256_hex(format!("okta-bridge integration page csrf\0{sid}").as_bytes())
}

impl AdminSession {
    /// The session as read back from its record (which holds neither sid nor CSRF token).
    pub fn with_sid(mut self, sid: &str) -> Self {
        self.csrf = csrf_of(sid);
        self.sid = sid.to_owned();
        self
    }

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
