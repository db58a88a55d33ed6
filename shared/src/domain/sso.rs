//! Single sign-on rules (docs/behaviour/sign-in.md) that need no I/O: where a user may be sent back to, the
//! single-use login state, the signed session cookie, and how a signed-in Okta user is linked to
//! a stored user.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::secret::Secret;
use super::user::{User, UserStatus};
use super::{OktaUserId, TenantId, UserId};

/// A login must come back within this long (docs/behaviour/sign-in.md).
pub const LOGIN_TTL: Duration = Duration::minutes(10);
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::hours(8);
pub const SESSION_COOKIE: &str = "okta_bridge_session";

/// `return_to` if it is a path on this origin, else `/`. Refuses scheme-relative (`//evil`),
/// backslash (`/\evil`, which browsers read as `//`), absolute URLs, control characters and
/// anything that does not start with one `/`.
pub fn safe_return_to(raw: Option<&str>) -> Option<String> {
    let raw = raw.unwrap_or("/");
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.contains('\\')
        && raw.len() <= 2048
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace())
        // Encoded slashes or backslashes at the start could be decoded into `//` by a proxy.
        && !raw.to_ascii_lowercase().starts_with("/%2f")
        && !raw.to_ascii_lowercase().starts_with("/%5c");
    ok.then(|| raw.to_owned())
}

/// A random token in Okta's allowed `state` alphabet (base64url without padding: letters, digits,
/// `-` and `_`).
pub fn random_token(bytes: [u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What a login remembers between `/okta/login` and the callback; stored single-use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginState {
    pub tenant: TenantId,
    pub state: String,
    pub nonce: String,
    /// PKCE code verifier (sent only to the token endpoint).
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub return_to: String,
    /// SHA-256 (hex) of the random value the login cookie carries in the browser that started
    /// the login: the callback must present it (docs/behaviour/sign-in.md, login CSRF).
    #[serde(default)]
    pub browser_binding: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The name of the cookie that binds a login to its browser: one per login (so two tabs can sign
/// in at once), named after the start of its `state`.
pub fn login_cookie_name(state: &str) -> String {
    let prefix: String = state.chars().filter(|c| c.is_ascii_alphanumeric()).take(16).collect();
    format!("okta_bridge_login_{prefix}")
}

/// The signed-in user, as the session cookie carries it: who and which session, signed; no token.
/// The session itself lives server-side ([`SessionRecord`]), so it can be revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub tenant: TenantId,
    pub user_id: UserId,
    pub okta_id: OktaUserId,
    /// The server-side session's id (random, 256 bits).
    pub sid: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A session as the server keeps it: ended by logout (deleted) or by its expiry, and re-checked
/// against the user's status and the tenant's `sso_enabled` on every use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub tenant: TenantId,
    /// Never stored: the record's key is its digest, and reading it back sets it.
    #[serde(skip)]
    pub sid: String,
    pub user_id: UserId,
    /// The ID token, kept here (never in the cookie) for logout's `id_token_hint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

type HmacSha256 = Hmac<Sha256>;

#[allow(clippy::expect_used, reason = "HMAC accepts a key of any length: new_from_slice cannot fail for it")]
fn mac(key: &Secret, payload: &str) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
    m.update(payload.as_bytes());
    m
}

impl Session {
    /// `payload.signature`, both base64url; signed with HMAC-SHA256 under the current key.
    #[allow(clippy::expect_used, reason = "a struct of strings and timestamps always serialises to JSON")]
    pub fn seal(&self, key: &Secret) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a session serialises"));
        let sig = URL_SAFE_NO_PAD.encode(mac(key, &payload).finalize().into_bytes());
        format!("{payload}.{sig}")
    }

    /// The session if any accepted key signed it (constant-time check) and it has not expired.
    pub fn open(cookie: &str, keys: &[Secret], now: DateTime<Utc>) -> Option<Session> {
        let (payload, sig) = cookie.split_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let signed = keys.iter().any(|k| mac(k, payload).verify_slice(&sig).is_ok());
        if !signed {
            return None;
        }
        let session: Session = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (session.expires_at > now).then_some(session)
    }
}

/// What the identity provider said about the person who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub okta_id: OktaUserId,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub locale: Option<String>,
    /// The profile's `updated_at`, when the provider sent one.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Why a sign-in is refused (shown to the person in plain words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No user here, and just-in-time provisioning is off.
    UnknownUser,
    /// The user is deactivated.
    Deactivated,
    /// The email matches a user linked to another Okta account.
    EmailLinkedElsewhere,
    /// The email matches a user, but Okta has not verified it.
    EmailNotVerified,
    /// The user's Okta id was linked through another Okta org (the tenant's Okta domain changed):
    /// not trusted until the new org's provisioning (a sync or SCIM write, which read Okta with that
    /// org's own API token) confirms the user.
    LinkedToAnotherOrg,
    /// SAML: the assertion carries no Okta user id (`oktaUserId`) and the person is not linked
    /// yet, so they cannot be matched safely.
    OktaIdMissing,
}

/// The linking decision (docs/behaviour/sign-in.md).
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    /// Already linked by Okta id.
    Existing(User),
    /// Found by verified email and not linked to anyone: store the Okta id on it.
    ByEmail(User),
    /// No such user and just-in-time provisioning is on: create them.
    Provision,
    Refuse(Refusal),
}

/// `org` is the tenant's Okta domain now: a link made through another org is not trusted.
pub fn link(by_okta: Option<User>, by_email: Option<User>, who: &SignedIn, jit: bool, org: &str) -> Link {
    let decided = match (by_okta, by_email) {
        (Some(u), _) if u.okta_org.as_deref().is_some_and(|o| o != org) => Link::Refuse(Refusal::LinkedToAnotherOrg),
        (Some(u), _) => Link::Existing(u),
        (None, Some(u)) => match &u.okta_id {
            Some(other) if *other != who.okta_id => Link::Refuse(Refusal::EmailLinkedElsewhere),
            _ if !who.email_verified => Link::Refuse(Refusal::EmailNotVerified),
            _ => Link::ByEmail(u),
        },
        (None, None) if jit && who.email.is_some() && who.email_verified => Link::Provision,
        (None, None) => Link::Refuse(Refusal::UnknownUser),
    };
    match decided {
        Link::Existing(u) | Link::ByEmail(u) if u.status == UserStatus::Deactivated => {
            Link::Refuse(Refusal::Deactivated)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;

    const ORG: &str = "https://acme.okta.com";

    #[test]
    fn only_same_origin_paths_are_returned_to() {
        for good in ["/", "/courses/42?tab=1", "/a/b#c", "/%20x"] {
            assert_eq!(safe_return_to(Some(good)).as_deref(), Some(good), "{good}");
        }
        assert_eq!(safe_return_to(None).as_deref(), Some("/"));
        for bad in [
            "//evil",
            "https://evil",
            "/\\evil",
            "\\\\evil",
            "evil",
            "/%2F%2Fevil",
            "/%5cevil",
            "javascript:alert(1)",
            "/a\nb",
            " /a",
            "",
        ] {
            assert_eq!(safe_return_to(Some(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn tokens_use_oktas_state_alphabet() {
        let t = random_token([255; 32]);
        assert_eq!(t.len(), 43);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{t}");
    }

    fn session(now: DateTime<Utc>) -> Session {
        Session {
            tenant: TenantId::parse("acme").unwrap(),
            user_id: UserId::from_random([1; 16]),
            okta_id: OktaUserId::parse("00u1").unwrap(),
            issued_at: now,
            expires_at: now + SESSION_TTL,
            sid: "sid-1".into(),
        }
    }

    #[test]
    fn sessions_open_only_with_a_signing_key_and_before_expiry() {
        let now: DateTime<Utc> = "2026-11-25T12:00:00Z".parse().unwrap();
        let (k1, k2) = (Secret::new("key-one"), Secret::new("key-two"));
        let cookie = session(now).seal(&k1);
        let (only1, only2, both) = (vec![k1.clone()], vec![k2.clone()], vec![k2, k1]);
        assert_eq!(Session::open(&cookie, &only1, now), Some(session(now)));
        assert_eq!(Session::open(&cookie, &both, now), Some(session(now)), "rotation");
        assert_eq!(Session::open(&cookie, &only2, now), None);
        assert_eq!(Session::open(&cookie, &only1, now + SESSION_TTL), None, "expired");
        let (payload, sig) = cookie.split_once('.').unwrap();
        let mut forged = session(now);
        forged.user_id = UserId::from_random([2; 16]);
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(Session::open(&format!("{forged_payload}.{sig}"), &only1, now), None);
        assert_eq!(Session::open(payload, &only1, now), None);
        assert_eq!(Session::open("garbage", &only1, now), None);
    }

    fn user(okta: Option<&str>, status: UserStatus) -> User {
        let mut u = User::new(
            UserId::from_random([3; 16]),
            Email::parse("ann@acme.example").unwrap(),
            "Ann".into(),
            "Lee".into(),
            "2026-01-01T00:00:00Z".parse().unwrap(),
        );
        u.okta_id = okta.map(|o| OktaUserId::parse(o).unwrap());
        u.status = status;
        u
    }

    fn who(verified: bool) -> SignedIn {
        SignedIn {
            okta_id: OktaUserId::parse("00uann").unwrap(),
            email: Some("ann@acme.example".into()),
            email_verified: verified,
            given_name: None,
            family_name: None,
            locale: None,
            updated_at: None,
        }
    }

    #[test]
    fn linking_by_okta_id_then_verified_email_only() {
        let linked = user(Some("00uann"), UserStatus::Active);
        assert!(matches!(link(Some(linked.clone()), None, &who(false), false, ORG), Link::Existing(_)));
        let unlinked = user(None, UserStatus::Active);
        assert!(matches!(link(None, Some(unlinked.clone()), &who(true), false, ORG), Link::ByEmail(_)));
        assert_eq!(link(None, Some(unlinked), &who(false), false, ORG), Link::Refuse(Refusal::EmailNotVerified));
        let elsewhere = user(Some("00uother"), UserStatus::Active);
        assert_eq!(link(None, Some(elsewhere), &who(true), true, ORG), Link::Refuse(Refusal::EmailLinkedElsewhere));
        assert_eq!(link(None, None, &who(true), false, ORG), Link::Refuse(Refusal::UnknownUser));
        assert_eq!(link(None, None, &who(true), true, ORG), Link::Provision);
        assert_eq!(link(None, None, &who(false), true, ORG), Link::Refuse(Refusal::UnknownUser));
        let gone = user(Some("00uann"), UserStatus::Deactivated);
        assert_eq!(link(Some(gone), None, &who(true), true, ORG), Link::Refuse(Refusal::Deactivated));
        // A link made through another Okta org is not trusted after the tenant's domain changed.
        let mut moved = linked.clone();
        moved.okta_org = Some("https://old.okta.com".into());
        assert_eq!(link(Some(moved.clone()), None, &who(true), true, ORG), Link::Refuse(Refusal::LinkedToAnotherOrg));
        moved.okta_org = Some(ORG.into());
        assert!(matches!(link(Some(moved), None, &who(true), true, ORG), Link::Existing(_)));
    }
}
