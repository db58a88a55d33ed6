//! The change log (`ChangeLog`): reading a tenant's change records (`TENANT#{t}#CHANGES` /
//! zero-padded sequence) forwards from a sequence, or the latest first. They are written by the
//! transaction engine, with the entity writes they describe.
use async_trait::async_trait;

use super::codec::{json_attr, s, unavailable};
use super::{keys, DynamoStore};
use crate::domain::change::ChangeEvent;
use crate::domain::TenantId;
use crate::ports::{ChangeLog, StoreError};

#[async_trait]
impl ChangeLog for DynamoStore {
    async fn list_changes(&self, tenant: &TenantId, after: u64, limit: u32) -> Result<Vec<ChangeEvent>, StoreError> {
        if after == u64::MAX {
            return Ok(Vec::new());
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":p", s(keys::changes(tenant)))
            .expression_attribute_values(":from", s(keys::seq(after + 1)))
            .expression_attribute_values(":to", s(keys::seq(u64::MAX)))
            .limit(limit.clamp(1, 1000) as i32)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.items().iter().map(|item| json_attr(item, "body")).collect()
    }

    async fn latest_changes(&self, tenant: &TenantId, limit: u32) -> Result<Vec<ChangeEvent>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            // Sequence keys only: the partition's COUNTER item sorts after them.
            .key_condition_expression("pk = :p AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":p", s(keys::changes(tenant)))
            .expression_attribute_values(":from", s(keys::seq(1)))
            .expression_attribute_values(":to", s(keys::seq(u64::MAX)))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.items().iter().map(|item| json_attr(item, "body")).collect()
    }
}
