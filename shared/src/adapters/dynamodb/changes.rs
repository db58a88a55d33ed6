//! The change log (`ChangeLog`): a tenant's change records (`TENANT#{t}#CHANGES` / zero-padded
//! number), written by the transaction engine with the entity writes they describe, under
//! numbers taken from the counter (`TENANT#{t}#CHANGESEQ`) just before.
//!
//! Numbers are taken in order but committed in any order, so a reader can meet a hole: a
//! number taken by a write still committing (read again shortly), or by one that died (voided
//! here once the hole is older than the grace). Either way the reader never passes a number
//! before it is settled, and never waits on one for longer than the grace.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{json_attr, s, unavailable, Item};
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

impl DynamoStore {
    /// The last number taken and when (ms): the counter, or the counter of earlier builds.
    async fn last_taken(&self, tenant: &TenantId) -> Result<(u64, u64), StoreError> {
        if let Some(item) = self.get(keys::change_counter(tenant), keys::COUNTER.into()).await? {
            return Ok((number(&item, "seq").unwrap_or(0), number(&item, "at").unwrap_or(0)));
        }
        let legacy = self.get(keys::changes(tenant), keys::COUNTER.into()).await?;
        Ok((legacy.and_then(|i| number(&i, "seq")).unwrap_or(0), 0))
    }

    /// Settles the holes `from..=to` whose writes started before `taken_before_ms`: voided if
    /// that is longer ago than the grace (`true`), else left to be read again (`false`).
    async fn settle_holes(
        &self,
        tenant: &TenantId,
        from: u64,
        to: u64,
        taken_before_ms: u64,
    ) -> Result<bool, StoreError> {
        let grace = u64::try_from(self.change_grace.as_millis()).unwrap_or(u64::MAX);
        if now_millis().saturating_sub(taken_before_ms) < grace {
            return Ok(false);
        }
        for seq in from..=to {
            if self.void_change(tenant, seq).await? {
                tracing::warn!(tenant = %tenant, seq, "voided a change number whose write never committed");
            }
        }
        Ok(true)
    }

    async fn query_changes(&self, tenant: &TenantId, from: u64, limit: u32) -> Result<Vec<Item>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":p", s(keys::changes(tenant)))
            .expression_attribute_values(":from", s(keys::seq(from)))
            .expression_attribute_values(":to", s(keys::seq(u64::MAX)))
            .limit(limit.clamp(1, 1000) as i32)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.items.unwrap_or_default())
    }
}

#[async_trait]
impl ChangeLog for DynamoStore {
    async fn list_changes(&self, tenant: &TenantId, after: u64, limit: u32) -> Result<ChangePage, StoreError> {
        let limit = limit.clamp(1, 1000);
        let mut page = ChangePage { events: Vec::new(), next_after: after, more: false };
        if after == u64::MAX {
            return Ok(page);
        }
        let end = after.saturating_add(u64::from(limit));
        // Two passes at most: the second reads again what voiding holes settled.
        for _ in 0..2 {
            let from = page.next_after + 1;
            let items = self.query_changes(tenant, from, (end - page.next_after) as u32).await?;
            let mut voided_any = false;
            let mut expected = from;
            for item in &items {
                let Some(seq) = seq_of(item) else { continue };
                if seq > end {
                    break;
                }
                if seq > expected {
                    // A hole before a number taken later: its write started before this one was written.
                    let taken_before = number(item, "written_at").unwrap_or(0);
                    if !self.settle_holes(tenant, expected, seq - 1, taken_before).await? {
                        page.more = true;
                        return Ok(page);
                    }
                    voided_any = true;
                    break;
                }
                if !is_void(item) {
                    page.events.push(json_attr(item, "body")?);
                }
                page.next_after = seq;
                expected = seq + 1;
            }
            if voided_any {
                continue;
            }
            if page.next_after >= end {
                page.more = self.last_taken(tenant).await?.0 > end;
                return Ok(page);
            }
            // Nothing more committed: are numbers taken past what was read?
            let (last, taken_at) = self.last_taken(tenant).await?;
            if last <= page.next_after {
                return Ok(page);
            }
            let to = last.min(end);
            if !self.settle_holes(tenant, page.next_after + 1, to, taken_at).await? {
                page.more = true;
                return Ok(page);
            }
        }
        page.more = true;
        Ok(page)
    }

    async fn latest_changes(&self, tenant: &TenantId, limit: u32) -> Result<Vec<ChangeEvent>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":p", s(keys::changes(tenant)))
            .expression_attribute_values(":from", s(keys::seq(1)))
            .expression_attribute_values(":to", s(keys::seq(u64::MAX)))
            .scan_index_forward(false)
            // Voids are passed over: read a few more than asked.
            .limit((limit.clamp(1, 1000) + 20) as i32)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.items()
            .iter()
            .filter(|item| !is_void(item))
            .take(limit as usize)
            .map(|item| json_attr(item, "body"))
            .collect()
    }
}
