//! The transaction engine: versioned record puts, the change-log counter and change records that
//! go into every entity transaction, and `TransactWriteItems` with cancellation reasons mapped to
//! store errors, retried (re-reading the sequence) on contention.
use std::time::Duration as StdDuration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::codec::{n, s, to_item, unavailable};
use super::{keys, DynamoStore};
use crate::domain::change::{ChangeEvent, NewChange};
use crate::domain::TenantId;
use crate::ports::{StoreError, UniqueField};

const MAX_TX_RETRIES: u32 = 25;

/// What a transaction item stands for, to explain a cancellation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Part {
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
        let mut items = vec![TransactWriteItem::builder().update(counter.build().map_err(unavailable)?).build()];
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
                .map_err(unavailable)?;
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
    pub(super) async fn write_with_changes(
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

    /// A transaction put of a versioned record of the tenant: new (`None`: must not exist) or
    /// replacing the version it was read at.
    pub(super) fn record_put<T: serde::Serialize>(
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
        Ok(TransactWriteItem::builder().put(put.build().map_err(unavailable)?).build())
    }
}
