use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Clock, StoreError};
use crate::domain::admin_session::AdminSession;
use crate::domain::sso::{LoginState, SessionRecord, SignedIn};
use crate::domain::{Secret, TenantId};

/// Sign-in state: pending logins, each usable once, and the sessions they open.
#[async_trait]
pub trait LoginStateStore: Send + Sync {
    /// Stores a session (its expiry also expires the record).
    async fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// The session, unless it was ended or has expired.
    async fn get_session(
        &self,
        tenant: &TenantId,
        sid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Ends a session (logout): every later use of its cookie is refused.
    async fn delete_session(&self, tenant: &TenantId, sid: &str) -> Result<(), StoreError>;

    /// Integration-page sessions (docs/behaviour/integration-page.md): stored, read unless ended or expired, ended.
    async fn put_admin_session(&self, session: &AdminSession) -> Result<(), StoreError>;
    async fn get_admin_session(
        &self,
        tenant: &TenantId,
        sid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>, StoreError>;
    async fn delete_admin_session(&self, tenant: &TenantId, sid: &str) -> Result<(), StoreError>;

    async fn put_login(&self, login: &LoginState) -> Result<(), StoreError>;
    /// Removes the login and returns it, atomically, if `browser_binding` (the digest of the login
    /// cookie the callback's browser presented) is the one it was started with: a second call with
    /// the same state (a replayed callback) gets `None`, as does an expired or unknown one. Another
    /// browser's callback → `VersionConflict`, and the login stays for its own browser.
    async fn take_login(
        &self,
        tenant: &TenantId,
        state: &str,
        browser_binding: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginState>, StoreError>;

    /// Records that an assertion (by the digest of its id) was accepted, until `expires_at` (when
    /// it could no longer be replayed anyway). `true` the first time only: the SAML replay guard.
    async fn claim_assertion(
        &self,
        tenant: &TenantId,
        assertion_digest: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Why an IdP's metadata could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum MetadataFetchError {
    /// The URL breaks the outbound rules (not https, a private address ...).
    #[error("the metadata URL is not allowed: {0}")]
    NotAllowed(String),
    #[error("the metadata could not be fetched: {0}")]
    Unreachable(String),
}

/// Reads a SAML IdP's metadata document from its URL (under the outbound rules, size-capped).
#[async_trait]
pub trait IdpMetadataSource: Send + Sync {
    async fn fetch_metadata(&self, url: &str) -> Result<String, MetadataFetchError>;
}

/// A tenant's OIDC client at its issuer.
#[derive(Debug, Clone)]
pub struct OidcClient {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The issuer's discovery document or keys could not be read, or did not match the issuer.
    #[error("the identity provider could not be reached or described itself wrongly: {0}")]
    Discovery(String),
    /// The token endpoint refused the code (expired, used, wrong client ...).
    #[error("the sign-in code was refused: {0}")]
    Exchange(String),
    /// The ID token failed verification (signature, issuer, audience, expiry, nonce).
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(String),
    #[error("the user's profile could not be read: {0}")]
    UserInfo(String),
}

/// The identity provider, spoken to with a verified OpenID Connect client.
#[async_trait]
pub trait OidcProvider: Send + Sync {
    /// Where to send the browser: the authorization request with `state`, `nonce` and the PKCE
    /// S256 challenge of `login.pkce_verifier`.
    async fn authorize_url(&self, client: &OidcClient, login: &LoginState) -> Result<String, OidcError>;
    /// Exchanges the code (with the PKCE verifier), verifies the ID token by `clock` and reads
    /// `/userinfo`. Returns who signed in and the raw ID token (for logout's `id_token_hint`).
    async fn sign_in(
        &self,
        client: &OidcClient,
        login: &LoginState,
        code: &str,
        clock: &dyn Clock,
    ) -> Result<(SignedIn, String), OidcError>;
    /// Reads the issuer's discovery document and keys afresh, as a sign-in would ("Connect to
    /// Okta"): `Ok` when they load and name this issuer.
    async fn check_issuer(&self, issuer: &str) -> Result<(), OidcError>;
    /// The issuer's end-session URL for this logout, if it has one.
    async fn end_session_url(
        &self,
        client: &OidcClient,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: &str,
    ) -> Result<Option<String>, OidcError>;
}
