use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::api_token::{TokenKind, TokenRecord};
use crate::domain::TenantId;

/// API token records (docs/behaviour/secrets-and-tokens.md): one per token, found by the digest of a presented value and listed
/// per tenant and kind. Every change is a conditional write of one token's record (a rotation: two,
/// in one transaction), so concurrent issues and revocations never undo one another.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new token. `AlreadyExists` if a record with its digest exists (never overwritten).
    async fn insert_token(&self, record: &TokenRecord) -> Result<(), StoreError>;

    /// The record whose digest is `sha256` (hex), active or not.
    async fn find_token(&self, sha256: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// A tenant's tokens of one kind, oldest first, inactive ones until they are pruned.
    async fn list_tokens(&self, tenant: &TenantId, kind: TokenKind) -> Result<Vec<TokenRecord>, StoreError>;

    /// Marks `record` revoked at `at` (a second revocation keeps the first time). `VersionConflict`
    /// if no such record of that tenant and kind exists.
    async fn revoke_token(&self, record: &TokenRecord, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Atomically stores `new` and ends `old` at `until`. `VersionConflict` if `old` is no longer
    /// active at `now` (revoked, or expired, meanwhile); nothing is written then.
    async fn rotate_token(
        &self,
        old: &TokenRecord,
        until: DateTime<Utc>,
        new: &TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
