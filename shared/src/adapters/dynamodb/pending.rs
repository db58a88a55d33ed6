//! Pending references (`PendingStore`): who waits for a reference that names no user yet (a user's
//! or team's manager, a user's approver, a group's member), one small partition per reference,
//! one item per waiting record, and counted through `gsi1`.
use async_trait::async_trait;

use super::codec::{json_attr, s, unavailable};
use super::{keys, DynamoStore, GSI1};
use crate::domain::team::Waiting;
use crate::domain::TenantId;
use crate::ports::{PendingStore, StoreError};

use crate::adapters::table_keys::waiting as waiting_key;

#[async_trait]
impl PendingStore for DynamoStore {
    async fn add_pending(&self, tenant: &TenantId, reference: &str, waiting: &Waiting) -> Result<(), StoreError> {
        let pk = keys::pending(tenant, reference);
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk.clone()))
            .item("sk", s(waiting_key(waiting)))
            .item("gsi1pk", s(keys::pending_index(tenant)))
            .item("gsi1sk", s(format!("{pk}#{}", waiting_key(waiting))))
            .item("reference", s(reference))
            .item("waiting", s(serde_json::to_string(waiting).map_err(unavailable)?))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn pending_for(&self, tenant: &TenantId, reference: &str) -> Result<Vec<Waiting>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s(keys::pending(tenant, reference)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.items()
            .iter()
            .filter(|i| i.get("reference").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(reference))
            .map(|i| json_attr(i, "waiting"))
            .collect()
    }

    async fn remove_pending(&self, tenant: &TenantId, reference: &str, waiting: &Waiting) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::pending(tenant, reference)))
            .key("sk", s(waiting_key(waiting)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn count_pending(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let query = self
            .client
            .query()
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(keys::pending_index(tenant)));
        Ok(usize::try_from(self.count(query).await?).unwrap_or(usize::MAX))
    }
}
