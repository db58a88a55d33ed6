//! Teams (`TeamStore`): `TENANT#{t}` / `TEAM#{key}`, versioned records written with their change
//! records.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::codec::from_item;
use super::transactions::Part;
use super::{keys, DynamoStore};
use crate::domain::change::NewChange;
use crate::domain::team::Team;
use crate::domain::TenantId;
use crate::ports::{StoreError, TeamStore};

impl DynamoStore {
    fn team_put(
        &self,
        tenant: &TenantId,
        team: &Team,
        condition: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        self.record_put(tenant, keys::team(&team.key), team, condition)
    }
}

#[async_trait]
impl TeamStore for DynamoStore {
    async fn get_team(&self, tenant: &TenantId, key: &str) -> Result<Option<Team>, StoreError> {
        self.get(keys::tenant(tenant), keys::team(key)).await?.map(from_item).transpose()
    }

    async fn create_team(&self, tenant: &TenantId, team: &Team, change: &NewChange) -> Result<Team, StoreError> {
        let mut stored = team.clone();
        stored.version = 1;
        let build = || Ok((vec![self.team_put(tenant, &stored, None)?], vec![Part::Record]));
        self.write_with_changes(tenant, build, std::slice::from_ref(change), || StoreError::AlreadyExists).await?;
        Ok(stored)
    }

    async fn update_team(
        &self,
        tenant: &TenantId,
        before: &Team,
        after: &Team,
        change: &NewChange,
    ) -> Result<Team, StoreError> {
        let mut stored = after.clone();
        stored.key = before.key.clone();
        stored.version = before.version + 1;
        let build = || Ok((vec![self.team_put(tenant, &stored, Some(before.version))?], vec![Part::Record]));
        self.write_with_changes(tenant, build, std::slice::from_ref(change), || StoreError::VersionConflict).await?;
        Ok(stored)
    }

    async fn list_teams(&self, tenant: &TenantId) -> Result<Vec<Team>, StoreError> {
        let (items, _) = self.query_all(keys::tenant(tenant), "TEAM#", false).await?;
        items.into_iter().map(from_item).collect()
    }
}
