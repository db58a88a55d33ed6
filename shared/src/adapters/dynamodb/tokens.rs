//! API token records (docs/behaviour/secrets-and-tokens.md): `TOKEN#{sha256}` / `TOKEN`, one item per token, so a presented
//! value is one `GetItem` by its digest; `gsi1` lists a tenant's tokens of a kind
//! (`TENANT#{t}#TOKENS#{kind}`, by creation time). The immutable part is a JSON `body`; revocation
//! and rotation set `revoked_at` / `valid_until` (epoch ms) with conditions, and `expires_at` (the
//! table's TTL) prunes a record a while after it stopped working.
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::codec::{json_attr, s, unavailable, Item};
use super::DynamoStore;
use crate::domain::api_token::{TokenKind, TokenRecord, RETENTION};
use crate::domain::TenantId;
use crate::ports::{StoreError, TokenStore};

use super::keys::{token as pk, token_index as index, TOKEN as SK};

fn ms(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(at.timestamp_millis().to_string())
}

fn ttl(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(at.timestamp().to_string())
}

fn time_attr(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    item.get(name)?.as_n().ok()?.parse().ok().and_then(DateTime::from_timestamp_millis)
}

fn record_of(item: &Item) -> Result<TokenRecord, StoreError> {
    let mut record: TokenRecord = json_attr(item, "body")?;
    record.revoked_at = time_attr(item, "revoked_at");
    record.valid_until = time_attr(item, "valid_until");
    Ok(record)
}

fn new_item(record: &TokenRecord) -> Result<Item, StoreError> {
    let immutable = TokenRecord { revoked_at: None, valid_until: None, ..record.clone() };
    let mut item = Item::from([
        ("pk".to_owned(), s(pk(&record.sha256))),
        ("sk".to_owned(), s(SK)),
        ("gsi1pk".to_owned(), s(index(&record.tenant, record.kind))),
        ("gsi1sk".to_owned(), s(format!("{:015}#{}", record.created_at.timestamp_millis(), record.id))),
        ("tenant".to_owned(), s(record.tenant.as_str())),
        ("kind".to_owned(), s(record.kind.as_str())),
        ("body".to_owned(), s(serde_json::to_string(&immutable).map_err(unavailable)?)),
    ]);
    if let Some(at) = record.revoked_at {
        item.insert("revoked_at".into(), ms(at));
    }
    if let Some(at) = record.valid_until {
        item.insert("valid_until".into(), ms(at));
    }
    if let Some(at) = record.prune_at() {
        item.insert("expires_at".into(), ttl(at));
    }
    Ok(item)
}

/// The condition that `record`'s item exists and belongs to the same tenant and kind.
const SAME_OWNER: &str = "attribute_exists(pk) AND #tenant = :tenant AND #kind = :kind";

#[async_trait]
impl TokenStore for DynamoStore {
    async fn insert_token(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(new_item(record)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Err(StoreError::AlreadyExists)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn find_token(&self, sha256: &str) -> Result<Option<TokenRecord>, StoreError> {
        let Some(item) = self.get(pk(sha256), SK.into()).await? else { return Ok(None) };
        let record = record_of(&item)?;
        // The key is built from the digest; the body must say the same.
        Ok((record.sha256 == sha256).then_some(record))
    }

    async fn list_tokens(&self, tenant: &TenantId, kind: TokenKind) -> Result<Vec<TokenRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.query_index(index(tenant, kind), None).await? {
            let record = record_of(&item)?;
            if &record.tenant == tenant && record.kind == kind {
                out.push(record);
            }
        }
        Ok(out)
    }

    async fn revoke_token(&self, record: &TokenRecord, at: DateTime<Utc>) -> Result<(), StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk(&record.sha256)))
            .key("sk", s(SK))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :at), expires_at = :prune")
            .condition_expression(SAME_OWNER)
            .expression_attribute_names("#tenant", "tenant")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":tenant", s(record.tenant.as_str()))
            .expression_attribute_values(":kind", s(record.kind.as_str()))
            .expression_attribute_values(":at", ms(at))
            .expression_attribute_values(":prune", ttl(at + RETENTION))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Err(StoreError::VersionConflict)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn rotate_token(
        &self,
        old: &TokenRecord,
        until: DateTime<Utc>,
        new: &TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let end_old = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk(&old.sha256)))
            .key("sk", s(SK))
            .update_expression("SET valid_until = :until, expires_at = :prune")
            .condition_expression(format!(
                "{SAME_OWNER} AND attribute_not_exists(revoked_at) AND \
                 (attribute_not_exists(valid_until) OR valid_until > :now)"
            ))
            .expression_attribute_names("#tenant", "tenant")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":tenant", s(old.tenant.as_str()))
            .expression_attribute_values(":kind", s(old.kind.as_str()))
            .expression_attribute_values(":until", ms(until))
            .expression_attribute_values(":now", ms(now))
            .expression_attribute_values(":prune", ttl(until + RETENTION))
            .build()
            .map_err(unavailable)?;
        let items = vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(new_item(new)?))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(unavailable)?,
                )
                .build(),
            TransactWriteItem::builder().update(end_old).build(),
        ];
        let err = match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if let SdkError::ServiceError(se) = &err {
            if let TransactWriteItemsError::TransactionCanceledException(c) = se.err() {
                let failed =
                    |i: usize| c.cancellation_reasons().get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
                if failed(0) {
                    return Err(StoreError::AlreadyExists);
                }
                if failed(1) {
                    return Err(StoreError::VersionConflict);
                }
            }
        }
        Err(unavailable(err))
    }
}
