//! The DynamoDB store: one table, keys in [`keys`], and the access patterns in `docs/data-model.md`.
//!
//! Uniqueness (email, Okta id, SCIM userName and externalId) and the change-log sequence are
//! enforced inside the same `TransactWriteItems` as the user write, so a refused write leaves
//! nothing behind. One file per port, plus `keys`, `codec`, `transactions` and `batch`.
mod activity;
mod batch;
mod changes;
mod codec;
mod configs;
mod dedupe;
mod groups;
pub use super::table_keys as keys;
mod logins;
mod pending;
mod positions;
mod sync_runs;
mod teams;
mod tokens;
mod transactions;
mod user_pages;
mod users;

use aws_sdk_dynamodb::Client;

use crate::ports::StoreError;
use codec::{n, s, unavailable, Item};

const GSI1: &str = "gsi1";

pub struct DynamoStore {
    client: Client,
    table: String,
    /// The time the store stamps on what only it writes (TTLs of run lists).
    clock: std::sync::Arc<dyn crate::ports::Clock>,
    /// How long a change number may stay taken and uncommitted before a reader voids it.
    change_grace: std::time::Duration,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            clock: std::sync::Arc::new(crate::adapters::system::SystemClock),
            change_grace: std::time::Duration::from_secs(10),
        }
    }

    /// Sets how long a reader waits on a change number that is taken but not committed.
    pub fn with_change_grace(mut self, grace: std::time::Duration) -> Self {
        self.change_grace = grace;
        self
    }

    /// Reads the time from `clock` (the deployment's, or a test's).
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn crate::ports::Clock>) -> Self {
        self.clock = clock;
        self
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

    /// How many items `query` matches, over every page (`Select=COUNT`: no item is returned).
    async fn count(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<u64, StoreError> {
        let query = query.table_name(&self.table).select(aws_sdk_dynamodb::types::Select::Count);
        let mut count = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let out = query.clone().set_exclusive_start_key(start).send().await.map_err(unavailable)?;
            count += u64::try_from(out.count).unwrap_or(0);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
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

    /// Every item of one `gsi1` partition, all pages (`projection`: the attributes to read, or all).
    async fn query_index(&self, gsi1pk: String, projection: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("gsi1pk = :p")
                .expression_attribute_values(":p", s(gsi1pk.clone()))
                .set_projection_expression(projection.map(str::to_owned))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
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
