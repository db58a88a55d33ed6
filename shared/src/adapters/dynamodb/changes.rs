//! The change log (`ChangeLog`): a tenant's change records, one item a number, spread over
//! [`keys::CHANGE_SHARDS`] partitions by number (`TENANT#{t}#CHANGES#{n mod 8}` / zero-padded
//! number; numbers of earlier builds stay in `TENANT#{t}#CHANGES`). They are written by the
//! transaction engine with the entity writes they describe, under numbers taken from the counter
//! (`TENANT#{t}#CHANGESEQ`) just before.
//!
//! Every number up to the counter is used once, so a read asks for exactly the numbers it wants
//! (`BatchGetItem`), whatever partition each is in. Numbers are taken in order but committed in
//! any order, so a reader can meet a hole: a number taken by a write still committing (read
//! again shortly), or by one that died (voided here once the hole is older than the grace).
//! Either way the reader never passes a number before it is settled, and never waits on one for
//! longer than the grace.
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{json_attr, s, Item};
use super::transactions::now_millis;
use super::{keys, DynamoStore};
use crate::domain::change::{ChangeEvent, ChangePage};
use crate::domain::TenantId;
use crate::ports::{ChangeLog, StoreError};

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn seq_of(item: &Item) -> Option<u64> {
    item.get("sk").and_then(|v| v.as_s().ok()).and_then(|v| v.parse().ok())
}

fn is_void(item: &Item) -> bool {
    matches!(item.get("void"), Some(AttributeValue::Bool(true)))
}

/// The counter as a reader needs it.
struct Taken {
    /// The last number taken.
    last: u64,
    /// When it was taken (ms): no hole after it is older.
    at: u64,
    /// Numbers up to this are records of earlier builds, in the single partition.
    legacy: u64,
}

impl DynamoStore {
    async fn taken(&self, tenant: &TenantId) -> Result<Taken, StoreError> {
        if let Some(item) = self.get(keys::change_counter(tenant), keys::COUNTER.into()).await? {
            return Ok(Taken {
                last: number(&item, "seq").unwrap_or(0),
                at: number(&item, "at").unwrap_or(0),
                legacy: number(&item, "legacy").unwrap_or(0),
            });
        }
        // No write on this layout yet: the counter of earlier builds, whose numbers have no holes.
        let legacy = self.get(keys::changes(tenant), keys::COUNTER.into()).await?.and_then(|i| number(&i, "seq"));
        let last = legacy.unwrap_or(0);
        Ok(Taken { last, at: 0, legacy: last })
    }

    /// The records of numbers `from..=to`, by number (holes absent).
    async fn read_numbers(
        &self,
        tenant: &TenantId,
        numbers: impl Iterator<Item = u64>,
        legacy: u64,
    ) -> Result<HashMap<u64, Item>, StoreError> {
        let keys: Vec<Item> = numbers
            .map(|n| {
                Item::from([
                    ("pk".to_owned(), s(keys::change_record(tenant, n, legacy))),
                    ("sk".to_owned(), s(keys::seq(n))),
                ])
            })
            .collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self.batch_get(keys, None).await?.into_iter().filter_map(|i| seq_of(&i).map(|n| (n, i))).collect())
    }

    /// Voids hole `seq` if its write started longer than the grace ago (`taken_before_ms` bounds
    /// when): `Some(record)` as the number is now (a void, or the write that landed meanwhile),
    /// `None` if it is too young to void.
    async fn settle_hole(
        &self,
        tenant: &TenantId,
        seq: u64,
        taken_before_ms: u64,
        legacy: u64,
    ) -> Result<Option<Item>, StoreError> {
        let grace = u64::try_from(self.change_grace.as_millis()).unwrap_or(u64::MAX);
        if now_millis().saturating_sub(taken_before_ms) < grace {
            return Ok(None);
        }
        if self.void_change(tenant, seq).await? {
            tracing::warn!(tenant = %tenant, seq, "voided a change number whose write never committed");
        }
        self.get(keys::change_record(tenant, seq, legacy), keys::seq(seq)).await
    }
}

#[async_trait]
impl ChangeLog for DynamoStore {
    async fn list_changes(&self, tenant: &TenantId, after: u64, limit: u32) -> Result<ChangePage, StoreError> {
        let mut page = ChangePage { events: Vec::new(), next_after: after, more: false };
        let taken = self.taken(tenant).await?;
        let to = taken.last.min(after.saturating_add(u64::from(limit.clamp(1, 1000))));
        if to <= after {
            return Ok(page);
        }
        let mut found = self.read_numbers(tenant, after + 1..=to, taken.legacy).await?;
        let mut read_ahead = false;
        for seq in after + 1..=to {
            let item = match found.get(&seq) {
                Some(item) => Some(item.clone()),
                None => {
                    // A hole: its write started before any later number was written, and before
                    // the counter's last allocation. With no later record in the window, look past
                    // it (once): on a busy tenant the counter's time never ages, later records do.
                    if !read_ahead && to < taken.last && !(seq + 1..=to).any(|n| found.contains_key(&n)) {
                        read_ahead = true;
                        let ahead = to + 1..=taken.last.min(to + 100);
                        found.extend(self.read_numbers(tenant, ahead, taken.legacy).await?);
                    }
                    let later = (seq + 1..=taken.last.min(to + 100))
                        .find_map(|n| found.get(&n))
                        .and_then(|i| number(i, "written_at"));
                    self.settle_hole(tenant, seq, later.unwrap_or(taken.at), taken.legacy).await?
                }
            };
            let Some(item) = item else { break };
            if !is_void(&item) {
                page.events.push(json_attr(&item, "body")?);
            }
            page.next_after = seq;
        }
        page.more = page.next_after < taken.last;
        Ok(page)
    }

    async fn latest_changes(&self, tenant: &TenantId, limit: u32) -> Result<Vec<ChangeEvent>, StoreError> {
        let taken = self.taken(tenant).await?;
        // Voids and holes are passed over: read a few more numbers than asked.
        let want = u64::from(limit.clamp(1, 1000)) + 20;
        let from = taken.last.saturating_sub(want - 1).max(1);
        let found = self.read_numbers(tenant, from..=taken.last, taken.legacy).await?;
        let mut events = Vec::new();
        for seq in (from..=taken.last).rev() {
            if events.len() == limit as usize {
                break;
            }
            if let Some(item) = found.get(&seq).filter(|i| !is_void(i)) {
                events.push(json_attr(item, "body")?);
            }
        }
        Ok(events)
    }
}
