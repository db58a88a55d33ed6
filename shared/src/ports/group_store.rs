use async_trait::async_trait;

use super::StoreError;
use crate::domain::change::NewChange;
use crate::domain::group::{Group, Member};
use crate::domain::{GroupId, TenantId};

/// Most member changes one [`GroupStore::change_members`] call takes (one DynamoDB transaction
/// with the group's version and the change-log entry).
pub const MEMBER_BATCH: usize = 90;

/// Groups and their members, one record per member: adding or removing a member never reads or
/// rewrites the others.
#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn get_group(&self, tenant: &TenantId, id: &GroupId) -> Result<Option<Group>, StoreError>;
    /// Every group of the tenant, in id order.
    async fn list_groups(&self, tenant: &TenantId) -> Result<Vec<Group>, StoreError>;
    /// Stores a new group (`version` 0) and returns it at version 1.
    async fn create_group(&self, tenant: &TenantId, group: &Group, change: &NewChange) -> Result<Group, StoreError>;
    /// Replaces the group's own attributes, conditional on `before.version`.
    async fn update_group(
        &self,
        tenant: &TenantId,
        before: &Group,
        after: &Group,
        change: &NewChange,
    ) -> Result<Group, StoreError>;
    /// Deletes the group and its member records.
    async fn delete_group(&self, tenant: &TenantId, group: &Group, change: &NewChange) -> Result<(), StoreError>;
    /// Which of `candidates` are members now.
    async fn which_members(
        &self,
        tenant: &TenantId,
        group: &GroupId,
        candidates: &[Member],
    ) -> Result<Vec<Member>, StoreError>;
    async fn list_members(&self, tenant: &TenantId, group: &GroupId) -> Result<Vec<Member>, StoreError>;
    /// Adds and removes the named members (≤ [`MEMBER_BATCH`] in all) and bumps the group's version,
    /// atomically with the change-log entry. Every add must be absent and every removal present,
    /// and the group must be at `expected_version` when one is given: else `VersionConflict`.
    /// A deleted group → `VersionConflict` too (read it again).
    async fn change_members(
        &self,
        tenant: &TenantId,
        group: &GroupId,
        add: &[Member],
        remove: &[Member],
        expected_version: Option<u64>,
        change: &NewChange,
    ) -> Result<(), StoreError>;
}
