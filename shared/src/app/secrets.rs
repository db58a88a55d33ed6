//! Per-tenant and deployment secrets (docs/behaviour/secrets-and-tokens.md): naming, TTL cache, rotation, verification.
//!
//! Layout in the secret store, under the deployment's prefix:
//! `{prefix}/tenants/{tenant}/okta-api-token`, `.../oidc-client-secret`, `.../event-hook-secret`
//! (rotating documents, see [`RotatingSecret`]), and `.../scim-tokens`: the legacy SCIM token
//! document, read only to carry its tokens over into token records (`app::tokens`).
//! The operator (admin) token and the session signing key are deployment-wide rotating secrets.
use crate::locks::Locked;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tracing::instrument;

use crate::domain::legacy_scim_tokens::ScimTokenSet;
use crate::domain::rotation::RotatingSecret;
use crate::domain::{Secret, TenantId};
use crate::ports::secret_store::SecretStoreError;
use crate::ports::{Clock, Random, SecretStore};

/// The secrets a tenant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSecret {
    OktaApiToken,
    OidcClientSecret,
    EventHookSecret,
    ScimTokens,
}

impl TenantSecret {
    fn slug(self) -> &'static str {
        match self {
            Self::OktaApiToken => "okta-api-token",
            Self::OidcClientSecret => "oidc-client-secret",
            Self::EventHookSecret => "event-hook-secret",
            Self::ScimTokens => "scim-tokens",
        }
    }

    /// The secrets an admin sets by value (`POST .../secrets/{name}`).
    pub fn settable(name: &str) -> Option<Self> {
        match name {
            "okta_api_token" => Some(Self::OktaApiToken),
            "oidc_client_secret" => Some(Self::OidcClientSecret),
            _ => None,
        }
    }
}

/// Where the deployment keeps its secrets.
#[derive(Debug, Clone)]
pub struct SecretNames {
    /// Prefix of every tenant secret, e.g. `okta-bridge/prod`.
    pub prefix: String,
    pub admin_token: String,
    pub session_key: String,
}

impl SecretNames {
    pub fn tenant(&self, tenant: &TenantId, kind: TenantSecret) -> String {
        format!("{}/tenants/{}/{}", self.prefix, tenant, kind.slug())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Store(#[from] SecretStoreError),
    /// A stored document could not be read; the name is safe to log, the value is never shown.
    #[error("the stored secret {0} is not in the expected format")]
    Corrupt(String),
}

/// Whether each secret is set, and when; never the values.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SecretStates {
    pub okta_api_token: SecretState,
    pub oidc_client_secret: SecretState,
    pub event_hook_secret: SecretState,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SecretState {
    pub set: bool,
    pub set_at: Option<DateTime<Utc>>,
    /// When a rotated-out previous value stops being accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_valid_until: Option<DateTime<Utc>>,
}

/// Most secret names cached per process.
const MAX_CACHED: usize = 10_000;

struct Cached {
    value: Option<Secret>,
    fetched_at: DateTime<Utc>,
}

/// Reads and writes secrets through a short TTL cache, so a warm Lambda does not call the store on
/// every request. Writes go through the cache, so this process sees its own changes at once;
/// other processes see them within the TTL.
pub struct SecretService {
    store: Arc<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    names: SecretNames,
    ttl: Duration,
    overlap: Duration,
    cache: Mutex<HashMap<String, Cached>>,
    /// When each name was last read again because a presented value missed (see
    /// [`SecretService::read_again_on_miss`]).
    refreshed: Mutex<HashMap<String, DateTime<Utc>>>,
}

/// How long a revoked credential may still be accepted by a warm Lambda (docs/behaviour/secrets-and-tokens.md: 60 s).
pub const REVOCATION_WINDOW: Duration = Duration::seconds(60);

/// A presented credential that does not match the cached document makes one fresh read of it at
/// most this often per name: a value rotated or issued by another Lambda works here at once,
/// while a flood of wrong guesses costs one read per name per window.
pub const MISS_REFRESH: Duration = Duration::seconds(10);

impl SecretService {
    pub fn new(
        store: Arc<dyn SecretStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        names: SecretNames,
        ttl: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            random,
            names,
            ttl,
            overlap: crate::domain::rotation::DEFAULT_OVERLAP,
            cache: Mutex::new(HashMap::new()),
            refreshed: Mutex::new(HashMap::new()),
        }
    }

    pub fn names(&self) -> &SecretNames {
        &self.names
    }

    async fn read(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        self.read_within(name, self.ttl).await
    }

    /// A credential that can be revoked (a SCIM token, the event-hook secret's previous value, the
    /// admin token's): cached at most [`REVOCATION_WINDOW`], so a revocation holds everywhere
    /// within it (docs/behaviour/secrets-and-tokens.md).
    async fn read_credential(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        self.read_within(name, self.ttl.min(REVOCATION_WINDOW)).await
    }

    async fn read_within(&self, name: &str, max_age: Duration) -> Result<Option<Secret>, SecretError> {
        let now = self.clock.now();
        if let Some(hit) = self.cache.locked().get(name) {
            if now - hit.fetched_at < max_age {
                return Ok(hit.value.clone());
            }
        }
        let value = self.store.get_secret(name).await?;
        self.remember(name, value.clone(), now);
        Ok(value)
    }

    /// Caches a value, bounded: past [`MAX_CACHED`] names the expired go, then everything.
    fn remember(&self, name: &str, value: Option<Secret>, now: DateTime<Utc>) {
        let mut cache = self.cache.locked();
        if cache.len() >= MAX_CACHED {
            let ttl = self.ttl;
            cache.retain(|_, c| now - c.fetched_at < ttl);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(name.to_owned(), Cached { value, fetched_at: now });
    }

    /// After a presented value missed the cached document: reads it again, unless that was done
    /// for this name within [`MISS_REFRESH`] (then `None`: nothing new to look at).
    async fn read_again_on_miss(&self, name: &str) -> Result<Option<Option<Secret>>, SecretError> {
        let now = self.clock.now();
        {
            let mut refreshed = self.refreshed.locked();
            if refreshed.get(name).is_some_and(|at| now - *at < MISS_REFRESH) {
                return Ok(None);
            }
            if refreshed.len() >= MAX_CACHED {
                refreshed.clear();
            }
            refreshed.insert(name.to_owned(), now);
        }
        Ok(Some(self.read_fresh(name).await?))
    }

    /// Reads bypassing the cache: for read-modify-write of a document.
    async fn read_fresh(&self, name: &str) -> Result<Option<Secret>, SecretError> {
        self.cache.locked().remove(name);
        self.read(name).await
    }

    async fn write(&self, name: &str, value: Secret) -> Result<(), SecretError> {
        self.store.put_secret(name, &value).await?;
        self.remember(name, Some(value), self.clock.now());
        Ok(())
    }

    async fn rotating(&self, name: &str) -> Result<Option<RotatingSecret>, SecretError> {
        Ok(self.read(name).await?.map(|s| RotatingSecret::decode(&s)))
    }

    fn generate(&self) -> Secret {
        Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.random.bytes32()))
    }

    /// The current value of a tenant secret (for example the Okta API token for the worker).
    pub async fn current(&self, tenant: &TenantId, kind: TenantSecret) -> Result<Option<Secret>, SecretError> {
        Ok(self.rotating(&self.names.tenant(tenant, kind)).await?.map(|r| r.current))
    }

    /// Sets a tenant secret by value. The previous value stays accepted for the overlap window.
    #[instrument(skip_all, fields(tenant = %tenant, secret = kind.slug()))]
    pub async fn set(&self, tenant: &TenantId, kind: TenantSecret, value: Secret) -> Result<(), SecretError> {
        let name = self.names.tenant(tenant, kind);
        let now = self.clock.now();
        let next = match self.read_fresh(&name).await?.map(|s| RotatingSecret::decode(&s)) {
            Some(old) => old.rotate(value, now, self.overlap),
            None => RotatingSecret::new(value, now),
        };
        self.write(&name, next.encode()).await?;
        tracing::info!("tenant secret set");
        Ok(())
    }

    /// Generates a new event-hook secret and returns it (shown once). The old one keeps working for
    /// the overlap window so the Okta admin has time to paste the new one.
    pub async fn rotate_event_hook_secret(&self, tenant: &TenantId) -> Result<Secret, SecretError> {
        let value = self.generate();
        self.set(tenant, TenantSecret::EventHookSecret, value.clone()).await?;
        Ok(value)
    }

    /// Stops accepting a rotated-out event-hook secret at once.
    pub async fn revoke_previous(&self, tenant: &TenantId, kind: TenantSecret) -> Result<(), SecretError> {
        let name = self.names.tenant(tenant, kind);
        if let Some(s) = self.read_fresh(&name).await? {
            self.write(&name, RotatingSecret::decode(&s).revoke_previous().encode()).await?;
        }
        Ok(())
    }

    /// Does the presented header value match the tenant's event-hook secret (current or, within
    /// the overlap, previous)? `None` if no secret is set: every delivery is then refused.
    pub async fn verify_event_hook_secret(
        &self,
        tenant: &TenantId,
        presented: &str,
    ) -> Result<Option<bool>, SecretError> {
        let now = self.clock.now();
        let name = self.names.tenant(tenant, TenantSecret::EventHookSecret);
        let cached = self.read_credential(&name).await?.map(|s| RotatingSecret::decode(&s).verify(presented, now));
        if cached == Some(true) {
            return Ok(cached);
        }
        // Rotated by the admin function a moment ago? Look once more before refusing.
        match self.read_again_on_miss(&name).await? {
            Some(fresh) => Ok(fresh.map(|s| RotatingSecret::decode(&s).verify(presented, now))),
            None => Ok(cached),
        }
    }

    /// Is this the deployment's admin token (current, or previous within the overlap)?
    pub async fn verify_admin_token(&self, presented: &str) -> Result<bool, SecretError> {
        let now = self.clock.now();
        let name = self.names.admin_token.clone();
        if self.read_credential(&name).await?.is_some_and(|s| RotatingSecret::decode(&s).verify(presented, now)) {
            return Ok(true);
        }
        Ok(
            matches!(self.read_again_on_miss(&name).await?, Some(Some(s)) if RotatingSecret::decode(&s).verify(presented, now)),
        )
    }

    /// Is a value whose SHA-256 (hex) is `digest` still an accepted operator token? (What an
    /// integration-page session opened with the operator token re-checks on every request.)
    pub async fn admin_token_digest_accepted(&self, digest: &str) -> Result<bool, SecretError> {
        let now = self.clock.now();
        let Some(stored) = self.read_credential(&self.names.admin_token.clone()).await? else { return Ok(false) };
        let rotating = RotatingSecret::decode(&stored);
        let wanted = crate::domain::secret::sha256(digest.as_bytes());
        let mut hit = false;
        for value in rotating.accepted(now) {
            let hex = crate::domain::secret::sha256_hex(value.expose().as_bytes());
            hit |= crate::domain::secret::digest_eq(&crate::domain::secret::sha256(hex.as_bytes()), &wanted);
        }
        Ok(hit)
    }

    /// The session signing keys accepted now (current first).
    pub async fn session_keys(&self) -> Result<Vec<Secret>, SecretError> {
        let now = self.clock.now();
        Ok(self
            .rotating(&self.names.session_key)
            .await?
            .map(|r| r.accepted(now).cloned().collect())
            .unwrap_or_default())
    }

    async fn rotate_deployment(&self, name: &str) -> Result<(Secret, RotatingSecret), SecretError> {
        let value = self.generate();
        let now = self.clock.now();
        let next = match self.read_fresh(name).await? {
            Some(old) => RotatingSecret::decode(&old).rotate(value.clone(), now, self.overlap),
            None => RotatingSecret::new(value.clone(), now),
        };
        self.write(name, next.encode()).await?;
        Ok((value, next))
    }

    /// A new deployment admin token (returned once); the old one works for the overlap window.
    pub async fn rotate_admin_token(&self) -> Result<(Secret, Option<DateTime<Utc>>), SecretError> {
        let (value, doc) = self.rotate_deployment(&self.names.admin_token.clone()).await?;
        tracing::info!("admin token rotated");
        Ok((value, doc.previous.map(|p| p.valid_until)))
    }

    /// A new session signing key (never shown); sessions signed with the old one stay valid for
    /// the overlap window.
    pub async fn rotate_session_key(&self) -> Result<Option<DateTime<Utc>>, SecretError> {
        let (_, doc) = self.rotate_deployment(&self.names.session_key.clone()).await?;
        tracing::info!("session signing key rotated");
        Ok(doc.previous.map(|p| p.valid_until))
    }

    /// Stops accepting the rotated-out value of a deployment secret at once.
    pub async fn revoke_previous_deployment(&self, admin_token: bool) -> Result<(), SecretError> {
        let name = if admin_token { self.names.admin_token.clone() } else { self.names.session_key.clone() };
        if let Some(s) = self.read_fresh(&name).await? {
            self.write(&name, RotatingSecret::decode(&s).revoke_previous().encode()).await?;
        }
        tracing::info!(admin_token, "previous deployment secret revoked");
        Ok(())
    }

    fn legacy_document(name: &str, stored: Option<Secret>) -> Result<Option<ScimTokenSet>, SecretError> {
        match stored {
            None => Ok(None),
            Some(s) => ScimTokenSet::decode(&s).map(Some).map_err(|_| SecretError::Corrupt(name.to_owned())),
        }
    }

    /// The tenant's legacy SCIM token document if it holds `presented` (active or not). Read like
    /// a credential ([`REVOCATION_WINDOW`]), and once more on a miss at most every
    /// [`MISS_REFRESH`], so a flood of wrong tokens costs one read per window.
    pub async fn legacy_scim_tokens_holding(
        &self,
        tenant: &TenantId,
        presented: &str,
    ) -> Result<Option<ScimTokenSet>, SecretError> {
        let name = self.names.tenant(tenant, TenantSecret::ScimTokens);
        let holds = |set: &ScimTokenSet| set.holds(presented);
        let cached = self.read_credential(&name).await?;
        if let Some(set) = Self::legacy_document(&name, cached)?.filter(holds) {
            return Ok(Some(set));
        }
        match self.read_again_on_miss(&name).await? {
            Some(fresh) => Ok(Self::legacy_document(&name, fresh)?.filter(holds)),
            None => Ok(None),
        }
    }

    /// The tenant's legacy SCIM token document, read fresh, if it still holds tokens.
    pub async fn legacy_scim_tokens(&self, tenant: &TenantId) -> Result<Option<ScimTokenSet>, SecretError> {
        let name = self.names.tenant(tenant, TenantSecret::ScimTokens);
        let stored = self.read_fresh(&name).await?;
        Ok(Self::legacy_document(&name, stored)?.filter(|set| !set.tokens.is_empty()))
    }

    /// Empties the legacy document once its tokens are records (the hashes are kept in one place).
    pub async fn empty_legacy_scim_tokens(&self, tenant: &TenantId) -> Result<(), SecretError> {
        let name = self.names.tenant(tenant, TenantSecret::ScimTokens);
        let emptied = ScimTokenSet { tokens: Vec::new(), migrated_at: Some(self.clock.now()) };
        self.write(&name, emptied.encode()).await
    }

    /// What is set, and when; never values.
    pub async fn status(&self, tenant: &TenantId) -> Result<SecretStates, SecretError> {
        let now = self.clock.now();
        let state = |r: Option<RotatingSecret>| SecretState {
            set: r.is_some(),
            set_at: r.as_ref().and_then(|r| r.created_at),
            previous_valid_until: r
                .as_ref()
                .and_then(|r| r.previous.as_ref())
                .map(|p| p.valid_until)
                .filter(|until| *until > now),
        };
        Ok(SecretStates {
            okta_api_token: state(self.rotating(&self.names.tenant(tenant, TenantSecret::OktaApiToken)).await?),
            oidc_client_secret: state(self.rotating(&self.names.tenant(tenant, TenantSecret::OidcClientSecret)).await?),
            event_hook_secret: state(self.rotating(&self.names.tenant(tenant, TenantSecret::EventHookSecret)).await?),
        })
    }
}

#[cfg(test)]
#[cfg(feature = "fakes")]
mod tests {
    use super::*;
    use crate::fakes::{FakeClock, FakeRandom, MemorySecrets};

    fn service(store: Arc<MemorySecrets>, clock: Arc<FakeClock>) -> SecretService {
        SecretService::new(
            store,
            clock,
            Arc::new(FakeRandom::default()),
            SecretNames { prefix: "ob".into(), admin_token: "ob/admin".into(), session_key: "ob/session".into() },
            Duration::minutes(5),
        )
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[tokio::test]
    async fn cache_serves_within_ttl_and_refreshes_after() {
        let store = Arc::new(MemorySecrets::default());
        let clock = Arc::new(FakeClock::default());
        let svc = service(store.clone(), clock.clone());
        svc.set(&acme(), TenantSecret::OktaApiToken, Secret::new("t1")).await.unwrap();
        let reads = store.reads();
        assert_eq!(svc.current(&acme(), TenantSecret::OktaApiToken).await.unwrap().unwrap().expose(), "t1");
        assert_eq!(svc.current(&acme(), TenantSecret::OktaApiToken).await.unwrap().unwrap().expose(), "t1");
        assert_eq!(store.reads(), reads, "served from cache");
        // Another process changes it; we see it after the TTL.
        let other = service(store.clone(), clock.clone());
        other.set(&acme(), TenantSecret::OktaApiToken, Secret::new("t2")).await.unwrap();
        assert_eq!(svc.current(&acme(), TenantSecret::OktaApiToken).await.unwrap().unwrap().expose(), "t1");
        clock.advance(Duration::minutes(6));
        assert_eq!(svc.current(&acme(), TenantSecret::OktaApiToken).await.unwrap().unwrap().expose(), "t2");
    }

    #[tokio::test]
    async fn event_hook_rotation_keeps_the_old_secret_for_the_overlap() {
        let clock = Arc::new(FakeClock::default());
        let svc = service(Arc::new(MemorySecrets::default()), clock.clone());
        assert_eq!(svc.verify_event_hook_secret(&acme(), "x").await.unwrap(), None);
        let first = svc.rotate_event_hook_secret(&acme()).await.unwrap();
        let second = svc.rotate_event_hook_secret(&acme()).await.unwrap();
        assert_ne!(first.expose(), second.expose());
        assert_eq!(svc.verify_event_hook_secret(&acme(), first.expose()).await.unwrap(), Some(true));
        assert_eq!(svc.verify_event_hook_secret(&acme(), second.expose()).await.unwrap(), Some(true));
        assert_eq!(svc.verify_event_hook_secret(&acme(), "nope").await.unwrap(), Some(false));
        clock.advance(Duration::hours(25));
        assert_eq!(svc.verify_event_hook_secret(&acme(), first.expose()).await.unwrap(), Some(false));
        assert_eq!(svc.verify_event_hook_secret(&acme(), second.expose()).await.unwrap(), Some(true));
    }

    #[tokio::test]
    async fn a_value_changed_by_another_process_works_at_once_and_guesses_cost_one_read_per_window() {
        let store = Arc::new(MemorySecrets::default());
        let clock = Arc::new(FakeClock::default());
        let receiver = service(store.clone(), clock.clone());
        let admin = service(store.clone(), clock.clone());
        let first = admin.rotate_event_hook_secret(&acme()).await.unwrap();
        assert_eq!(receiver.verify_event_hook_secret(&acme(), first.expose()).await.unwrap(), Some(true));
        // The admin function rotates; the receiver's cache still holds the old document.
        let second = admin.rotate_event_hook_secret(&acme()).await.unwrap();
        assert_eq!(receiver.verify_event_hook_secret(&acme(), second.expose()).await.unwrap(), Some(true));
        // Wrong guesses: one fresh read per name per window, then none.
        let before = store.reads();
        for _ in 0..20 {
            assert_eq!(receiver.verify_event_hook_secret(&acme(), "guess").await.unwrap(), Some(false));
        }
        assert!(store.reads() - before <= 1, "{} reads for 20 guesses", store.reads() - before);
    }

    #[tokio::test]
    async fn admin_token_accepts_bare_values() {
        let store = Arc::new(MemorySecrets::default());
        store.put_secret("ob/admin", &Secret::new("plain-admin")).await.unwrap();
        let svc = service(store, Arc::new(FakeClock::default()));
        assert!(svc.verify_admin_token("plain-admin").await.unwrap());
        assert!(!svc.verify_admin_token("plain-admin ").await.unwrap());
    }
}
