//! The transaction engine: versioned record puts, change records that go into every entity
//! transaction, and `TransactWriteItems` with cancellation reasons mapped to store errors.
//!
//! Change numbers are allocated before the transaction (an atomic `ADD` on the tenant's counter
//! item, outside it), so concurrent writes of one tenant share no item and never cancel each
//! other (docs/design.md, "The change log"). A number whose write is refused is voided; a
//! number a reader found missing for longer than the grace is voided by the reader, and the
//! write that still held it then takes new numbers (its change record is conditional on the
//! number being free, so exactly one of the two lands).
use std::time::Duration as StdDuration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, ReturnValue, TransactWriteItem};

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
    /// A tenant's count of SCIM-visible users (one shard of it).
    Count,
    Change,
}

enum TxOutcome {
    Done,
    Retry,
    /// A reader voided one of the change numbers: take new ones.
    Renumber,
    Failed(StoreError),
}

pub(super) fn now_millis() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

impl DynamoStore {
    /// The counter before this layout: the log's partition, `COUNTER`, moved by transactions.
    async fn legacy_seq(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let item = self.get(keys::changes(tenant), keys::COUNTER.into()).await?;
        Ok(item.and_then(|i| i.get("seq").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())).unwrap_or(0))
    }

    /// Takes `count` consecutive change numbers: the last is returned. The first allocation of a
    /// tenant starts the counter where the transactional counter of earlier builds stopped.
    /// Also says whether the tenant has data of earlier builds (its counter started above 0).
    pub(super) async fn allocate_changes(&self, tenant: &TenantId, count: u64) -> Result<(u64, bool), StoreError> {
        for _ in 0..5 {
            let out = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(keys::change_counter(tenant)))
                .key("sk", s(keys::COUNTER))
                .update_expression("ADD #seq :k SET #at = :now")
                .condition_expression("attribute_exists(#seq)")
                .expression_attribute_names("#seq", "seq")
                .expression_attribute_names("#at", "at")
                .expression_attribute_values(":k", n(count))
                .expression_attribute_values(":now", n(now_millis()))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match out {
                Ok(out) => {
                    let attr = |name: &str| {
                        out.attributes
                            .as_ref()
                            .and_then(|a| a.get(name))
                            .and_then(|v| v.as_n().ok())
                            .and_then(|v| v.parse::<u64>().ok())
                    };
                    let last = attr("seq")
                        .ok_or_else(|| unavailable(std::io::Error::other("the counter returned no number")))?;
                    // No `legacy` mark: be safe and treat the tenant as one with earlier data.
                    return Ok((last, attr("legacy").is_none_or(|l| l > 0)));
                }
                Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                    // First write of the tenant on this layout: start after the counter of earlier
                    // builds, and remove it in the same transaction (only if it has not moved
                    // since it was read). Without it, a Lambda of an earlier build still running
                    // during a deploy cannot number a change: its write fails and is retried.
                    let start = self.legacy_seq(tenant).await?;
                    let counter = Put::builder()
                        .table_name(&self.table)
                        .item("pk", s(keys::change_counter(tenant)))
                        .item("sk", s(keys::COUNTER))
                        .item("seq", n(start))
                        .item("legacy", n(start))
                        .item("at", n(now_millis()))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(unavailable)?;
                    let old = Delete::builder()
                        .table_name(&self.table)
                        .key("pk", s(keys::changes(tenant)))
                        .key("sk", s(keys::COUNTER));
                    let old = if start == 0 {
                        old.condition_expression("attribute_not_exists(pk)")
                    } else {
                        old.condition_expression("#seq = :start")
                            .expression_attribute_names("#seq", "seq")
                            .expression_attribute_values(":start", n(start))
                    };
                    let items = vec![
                        TransactWriteItem::builder().put(counter).build(),
                        TransactWriteItem::builder().delete(old.build().map_err(unavailable)?).build(),
                    ];
                    // Refused: another writer started the counter, or one of an earlier build
                    // numbered a change meanwhile. Either way, try again.
                    if let Err(e) = self.client.transact_write_items().set_transact_items(Some(items)).send().await {
                        if !matches!(
                            e.as_service_error(),
                            Some(TransactWriteItemsError::TransactionCanceledException(_))
                        ) {
                            return Err(unavailable(e));
                        }
                    }
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(unavailable(std::io::Error::other("the change counter could not be started")))
    }

    /// A change record at `seq`, put only while the number is free.
    pub(super) fn change_put(&self, tenant: &TenantId, seq: u64, change: &NewChange) -> Result<Put, StoreError> {
        let event = ChangeEvent { seq, change: change.clone() };
        // Numbers taken from the counter are above its `legacy` mark: always a shard's partition.
        Put::builder()
            .table_name(&self.table)
            .item("pk", s(keys::change_record(tenant, seq, 0)))
            .item("sk", s(keys::seq(seq)))
            .item("body", s(serde_json::to_string(&event).map_err(unavailable)?))
            .item("written_at", n(now_millis()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(unavailable)
    }

    /// Marks `seq` as used by no change, if it is still free (`true` if this call voided it).
    pub(super) async fn void_change(&self, tenant: &TenantId, seq: u64) -> Result<bool, StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::change_record(tenant, seq, 0)))
            .item("sk", s(keys::seq(seq)))
            .item("void", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .item("written_at", n(now_millis()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            // Written meanwhile, or being written by a transaction in flight: not voided.
            Err(e)
                if e.as_service_error().is_some_and(|se| {
                    se.is_conditional_check_failed_exception() || se.is_transaction_conflict_exception()
                }) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Voids numbers this write took and will not use (best effort: a reader voids what is left).
    async fn release_numbers(&self, tenant: &TenantId, numbers: std::ops::RangeInclusive<u64>) {
        for seq in numbers {
            if let Err(e) = self.void_change(tenant, seq).await {
                tracing::warn!(seq, error = %crate::ports::error_chain(&e), "a change number was left for readers to void");
            }
        }
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
        let mut outcome = None;
        for (i, reason) in reasons.iter().enumerate() {
            match reason.code() {
                Some("ConditionalCheckFailed") => match parts.get(i) {
                    Some(Part::Record) => return TxOutcome::Failed(record_failure),
                    Some(Part::Claim(field)) => return TxOutcome::Failed(StoreError::Duplicate(*field)),
                    Some(Part::Release) => return TxOutcome::Failed(StoreError::VersionConflict),
                    Some(Part::Change) => outcome = Some(TxOutcome::Renumber),
                    Some(Part::Count) | None => outcome = outcome.or(Some(TxOutcome::Retry)),
                },
                Some("TransactionConflict") | Some("ThrottlingError") | Some("ProvisionedThroughputExceeded") => {
                    outcome = outcome.or(Some(TxOutcome::Retry))
                }
                _ => {}
            }
        }
        outcome.unwrap_or_else(|| TxOutcome::Failed(unavailable(err)))
    }

    /// Runs an entity write with its change records under freshly allocated numbers; on
    /// contention it retries with the same numbers, and it voids them if the write is refused.
    pub(super) async fn write_with_changes(
        &self,
        tenant: &TenantId,
        build: impl Fn() -> Result<(Vec<TransactWriteItem>, Vec<Part>), StoreError>,
        changes: &[NewChange],
        record_failure: fn() -> StoreError,
    ) -> Result<(), StoreError> {
        self.write_with_changes_of(tenant, |_| build(), changes, record_failure).await
    }

    /// [`Self::write_with_changes`], building the items knowing whether the tenant has data of
    /// earlier builds (`true` also when the write has no changes to number, so no counter read).
    pub(super) async fn write_with_changes_of(
        &self,
        tenant: &TenantId,
        build: impl Fn(bool) -> Result<(Vec<TransactWriteItem>, Vec<Part>), StoreError>,
        changes: &[NewChange],
        record_failure: fn() -> StoreError,
    ) -> Result<(), StoreError> {
        let count = changes.len() as u64;
        let mut numbers: Option<(std::ops::RangeInclusive<u64>, bool)> = None;
        for attempt in 0..MAX_TX_RETRIES {
            if count > 0 && numbers.is_none() {
                let (last, earlier) = self.allocate_changes(tenant, count).await?;
                numbers = Some(((last + 1 - count)..=last, earlier));
            }
            let (mut items, mut parts) = build(numbers.as_ref().is_none_or(|(_, earlier)| *earlier))?;
            if let Some((range, _)) = &numbers {
                let range = range.clone();
                for (seq, change) in range.zip(changes) {
                    items.push(TransactWriteItem::builder().put(self.change_put(tenant, seq, change)?).build());
                    parts.push(Part::Change);
                }
            }
            match self.transact(items, &parts, record_failure()).await {
                TxOutcome::Done => return Ok(()),
                TxOutcome::Failed(e) => {
                    if let Some((r, _)) = numbers {
                        self.release_numbers(tenant, r).await;
                    }
                    return Err(e);
                }
                TxOutcome::Renumber => {
                    // A reader voided (some of) them; void the rest and start over.
                    if let Some((r, _)) = numbers.take() {
                        self.release_numbers(tenant, r).await;
                    }
                }
                TxOutcome::Retry => {
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20;
                    tokio::time::sleep(StdDuration::from_millis(5 * u64::from(attempt.min(10)) + jitter)).await;
                }
            }
        }
        if let Some((r, _)) = numbers {
            self.release_numbers(tenant, r).await;
        }
        Err(unavailable(std::io::Error::other("write contention: too many retries")))
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
