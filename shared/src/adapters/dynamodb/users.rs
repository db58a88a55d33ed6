//! Users (`UserReader`, `UserWriter`): the user item with its status index on `gsi1`, and the
//! uniqueness claims (email, Okta id, userName, externalId) taken and released in the same
//! transaction as the user write.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};

use super::codec::{from_item, n, s, to_item, unavailable, Item};
use super::transactions::Part;
use super::user_pages::Position;
use super::{keys, DynamoStore};
use crate::domain::change::NewChange;
use crate::domain::user::User;
use crate::domain::{Email, OktaUserId, TenantId, UserId};
use crate::ports::user_store::UserQuery;
use crate::ports::{Page, StoreError, UniqueField, UserReader, UserWriter};

impl DynamoStore {
    fn user_item(tenant: &TenantId, user: &User) -> Result<Item, StoreError> {
        let mut item = to_item(user)?;
        item.insert("pk".into(), s(keys::user_pk(tenant, user.id.as_str())));
        item.insert("sk".into(), s(keys::user(user.id.as_str())));
        item.insert("gsi1pk".into(), s(keys::status_index(tenant, user.status)));
        item.insert("gsi1sk".into(), s(keys::user(user.id.as_str())));
        item.insert("email_key".into(), s(user.email.key()));
        Ok(item)
    }

    /// Takes a uniqueness claim: its own partition, put only if no one holds it; in a tenant with
    /// data of earlier builds (`earlier`), also only if no other user holds it where they kept
    /// claims (the tenant's partition). Each item with the part it stands for.
    fn claim(
        &self,
        tenant: &TenantId,
        claim_key: String,
        id: &UserId,
        field: UniqueField,
        earlier: bool,
    ) -> Result<Vec<(TransactWriteItem, Part)>, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(keys::claim(tenant, &claim_key)))
            .item("sk", s(keys::CLAIM))
            .item("user_id", s(id.as_str()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(unavailable)?;
        let legacy = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(keys::tenant(tenant)))
            .key("sk", s(claim_key))
            .condition_expression("attribute_not_exists(pk) OR user_id = :id")
            .expression_attribute_values(":id", s(id.as_str()))
            .build()
            .map_err(unavailable)?;
        let mut items = vec![(TransactWriteItem::builder().put(put).build(), Part::Claim(field))];
        if earlier {
            items.push((TransactWriteItem::builder().condition_check(legacy).build(), Part::Claim(field)));
        }
        Ok(items)
    }

    /// Gives up a claim the user held: where claims live now, and where earlier builds kept them
    /// (the tenant's partition). Either may be absent; neither may be another user's.
    fn release(&self, tenant: &TenantId, claim_key: &str, id: &UserId) -> Result<[TransactWriteItem; 2], StoreError> {
        let delete = |pk: String, sk: String| {
            Delete::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(sk))
                .condition_expression("attribute_not_exists(pk) OR user_id = :id")
                .expression_attribute_values(":id", s(id.as_str()))
                .build()
                .map_err(unavailable)
                .map(|d| TransactWriteItem::builder().delete(d).build())
        };
        Ok([
            delete(keys::claim(tenant, claim_key), keys::CLAIM.into())?,
            delete(keys::tenant(tenant), claim_key.to_owned())?,
        ])
    }

    /// The user holding a claim. Claims written by earlier builds are in the tenant's partition:
    /// read there when the claim's own partition has none.
    async fn user_by_claim(&self, tenant: &TenantId, claim_key: String) -> Result<Option<User>, StoreError> {
        let claim = match self.get(keys::claim(tenant, &claim_key), keys::CLAIM.into()).await? {
            Some(claim) => claim,
            None => match self.get(keys::tenant(tenant), claim_key).await? {
                Some(legacy) => legacy,
                None => return Ok(None),
            },
        };
        let Some(id) = claim.get("user_id").and_then(|v| v.as_s().ok()) else { return Ok(None) };
        let id = UserId::parse(id).map_err(unavailable)?;
        self.get_user(tenant, &id).await
    }

    /// Moves the tenant's count of SCIM-visible users by `delta` (in the user's shard).
    fn count_update(&self, tenant: &TenantId, id: &UserId, delta: i64) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(keys::user_count(tenant, id.as_str())))
            .key("sk", s(keys::USER_COUNT))
            .update_expression("ADD visible :d")
            .expression_attribute_values(":d", AttributeValue::N(delta.to_string()))
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

#[async_trait]
impl UserReader for DynamoStore {
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError> {
        let (shard, sk) = (keys::user_pk(tenant, id.as_str()), keys::user(id.as_str()));
        if let Some(item) = self.get(shard.clone(), sk.clone()).await? {
            return from_item(item).map(Some);
        }
        // Written by an earlier build, and not since: still in the tenant's partition.
        if let Some(item) = self.get(keys::tenant(tenant), sk.clone()).await? {
            return from_item(item).map(Some);
        }
        // A write may have moved it to its shard between the two reads (moves go only that way).
        self.get(shard, sk).await?.map(from_item).transpose()
    }

    async fn find_by_okta_id(&self, tenant: &TenantId, okta_id: &OktaUserId) -> Result<Option<User>, StoreError> {
        self.user_by_claim(tenant, keys::okta(okta_id.as_str())).await
    }

    async fn find_by_email(&self, tenant: &TenantId, email: &Email) -> Result<Option<User>, StoreError> {
        self.user_by_claim(tenant, keys::email(email.key())).await
    }

    async fn find_by_user_name(&self, tenant: &TenantId, user_name: &str) -> Result<Option<User>, StoreError> {
        self.user_by_claim(tenant, keys::user_name(&crate::domain::user::user_name_key(user_name))).await
    }

    async fn find_by_external_id(&self, tenant: &TenantId, external_id: &str) -> Result<Option<User>, StoreError> {
        self.user_by_claim(tenant, keys::external(external_id)).await
    }

    async fn list_users(&self, tenant: &TenantId, query: &UserQuery) -> Result<Page<User>, StoreError> {
        let after = query.cursor.as_deref().map(Position::decode).transpose()?;
        let limit = query.limit.clamp(1, 1000) as usize;
        match query.status {
            None => self.walk_segments(tenant, after, limit).await,
            Some(status) => self.list_by_status(tenant, status, after, limit).await,
        }
    }

    async fn get_users(&self, tenant: &TenantId, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let unique: std::collections::BTreeSet<&UserId> = ids.iter().collect();
        let key = |pk: String, id: &UserId| {
            Item::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(keys::user(id.as_str())))])
        };
        let wanted: Vec<Item> = unique.iter().map(|id| key(keys::user_pk(tenant, id.as_str()), id)).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut users: Vec<User> =
            self.batch_get(wanted, None).await?.into_iter().map(from_item).collect::<Result<_, _>>()?;
        // Those not found may have been written by an earlier build: the tenant's partition.
        let missing: Vec<Item> = unique
            .iter()
            .filter(|id| !users.iter().any(|u| &&u.id == *id))
            .map(|id| key(keys::tenant(tenant), id))
            .collect();
        if !missing.is_empty() {
            for item in self.batch_get(missing, None).await? {
                users.push(from_item(item)?);
            }
            // Moved to their shard between the two reads (moves go only that way)?
            let still: Vec<Item> = unique
                .iter()
                .filter(|id| !users.iter().any(|u| &&u.id == *id))
                .map(|id| key(keys::user_pk(tenant, id.as_str()), id))
                .collect();
            if !still.is_empty() {
                for item in self.batch_get(still, None).await? {
                    users.push(from_item(item)?);
                }
            }
        }
        Ok(users)
    }

    async fn count_scim_visible(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let shards: Vec<Item> = (0..keys::USER_COUNT_SHARDS)
            .map(|n| {
                Item::from([
                    ("pk".to_owned(), s(keys::user_count_shard(tenant, n))),
                    ("sk".to_owned(), s(keys::USER_COUNT)),
                ])
            })
            .collect();
        let total: i64 = self
            .batch_get(shards, Some("visible"))
            .await?
            .iter()
            .filter_map(|i| i.get("visible").and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok()))
            .sum();
        Ok(u64::try_from(total).unwrap_or(0) + self.count_legacy_visible(tenant).await?)
    }
}

#[async_trait]
impl UserWriter for DynamoStore {
    async fn create_user(&self, tenant: &TenantId, user: &User, changes: &[NewChange]) -> Result<User, StoreError> {
        let mut stored = user.clone();
        stored.version = 1;
        let build = |earlier: bool| {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::user_item(tenant, &stored)?))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(unavailable)?;
            let mut items = vec![TransactWriteItem::builder().put(put).build()];
            let mut parts = vec![Part::Record];
            let mut claims = vec![(UniqueField::Email, keys::email(stored.email.key()))];
            if let Some(okta) = &stored.okta_id {
                claims.push((UniqueField::OktaId, keys::okta(okta.as_str())));
            }
            if let Some(x) = &stored.external_id {
                claims.push((UniqueField::ExternalId, keys::external(x)));
            }
            claims.push((UniqueField::UserName, keys::user_name(&stored.user_name_key())));
            for (field, claim_key) in claims {
                for (item, part) in self.claim(tenant, claim_key, &stored.id, field, earlier)? {
                    items.push(item);
                    parts.push(part);
                }
            }
            if stored.scim_visible() {
                items.push(self.count_update(tenant, &stored.id, 1)?);
                parts.push(Part::Count);
            }
            Ok((items, parts))
        };
        self.write_with_changes_of(tenant, build, changes, || StoreError::AlreadyExists).await?;
        Ok(stored)
    }

    async fn update_user(
        &self,
        tenant: &TenantId,
        before: &User,
        after: &User,
        changes: &[NewChange],
    ) -> Result<User, StoreError> {
        let mut stored = after.clone();
        stored.id = before.id.clone();
        stored.version = before.version + 1;
        // `legacy`: the user is still where an earlier build wrote it (the tenant's partition):
        // this write moves it to its shard, conditional on the version it was read at there.
        let build = |legacy: bool, earlier: bool| {
            let put = Put::builder().table_name(&self.table).set_item(Some(Self::user_item(tenant, &stored)?));
            let put = if legacy {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("#v = :v")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(":v", n(before.version))
            };
            let mut items = vec![TransactWriteItem::builder().put(put.build().map_err(unavailable)?).build()];
            let mut parts = vec![Part::Record];
            if legacy {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .key("pk", s(keys::tenant(tenant)))
                    .key("sk", s(keys::user(stored.id.as_str())))
                    .condition_expression("#v = :v")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(":v", n(before.version))
                    .build()
                    .map_err(unavailable)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
                parts.push(Part::Record);
            }
            let moved = |items: &mut Vec<TransactWriteItem>,
                         parts: &mut Vec<Part>,
                         field: UniqueField,
                         new: Option<String>,
                         old: Option<String>|
             -> Result<(), StoreError> {
                if let Some(new) = new {
                    for (item, part) in self.claim(tenant, new, &stored.id, field, earlier)? {
                        items.push(item);
                        parts.push(part);
                    }
                }
                if let Some(old) = old {
                    let [own, legacy] = self.release(tenant, &old, &stored.id)?;
                    items.push(own);
                    parts.push(Part::Release);
                    if earlier {
                        items.push(legacy);
                        parts.push(Part::Release);
                    }
                }
                Ok(())
            };
            if before.email.key() != stored.email.key() {
                let (new, old) = (keys::email(stored.email.key()), keys::email(before.email.key()));
                moved(&mut items, &mut parts, UniqueField::Email, Some(new), Some(old))?;
            }
            if before.okta_id != stored.okta_id {
                let new = stored.okta_id.as_ref().map(|o| keys::okta(o.as_str()));
                let old = before.okta_id.as_ref().map(|o| keys::okta(o.as_str()));
                moved(&mut items, &mut parts, UniqueField::OktaId, new, old)?;
            }
            if before.user_name_key() != stored.user_name_key() {
                let (new, old) = (keys::user_name(&stored.user_name_key()), keys::user_name(&before.user_name_key()));
                moved(&mut items, &mut parts, UniqueField::UserName, Some(new), Some(old))?;
            }
            if before.external_id != stored.external_id {
                let new = stored.external_id.as_deref().map(keys::external);
                let old = before.external_id.as_deref().map(keys::external);
                moved(&mut items, &mut parts, UniqueField::ExternalId, new, old)?;
            }
            // A user of an earlier build was never in the count: moving it counts it now.
            let was = if legacy { 0 } else { i64::from(before.scim_visible()) };
            let delta = i64::from(stored.scim_visible()) - was;
            if delta != 0 {
                items.push(self.count_update(tenant, &stored.id, delta)?);
                parts.push(Part::Count);
            }
            Ok((items, parts))
        };
        let conflict = || StoreError::VersionConflict;
        match self.write_with_changes_of(tenant, |earlier| build(false, earlier), changes, conflict).await {
            Err(StoreError::VersionConflict) if self.is_legacy_user(tenant, before).await? => {
                self.write_with_changes_of(tenant, |earlier| build(true, earlier), changes, conflict).await?
            }
            other => other?,
        }
        Ok(stored)
    }
}

impl DynamoStore {
    /// Users of earlier builds not yet moved to a shard are in no count shard: counted here
    /// (one `Select=COUNT` query of the tenant's partition, empty once they are all moved).
    async fn count_legacy_visible(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :p AND begins_with(sk, :u)")
            .filter_expression("attribute_not_exists(status_reason) OR status_reason <> :deleted")
            .expression_attribute_values(":p", s(keys::tenant(tenant)))
            .expression_attribute_values(":u", s("USER#"))
            .expression_attribute_values(":deleted", s("scim_deleted"));
        self.count(query).await
    }

    /// Whether `user` is where an earlier build wrote it, at the version read.
    async fn is_legacy_user(&self, tenant: &TenantId, user: &User) -> Result<bool, StoreError> {
        let Some(item) = self.get(keys::tenant(tenant), keys::user(user.id.as_str())).await? else { return Ok(false) };
        let version = item.get("version").and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<u64>().ok());
        Ok(version == Some(user.version))
    }
}
