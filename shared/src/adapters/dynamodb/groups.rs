//! Groups and members in DynamoDB: the group item sits with the tenant's records
//! (`GROUP#{id}`); each group's members are a partition of their own, one item per member, so a
//! membership change writes only the members it names.
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, DeleteRequest, Put, TransactWriteItem, Update, WriteRequest};

use super::codec::{from_item, n, s, unavailable, Item};
use super::transactions::Part;
use super::{keys, DynamoStore};
use crate::domain::change::NewChange;
use crate::domain::group::{Group, Member};
use crate::domain::{GroupId, TenantId};
use crate::ports::{GroupStore, StoreError};

impl DynamoStore {
    fn group_put(
        &self,
        tenant: &TenantId,
        group: &Group,
        read_version: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        self.record_put(tenant, keys::group(group.id.as_str()), group, read_version)
    }

    fn member_key(tenant: &TenantId, group: &GroupId, m: &Member) -> Item {
        HashMap::from([
            ("pk".to_owned(), s(keys::members(tenant, group.as_str()))),
            ("sk".to_owned(), s(keys::member(&m.key()))),
        ])
    }

    fn member_of(item: &Item) -> Option<Member> {
        item.get("sk").and_then(|v| v.as_s().ok()).and_then(|sk| sk.strip_prefix("MEMBER#")).and_then(Member::from_key)
    }
}

#[async_trait]
impl GroupStore for DynamoStore {
    async fn get_group(&self, tenant: &TenantId, id: &GroupId) -> Result<Option<Group>, StoreError> {
        self.get(keys::tenant(tenant), keys::group(id.as_str())).await?.map(from_item).transpose()
    }

    async fn list_groups(&self, tenant: &TenantId) -> Result<Vec<Group>, StoreError> {
        let (items, _) = self.query_all(keys::tenant(tenant), "GROUP#", false).await?;
        items.into_iter().map(from_item).collect()
    }

    async fn create_group(&self, tenant: &TenantId, group: &Group, change: &NewChange) -> Result<Group, StoreError> {
        let mut stored = group.clone();
        stored.version = 1;
        let build = || Ok((vec![self.group_put(tenant, &stored, None)?], vec![Part::Record]));
        self.write_with_changes(tenant, build, std::slice::from_ref(change), || StoreError::AlreadyExists).await?;
        Ok(stored)
    }

    async fn update_group(
        &self,
        tenant: &TenantId,
        before: &Group,
        after: &Group,
        change: &NewChange,
    ) -> Result<Group, StoreError> {
        let mut stored = after.clone();
        stored.id = before.id.clone();
        stored.version = before.version + 1;
        let build = || Ok((vec![self.group_put(tenant, &stored, Some(before.version))?], vec![Part::Record]));
        self.write_with_changes(tenant, build, std::slice::from_ref(change), || StoreError::VersionConflict).await?;
        Ok(stored)
    }

    async fn delete_group(&self, tenant: &TenantId, group: &Group, change: &NewChange) -> Result<(), StoreError> {
        // Members first: if this stops half-way the group is still there, and a retried DELETE
        // finishes the job.
        let (items, _) = self.query_all(keys::members(tenant, group.id.as_str()), "MEMBER#", false).await?;
        let requests = items
            .into_iter()
            .filter_map(|i| {
                let key =
                    HashMap::from([("pk".to_owned(), i.get("pk")?.clone()), ("sk".to_owned(), i.get("sk")?.clone())]);
                Some(
                    WriteRequest::builder()
                        .delete_request(DeleteRequest::builder().set_key(Some(key)).build().ok()?)
                        .build(),
                )
            })
            .collect();
        self.batch_write(requests).await?;
        let build = || {
            let delete = Delete::builder()
                .table_name(self.table())
                .key("pk", s(keys::tenant(tenant)))
                .key("sk", s(keys::group(group.id.as_str())))
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(unavailable)?;
            Ok((vec![TransactWriteItem::builder().delete(delete).build()], vec![Part::Record]))
        };
        self.write_with_changes(tenant, build, std::slice::from_ref(change), || StoreError::VersionConflict).await
    }

    async fn which_members(
        &self,
        tenant: &TenantId,
        group: &GroupId,
        candidates: &[Member],
    ) -> Result<Vec<Member>, StoreError> {
        // A key twice in one BatchGetItem is refused by DynamoDB (ValidationException).
        let unique: std::collections::BTreeSet<&Member> = candidates.iter().collect();
        let wanted = unique.into_iter().map(|m| Self::member_key(tenant, group, m)).collect();
        Ok(self.batch_get(wanted, Some("sk")).await?.iter().filter_map(Self::member_of).collect())
    }

    async fn list_members(&self, tenant: &TenantId, group: &GroupId) -> Result<Vec<Member>, StoreError> {
        let (items, _) = self.query_all(keys::members(tenant, group.as_str()), "MEMBER#", false).await?;
        Ok(items.iter().filter_map(Self::member_of).collect())
    }

    async fn change_members(
        &self,
        tenant: &TenantId,
        group: &GroupId,
        add: &[Member],
        remove: &[Member],
        expected_version: Option<u64>,
        change: &NewChange,
    ) -> Result<(), StoreError> {
        let build = || {
            let mut items = Vec::with_capacity(add.len() + remove.len() + 1);
            for m in add {
                let put = Put::builder()
                    .table_name(self.table())
                    .set_item(Some(Self::member_key(tenant, group, m)))
                    .item("at", s(change.at.to_rfc3339()))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(unavailable)?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            for m in remove {
                let delete = Delete::builder()
                    .table_name(self.table())
                    .set_key(Some(Self::member_key(tenant, group, m)))
                    .condition_expression("attribute_exists(pk)")
                    .build()
                    .map_err(unavailable)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
            let mut bump = Update::builder()
                .table_name(self.table())
                .key("pk", s(keys::tenant(tenant)))
                .key("sk", s(keys::group(group.as_str())))
                .update_expression("SET #v = #v + :one, updated_at = :at")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":at", s(change.at.to_rfc3339()));
            bump = match expected_version {
                Some(v) => bump.condition_expression("#v = :read").expression_attribute_values(":read", n(v)),
                None => bump.condition_expression("attribute_exists(pk)"),
            };
            items.push(TransactWriteItem::builder().update(bump.build().map_err(unavailable)?).build());
            let parts = vec![Part::Record; items.len()];
            Ok((items, parts))
        };
        self.write_with_changes(tenant, build, std::slice::from_ref(change), || StoreError::VersionConflict).await
    }
}
