//! The DynamoDB store: one table, keys in [`keys`], and the access patterns in `docs/data-model.md`.
//!
//! Uniqueness (email, Okta id) and the change-log sequence are enforced inside the same
//! `TransactWriteItems` as the user write, so a refused write leaves nothing behind.
mod activity;
mod groups;
mod logins;
mod tokens;

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::domain::change::{ChangeEvent, NewChange};
use crate::domain::sync_run::{RunList, SyncRun};
use crate::domain::team::{Team, Waiting};
use crate::domain::tenant::TenantConfig;
use crate::domain::user::User;
use crate::domain::{Email, OktaUserId, TenantId, UserId};
use crate::ports::user_store::UserQuery;
use crate::ports::{
    cursor, ChangeLog, ConfigStore, DedupeStore, Page, PendingStore, StoreError, SyncStore, TeamStore, UniqueField,
    UserReader, UserWriter,
};

/// Key layout. Everything of a tenant lives under keys that start with its id, and every key is
/// built from the tenant the caller named, never from stored or client-supplied keys.
pub mod keys {
    use crate::domain::user::UserStatus;
    use crate::domain::TenantId;

    pub fn tenant(t: &TenantId) -> String {
        format!("TENANT#{t}")
    }
    pub const CONFIG: &str = "CONFIG";
    pub const TENANTS_INDEX: &str = "TENANTS";
    pub fn user(id: &str) -> String {
        format!("USER#{id}")
    }
    pub fn status_index(t: &TenantId, s: UserStatus) -> String {
        format!("TENANT#{t}#STATUS#{}", s.as_str())
    }
    pub fn email(key: &str) -> String {
        format!("EMAIL#{key}")
    }
    pub fn okta(id: &str) -> String {
        format!("OKTA#{id}")
    }
    /// A SCIM `externalId` claim: a digest, so no value can collide with another key's shape.
    pub fn external(id: &str) -> String {
        format!("EXTID#{}", crate::domain::secret::sha256_hex(id.as_bytes()))
    }
    /// A userName claim (every user's effective userName: a client's, else the email).
    pub fn user_name(key: &str) -> String {
        format!("UNAME#{}", crate::domain::secret::sha256_hex(key.as_bytes()))
    }
    pub fn group(id: &str) -> String {
        format!("GROUP#{id}")
    }
    /// A group's members: one partition per group, one item per member.
    pub fn members(t: &TenantId, group: &str) -> String {
        format!("TENANT#{t}#GROUP#{group}")
    }
    pub fn member(key: &str) -> String {
        format!("MEMBER#{key}")
    }
    pub fn changes(t: &TenantId) -> String {
        format!("TENANT#{t}#CHANGES")
    }
    pub const COUNTER: &str = "COUNTER";
    pub fn team(key: &str) -> String {
        format!("TEAM#{key}")
    }
    /// Each pending reference is its own small partition, keyed by a digest of the reference (so
    /// no character of an email address can make one reference's key match another's); the
    /// tenant's pending references are also on `gsi1` for counting.
    pub fn pending(t: &TenantId, reference: &str) -> String {
        format!("TENANT#{t}#PENDING#{}", &crate::domain::secret::sha256_hex(reference.as_bytes())[..32])
    }
    pub fn pending_index(t: &TenantId) -> String {
        format!("TENANT#{t}#PENDING")
    }
    pub fn dedupe(key: &str) -> String {
        format!("DEDUPE#{key}")
    }
    pub fn sync_run(id: &str) -> String {
        format!("SYNCRUN#{id}")
    }
    pub const SYNC_LEASE: &str = "SYNCLEASE";
    /// One partition per list of a run; the seen ids keep the key they always had.
    pub fn sync_list(t: &TenantId, run: &str, list: crate::domain::sync_run::RunList) -> String {
        use crate::domain::sync_run::RunList;
        match list {
            RunList::Seen => format!("TENANT#{t}#SYNCSEEN#{run}"),
            other => format!("TENANT#{t}#SYNCLIST#{run}#{}", other.as_str()),
        }
    }
    pub fn chunk(n: u64) -> String {
        format!("{n:010}")
    }
    pub fn seq(n: u64) -> String {
        format!("{n:020}")
    }
}

const GSI1: &str = "gsi1";
const MAX_TX_RETRIES: u32 = 25;

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

type Item = HashMap<String, AttributeValue>;

fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(unavailable)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(unavailable)
}

/// A record kept as a JSON string attribute.
fn json_attr<T: DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    let body = item
        .get(name)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| unavailable(std::io::Error::other(format!("item without {name}"))))?;
    serde_json::from_str(body).map_err(unavailable)
}

pub struct DynamoStore {
    client: Client,
    table: String,
}

/// What a transaction item stands for, to explain a cancellation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    Record,
    Claim(UniqueField),
    Release,
    Counter,
    Change,
}

enum TxOutcome {
    Done,
    Retry,
    Failed(StoreError),
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes a versioned record: new when `read_version` is 0, else only over that version.
    async fn put_versioned(&self, item: Item, read_version: u64) -> Result<(), StoreError> {
        let mut put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        put = if read_version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", n(read_version))
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Err(if read_version == 0 { StoreError::AlreadyExists } else { StoreError::VersionConflict })
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    fn user_item(tenant: &TenantId, user: &User) -> Result<Item, StoreError> {
        let mut item = to_item(user)?;
        item.insert("pk".into(), s(keys::tenant(tenant)));
        item.insert("sk".into(), s(keys::user(user.id.as_str())));
        item.insert("gsi1pk".into(), s(keys::status_index(tenant, user.status)));
        item.insert("gsi1sk".into(), s(keys::user(user.id.as_str())));
        item.insert("email_key".into(), s(user.email.key()));
        Ok(item)
    }

    fn claim(&self, tenant: &TenantId, sk: String, id: &UserId) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(keys::tenant(tenant)))
            .item("sk", s(sk))
            .item("user_id", s(id.as_str()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("put has table and item");
        TransactWriteItem::builder().put(put).build()
    }

    fn release(&self, tenant: &TenantId, sk: String, id: &UserId) -> TransactWriteItem {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(keys::tenant(tenant)))
            .key("sk", s(sk))
            .condition_expression("user_id = :id")
            .expression_attribute_values(":id", s(id.as_str()))
            .build()
            .expect("delete has table and key");
        TransactWriteItem::builder().delete(delete).build()
    }

    fn release_if_held(&self, tenant: &TenantId, sk: String, id: &UserId) -> TransactWriteItem {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(keys::tenant(tenant)))
            .key("sk", s(sk))
            .condition_expression("attribute_not_exists(pk) OR user_id = :id")
            .expression_attribute_values(":id", s(id.as_str()))
            .build()
            .expect("delete has table and key");
        TransactWriteItem::builder().delete(delete).build()
    }

    async fn current_seq(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let item = self.get(keys::changes(tenant), keys::COUNTER.into()).await?;
        Ok(item.and_then(|i| i.get("seq").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())).unwrap_or(0))
    }

    /// The counter bump and the change records that go into every entity transaction.
    fn change_items(
        &self,
        tenant: &TenantId,
        current: u64,
        changes: &[NewChange],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let last = current + changes.len() as u64;
        let mut counter = Update::builder()
            .table_name(&self.table)
            .key("pk", s(keys::changes(tenant)))
            .key("sk", s(keys::COUNTER))
            .update_expression("SET #seq = :next")
            .expression_attribute_names("#seq", "seq")
            .expression_attribute_values(":next", n(last));
        counter = if current == 0 {
            counter.condition_expression("attribute_not_exists(#seq)")
        } else {
            counter.condition_expression("#seq = :cur").expression_attribute_values(":cur", n(current))
        };
        let mut items =
            vec![TransactWriteItem::builder().update(counter.build().expect("update has table and key")).build()];
        for (i, change) in changes.iter().enumerate() {
            let seq = current + 1 + i as u64;
            let event = ChangeEvent { seq, change: change.clone() };
            let record = Put::builder()
                .table_name(&self.table)
                .item("pk", s(keys::changes(tenant)))
                .item("sk", s(keys::seq(seq)))
                .item("body", s(serde_json::to_string(&event).map_err(unavailable)?))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("put has table and item");
            items.push(TransactWriteItem::builder().put(record).build());
        }
        Ok(items)
    }

    async fn transact(&self, items: Vec<TransactWriteItem>, parts: &[Part], record_failure: StoreError) -> TxOutcome {
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let err = match result {
            Ok(_) => return TxOutcome::Done,
            Err(e) => e,
        };
        let reasons = match &err {
            SdkError::ServiceError(se) => match se.err() {
                TransactWriteItemsError::TransactionCanceledException(c) => c.cancellation_reasons().to_vec(),
                TransactWriteItemsError::TransactionInProgressException(_)
                | TransactWriteItemsError::ThrottlingException(_)
                | TransactWriteItemsError::ProvisionedThroughputExceededException(_) => return TxOutcome::Retry,
                _ => return TxOutcome::Failed(unavailable(err)),
            },
            _ => return TxOutcome::Failed(unavailable(err)),
        };
        let mut retry = false;
        for (i, reason) in reasons.iter().enumerate() {
            match reason.code() {
                Some("ConditionalCheckFailed") => match parts.get(i) {
                    Some(Part::Record) => return TxOutcome::Failed(record_failure),
                    Some(Part::Claim(field)) => return TxOutcome::Failed(StoreError::Duplicate(*field)),
                    Some(Part::Release) => return TxOutcome::Failed(StoreError::VersionConflict),
                    Some(Part::Counter | Part::Change) | None => retry = true,
                },
                Some("TransactionConflict") | Some("ThrottlingError") | Some("ProvisionedThroughputExceeded") => {
                    retry = true
                }
                _ => {}
            }
        }
        if retry {
            TxOutcome::Retry
        } else {
            TxOutcome::Failed(unavailable(err))
        }
    }

    /// Runs an entity write with its change records, re-reading the sequence on contention.
    async fn write_with_changes(
        &self,
        tenant: &TenantId,
        build: impl Fn() -> Result<(Vec<TransactWriteItem>, Vec<Part>), StoreError>,
        changes: &[NewChange],
        record_failure: fn() -> StoreError,
    ) -> Result<(), StoreError> {
        for attempt in 0..MAX_TX_RETRIES {
            let (mut items, mut parts) = build()?;
            if !changes.is_empty() {
                let current = self.current_seq(tenant).await?;
                items.extend(self.change_items(tenant, current, changes)?);
                parts.push(Part::Counter);
                parts.extend(changes.iter().map(|_| Part::Change));
            }
            match self.transact(items, &parts, record_failure()).await {
                TxOutcome::Done => return Ok(()),
                TxOutcome::Failed(e) => return Err(e),
                TxOutcome::Retry => {
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20;
                    tokio::time::sleep(StdDuration::from_millis(5 * u64::from(attempt.min(10)) + jitter)).await;
                }
            }
        }
        Err(unavailable(std::io::Error::other("change-log contention: too many retries")))
    }

    async fn user_by_claim(&self, tenant: &TenantId, sk: String) -> Result<Option<User>, StoreError> {
        let Some(claim) = self.get(keys::tenant(tenant), sk).await? else { return Ok(None) };
        let Some(id) = claim.get("user_id").and_then(|v| v.as_s().ok()) else { return Ok(None) };
        let id = UserId::parse(id).map_err(unavailable)?;
        self.get_user(tenant, &id).await
    }
}

#[async_trait]
impl ConfigStore for DynamoStore {
    async fn get_config(&self, tenant: &TenantId) -> Result<Option<TenantConfig>, StoreError> {
        self.get(keys::tenant(tenant), keys::CONFIG.into()).await?.map(from_item).transpose()
    }

    async fn put_config(&self, config: &TenantConfig) -> Result<TenantConfig, StoreError> {
        let mut stored = config.clone();
        stored.version = config.version + 1;
        let mut item = to_item(&stored)?;
        item.insert("pk".into(), s(keys::tenant(&config.tenant)));
        item.insert("sk".into(), s(keys::CONFIG));
        item.insert("gsi1pk".into(), s(keys::TENANTS_INDEX));
        item.insert("gsi1sk".into(), s(config.tenant.as_str()));
        self.put_versioned(item, config.version).await?;
        Ok(stored)
    }

    async fn list_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("gsi1pk = :p")
                .expression_attribute_values(":p", s(keys::TENANTS_INDEX))
                .projection_expression("gsi1sk")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                if let Some(t) = item.get("gsi1sk").and_then(|v| v.as_s().ok()) {
                    out.push(TenantId::parse(t).map_err(unavailable)?);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}

#[async_trait]
impl UserReader for DynamoStore {
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError> {
        self.get(keys::tenant(tenant), keys::user(id.as_str())).await?.map(from_item).transpose()
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
        let after = query
            .cursor
            .as_deref()
            .map(|c| cursor::decode(c).and_then(|id| UserId::parse(&id).map_err(|_| StoreError::InvalidCursor)))
            .transpose()?;
        let limit = query.limit.clamp(1, 1000);
        let mut q = self.client.query().table_name(&self.table).limit(limit as i32 + 1);
        q = match query.status {
            None => {
                let mut q = q
                    .key_condition_expression("pk = :p AND begins_with(sk, :u)")
                    .expression_attribute_values(":p", s(keys::tenant(tenant)))
                    .expression_attribute_values(":u", s("USER#"));
                if let Some(id) = &after {
                    q = q
                        .exclusive_start_key("pk", s(keys::tenant(tenant)))
                        .exclusive_start_key("sk", s(keys::user(id.as_str())));
                }
                q
            }
            Some(status) => {
                let mut q = q
                    .index_name(GSI1)
                    .key_condition_expression("gsi1pk = :p")
                    .expression_attribute_values(":p", s(keys::status_index(tenant, status)));
                if let Some(id) = &after {
                    q = q
                        .exclusive_start_key("gsi1pk", s(keys::status_index(tenant, status)))
                        .exclusive_start_key("gsi1sk", s(keys::user(id.as_str())))
                        .exclusive_start_key("pk", s(keys::tenant(tenant)))
                        .exclusive_start_key("sk", s(keys::user(id.as_str())));
                }
                q
            }
        };
        let out = q.send().await.map_err(unavailable)?;
        let more_pages = out.last_evaluated_key.is_some();
        let mut items: Vec<User> =
            out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<_, _>>()?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|u| cursor::encode(u.id.as_str()))
        } else if more_pages {
            // The 1 MB response limit cut the page short: continue from its last item.
            items.last().map(|u| cursor::encode(u.id.as_str()))
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

#[async_trait]
impl UserWriter for DynamoStore {
    async fn create_user(&self, tenant: &TenantId, user: &User, changes: &[NewChange]) -> Result<User, StoreError> {
        let mut stored = user.clone();
        stored.version = 1;
        let build = || {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::user_item(tenant, &stored)?))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("put has table and item");
            let mut items = vec![
                TransactWriteItem::builder().put(put).build(),
                self.claim(tenant, keys::email(stored.email.key()), &stored.id),
            ];
            let mut parts = vec![Part::Record, Part::Claim(UniqueField::Email)];
            if let Some(okta) = &stored.okta_id {
                items.push(self.claim(tenant, keys::okta(okta.as_str()), &stored.id));
                parts.push(Part::Claim(UniqueField::OktaId));
            }
            if let Some(x) = &stored.external_id {
                items.push(self.claim(tenant, keys::external(x), &stored.id));
                parts.push(Part::Claim(UniqueField::ExternalId));
            }
            items.push(self.claim(tenant, keys::user_name(&stored.user_name_key()), &stored.id));
            parts.push(Part::Claim(UniqueField::UserName));
            Ok((items, parts))
        };
        self.write_with_changes(tenant, build, changes, || StoreError::AlreadyExists).await?;
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
        let build = || {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::user_item(tenant, &stored)?))
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", n(before.version))
                .build()
                .expect("put has table and item");
            let mut items = vec![TransactWriteItem::builder().put(put).build()];
            let mut parts = vec![Part::Record];
            if before.email.key() != stored.email.key() {
                items.push(self.claim(tenant, keys::email(stored.email.key()), &stored.id));
                items.push(self.release(tenant, keys::email(before.email.key()), &stored.id));
                parts.extend([Part::Claim(UniqueField::Email), Part::Release]);
            }
            if before.okta_id != stored.okta_id {
                if let Some(new) = &stored.okta_id {
                    items.push(self.claim(tenant, keys::okta(new.as_str()), &stored.id));
                    parts.push(Part::Claim(UniqueField::OktaId));
                }
                if let Some(old) = &before.okta_id {
                    items.push(self.release(tenant, keys::okta(old.as_str()), &stored.id));
                    parts.push(Part::Release);
                }
            }
            if before.user_name_key() != stored.user_name_key() {
                items.push(self.claim(tenant, keys::user_name(&stored.user_name_key()), &stored.id));
                // Users stored before userName claims existed have none to release.
                items.push(self.release_if_held(tenant, keys::user_name(&before.user_name_key()), &stored.id));
                parts.extend([Part::Claim(UniqueField::UserName), Part::Release]);
            }
            if before.external_id != stored.external_id {
                if let Some(new) = &stored.external_id {
                    items.push(self.claim(tenant, keys::external(new), &stored.id));
                    parts.push(Part::Claim(UniqueField::ExternalId));
                }
                if let Some(old) = &before.external_id {
                    items.push(self.release(tenant, keys::external(old), &stored.id));
                    parts.push(Part::Release);
                }
            }
            Ok((items, parts))
        };
        self.write_with_changes(tenant, build, changes, || StoreError::VersionConflict).await?;
        Ok(stored)
    }
}

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

fn waiting_key(w: &Waiting) -> String {
    match w {
        Waiting::UserManager(id) => format!("user:{id}"),
        Waiting::TeamManager(key) => format!("team:{key}"),
        Waiting::UserApprover(id) => format!("approver:{id}"),
        Waiting::GroupMember(id) => format!("member:{id}"),
    }
}

impl DynamoStore {
    fn team_put(
        &self,
        tenant: &TenantId,
        team: &Team,
        condition: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        self.record_put(tenant, keys::team(&team.key), team, condition)
    }

    /// A transaction put of a versioned record of the tenant: new (`None`: must not exist) or
    /// replacing the version it was read at.
    fn record_put<T: serde::Serialize>(
        &self,
        tenant: &TenantId,
        sk: String,
        record: &T,
        condition: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = to_item(record)?;
        item.insert("pk".into(), s(keys::tenant(tenant)));
        item.insert("sk".into(), s(sk));
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match condition {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", n(v)),
        };
        Ok(TransactWriteItem::builder().put(put.build().expect("put has table and item")).build())
    }

    async fn query_all(&self, pk: String, prefix: &str, count_only: bool) -> Result<(Vec<Item>, usize), StoreError> {
        let mut items = Vec::new();
        let mut count = 0usize;
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p AND begins_with(sk, :s)")
                .expression_attribute_values(":p", s(pk.clone()))
                .expression_attribute_values(":s", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start);
            if count_only {
                q = q.select(aws_sdk_dynamodb::types::Select::Count);
            }
            let out = q.send().await.map_err(unavailable)?;
            count += out.count as usize;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok((items, count));
            }
        }
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
        let mut count = 0usize;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("gsi1pk = :p")
                .expression_attribute_values(":p", s(keys::pending_index(tenant)))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            count += out.count as usize;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }
}

/// `BatchGetItem` takes at most 100 keys, `BatchWriteItem` at most 25 items (the emulator accepts
/// more; AWS does not, so the limits are enforced here).
const BATCH_GET: usize = 100;
const BATCH_WRITE: usize = 25;

#[async_trait]
impl DedupeStore for DynamoStore {
    async fn seen(&self, tenant: &TenantId, keys_in: &[String], now_epoch: i64) -> Result<Vec<String>, StoreError> {
        let keys_wanted = keys_in
            .iter()
            .map(|k| HashMap::from([("pk".to_owned(), s(keys::tenant(tenant))), ("sk".to_owned(), s(keys::dedupe(k)))]))
            .collect();
        let mut seen = Vec::new();
        for item in self.batch_get(keys_wanted, "sk, expires_at").await? {
            let live = item
                .get("expires_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .is_none_or(|exp| exp > now_epoch);
            if let (true, Some(sk)) = (live, item.get("sk").and_then(|v| v.as_s().ok())) {
                seen.push(sk.trim_start_matches("DEDUPE#").to_owned());
            }
        }
        Ok(seen)
    }

    async fn mark_seen(&self, tenant: &TenantId, keys_in: &[String], expires_at_epoch: i64) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let requests = keys_in
            .iter()
            .map(|k| {
                let put = PutRequest::builder()
                    .item("pk", s(keys::tenant(tenant)))
                    .item("sk", s(keys::dedupe(k)))
                    .item("expires_at", AttributeValue::N(expires_at_epoch.to_string()))
                    .build()
                    .expect("put request has an item");
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        self.batch_write(requests).await
    }
}

impl DynamoStore {
    /// BatchGetItem (consistent) in chunks of 100, retrying unprocessed keys with backoff.
    async fn batch_get(&self, wanted: Vec<Item>, projection: &str) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = Vec::new();
        for chunk in wanted.chunks(BATCH_GET) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .projection_expression(projection)
                    .build()
                    .map_err(unavailable)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                found.extend(out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
                pending =
                    out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
                attempt += 1;
                if !pending.is_empty() {
                    if attempt > 8 {
                        return Err(unavailable(std::io::Error::other("BatchGetItem left keys unprocessed")));
                    }
                    tokio::time::sleep(StdDuration::from_millis(20 * u64::from(attempt))).await;
                }
            }
        }
        Ok(found)
    }

    /// BatchWriteItem in chunks of 25, retrying unprocessed items with backoff.
    async fn batch_write(&self, requests: Vec<aws_sdk_dynamodb::types::WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH_WRITE) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(unavailable)?;
                pending = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                attempt += 1;
                if !pending.is_empty() {
                    if attempt > 8 {
                        return Err(unavailable(std::io::Error::other("BatchWriteItem left items unprocessed")));
                    }
                    tokio::time::sleep(StdDuration::from_millis(20 * u64::from(attempt))).await;
                }
            }
        }
        Ok(())
    }
}

/// A run's lists (seen ids, candidates, diff, errors) outlive it by two weeks, for inspection and
/// for approving a held run (which must happen within 24 hours), then expire.
const RUN_LIST_TTL_DAYS: i64 = 14;

impl DynamoStore {
    async fn put_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError> {
        let mut stored = run.clone();
        stored.version = run.version + 1;
        let mut item = to_item(&stored)?;
        item.insert("pk".into(), s(keys::tenant(&run.tenant)));
        item.insert("sk".into(), s(keys::sync_run(&run.id)));
        self.put_versioned(item, run.version).await?;
        Ok(stored)
    }
}

#[async_trait]
impl SyncStore for DynamoStore {
    async fn create_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError> {
        self.put_run(run).await
    }

    async fn save_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError> {
        self.put_run(run).await
    }

    async fn get_run(&self, tenant: &TenantId, id: &str) -> Result<Option<SyncRun>, StoreError> {
        self.get(keys::tenant(tenant), keys::sync_run(id)).await?.map(from_item).transpose()
    }

    async fn list_runs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND begins_with(sk, :s)")
            .expression_attribute_values(":p", s(keys::tenant(tenant)))
            .expression_attribute_values(":s", s("SYNCRUN#"))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100) as i32)
            .send()
            .await
            .map_err(unavailable)?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }

    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::tenant(tenant)))
            .item("sk", s(keys::SYNC_LEASE))
            .item("run_id", s(run_id))
            .item("until", n(until.timestamp_millis().max(0) as u64))
            .condition_expression("attribute_not_exists(pk) OR #until < :now OR run_id = :me")
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":now", n(now.timestamp_millis().max(0) as u64))
            .expression_attribute_values(":me", s(run_id))
            .send()
            .await;
        match put {
            Ok(_) => Ok(None),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                let holder = self.get(keys::tenant(tenant), keys::SYNC_LEASE.into()).await?;
                Ok(Some(holder.and_then(|h| h.get("run_id").and_then(|v| v.as_s().ok()).cloned()).unwrap_or_default()))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_lease(&self, tenant: &TenantId, run_id: &str) -> Result<(), StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::tenant(tenant)))
            .key("sk", s(keys::SYNC_LEASE))
            .condition_expression("run_id = :me")
            .expression_attribute_values(":me", s(run_id))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            // Someone else's lease (or none): nothing of ours to release.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn put_chunk(
        &self,
        tenant: &TenantId,
        run_id: &str,
        list: RunList,
        chunk: u64,
        entries: &[String],
    ) -> Result<(), StoreError> {
        let expires = (chrono::Utc::now() + chrono::Duration::days(RUN_LIST_TTL_DAYS)).timestamp();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::sync_list(tenant, run_id, list)))
            .item("sk", s(keys::chunk(chunk)))
            .item("ids", s(entries.join("\n")))
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_chunks(
        &self,
        tenant: &TenantId,
        run_id: &str,
        list: RunList,
        from: u64,
        max: u32,
    ) -> Result<Vec<(u64, Vec<String>)>, StoreError> {
        let mut chunks = Vec::new();
        let mut start: Option<Item> = None;
        while chunks.len() < max as usize {
            // Chunk keys are ten digits: everything from `from` up to ":" (after "9").
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":p", s(keys::sync_list(tenant, run_id, list)))
                .expression_attribute_values(":from", s(keys::chunk(from)))
                .expression_attribute_values(":to", s(":"))
                .consistent_read(true)
                .limit(max.clamp(1, 100) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items.unwrap_or_default() {
                let n = item.get("sk").and_then(|v| v.as_s().ok()).and_then(|v| v.parse().ok());
                let entries = item
                    .get("ids")
                    .and_then(|v| v.as_s().ok())
                    .map(|ids| ids.split('\n').filter(|e| !e.is_empty()).map(str::to_owned).collect::<Vec<_>>());
                if let (Some(n), Some(entries)) = (n, entries) {
                    chunks.push((n, entries));
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        chunks.truncate(max as usize);
        Ok(chunks)
    }
}
