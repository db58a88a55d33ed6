use async_trait::async_trait;

use super::{Page, StoreError};
use crate::domain::change::{ChangeEvent, ChangePage, NewChange};
use crate::domain::user::{User, UserStatus};
use crate::domain::{Email, OktaUserId, TenantId, UserId};

/// Filters for listing users. All lookups are keyed; none scans the table.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub status: Option<UserStatus>,
    pub cursor: Option<String>,
    pub limit: u32,
}

#[async_trait]
pub trait UserReader: Send + Sync {
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError>;
    async fn find_by_okta_id(&self, tenant: &TenantId, okta_id: &OktaUserId) -> Result<Option<User>, StoreError>;
    async fn find_by_email(&self, tenant: &TenantId, email: &Email) -> Result<Option<User>, StoreError>;
    /// By SCIM `userName` (the email unless a client gave another), case-insensitively.
    async fn find_by_user_name(&self, tenant: &TenantId, user_name: &str) -> Result<Option<User>, StoreError>;
    /// By the SCIM client's `externalId` (exact).
    async fn find_by_external_id(&self, tenant: &TenantId, external_id: &str) -> Result<Option<User>, StoreError>;
    /// Users in a stable order, `query.limit` at most, from the opaque `query.cursor`: id order
    /// by status; unfiltered, the store's key order (id order in memory; in DynamoDB, segment by
    /// segment, each in id order). A user created meanwhile is listed if it falls after the cursor.
    async fn list_users(&self, tenant: &TenantId, query: &UserQuery) -> Result<Page<User>, StoreError>;
    /// The users of `ids` that exist, in one batched read (any order).
    async fn get_users(&self, tenant: &TenantId, ids: &[UserId]) -> Result<Vec<User>, StoreError>;
    /// How many users SCIM clients see ([`User::scim_visible`]), without reading them.
    async fn count_scim_visible(&self, tenant: &TenantId) -> Result<u64, StoreError>;
}

/// Where a paged walk got to: the store cursor that continues an unfiltered list after its
/// `index`-th entry, kept a while so a client paging by `startIndex` (SCIM) resumes instead of
/// re-reading from the start. A hint: a lost or expired position only costs a longer read.
#[async_trait]
pub trait ListPositions: Send + Sync {
    async fn remember_position(
        &self,
        tenant: &TenantId,
        list: &str,
        index: u64,
        cursor: &str,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError>;
    async fn recall_position(
        &self,
        tenant: &TenantId,
        list: &str,
        index: u64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, StoreError>;
}

/// User writes. Each is atomic with its uniqueness claims (email, Okta id) and its change-log entries
/// (one or more, numbered in order).
#[async_trait]
pub trait UserWriter: Send + Sync {
    /// Stores a new user (`user.version` must be 0) and returns it at version 1.
    /// Email, Okta id or external id held by another user → `Duplicate`; same id twice → `AlreadyExists`.
    async fn create_user(&self, tenant: &TenantId, user: &User, changes: &[NewChange]) -> Result<User, StoreError>;

    /// Replaces `before` (as read, at `before.version`) with `after`; returns `after` at the next
    /// version. A write in between → `VersionConflict`.
    async fn update_user(
        &self,
        tenant: &TenantId,
        before: &User,
        after: &User,
        changes: &[NewChange],
    ) -> Result<User, StoreError>;
}

#[async_trait]
pub trait ChangeLog: Send + Sync {
    /// Changes with `seq > after`, in order, at most `limit` numbers read (voids included).
    /// Stops before a number still being committed (it never skips one), unless that write is
    /// older than the store's grace: then the number is voided and passed.
    async fn list_changes(&self, tenant: &TenantId, after: u64, limit: u32) -> Result<ChangePage, StoreError>;
    /// The newest `limit` changes, newest first (for the status page).
    async fn latest_changes(&self, tenant: &TenantId, limit: u32) -> Result<Vec<ChangeEvent>, StoreError>;
}
