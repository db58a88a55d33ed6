//! API tokens (docs/behaviour/secrets-and-tokens.md, docs/behaviour/admin-api.md): issue, list, rotate with overlap, revoke and verify a tenant's SCIM
//! tokens and tenant admin tokens, one record per token in the store.
//!
//! Verification is a key lookup by the presented value's SHA-256, cached in memory: a found record
//! at most [`REVOCATION_WINDOW`], so a revocation holds everywhere within it; a miss as long (a
//! value nobody issued cannot start working later, so caching a miss never delays a new token).
//!
//! SCIM tokens issued before token records live in one legacy Secrets Manager document. A
//! presented value found there is carried over into records (each written only if absent, so a
//! record revoked meanwhile stays revoked), and the admin API carries a tenant's whole document
//! over, then empties it, the first time it manages that tenant's SCIM tokens.
use crate::locks::Locked;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use tracing::instrument;

use super::secrets::{SecretError, SecretService, REVOCATION_WINDOW};
use crate::domain::api_token::{lookup_key, TokenInfo, TokenKind, TokenRecord, MAX_ACTIVE};
use crate::domain::rotation::DEFAULT_OVERLAP;
use crate::domain::{Secret, TenantId};
use crate::ports::{Clock, Random, StoreError, TokenStore};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no such token")]
    UnknownToken,
    #[error("this tenant already has {MAX_ACTIVE} active tokens of this kind; revoke one first")]
    TooMany,
    #[error("the token changed while it was being rotated; list the tokens and try again")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Most lookups cached per process.
const MAX_CACHED: usize = 10_000;

struct Cached {
    record: Option<TokenRecord>,
    fetched_at: DateTime<Utc>,
}

/// A token that verified: whose it is and which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub tenant: TenantId,
    pub kind: TokenKind,
    pub id: String,
}

pub struct TokenService {
    store: Arc<dyn TokenStore>,
    /// The legacy SCIM token documents.
    secrets: Arc<SecretService>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    max_age: Duration,
    overlap: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl TokenService {
    /// `cache_ttl` is capped at [`REVOCATION_WINDOW`].
    pub fn new(
        store: Arc<dyn TokenStore>,
        secrets: Arc<SecretService>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        cache_ttl: Duration,
    ) -> Self {
        Self {
            store,
            secrets,
            clock,
            random,
            max_age: cache_ttl.min(REVOCATION_WINDOW),
            overlap: DEFAULT_OVERLAP,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The record of a presented value, through the cache.
    async fn lookup(&self, presented: &str) -> Result<Option<TokenRecord>, TokenError> {
        let key = lookup_key(presented);
        let now = self.clock.now();
        if let Some(hit) = self.cache.locked().get(&key) {
            if now - hit.fetched_at < self.max_age {
                return Ok(hit.record.clone());
            }
        }
        let record = self.store.find_token(&key).await?;
        self.remember(key, record.clone(), now);
        Ok(record)
    }

    fn remember(&self, key: String, record: Option<TokenRecord>, now: DateTime<Utc>) {
        let mut cache = self.cache.locked();
        if cache.len() >= MAX_CACHED {
            let max_age = self.max_age;
            cache.retain(|_, c| now - c.fetched_at < max_age);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(key, Cached { record, fetched_at: now });
    }

    fn forget(&self, record: &TokenRecord) {
        self.cache.locked().remove(&record.sha256);
    }

    /// Whose active token `presented` is, of any tenant (the admin API learns the caller's tenant
    /// from it). Compared in constant time against the stored digest.
    pub async fn verify(&self, kind: TokenKind, presented: &str) -> Result<Option<Verified>, TokenError> {
        let now = self.clock.now();
        Ok(self
            .lookup(presented)
            .await?
            .filter(|r| r.kind == kind && r.is_active(now) && r.matches(presented))
            .map(|r| Verified { tenant: r.tenant, kind: r.kind, id: r.id }))
    }

    /// The id of `tenant`'s active SCIM token `presented` is, if it is one. A value not in the
    /// records is looked for in the tenant's legacy document (bounded: see
    /// [`SecretService::legacy_scim_tokens_holding`]) and carried over when found.
    pub async fn verify_scim(&self, tenant: &TenantId, presented: &str) -> Result<Option<String>, TokenError> {
        let now = self.clock.now();
        let mut record = self.lookup(presented).await?;
        if record.is_none() {
            if let Some(legacy) = self.secrets.legacy_scim_tokens_holding(tenant, presented).await? {
                self.carry_over(&legacy.to_records(tenant)).await?;
                record = self.store.find_token(&lookup_key(presented)).await?;
                self.remember(lookup_key(presented), record.clone(), now);
            }
        }
        Ok(record
            .filter(|r| &r.tenant == tenant && r.kind == TokenKind::Scim && r.is_active(now) && r.matches(presented))
            .map(|r| r.id))
    }

    /// Writes legacy records that are not records yet; an existing record (perhaps revoked since)
    /// is never overwritten.
    async fn carry_over(&self, records: &[TokenRecord]) -> Result<(), TokenError> {
        for record in records {
            match self.store.insert_token(record).await {
                Ok(()) | Err(StoreError::AlreadyExists) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !records.is_empty() {
            tracing::info!(count = records.len(), "legacy SCIM tokens carried over into token records");
        }
        Ok(())
    }

    /// Before the admin API manages a tenant's SCIM tokens: carries the legacy document over and
    /// empties it.
    async fn migrate(&self, tenant: &TenantId, kind: TokenKind) -> Result<(), TokenError> {
        if kind != TokenKind::Scim {
            return Ok(());
        }
        if let Some(legacy) = self.secrets.legacy_scim_tokens(tenant).await? {
            self.carry_over(&legacy.to_records(tenant)).await?;
            self.secrets.empty_legacy_scim_tokens(tenant).await?;
            tracing::info!(tenant = %tenant, count = legacy.tokens.len(), "legacy SCIM token document emptied");
        }
        Ok(())
    }

    /// A tenant's tokens of `kind`, oldest first (revoked and expired ones until pruned).
    pub async fn list(&self, tenant: &TenantId, kind: TokenKind) -> Result<Vec<TokenInfo>, TokenError> {
        self.migrate(tenant, kind).await?;
        let now = self.clock.now();
        Ok(self.store.list_tokens(tenant, kind).await?.iter().map(|r| r.info(now)).collect())
    }

    pub async fn active_count(&self, tenant: &TenantId, kind: TokenKind) -> Result<usize, TokenError> {
        let now = self.clock.now();
        Ok(self.store.list_tokens(tenant, kind).await?.iter().filter(|r| r.is_active(now)).count())
    }

    fn new_record(&self, tenant: &TenantId, kind: TokenKind) -> (TokenRecord, Secret) {
        TokenRecord::issue(tenant.clone(), kind, self.random.bytes32(), self.random.bytes16(), self.clock.now())
    }

    /// Issues a token: returns its id and value (shown once); only its digest is stored.
    #[instrument(skip_all, fields(tenant = %tenant, kind = kind.as_str()))]
    pub async fn issue(&self, tenant: &TenantId, kind: TokenKind) -> Result<(String, Secret), TokenError> {
        self.migrate(tenant, kind).await?;
        if self.active_count(tenant, kind).await? >= MAX_ACTIVE {
            return Err(TokenError::TooMany);
        }
        let (record, value) = self.new_record(tenant, kind);
        self.store.insert_token(&record).await?;
        tracing::info!(token_id = %record.id, "{} token issued", kind.label());
        Ok((record.id, value))
    }

    async fn find_by_id(&self, tenant: &TenantId, kind: TokenKind, id: &str) -> Result<TokenRecord, TokenError> {
        self.migrate(tenant, kind).await?;
        self.store.list_tokens(tenant, kind).await?.into_iter().find(|r| r.id == id).ok_or(TokenError::UnknownToken)
    }

    /// Revokes a token at once (here; everywhere within [`REVOCATION_WINDOW`]).
    #[instrument(skip_all, fields(tenant = %tenant, kind = kind.as_str(), token_id = %id))]
    pub async fn revoke(&self, tenant: &TenantId, kind: TokenKind, id: &str) -> Result<(), TokenError> {
        let record = self.find_by_id(tenant, kind, id).await?;
        match self.store.revoke_token(&record, self.clock.now()).await {
            Ok(()) => {}
            Err(StoreError::VersionConflict) => return Err(TokenError::UnknownToken),
            Err(e) => return Err(e.into()),
        }
        self.forget(&record);
        tracing::info!("{} token revoked", kind.label());
        Ok(())
    }

    /// Replaces an active token: a new one is issued (returned once, with when the old one stops
    /// working) and the old one keeps working for the overlap window, in one atomic write.
    #[instrument(skip_all, fields(tenant = %tenant, kind = kind.as_str(), token_id = %id))]
    pub async fn rotate(
        &self,
        tenant: &TenantId,
        kind: TokenKind,
        id: &str,
    ) -> Result<(String, Secret, DateTime<Utc>), TokenError> {
        let now = self.clock.now();
        let old = self.find_by_id(tenant, kind, id).await?;
        if !old.is_active(now) {
            return Err(TokenError::UnknownToken);
        }
        let until = old.rotated_until(now, self.overlap);
        let (record, value) = self.new_record(tenant, kind);
        match self.store.rotate_token(&old, until, &record, now).await {
            Ok(()) => {}
            Err(StoreError::VersionConflict) => return Err(TokenError::Conflict),
            Err(e) => return Err(e.into()),
        }
        self.forget(&old);
        tracing::info!(new_token_id = %record.id, "{} token rotated", kind.label());
        Ok((record.id, value, until))
    }
}

#[cfg(test)]
#[cfg(feature = "fakes")]
mod tests {
    use super::*;
    use crate::app::secrets::SecretNames;
    use crate::domain::legacy_scim_tokens::{ScimTokenRecord, ScimTokenSet};
    use crate::domain::secret::sha256_hex;
    use crate::fakes::{FakeClock, FakeRandom, MemorySecrets, MemoryStore};
    use crate::ports::SecretStore;

    struct World {
        store: Arc<MemoryStore>,
        secrets: Arc<MemorySecrets>,
        clock: Arc<FakeClock>,
        random: Arc<FakeRandom>,
    }

    impl World {
        fn new() -> Self {
            Self {
                store: Arc::new(MemoryStore::default()),
                secrets: Arc::new(MemorySecrets::default()),
                clock: Arc::new(FakeClock::default()),
                random: Arc::new(FakeRandom::default()),
            }
        }

        /// One Lambda's token service (its own caches) over the shared stores.
        fn process(&self) -> TokenService {
            let secrets = Arc::new(SecretService::new(
                self.secrets.clone(),
                self.clock.clone(),
                self.random.clone(),
                SecretNames { prefix: "ob".into(), admin_token: "ob/admin".into(), session_key: "ob/session".into() },
                Duration::minutes(5),
            ));
            TokenService::new(
                self.store.clone(),
                secrets,
                self.clock.clone(),
                self.random.clone(),
                Duration::minutes(5),
            )
        }
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[tokio::test]
    async fn issue_verify_rotate_revoke() {
        let w = World::new();
        let svc = w.process();
        let (id1, t1) = svc.issue(&acme(), TokenKind::Scim).await.unwrap();
        let (id2, t2) = svc.issue(&acme(), TokenKind::Scim).await.unwrap();
        assert_eq!(svc.verify_scim(&acme(), t1.expose()).await.unwrap(), Some(id1.clone()));
        let other = TenantId::parse("other").unwrap();
        assert_eq!(svc.verify_scim(&other, t1.expose()).await.unwrap(), None, "another tenant's token");
        assert_eq!(
            svc.verify(TokenKind::Admin, t1.expose()).await.unwrap(),
            None,
            "a SCIM token is not an admin token"
        );
        svc.revoke(&acme(), TokenKind::Scim, &id1).await.unwrap();
        assert_eq!(svc.verify_scim(&acme(), t1.expose()).await.unwrap(), None);
        assert!(matches!(svc.revoke(&acme(), TokenKind::Scim, "tok_missing").await, Err(TokenError::UnknownToken)));
        assert!(matches!(svc.revoke(&other, TokenKind::Scim, &id2).await, Err(TokenError::UnknownToken)));
        let (id3, t3, until) = svc.rotate(&acme(), TokenKind::Scim, &id2).await.unwrap();
        assert_eq!(until, w.clock.now() + DEFAULT_OVERLAP);
        assert_eq!(svc.verify_scim(&acme(), t2.expose()).await.unwrap(), Some(id2.clone()), "overlap");
        assert_eq!(svc.verify_scim(&acme(), t3.expose()).await.unwrap(), Some(id3.clone()));
        w.clock.advance(DEFAULT_OVERLAP + Duration::seconds(1));
        assert_eq!(svc.verify_scim(&acme(), t2.expose()).await.unwrap(), None, "overlap over");
        assert!(matches!(svc.rotate(&acme(), TokenKind::Scim, &id2).await, Err(TokenError::UnknownToken)));
        let mut listed: Vec<_> =
            svc.list(&acme(), TokenKind::Scim).await.unwrap().into_iter().map(|t| (t.id, t.active)).collect();
        listed.sort();
        let mut expected = vec![(id1, false), (id2, false), (id3, true)];
        expected.sort();
        assert_eq!(listed, expected);
        assert_eq!(svc.active_count(&acme(), TokenKind::Scim).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_revocation_elsewhere_holds_within_the_window_and_a_new_token_works_at_once() {
        let w = World::new();
        let (scim, admin) = (w.process(), w.process());
        let wrong = "scim_not-issued-yet";
        assert_eq!(scim.verify_scim(&acme(), wrong).await.unwrap(), None);
        let (id, token) = admin.issue(&acme(), TokenKind::Scim).await.unwrap();
        assert!(scim.verify_scim(&acme(), token.expose()).await.unwrap().is_some(), "new: no stale miss");
        admin.revoke(&acme(), TokenKind::Scim, &id).await.unwrap();
        w.clock.advance(REVOCATION_WINDOW);
        assert_eq!(scim.verify_scim(&acme(), token.expose()).await.unwrap(), None, "revoked everywhere");
        // Guesses: one lookup each at most, then cached.
        let before = w.store.token_lookups();
        for _ in 0..20 {
            assert_eq!(scim.verify_scim(&acme(), wrong).await.unwrap(), None);
        }
        assert!(w.store.token_lookups() - before <= 1);
    }

    #[tokio::test]
    async fn concurrent_rotations_and_revocations_never_undo_each_other() {
        let w = World::new();
        let (a, b) = (w.process(), w.process());
        let mut ids = Vec::new();
        for _ in 0..6 {
            ids.push(a.issue(&acme(), TokenKind::Admin).await.unwrap().0);
        }
        // Two admins at once: one revokes every other token while the other rotates each.
        let revoke = async {
            for id in ids.iter().step_by(2) {
                a.revoke(&acme(), TokenKind::Admin, id).await.unwrap();
                tokio::task::yield_now().await;
            }
        };
        let rotate = async {
            let mut new = 0;
            for id in &ids {
                match b.rotate(&acme(), TokenKind::Admin, id).await {
                    Ok(_) => new += 1,
                    Err(TokenError::Conflict | TokenError::UnknownToken) => {}
                    Err(e) => panic!("{e}"),
                }
                tokio::task::yield_now().await;
            }
            new
        };
        let ((), new) = tokio::join!(revoke, rotate);
        let listed = a.list(&acme(), TokenKind::Admin).await.unwrap();
        assert_eq!(listed.len(), 6 + new, "every issued token has its own record");
        for id in ids.iter().step_by(2) {
            let t = listed.iter().find(|t| &t.id == id).unwrap();
            assert!(!t.active && t.revoked_at.is_some(), "a revocation is never undone: {t:?}");
        }
    }

    /// The old single document hit Secrets Manager's 64 KiB ceiling after a few hundred tokens,
    /// then refused every issue and revocation; records have no ceiling.
    #[tokio::test]
    async fn a_thousand_issued_and_revoked_tokens_block_nothing() {
        let w = World::new();
        let svc = w.process();
        for _ in 0..1000 {
            let (id, _) = svc.issue(&acme(), TokenKind::Scim).await.unwrap();
            svc.revoke(&acme(), TokenKind::Scim, &id).await.unwrap();
        }
        let (id, token) = svc.issue(&acme(), TokenKind::Scim).await.unwrap();
        assert_eq!(svc.verify_scim(&acme(), token.expose()).await.unwrap(), Some(id));
        assert_eq!(svc.list(&acme(), TokenKind::Scim).await.unwrap().len(), 1001);
    }

    #[tokio::test]
    async fn issuing_stops_at_the_cap() {
        let w = World::new();
        let svc = w.process();
        for _ in 0..MAX_ACTIVE {
            svc.issue(&acme(), TokenKind::Admin).await.unwrap();
        }
        assert!(matches!(svc.issue(&acme(), TokenKind::Admin).await, Err(TokenError::TooMany)));
        let first = svc.list(&acme(), TokenKind::Admin).await.unwrap()[0].id.clone();
        svc.revoke(&acme(), TokenKind::Admin, &first).await.unwrap();
        svc.issue(&acme(), TokenKind::Admin).await.unwrap();
    }

    #[tokio::test]
    async fn legacy_tokens_keep_working_and_are_carried_over_once() {
        let w = World::new();
        let (live, revoked) = ("scim_legacy-live", "scim_legacy-revoked");
        let record = |id: &str, value: &str, revoked_at| ScimTokenRecord {
            id: id.into(),
            sha256: sha256_hex(value.as_bytes()),
            created_at: w.clock.now(),
            revoked_at,
            expires_at: None,
        };
        let doc = ScimTokenSet {
            tokens: vec![record("tok_live", live, None), record("tok_gone", revoked, Some(w.clock.now()))],
            migrated_at: None,
        };
        w.secrets.put_secret("ob/tenants/acme/scim-tokens", &doc.encode()).await.unwrap();
        let (scim, admin) = (w.process(), w.process());
        assert_eq!(scim.verify_scim(&acme(), live).await.unwrap(), Some("tok_live".into()));
        assert_eq!(scim.verify_scim(&acme(), revoked).await.unwrap(), None);
        // The admin revokes the carried-over token; a later carry-over never revives it.
        admin.revoke(&acme(), TokenKind::Scim, "tok_live").await.unwrap();
        let doc_now = w.secrets.get_secret("ob/tenants/acme/scim-tokens").await.unwrap().unwrap();
        let emptied = ScimTokenSet::decode(&doc_now).unwrap();
        assert!(emptied.tokens.is_empty() && emptied.migrated_at.is_some(), "emptied once carried over");
        w.clock.advance(REVOCATION_WINDOW);
        assert_eq!(w.process().verify_scim(&acme(), live).await.unwrap(), None);
        assert_eq!(admin.list(&acme(), TokenKind::Scim).await.unwrap().len(), 2);
    }
}
