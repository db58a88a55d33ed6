//! Positions of paged walks (`ListPositions`): `TENANT#{t}#LISTPOS#{digest of the list}` /
//! the index, holding the store cursor that continues the walk there, expiring (TTL) after an
//! hour. Each list's positions share a partition of their own, away from the users they page.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::codec::{s, unavailable};
use super::{keys, DynamoStore};
use crate::domain::TenantId;
use crate::ports::{ListPositions, StoreError};

#[async_trait]
impl ListPositions for DynamoStore {
    async fn remember_position(
        &self,
        tenant: &TenantId,
        list: &str,
        index: u64,
        cursor: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::list_positions(tenant, list)))
            .item("sk", s(keys::chunk(index)))
            .item("cursor", s(cursor))
            .item("expires_at", AttributeValue::N(until.timestamp().to_string()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn recall_position(
        &self,
        tenant: &TenantId,
        list: &str,
        index: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let Some(item) = self.get(keys::list_positions(tenant, list), keys::chunk(index)).await? else {
            return Ok(None);
        };
        // TTL deletion lags: an expired position is not used.
        let expires = item.get("expires_at").and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok());
        if expires.is_none_or(|e| e <= now.timestamp()) {
            return Ok(None);
        }
        Ok(item.get("cursor").and_then(|v| v.as_s().ok()).cloned())
    }
}
