//! A DynamoDB cost model for benchmarks: [`DynamoModel`] wraps the in-memory store and makes every
//! store call pay what the real adapter (`adapters::dynamodb::DynamoStore`) would pay for the same
//! call on DynamoDB: the same requests, one after the other, each with a latency, a capacity charge,
//! throttling and transaction conflicts. What a call returns (versions, uniqueness, pages) is the
//! inner [`MemoryStore`]'s answer: the model adds time and refusals, never other results.
//!
//! # What is modelled
//!
//! - **Requests.** Each store method makes the requests its adapter method makes, in order: their
//!   kind (`GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`, `Query`, `BatchGetItem`,
//!   `BatchWriteItem`, `TransactWriteItems`) and the items and partition keys they touch, computed
//!   from the arguments and the data as the adapter would (a claim only for a value that changes, a
//!   change record per `NewChange`, a count-shard update only when `scim_visible()` changes, the
//!   legacy claim read after a miss, the counter's start-up on a tenant's first change, the voids of
//!   numbers a refused write took, pages of at most 1 MB or the request's `Limit`, batches of 100
//!   keys / 25 items with their unprocessed-key retries). The key layout mirrors
//!   `adapters::dynamodb::keys` (private there, and behind the `aws` feature): keep them in step.
//! - **Latency.** Each request sleeps (`tokio::time::sleep`) a latency drawn from a log-normal
//!   distribution per request kind, given by its median and 99th percentile
//!   (σ = ln(p99 / p50) / 2.326), from a small seeded PRNG (xorshift64* and Box–Muller). The
//!   defaults are our reading of AWS's published single-digit-millisecond latency for in-region
//!   requests; transactions are two-phase, about twice a write:
//!
//!   | request | p50 | p99 |
//!   |---|---|---|
//!   | `GetItem` | 3 ms | 8 ms |
//!   | `PutItem`, `UpdateItem`, `DeleteItem` | 4 ms | 10 ms |
//!   | `Query` | 5 ms | 12 ms, plus 0.02 ms per item returned |
//!   | `BatchGetItem` | 6 ms | 15 ms |
//!   | `BatchWriteItem` | 8 ms | 20 ms |
//!   | `TransactWriteItems` | 10 ms | 25 ms |
//!
//! - **Capacity.** A read costs ⌈bytes / 4096⌉ read units per item (`GetItem`, `BatchGetItem`;
//!   at least 1, also for a missing item), a `Query` ⌈sum of the bytes it read / 4096⌉; half of
//!   that when the adapter reads eventually consistently (every `gsi1` query, and the main-table
//!   queries it sends without `ConsistentRead`: `list_users`, `list_runs`). A write costs
//!   ⌈bytes / 1024⌉ write units per item, doubled inside `TransactWriteItems`. An item with a
//!   `gsi1` key also writes the index, in the index's own partition (1 unit per KB, not doubled;
//!   two writes when a user's status moves it from one index partition to another). An item's
//!   bytes are estimated as the length of its `serde_json` serialisation plus its key strings
//!   (attribute names and DynamoDB's own number and map encodings differ a little: good enough
//!   for unit counts). Requests refused by a condition or a conflict are charged; throttled ones
//!   are not.
//! - **Throttling.** Per partition key value, the conservative reading of DynamoDB's limits: the
//!   whole item collection of one partition key stays on one physical partition (no split for
//!   heat), which serves at most `partition_wcu` write units (1000/s) and `partition_rcu` read
//!   units (3000/s). Each partition key (and each `gsi1` partition, named `gsi1/{gsi1pk}`) has a
//!   token bucket per direction refilled at that rate, holding `burst_seconds` (1 s) of it, full at
//!   the start. A request that would overdraw any partition it touches is throttled and takes
//!   nothing. The SDK then retries it in its standard mode: up to `sdk_attempts` (3) attempts,
//!   sleeping a full-jitter exponential backoff, uniform in `0..min(cap, base × 2^(attempt-1))`
//!   with base 1 s and cap 20 s (the Rust SDK's defaults, which the adapter keeps); when the
//!   attempts run out the method fails with `StoreError::Unavailable`. A throttled
//!   attempt still costs its round trip (one sampled latency). Batches are served item by item:
//!   what does not fit comes back unprocessed, and the adapter retries it (20 ms × attempt, at most
//!   8 times); only a batch of which nothing fits is a throttling error for the SDK. A throttled
//!   `TransactWriteItems` is cancelled (`ThrottlingError`), which the SDK does not retry: the
//!   adapter's own loop does (below).
//! - **Transaction conflicts.** A `TransactWriteItems` holds all its items (`pk`, `sk`) for its
//!   whole latency; one that touches an item another in-flight transaction holds is cancelled
//!   (`TransactionConflict`) at the end of its latency. The adapter's `write_with_changes` retries
//!   a cancelled or throttled transaction up to 25 times, sleeping `5 ms × min(attempt, 10)` plus
//!   0–19 ms of jitter, with the same change numbers, and fails `Unavailable` after that (voiding
//!   its numbers). The inner store's write is applied only after the transaction held its items
//!   for its latency, then the items are released, so conflicting writes really overlap in time. A
//!   single-item write to an item held by a transaction fails with `TransactionConflict` too; the
//!   SDK does not retry that, so the method fails `Unavailable` (a change-number void just reports
//!   "not voided", as the adapter does). `rotate_token`'s transaction has no retry loop in the
//!   adapter: a cancellation fails the call.
//!
//! Reads take the inner store's answer when they start (the state a read sees is the one committed
//! before it), then pay their requests. Not modelled: on-demand tables' table-wide and
//! previous-peak limits, adaptive capacity and splits for heat, the SDK's retry quota, request
//! sizes, and the 1 MB cut of a `list_users` page (the adapter continues a short page itself).
//!
//! [`DynamoModel::stats`] counts what the requests did; [`with_modelled_time`] measures the
//! modelled time (latency and backoff) spent by the requests one future makes.
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::time::Instant;

use super::MemoryStore;
use crate::domain::activity::{hour_bucket, Activity, ActivityEvent};
use crate::domain::admin_session::AdminSession;
use crate::domain::api_token::{TokenKind, TokenRecord};
use crate::domain::change::{ChangeEvent, ChangePage, NewChange};
use crate::domain::group::{Group, Member};
use crate::domain::sso::{LoginState, SessionRecord};
use crate::domain::sync_run::{RunList, SyncRun};
use crate::domain::team::{Team, Waiting};
use crate::domain::tenant::TenantConfig;
use crate::domain::user::User;
use crate::domain::{Email, GroupId, OktaUserId, TenantId, UserId};
use crate::ports::user_store::UserQuery;
use crate::ports::{
    ActivityStore, ChangeLog, ConfigStore, DedupeStore, GroupStore, ListPositions, LoginStateStore, Page, PendingStore,
    StoreError, SyncStore, TeamStore, TokenStore, UserReader, UserWriter,
};

/// The standard normal's 99th percentile.
const Z99: f64 = 2.326;
/// How many times the adapter's `write_with_changes` sends a transaction (`MAX_TX_RETRIES`).
const TX_ATTEMPTS: u32 = 25;
/// A `Query` page reads at most 1 MB.
const PAGE_BYTES: usize = 1 << 20;
/// `BatchGetItem` takes at most 100 keys, `BatchWriteItem` 25 items; the adapter retries what is
/// left unprocessed 8 times, 20 ms × attempt apart.
const BATCH_GET: usize = 100;
const BATCH_WRITE: usize = 25;
const BATCH_RETRIES: u64 = 8;

/// Bytes of small items whose size the model does not compute (counters, voids, claims' values,
/// activity items, a pending record counted without being read).
const COUNTER_BYTES: usize = 64;
const SHARD_BYTES: usize = 60;
const ACTIVITY_BYTES: usize = 250;
const BUCKET_BYTES: usize = 150;
const PENDING_BYTES: usize = 250;
const SMALL_BYTES: usize = 200;

/// One request kind's latency: a log-normal distribution through its median and 99th percentile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
}

impl Latency {
    /// No latency at all (the request does not even yield).
    pub const ZERO: Self = Self { p50: Duration::ZERO, p99: Duration::ZERO };

    pub const fn millis(p50: u64, p99: u64) -> Self {
        Self { p50: Duration::from_millis(p50), p99: Duration::from_millis(p99) }
    }

    /// Always `d`.
    pub const fn fixed(d: Duration) -> Self {
        Self { p50: d, p99: d }
    }

    /// The log-normal's σ: ln(p99 / p50) / 2.326 (0 for a fixed latency).
    pub fn sigma(&self) -> f64 {
        if self.p50.is_zero() || self.p99 <= self.p50 {
            return 0.0;
        }
        (self.p99.as_secs_f64() / self.p50.as_secs_f64()).ln() / Z99
    }
}

/// What the model charges; [`Default`] is the documented defaults (module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    /// Seeds the PRNG of latencies and jitter.
    pub seed: u64,
    pub get_item: Latency,
    /// `PutItem`, `UpdateItem` and `DeleteItem`.
    pub write_item: Latency,
    pub query: Latency,
    /// Added to a `Query`'s latency per item it returns.
    pub query_per_item: Duration,
    pub batch_get_item: Latency,
    pub batch_write_item: Latency,
    pub transact_write_items: Latency,
    /// Write units a second one partition key serves (infinite: no write throttling).
    pub partition_wcu: f64,
    /// Read units a second one partition key serves (infinite: no read throttling).
    pub partition_rcu: f64,
    /// Seconds of unused capacity a partition can bank (its bucket holds `burst_seconds × rate`).
    pub burst_seconds: f64,
    /// Attempts the SDK makes at a throttled request (standard retry mode: 3).
    pub sdk_attempts: u32,
    /// The SDK's full-jitter exponential backoff: `rand(0..min(cap, base × 2^(attempt-1)))`.
    pub sdk_backoff_base: Duration,
    pub sdk_backoff_cap: Duration,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            seed: 0x5eed_d1a0_0b1d_9e00,
            get_item: Latency::millis(3, 8),
            write_item: Latency::millis(4, 10),
            query: Latency::millis(5, 12),
            query_per_item: Duration::from_micros(20),
            batch_get_item: Latency::millis(6, 15),
            batch_write_item: Latency::millis(8, 20),
            transact_write_items: Latency::millis(10, 25),
            partition_wcu: 1000.0,
            partition_rcu: 3000.0,
            burst_seconds: 1.0,
            sdk_attempts: 3,
            sdk_backoff_base: Duration::from_secs(1),
            sdk_backoff_cap: Duration::from_secs(20),
        }
    }
}

impl ModelConfig {
    /// No latency (requests never sleep, so nothing overlaps), for fast unit tests; capacity,
    /// throttling (with its backoff) and conflicts are still modelled.
    pub fn instant() -> Self {
        Self {
            get_item: Latency::ZERO,
            write_item: Latency::ZERO,
            query: Latency::ZERO,
            query_per_item: Duration::ZERO,
            batch_get_item: Latency::ZERO,
            batch_write_item: Latency::ZERO,
            transact_write_items: Latency::ZERO,
            ..Self::default()
        }
    }

    fn latency(&self, op: Op) -> &Latency {
        match op {
            Op::GetItem => &self.get_item,
            Op::PutItem | Op::UpdateItem | Op::DeleteItem => &self.write_item,
            Op::Query => &self.query,
            Op::BatchGetItem => &self.batch_get_item,
            Op::BatchWriteItem => &self.batch_write_item,
            Op::TransactWriteItems => &self.transact_write_items,
        }
    }
}

/// What the modelled requests did since the model was made or [`DynamoModel::reset_stats`].
#[derive(Clone, Debug, Default)]
pub struct ModelStats {
    /// Requests sent, by AWS operation name; every attempt counts (throttled and cancelled ones too).
    pub requests: BTreeMap<&'static str, u64>,
    /// Items read (found by a `GetItem` or batch, or returned by a `Query`).
    pub items_read: u64,
    /// Items a write request wrote or tried to (an index's copy not counted).
    pub items_written: u64,
    /// Read units consumed (halves for eventually consistent reads).
    pub rcu: f64,
    /// Write units consumed, index writes included.
    pub wcu: f64,
    /// Transactions cancelled, and single-item writes refused, for an item in another transaction.
    pub conflicts: u64,
    /// Requests throttled (a batch with unprocessed items counts once).
    pub throttles: u64,
    /// Requests that gave up: retries exhausted, or a conflict the caller does not retry.
    pub failures: u64,
    /// Sampled latency plus every backoff and retry sleep.
    pub modelled: Duration,
    /// The most write units one partition took within one second (tumbling one-second windows
    /// from its first write), and which partition.
    pub peak_partition_wcu: f64,
    pub peak_partition: String,
    /// Conflicts by the partition key of the first contested item.
    pub conflicts_by_partition: BTreeMap<String, u64>,
    /// Throttles by the partition key that ran out first.
    pub throttles_by_partition: BTreeMap<String, u64>,
}

impl ModelStats {
    /// Every request sent.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Requests of one kind (`"GetItem"`, `"TransactWriteItems"`, ...).
    pub fn requests_of(&self, op: &str) -> u64 {
        self.requests.get(op).copied().unwrap_or(0)
    }
}

tokio::task_local! {
    static SPENT: Cell<Duration>;
}

/// Runs `f` and returns its output with the modelled time (sampled latency and backoff) of the
/// requests it made on any [`DynamoModel`]. Requests outside any such scope are not accounted
/// here; a task `f` spawns is outside it. Nested scopes add theirs to the enclosing one.
pub async fn with_modelled_time<F: Future>(f: F) -> (F::Output, Duration) {
    let (out, spent) = SPENT
        .scope(Cell::new(Duration::ZERO), async move {
            let out = f.await;
            (out, SPENT.with(Cell::get))
        })
        .await;
    let _ = SPENT.try_with(|outer| outer.set(outer.get() + spent));
    (out, spent)
}

/// The AWS operations the adapter sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    Query,
    BatchGetItem,
    BatchWriteItem,
    TransactWriteItems,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::GetItem => "GetItem",
            Self::PutItem => "PutItem",
            Self::UpdateItem => "UpdateItem",
            Self::DeleteItem => "DeleteItem",
            Self::Query => "Query",
            Self::BatchGetItem => "BatchGetItem",
            Self::BatchWriteItem => "BatchWriteItem",
            Self::TransactWriteItems => "TransactWriteItems",
        }
    }
}

/// xorshift64* with Box–Muller normals: small, seeded, good enough for latencies and jitter.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so nearby seeds start far apart (and never at 0).
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Self(if z == 0 { 0x9e37_79b9_7f4a_7c15 } else { z })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit(), self.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn sample(&mut self, latency: &Latency) -> Duration {
        if latency.p50.is_zero() {
            return Duration::ZERO;
        }
        let sigma = latency.sigma();
        if sigma == 0.0 {
            return latency.p50;
        }
        latency.p50.mul_f64((sigma * self.normal()).exp())
    }
}

/// A partition key's capacity in one direction.
struct Bucket {
    tokens: f64,
    at: Instant,
    /// The current one-second window of writes, for the peak.
    window: Instant,
    in_window: f64,
}

/// Units one request takes, by partition.
#[derive(Default)]
struct Charge {
    reads: Vec<(String, f64)>,
    writes: Vec<(String, f64)>,
    items_read: u64,
    items_written: u64,
}

impl Charge {
    fn read(partition: String, units: f64, items: u64) -> Self {
        Self { reads: vec![(partition, units)], items_read: items, ..Self::default() }
    }
}

fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

fn json_len<T: Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(0, |v| v.len())
}

/// An item's estimated size: its keys (and their names) and the rest.
fn keyed(pk: &str, sk: &str, rest: usize) -> usize {
    pk.len() + sk.len() + 4 + rest
}

fn index_partition(gsi1pk: &str) -> String {
    format!("gsi1/{gsi1pk}")
}

/// One item a write request writes: its key, its estimated size, and the `gsi1` partitions the
/// write also writes (with the bytes of each index write).
struct Write {
    pk: String,
    sk: String,
    bytes: usize,
    index: Vec<(String, usize)>,
}

impl Write {
    fn new(pk: String, sk: impl Into<String>, bytes: usize) -> Self {
        Self { pk, sk: sk.into(), bytes, index: Vec::new() }
    }

    fn indexed(mut self, gsi1pk: &str, bytes: usize) -> Self {
        self.index.push((index_partition(gsi1pk), bytes));
        self
    }

    /// `factor`: 2 inside a transaction.
    fn charge(&self, factor: f64, charge: &mut Charge) {
        charge.writes.push((self.pk.clone(), write_units(self.bytes) * factor));
        for (partition, bytes) in &self.index {
            charge.writes.push((partition.clone(), write_units(*bytes)));
        }
        charge.items_written += 1;
    }
}

/// One key of a batch and the units it takes.
struct Entry {
    partition: String,
    units: f64,
    /// Whether an item is there (read) or written.
    item: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refused {
    Throttled,
    Conflict,
}

struct State {
    rng: Rng,
    reads: HashMap<String, Bucket>,
    writes: HashMap<String, Bucket>,
    /// Items held by in-flight transactions, and which.
    held: HashMap<(String, String), u64>,
    next_tx: u64,
    /// Tenants whose change counter exists (`TENANT#{t}`), and the last number taken.
    counters: HashMap<String, u64>,
    stats: ModelStats,
}

impl State {
    fn count(&mut self, op: Op) {
        *self.stats.requests.entry(op.name()).or_default() += 1;
    }

    /// A request's round trip: sampled, and added to the modelled time.
    fn round_trip(&mut self, config: &ModelConfig, op: Op, extra: Duration) -> Duration {
        self.count(op);
        let latency = self.rng.sample(config.latency(op)) + extra;
        self.stats.modelled += latency;
        latency
    }

    fn bucket<'a>(
        map: &'a mut HashMap<String, Bucket>,
        partition: &str,
        rate: f64,
        burst: f64,
        now: Instant,
    ) -> &'a mut Bucket {
        let cap = rate * burst;
        if !map.contains_key(partition) {
            map.insert(partition.to_owned(), Bucket { tokens: cap, at: now, window: now, in_window: 0.0 });
        }
        let b = map.get_mut(partition).expect("inserted above");
        if rate.is_finite() {
            let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens = (b.tokens + elapsed * rate).min(cap);
        } else {
            b.tokens = f64::INFINITY;
        }
        b.at = now;
        b
    }

    /// Whether `partition` can serve `units` now (a request larger than the whole bucket is served
    /// from a full one, and leaves it in debt).
    fn fits_one(&mut self, config: &ModelConfig, write: bool, partition: &str, units: f64, now: Instant) -> bool {
        let (map, rate) =
            if write { (&mut self.writes, config.partition_wcu) } else { (&mut self.reads, config.partition_rcu) };
        let b = Self::bucket(map, partition, rate, config.burst_seconds, now);
        b.tokens >= units.min(rate * config.burst_seconds)
    }

    fn draw(&mut self, config: &ModelConfig, write: bool, partition: &str, units: f64, now: Instant) {
        if write {
            let b = Self::bucket(&mut self.writes, partition, config.partition_wcu, config.burst_seconds, now);
            b.tokens -= units;
            if now.saturating_duration_since(b.window) >= Duration::from_secs(1) {
                b.window = now;
                b.in_window = 0.0;
            }
            b.in_window += units;
            if b.in_window > self.stats.peak_partition_wcu {
                self.stats.peak_partition_wcu = b.in_window;
                partition.clone_into(&mut self.stats.peak_partition);
            }
            self.stats.wcu += units;
        } else {
            let b = Self::bucket(&mut self.reads, partition, config.partition_rcu, config.burst_seconds, now);
            b.tokens -= units;
            self.stats.rcu += units;
        }
    }

    fn totals(parts: &[(String, f64)]) -> BTreeMap<&str, f64> {
        let mut totals = BTreeMap::new();
        for (partition, units) in parts {
            *totals.entry(partition.as_str()).or_insert(0.0) += units;
        }
        totals
    }

    /// Takes `charge` if every partition it touches can serve it; else the first that cannot.
    fn admit(&mut self, config: &ModelConfig, charge: &Charge, now: Instant) -> Result<(), String> {
        let (reads, writes) = (Self::totals(&charge.reads), Self::totals(&charge.writes));
        for (write, totals) in [(false, &reads), (true, &writes)] {
            for (partition, units) in totals {
                if !self.fits_one(config, write, partition, *units, now) {
                    return Err((*partition).to_owned());
                }
            }
        }
        for (write, totals) in [(false, &reads), (true, &writes)] {
            for (partition, units) in totals {
                self.draw(config, write, partition, *units, now);
            }
        }
        self.stats.items_read += charge.items_read;
        self.stats.items_written += charge.items_written;
        Ok(())
    }

    fn throttled(&mut self, partition: &str) {
        self.stats.throttles += 1;
        *self.stats.throttles_by_partition.entry(partition.to_owned()).or_default() += 1;
    }

    fn conflicted(&mut self, partition: &str) {
        self.stats.conflicts += 1;
        *self.stats.conflicts_by_partition.entry(partition.to_owned()).or_default() += 1;
    }

    fn is_held(&self, pk: &str, sk: &str) -> bool {
        !self.held.is_empty() && self.held.contains_key(&(pk.to_owned(), sk.to_owned()))
    }
}

/// The items of a transaction in flight; released when dropped (also when the caller gives up).
struct Hold<'a> {
    model: &'a DynamoModel,
    id: u64,
    keys: Vec<(String, String)>,
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        let mut st = self.model.lock();
        for key in &self.keys {
            if st.held.get(key) == Some(&self.id) {
                st.held.remove(key);
            }
        }
    }
}

enum TxTry<'a> {
    /// Its items are held, its latency paid: apply the write, then drop the hold.
    Held(Hold<'a>),
    /// Cancelled (a conflict) or throttled, its latency paid.
    Refused,
}

fn unavailable(why: &str) -> StoreError {
    StoreError::Unavailable(Box::new(std::io::Error::other(format!("modelled DynamoDB: {why}"))))
}

use crate::adapters::table_keys as key;

use crate::adapters::table_keys::waiting as waiting_key;

fn user_bytes(tenant: &TenantId, user: &User) -> usize {
    let index = key::status_index(tenant, user.status).len() + key::user(user.id.as_str()).len();
    keyed(
        &key::user_pk(tenant, user.id.as_str()),
        &key::user(user.id.as_str()),
        json_len(user) + index + user.email.key().len() + 21,
    )
}

fn claim_bytes(tenant: &TenantId, claim_key: &str, id: &UserId) -> usize {
    keyed(&key::claim(tenant, claim_key), key::CLAIM, id.as_str().len() + 7)
}

fn config_bytes(config: &TenantConfig) -> usize {
    keyed(
        &key::tenant(&config.tenant),
        key::CONFIG,
        json_len(config) + key::TENANTS_INDEX.len() + config.tenant.as_str().len(),
    )
}

fn change_bytes(tenant: &TenantId, seq: u64, change: &NewChange) -> usize {
    keyed(&key::change_record(tenant, seq, 0), &key::seq(seq), json_len(change) + 50)
}

fn token_bytes(record: &TokenRecord) -> usize {
    keyed(&key::token(&record.sha256), key::TOKEN, json_len(record) + 100)
}

/// DynamoDB's costs over the in-memory store (module doc).
pub struct DynamoModel {
    inner: Arc<MemoryStore>,
    config: ModelConfig,
    state: Mutex<State>,
}

impl DynamoModel {
    /// A model of DynamoDB over `inner`, which keeps the data.
    pub fn new(inner: Arc<MemoryStore>, config: ModelConfig) -> Arc<Self> {
        let state = State {
            rng: Rng::new(config.seed),
            reads: HashMap::new(),
            writes: HashMap::new(),
            held: HashMap::new(),
            next_tx: 1,
            counters: HashMap::new(),
            stats: ModelStats::default(),
        };
        Arc::new(Self { inner, config, state: Mutex::new(state) })
    }

    /// The store that keeps the data (reads and writes on it directly cost nothing).
    pub fn inner(&self) -> &Arc<MemoryStore> {
        &self.inner
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// A snapshot of what the requests did.
    pub fn stats(&self) -> ModelStats {
        self.lock().stats.clone()
    }

    /// Starts the counts (and the peak's windows) again; capacity, holds and counters stay.
    pub fn reset_stats(&self) {
        let mut st = self.lock();
        st.stats = ModelStats::default();
        for b in st.writes.values_mut() {
            b.in_window = 0.0;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps `d` (already added to the stats) and adds it to the caller's scope.
    async fn spend(&self, d: Duration) {
        if d.is_zero() {
            return;
        }
        let _ = SPENT.try_with(|spent| spent.set(spent.get() + d));
        tokio::time::sleep(d).await;
    }

    /// A sleep of the adapter's own (retry pauses): counted, then spent.
    async fn pause(&self, d: Duration) {
        self.lock().stats.modelled += d;
        self.spend(d).await;
    }

    /// The SDK's backoff after failed attempt `attempt` (1-based).
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .config
            .sdk_backoff_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.config.sdk_backoff_cap);
        let mut st = self.lock();
        let d = ceiling.mul_f64(st.rng.unit());
        st.stats.modelled += d;
        d
    }

    fn give_up(&self, refused: Refused) -> StoreError {
        match refused {
            Refused::Conflict => {
                self.lock().stats.failures += 1;
                unavailable("TransactionConflict: the item is part of a transaction in flight")
            }
            // Counted where the attempts ran out.
            Refused::Throttled => unavailable("throughput exceeded, retries exhausted"),
        }
    }

    /// One request through the SDK: throttled attempts are retried with its backoff. `item`: the
    /// item a single-item write writes (refused while a transaction holds it).
    async fn send(&self, op: Op, charge: &Charge, extra: Duration, item: Option<(&str, &str)>) -> Result<(), Refused> {
        let attempts = self.config.sdk_attempts.max(1);
        for attempt in 1..=attempts {
            let (latency, verdict) = {
                let mut st = self.lock();
                let latency = st.round_trip(&self.config, op, extra);
                let verdict = match st.admit(&self.config, charge, Instant::now()) {
                    Err(partition) => {
                        st.throttled(&partition);
                        Err(Refused::Throttled)
                    }
                    Ok(()) => match item {
                        Some((pk, sk)) if st.is_held(pk, sk) => {
                            st.conflicted(pk);
                            Err(Refused::Conflict)
                        }
                        _ => Ok(()),
                    },
                };
                (latency, verdict)
            };
            self.spend(latency).await;
            match verdict {
                Ok(()) => return Ok(()),
                Err(Refused::Conflict) => return Err(Refused::Conflict),
                Err(Refused::Throttled) if attempt < attempts => {
                    let d = self.backoff(attempt);
                    self.spend(d).await;
                }
                Err(Refused::Throttled) => {}
            }
        }
        self.lock().stats.failures += 1;
        Err(Refused::Throttled)
    }

    /// A `PutItem`, `UpdateItem` or `DeleteItem` of `w`.
    async fn write_one(&self, op: Op, w: Write) -> Result<(), StoreError> {
        let mut charge = Charge::default();
        w.charge(1.0, &mut charge);
        self.send(op, &charge, Duration::ZERO, Some((w.pk.as_str(), w.sk.as_str()))).await.map_err(|r| self.give_up(r))
    }

    /// A consistent `GetItem` in partition `pk`: `bytes` of the item found, or `None`.
    async fn get_item(&self, pk: String, bytes: Option<usize>) -> Result<(), StoreError> {
        let charge = Charge::read(pk, read_units(bytes.unwrap_or(0), true), u64::from(bytes.is_some()));
        self.send(Op::GetItem, &charge, Duration::ZERO, None).await.map_err(|r| self.give_up(r))
    }

    /// One `Query` page reading items of `sizes` bytes from `partition`.
    async fn query_page(&self, partition: &str, sizes: &[usize], consistent: bool) -> Result<(), StoreError> {
        let total = sizes.iter().sum();
        let charge = Charge::read(partition.to_owned(), read_units(total, consistent), sizes.len() as u64);
        let extra = self.config.query_per_item.saturating_mul(u32::try_from(sizes.len()).unwrap_or(u32::MAX));
        self.send(Op::Query, &charge, extra, None).await.map_err(|r| self.give_up(r))
    }

    /// A `Query` of every item of `sizes`, a page per 1 MB or `page_items` items.
    async fn query(
        &self,
        partition: &str,
        sizes: &[usize],
        consistent: bool,
        page_items: usize,
    ) -> Result<(), StoreError> {
        for page in pages(sizes, page_items) {
            self.query_page(partition, page, consistent).await?;
        }
        Ok(())
    }

    /// `BatchGetItem` / `BatchWriteItem` of `entries`, in chunks, retrying unprocessed keys as the
    /// adapter's `batch_get` / `batch_write` do.
    async fn batch(&self, op: Op, entries: &[Entry]) -> Result<(), StoreError> {
        let limit = if op == Op::BatchGetItem { BATCH_GET } else { BATCH_WRITE };
        for chunk in entries.chunks(limit) {
            let mut pending: Vec<&Entry> = chunk.iter().collect();
            let mut attempt = 0u64;
            while !pending.is_empty() {
                pending = self.batch_once(op, pending).await?;
                attempt += 1;
                if !pending.is_empty() {
                    if attempt > BATCH_RETRIES {
                        self.lock().stats.failures += 1;
                        return Err(unavailable("a batch left items unprocessed"));
                    }
                    self.pause(Duration::from_millis(20 * attempt)).await;
                }
            }
        }
        Ok(())
    }

    /// One batch request through the SDK: returns what was left unprocessed; a batch of which
    /// nothing fits is a throttling error, retried with the SDK's backoff.
    async fn batch_once<'e>(&self, op: Op, pending: Vec<&'e Entry>) -> Result<Vec<&'e Entry>, StoreError> {
        let write = op == Op::BatchWriteItem;
        let attempts = self.config.sdk_attempts.max(1);
        for attempt in 1..=attempts {
            let (latency, left) = {
                let mut st = self.lock();
                let latency = st.round_trip(&self.config, op, Duration::ZERO);
                let now = Instant::now();
                let mut left = Vec::new();
                let mut served = 0usize;
                for e in &pending {
                    if st.fits_one(&self.config, write, &e.partition, e.units, now) {
                        st.draw(&self.config, write, &e.partition, e.units, now);
                        served += 1;
                        if e.item {
                            if write {
                                st.stats.items_written += 1;
                            } else {
                                st.stats.items_read += 1;
                            }
                        }
                    } else {
                        left.push(*e);
                    }
                }
                if let Some(first) = left.first() {
                    st.throttled(&first.partition);
                }
                (latency, (served > 0 || pending.is_empty()).then_some(left))
            };
            self.spend(latency).await;
            match left {
                Some(left) => return Ok(left),
                None if attempt < attempts => {
                    let d = self.backoff(attempt);
                    self.spend(d).await;
                }
                None => {}
            }
        }
        self.lock().stats.failures += 1;
        Err(unavailable("throughput exceeded, retries exhausted"))
    }

    /// One `TransactWriteItems` of `items`: throttled, cancelled by a conflict, or holding its
    /// items; its latency paid in each case.
    async fn transact_once(&self, items: &[Write]) -> TxTry<'_> {
        let mut charge = Charge::default();
        for w in items {
            w.charge(2.0, &mut charge);
        }
        let (latency, held) = {
            let mut st = self.lock();
            let latency = st.round_trip(&self.config, Op::TransactWriteItems, Duration::ZERO);
            let held = match st.admit(&self.config, &charge, Instant::now()) {
                Err(partition) => {
                    st.throttled(&partition);
                    None
                }
                Ok(()) => match items.iter().find(|w| st.is_held(&w.pk, &w.sk)) {
                    Some(contested) => {
                        st.conflicted(&contested.pk);
                        None
                    }
                    None => {
                        let id = st.next_tx;
                        st.next_tx += 1;
                        for w in items {
                            st.held.insert((w.pk.clone(), w.sk.clone()), id);
                        }
                        Some(id)
                    }
                },
            };
            (latency, held)
        };
        let hold =
            held.map(|id| Hold { model: self, id, keys: items.iter().map(|w| (w.pk.clone(), w.sk.clone())).collect() });
        self.spend(latency).await;
        match hold {
            Some(hold) => TxTry::Held(hold),
            None => TxTry::Refused,
        }
    }

    /// Whether the tenant's change counter exists: the model started it, or the inner store was
    /// filled with changes around the model.
    async fn counter_started(&self, tenant: &TenantId) -> bool {
        let tk = key::tenant(tenant);
        if self.lock().counters.contains_key(&tk) {
            return true;
        }
        let seeded = self.inner.latest_changes(tenant, 1).await.ok().and_then(|c| c.first().map(|e| e.seq));
        match seeded {
            Some(seq) => {
                self.lock().counters.entry(tk).or_insert(seq);
                true
            }
            None => false,
        }
    }

    /// `allocate_changes`: an `UpdateItem` (`ADD`) on the tenant's counter; on its first use a
    /// refused `UpdateItem`, the legacy counter's `GetItem` and the counter's `PutItem` before.
    async fn allocate_changes(&self, tenant: &TenantId, count: u64) -> Result<u64, StoreError> {
        let counter = || Write::new(key::change_counter(tenant), key::COUNTER, COUNTER_BYTES);
        if !self.counter_started(tenant).await {
            self.write_one(Op::UpdateItem, counter()).await?;
            self.get_item(key::changes(tenant), None).await?;
            self.write_one(Op::PutItem, counter()).await?;
            self.lock().counters.entry(key::tenant(tenant)).or_insert(0);
        }
        self.write_one(Op::UpdateItem, counter()).await?;
        let mut st = self.lock();
        let last = st.counters.entry(key::tenant(tenant)).or_insert(0);
        *last += count;
        Ok(*last)
    }

    /// `release_numbers`: a conditional `PutItem` void per number, best effort.
    async fn release_numbers(&self, tenant: &TenantId, numbers: RangeInclusive<u64>) {
        for seq in numbers {
            let w = Write::new(key::change_record(tenant, seq, 0), key::seq(seq), COUNTER_BYTES);
            let mut charge = Charge::default();
            w.charge(1.0, &mut charge);
            // The adapter logs a failed void and leaves it to readers; a conflict is "not voided".
            let _ = self.send(Op::PutItem, &charge, Duration::ZERO, Some((w.pk.as_str(), w.sk.as_str()))).await;
        }
    }

    /// `last_taken`: the counter's `GetItem`, and the legacy counter's when there is none.
    async fn last_taken(&self, tenant: &TenantId) -> Result<(), StoreError> {
        if self.counter_started(tenant).await {
            self.get_item(key::change_counter(tenant), Some(COUNTER_BYTES)).await
        } else {
            self.get_item(key::change_counter(tenant), None).await?;
            self.get_item(key::changes(tenant), None).await
        }
    }

    /// `write_with_changes`: numbers from the counter, then the transaction of `items` and the
    /// change records, retried on cancellation or throttling; `apply` (the inner write) runs while
    /// the transaction holds its items. A refused write voids its numbers.
    async fn write_with_changes<T, F, Fut>(
        &self,
        tenant: &TenantId,
        mut items: Vec<Write>,
        changes: &[NewChange],
        apply: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut numbers = None;
        if !changes.is_empty() {
            let count = changes.len() as u64;
            let last = self.allocate_changes(tenant, count).await?;
            let range = (last + 1 - count)..=last;
            for (seq, change) in range.clone().zip(changes) {
                items.push(Write::new(
                    key::change_record(tenant, seq, 0),
                    key::seq(seq),
                    change_bytes(tenant, seq, change),
                ));
            }
            numbers = Some(range);
        }
        let mut apply = Some(apply);
        for attempt in 0..TX_ATTEMPTS {
            match self.transact_once(&items).await {
                TxTry::Held(hold) => {
                    let result = match apply.take() {
                        Some(apply) => apply().await,
                        None => Err(unavailable("the write was applied twice")),
                    };
                    drop(hold);
                    if result.is_err() {
                        if let Some(r) = numbers {
                            self.release_numbers(tenant, r).await;
                        }
                    }
                    return result;
                }
                TxTry::Refused => {
                    let jitter = self.lock().rng.below(20);
                    self.pause(Duration::from_millis(5 * u64::from(attempt.min(10)) + jitter)).await;
                }
            }
        }
        self.lock().stats.failures += 1;
        if let Some(r) = numbers {
            self.release_numbers(tenant, r).await;
        }
        Err(unavailable("write contention: too many retries"))
    }

    /// `user_by_claim`: the claim's `GetItem`, then the user's; after a miss, the legacy claim's.
    async fn by_claim(
        &self,
        tenant: &TenantId,
        claim_key: String,
        found: Option<User>,
    ) -> Result<Option<User>, StoreError> {
        let claim = key::claim(tenant, &claim_key);
        match &found {
            Some(u) => {
                self.get_item(claim, Some(claim_bytes(tenant, &claim_key, &u.id))).await?;
                self.get_item(key::tenant(tenant), Some(user_bytes(tenant, u))).await?;
            }
            None => {
                self.get_item(claim, None).await?;
                self.get_item(key::tenant(tenant), None).await?;
            }
        }
        Ok(found)
    }

    /// `claim`: the put in the claim's partition; in a tenant with data of earlier builds (or a
    /// write with no change, which reads no counter to know) also the `ConditionCheck` where
    /// they kept claims (charged as a write of its size: the conservative reading). Tenants in
    /// the model have no such data.
    fn claim(tenant: &TenantId, claim_key: &str, id: &UserId, earlier: bool) -> Vec<Write> {
        let bytes = claim_bytes(tenant, claim_key, id);
        let mut writes = vec![Write::new(key::claim(tenant, claim_key), key::CLAIM, bytes)];
        if earlier {
            writes.push(Write::new(key::tenant(tenant), claim_key, bytes));
        }
        writes
    }

    /// `release`: the delete of the claim where claims live now, and (as [`Self::claim`]) where
    /// earlier builds kept them.
    fn release(tenant: &TenantId, claim_key: &str, id: &UserId, earlier: bool) -> Vec<Write> {
        let bytes = claim_bytes(tenant, claim_key, id);
        let mut writes = vec![Write::new(key::claim(tenant, claim_key), key::CLAIM, bytes)];
        if earlier {
            writes.push(Write::new(key::tenant(tenant), claim_key, bytes));
        }
        writes
    }

    fn count_update(tenant: &TenantId, id: &UserId) -> Write {
        Write::new(key::user_count(tenant, id.as_str()), key::USER_COUNT, SHARD_BYTES)
    }

    fn tenant_item(tenant: &TenantId, sk: String, body: usize) -> Write {
        let pk = key::tenant(tenant);
        let bytes = keyed(&pk, &sk, body);
        Write::new(pk, sk, bytes)
    }
}

/// Pages of a `Query` over items of `sizes`: at most `page_items` items and about 1 MB each, and
/// always one (an empty `Query` is still a request).
fn pages(sizes: &[usize], page_items: usize) -> Vec<&[usize]> {
    let page_items = page_items.max(1);
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, size) in sizes.iter().enumerate() {
        if i > start && (i - start == page_items || bytes + size > PAGE_BYTES) {
            out.push(&sizes[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    out.push(&sizes[start..]);
    out
}

#[async_trait]
impl ConfigStore for DynamoModel {
    async fn get_config(&self, tenant: &TenantId) -> Result<Option<TenantConfig>, StoreError> {
        let found = self.inner.get_config(tenant).await?;
        self.get_item(key::tenant(tenant), found.as_ref().map(config_bytes)).await?;
        Ok(found)
    }

    async fn put_config(&self, config: &TenantConfig) -> Result<TenantConfig, StoreError> {
        let mut stored = config.clone();
        stored.version += 1;
        let bytes = config_bytes(&stored);
        let w = Write::new(key::tenant(&config.tenant), key::CONFIG, bytes).indexed(key::TENANTS_INDEX, bytes);
        self.write_one(Op::PutItem, w).await?;
        self.inner.put_config(config).await
    }

    async fn list_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let tenants = self.inner.list_tenants().await?;
        let mut sizes = Vec::with_capacity(tenants.len());
        for t in &tenants {
            if let Some(c) = self.inner.get_config(t).await? {
                sizes.push(config_bytes(&c));
            }
        }
        self.query(&index_partition(key::TENANTS_INDEX), &sizes, false, usize::MAX).await?;
        Ok(tenants)
    }
}

#[async_trait]
impl UserReader for DynamoModel {
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError> {
        let found = self.inner.get_user(tenant, id).await?;
        self.get_item(key::user_pk(tenant, id.as_str()), found.as_ref().map(|u| user_bytes(tenant, u))).await?;
        if found.is_none() {
            // The adapter looks where earlier builds kept users, then in the shard again.
            self.get_item(key::tenant(tenant), None).await?;
            self.get_item(key::user_pk(tenant, id.as_str()), None).await?;
        }
        Ok(found)
    }

    async fn find_by_okta_id(&self, tenant: &TenantId, okta_id: &OktaUserId) -> Result<Option<User>, StoreError> {
        let found = self.inner.find_by_okta_id(tenant, okta_id).await?;
        self.by_claim(tenant, key::okta(okta_id.as_str()), found).await
    }

    async fn find_by_email(&self, tenant: &TenantId, email: &Email) -> Result<Option<User>, StoreError> {
        let found = self.inner.find_by_email(tenant, email).await?;
        self.by_claim(tenant, key::email(email.key()), found).await
    }

    async fn find_by_user_name(&self, tenant: &TenantId, user_name: &str) -> Result<Option<User>, StoreError> {
        let found = self.inner.find_by_user_name(tenant, user_name).await?;
        self.by_claim(tenant, key::user_name(&crate::domain::user::user_name_key(user_name)), found).await
    }

    async fn find_by_external_id(&self, tenant: &TenantId, external_id: &str) -> Result<Option<User>, StoreError> {
        let found = self.inner.find_by_external_id(tenant, external_id).await?;
        self.by_claim(tenant, key::external(external_id), found).await
    }

    async fn list_users(&self, tenant: &TenantId, query: &UserQuery) -> Result<Page<User>, StoreError> {
        // A bad cursor fails before any request, in both.
        let page = self.inner.list_users(tenant, query).await?;
        let mut sizes: Vec<usize> = page.items.iter().map(|u| user_bytes(tenant, u)).collect();
        if page.next.is_some() {
            // `Limit = page + 1`: the item that shows there is more is read too.
            let average = sizes.iter().sum::<usize>() / sizes.len().max(1);
            sizes.push(average);
        }
        // One query a page (a page crossing from one user shard to the next makes two; not
        // counted), on the shard of its first user.
        let partition = match query.status {
            None => page.items.first().map_or_else(|| key::users(tenant, 0), |u| key::user_pk(tenant, u.id.as_str())),
            Some(status) => index_partition(&key::status_index(tenant, status)),
        };
        self.query_page(&partition, &sizes, false).await?;
        Ok(page)
    }

    async fn get_users(&self, tenant: &TenantId, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let found = self.inner.get_users(tenant, ids).await?;
        let sizes: HashMap<&str, usize> = found.iter().map(|u| (u.id.as_str(), user_bytes(tenant, u))).collect();
        let unique: BTreeSet<&UserId> = ids.iter().collect();
        let entries: Vec<Entry> = unique
            .iter()
            .map(|id| {
                let bytes = sizes.get(id.as_str()).copied();
                let partition = key::user_pk(tenant, id.as_str());
                Entry { partition, units: read_units(bytes.unwrap_or(0), true), item: bytes.is_some() }
            })
            .collect();
        self.batch(Op::BatchGetItem, &entries).await?;
        // The adapter asks again, where earlier builds kept users, for those not found.
        let missing: Vec<Entry> = unique
            .iter()
            .filter(|id| !sizes.contains_key(id.as_str()))
            .map(|_| Entry { partition: key::tenant(tenant), units: read_units(0, true), item: false })
            .collect();
        if !missing.is_empty() {
            self.batch(Op::BatchGetItem, &missing).await?;
        }
        Ok(found)
    }

    async fn count_scim_visible(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let count = self.inner.count_scim_visible(tenant).await?;
        let entries: Vec<Entry> = (0..key::USER_COUNT_SHARDS)
            .map(|n| Entry {
                partition: key::user_count_shard(tenant, n),
                units: read_units(SHARD_BYTES, true),
                item: true,
            })
            .collect();
        self.batch(Op::BatchGetItem, &entries).await?;
        // Users of earlier builds not yet moved: a `Select=COUNT` query of the tenant's partition
        // (none in the model).
        self.query_page(&key::tenant(tenant), &[], true).await?;
        Ok(count)
    }
}

#[async_trait]
impl ListPositions for DynamoModel {
    async fn remember_position(
        &self,
        tenant: &TenantId,
        list: &str,
        index: u64,
        cursor: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let pk = key::list_positions(tenant, list);
        let sk = key::chunk(index);
        let bytes = keyed(&pk, &sk, cursor.len() + 26);
        self.write_one(Op::PutItem, Write::new(pk, sk, bytes)).await?;
        self.inner.remember_position(tenant, list, index, cursor, until).await
    }

    async fn recall_position(
        &self,
        tenant: &TenantId,
        list: &str,
        index: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let found = self.inner.recall_position(tenant, list, index, now).await?;
        let pk = key::list_positions(tenant, list);
        let bytes = found.as_ref().map(|c| keyed(&pk, &key::chunk(index), c.len() + 26));
        self.get_item(pk, bytes).await?;
        Ok(found)
    }
}

#[async_trait]
impl UserWriter for DynamoModel {
    async fn create_user(&self, tenant: &TenantId, user: &User, changes: &[NewChange]) -> Result<User, StoreError> {
        let mut stored = user.clone();
        stored.version = 1;
        // The model's tenants have no data of earlier builds: only a write with no change (no
        // counter read to tell) checks where they kept claims.
        let earlier = changes.is_empty();
        let (id, bytes) = (&stored.id, user_bytes(tenant, &stored));
        let mut items = vec![Write::new(key::user_pk(tenant, id.as_str()), key::user(id.as_str()), bytes)
            .indexed(&key::status_index(tenant, stored.status), bytes)];
        items.extend(Self::claim(tenant, &key::email(stored.email.key()), id, earlier));
        if let Some(okta) = &stored.okta_id {
            items.extend(Self::claim(tenant, &key::okta(okta.as_str()), id, earlier));
        }
        if let Some(x) = &stored.external_id {
            items.extend(Self::claim(tenant, &key::external(x), id, earlier));
        }
        items.extend(Self::claim(tenant, &key::user_name(&stored.user_name_key()), id, earlier));
        if stored.scim_visible() {
            items.push(Self::count_update(tenant, id));
        }
        self.write_with_changes(tenant, items, changes, || self.inner.create_user(tenant, user, changes)).await
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
        let earlier = changes.is_empty();
        let id = &stored.id;
        let bytes = user_bytes(tenant, &stored);
        let mut user = Write::new(key::user_pk(tenant, id.as_str()), key::user(id.as_str()), bytes);
        if before.status != stored.status {
            // The index entry moves: a delete in the old status's partition, a put in the new one.
            user = user.indexed(&key::status_index(tenant, before.status), user_bytes(tenant, before));
        }
        let mut items = vec![user.indexed(&key::status_index(tenant, stored.status), bytes)];
        let mut moved = |new: Option<String>, old: Option<String>| {
            if let Some(new) = new {
                items.extend(Self::claim(tenant, &new, id, earlier));
            }
            if let Some(old) = old {
                items.extend(Self::release(tenant, &old, id, earlier));
            }
        };
        if before.email.key() != stored.email.key() {
            moved(Some(key::email(stored.email.key())), Some(key::email(before.email.key())));
        }
        if before.okta_id != stored.okta_id {
            let new = stored.okta_id.as_ref().map(|o| key::okta(o.as_str()));
            moved(new, before.okta_id.as_ref().map(|o| key::okta(o.as_str())));
        }
        if before.user_name_key() != stored.user_name_key() {
            moved(Some(key::user_name(&stored.user_name_key())), Some(key::user_name(&before.user_name_key())));
        }
        if before.external_id != stored.external_id {
            let new = stored.external_id.as_deref().map(key::external);
            moved(new, before.external_id.as_deref().map(key::external));
        }
        if stored.scim_visible() != before.scim_visible() {
            items.push(Self::count_update(tenant, id));
        }
        self.write_with_changes(tenant, items, changes, || self.inner.update_user(tenant, before, after, changes)).await
    }
}

#[async_trait]
impl ChangeLog for DynamoModel {
    async fn list_changes(&self, tenant: &TenantId, after: u64, limit: u32) -> Result<ChangePage, StoreError> {
        let page = self.inner.list_changes(tenant, after, limit).await?;
        // The counter, then one `BatchGetItem` of exactly the numbers read (no holes in memory).
        self.last_taken(tenant).await?;
        self.read_changes(tenant, &page.events).await?;
        Ok(page)
    }

    async fn latest_changes(&self, tenant: &TenantId, limit: u32) -> Result<Vec<ChangeEvent>, StoreError> {
        // The adapter reads 20 numbers more than asked (voids are passed over).
        let read = self.inner.latest_changes(tenant, limit.clamp(1, 1000) + 20).await?;
        self.last_taken(tenant).await?;
        self.read_changes(tenant, &read).await?;
        self.inner.latest_changes(tenant, limit).await
    }
}

impl DynamoModel {
    /// `BatchGetItem`s (100 keys each) of change records, each in its number's partition.
    async fn read_changes(&self, tenant: &TenantId, events: &[ChangeEvent]) -> Result<(), StoreError> {
        let entries: Vec<Entry> = events
            .iter()
            .map(|e| Entry {
                partition: key::change_record(tenant, e.seq, 0),
                units: read_units(change_bytes(tenant, e.seq, &e.change), true),
                item: true,
            })
            .collect();
        if !entries.is_empty() {
            self.batch(Op::BatchGetItem, &entries).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl TeamStore for DynamoModel {
    async fn get_team(&self, tenant: &TenantId, team_key: &str) -> Result<Option<Team>, StoreError> {
        let found = self.inner.get_team(tenant, team_key).await?;
        let pk = key::tenant(tenant);
        let bytes = found.as_ref().map(|t| keyed(&pk, &key::team(team_key), json_len(t)));
        self.get_item(pk, bytes).await?;
        Ok(found)
    }

    async fn create_team(&self, tenant: &TenantId, team: &Team, change: &NewChange) -> Result<Team, StoreError> {
        let mut stored = team.clone();
        stored.version = 1;
        let items = vec![Self::tenant_item(tenant, key::team(&team.key), json_len(&stored))];
        let changes = std::slice::from_ref(change);
        self.write_with_changes(tenant, items, changes, || self.inner.create_team(tenant, team, change)).await
    }

    async fn update_team(
        &self,
        tenant: &TenantId,
        before: &Team,
        after: &Team,
        change: &NewChange,
    ) -> Result<Team, StoreError> {
        let items = vec![Self::tenant_item(tenant, key::team(&before.key), json_len(after))];
        let changes = std::slice::from_ref(change);
        self.write_with_changes(tenant, items, changes, || self.inner.update_team(tenant, before, after, change)).await
    }

    async fn list_teams(&self, tenant: &TenantId) -> Result<Vec<Team>, StoreError> {
        let teams = self.inner.list_teams(tenant).await?;
        let pk = key::tenant(tenant);
        let sizes: Vec<usize> = teams.iter().map(|t| keyed(&pk, &key::team(&t.key), json_len(t))).collect();
        self.query(&pk, &sizes, true, usize::MAX).await?;
        Ok(teams)
    }
}

#[async_trait]
impl GroupStore for DynamoModel {
    async fn get_group(&self, tenant: &TenantId, id: &GroupId) -> Result<Option<Group>, StoreError> {
        let found = self.inner.get_group(tenant, id).await?;
        let pk = key::tenant(tenant);
        let bytes = found.as_ref().map(|g| keyed(&pk, &key::group(id.as_str()), json_len(g)));
        self.get_item(pk, bytes).await?;
        Ok(found)
    }

    async fn list_groups(&self, tenant: &TenantId) -> Result<Vec<Group>, StoreError> {
        let groups = self.inner.list_groups(tenant).await?;
        let pk = key::tenant(tenant);
        let sizes: Vec<usize> = groups.iter().map(|g| keyed(&pk, &key::group(g.id.as_str()), json_len(g))).collect();
        self.query(&pk, &sizes, true, usize::MAX).await?;
        Ok(groups)
    }

    async fn create_group(&self, tenant: &TenantId, group: &Group, change: &NewChange) -> Result<Group, StoreError> {
        let items = vec![Self::tenant_item(tenant, key::group(group.id.as_str()), json_len(group))];
        let changes = std::slice::from_ref(change);
        self.write_with_changes(tenant, items, changes, || self.inner.create_group(tenant, group, change)).await
    }

    async fn update_group(
        &self,
        tenant: &TenantId,
        before: &Group,
        after: &Group,
        change: &NewChange,
    ) -> Result<Group, StoreError> {
        let items = vec![Self::tenant_item(tenant, key::group(before.id.as_str()), json_len(after))];
        let changes = std::slice::from_ref(change);
        self.write_with_changes(tenant, items, changes, || self.inner.update_group(tenant, before, after, change)).await
    }

    async fn delete_group(&self, tenant: &TenantId, group: &Group, change: &NewChange) -> Result<(), StoreError> {
        // Members first: a query of the group's member partition and batched deletes.
        let members = self.inner.list_members(tenant, &group.id).await?;
        let pk = key::members(tenant, group.id.as_str());
        let sizes: Vec<usize> = members.iter().map(|m| keyed(&pk, &key::member(&m.key()), 30)).collect();
        self.query(&pk, &sizes, true, usize::MAX).await?;
        let deletes: Vec<Entry> =
            sizes.iter().map(|b| Entry { partition: pk.clone(), units: write_units(*b), item: true }).collect();
        self.batch(Op::BatchWriteItem, &deletes).await?;
        let items = vec![Self::tenant_item(tenant, key::group(group.id.as_str()), json_len(group))];
        let changes = std::slice::from_ref(change);
        self.write_with_changes(tenant, items, changes, || self.inner.delete_group(tenant, group, change)).await
    }

    async fn which_members(
        &self,
        tenant: &TenantId,
        group: &GroupId,
        candidates: &[Member],
    ) -> Result<Vec<Member>, StoreError> {
        let found = self.inner.which_members(tenant, group, candidates).await?;
        let present: BTreeSet<&Member> = found.iter().collect();
        let pk = key::members(tenant, group.as_str());
        let unique: BTreeSet<&Member> = candidates.iter().collect();
        let entries: Vec<Entry> = unique
            .into_iter()
            .map(|m| {
                let bytes = present.contains(m).then(|| keyed(&pk, &key::member(&m.key()), 30));
                Entry { partition: pk.clone(), units: read_units(bytes.unwrap_or(0), true), item: bytes.is_some() }
            })
            .collect();
        self.batch(Op::BatchGetItem, &entries).await?;
        Ok(found)
    }

    async fn list_members(&self, tenant: &TenantId, group: &GroupId) -> Result<Vec<Member>, StoreError> {
        let members = self.inner.list_members(tenant, group).await?;
        let pk = key::members(tenant, group.as_str());
        let sizes: Vec<usize> = members.iter().map(|m| keyed(&pk, &key::member(&m.key()), 30)).collect();
        self.query(&pk, &sizes, true, usize::MAX).await?;
        Ok(members)
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
        let group_bytes = self.inner.get_group(tenant, group).await?.map_or(SMALL_BYTES, |g| json_len(&g));
        let pk = key::members(tenant, group.as_str());
        let member = |m: &Member| {
            let sk = key::member(&m.key());
            let bytes = keyed(&pk, &sk, 30);
            Write::new(pk.clone(), sk, bytes)
        };
        let mut items: Vec<Write> = add.iter().chain(remove).map(member).collect();
        items.push(Self::tenant_item(tenant, key::group(group.as_str()), group_bytes));
        let changes = std::slice::from_ref(change);
        self.write_with_changes(tenant, items, changes, || {
            self.inner.change_members(tenant, group, add, remove, expected_version, change)
        })
        .await
    }
}

#[async_trait]
impl PendingStore for DynamoModel {
    async fn add_pending(&self, tenant: &TenantId, reference: &str, waiting: &Waiting) -> Result<(), StoreError> {
        let pk = key::pending(tenant, reference);
        let sk = waiting_key(waiting);
        let bytes = keyed(&pk, &sk, pk.len() + sk.len() + 40 + reference.len() + json_len(waiting));
        let w = Write::new(pk, sk, bytes).indexed(&key::pending_index(tenant), bytes);
        self.write_one(Op::PutItem, w).await?;
        self.inner.add_pending(tenant, reference, waiting).await
    }

    async fn pending_for(&self, tenant: &TenantId, reference: &str) -> Result<Vec<Waiting>, StoreError> {
        let found = self.inner.pending_for(tenant, reference).await?;
        let pk = key::pending(tenant, reference);
        let sizes: Vec<usize> =
            found.iter().map(|w| keyed(&pk, &waiting_key(w), pk.len() + 40 + reference.len() + json_len(w))).collect();
        self.query_page(&pk, &sizes, true).await?;
        Ok(found)
    }

    async fn remove_pending(&self, tenant: &TenantId, reference: &str, waiting: &Waiting) -> Result<(), StoreError> {
        let pk = key::pending(tenant, reference);
        let bytes = keyed(&pk, &waiting_key(waiting), pk.len() + 40 + reference.len() + json_len(waiting));
        let w = Write::new(pk, waiting_key(waiting), bytes).indexed(&key::pending_index(tenant), bytes);
        self.write_one(Op::DeleteItem, w).await?;
        self.inner.remove_pending(tenant, reference, waiting).await
    }

    async fn count_pending(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let count = self.inner.count_pending(tenant).await?;
        // `Select = COUNT` still reads (and is charged for) every item of the index partition.
        let sizes = vec![PENDING_BYTES; count];
        self.query(&index_partition(&key::pending_index(tenant)), &sizes, false, usize::MAX).await?;
        Ok(count)
    }
}

#[async_trait]
impl DedupeStore for DynamoModel {
    async fn seen(&self, tenant: &TenantId, keys: &[String], now_epoch: i64) -> Result<Vec<String>, StoreError> {
        let seen = self.inner.seen(tenant, keys, now_epoch).await?;
        let present: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
        let pk = key::tenant(tenant);
        let entries: Vec<Entry> = keys
            .iter()
            .map(|k| Entry { partition: pk.clone(), units: read_units(0, true), item: present.contains(k.as_str()) })
            .collect();
        self.batch(Op::BatchGetItem, &entries).await?;
        Ok(seen)
    }

    async fn mark_seen(&self, tenant: &TenantId, keys: &[String], expires_at_epoch: i64) -> Result<(), StoreError> {
        let pk = key::tenant(tenant);
        let entries: Vec<Entry> = keys
            .iter()
            .map(|k| Entry { partition: pk.clone(), units: write_units(keyed(&pk, &key::dedupe(k), 20)), item: true })
            .collect();
        self.batch(Op::BatchWriteItem, &entries).await?;
        self.inner.mark_seen(tenant, keys, expires_at_epoch).await
    }
}

#[async_trait]
impl SyncStore for DynamoModel {
    async fn create_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError> {
        self.write_one(Op::PutItem, Self::tenant_item(&run.tenant, key::sync_run(&run.id), json_len(run))).await?;
        self.inner.create_run(run).await
    }

    async fn save_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError> {
        self.write_one(Op::PutItem, Self::tenant_item(&run.tenant, key::sync_run(&run.id), json_len(run))).await?;
        self.inner.save_run(run).await
    }

    async fn get_run(&self, tenant: &TenantId, id: &str) -> Result<Option<SyncRun>, StoreError> {
        let found = self.inner.get_run(tenant, id).await?;
        let pk = key::tenant(tenant);
        let bytes = found.as_ref().map(|r| keyed(&pk, &key::sync_run(id), json_len(r)));
        self.get_item(pk, bytes).await?;
        Ok(found)
    }

    async fn list_runs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let runs = self.inner.list_runs(tenant, limit).await?;
        let pk = key::tenant(tenant);
        let sizes: Vec<usize> = runs.iter().map(|r| keyed(&pk, &key::sync_run(&r.id), json_len(r))).collect();
        self.query_page(&pk, &sizes, false).await?;
        Ok(runs)
    }

    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let lease = Self::tenant_item(tenant, key::SYNC_LEASE.to_owned(), run_id.len() + 30);
        let bytes = lease.bytes;
        self.write_one(Op::PutItem, lease).await?;
        let holder = self.inner.acquire_lease(tenant, run_id, until, now).await?;
        if holder.is_some() {
            // The put's condition failed: read who holds it.
            self.get_item(key::tenant(tenant), Some(bytes)).await?;
        }
        Ok(holder)
    }

    async fn release_lease(&self, tenant: &TenantId, run_id: &str) -> Result<(), StoreError> {
        let lease = Self::tenant_item(tenant, key::SYNC_LEASE.to_owned(), run_id.len() + 30);
        self.write_one(Op::DeleteItem, lease).await?;
        self.inner.release_lease(tenant, run_id).await
    }

    async fn put_chunk(
        &self,
        tenant: &TenantId,
        run_id: &str,
        list: RunList,
        chunk: u64,
        entries: &[String],
    ) -> Result<(), StoreError> {
        let pk = key::sync_list(tenant, run_id, list);
        let sk = key::chunk(chunk);
        let bytes = keyed(&pk, &sk, entries.iter().map(|e| e.len() + 1).sum::<usize>() + 20);
        self.write_one(Op::PutItem, Write::new(pk, sk, bytes)).await?;
        self.inner.put_chunk(tenant, run_id, list, chunk, entries).await
    }

    async fn get_chunks(
        &self,
        tenant: &TenantId,
        run_id: &str,
        list: RunList,
        from: u64,
        max: u32,
    ) -> Result<Vec<(u64, Vec<String>)>, StoreError> {
        let chunks = self.inner.get_chunks(tenant, run_id, list, from, max).await?;
        let pk = key::sync_list(tenant, run_id, list);
        let sizes: Vec<usize> = chunks
            .iter()
            .map(|(n, e)| keyed(&pk, &key::chunk(*n), e.iter().map(|s| s.len() + 1).sum::<usize>() + 20))
            .collect();
        let limit = max.clamp(1, 100) as usize;
        let mut read = pages(&sizes, limit);
        // A full page leaves a `LastEvaluatedKey`: while it has fewer than `max`, the adapter
        // asks again, and the last answer is empty.
        if sizes.len() < max as usize && read.last().is_some_and(|page| page.len() == limit) {
            read.push(&[]);
        }
        for page in read {
            self.query_page(&pk, page, true).await?;
        }
        Ok(chunks)
    }
}

#[async_trait]
impl ActivityStore for DynamoModel {
    async fn record(&self, tenant: &TenantId, at: DateTime<Utc>, event: ActivityEvent) -> Result<(), StoreError> {
        let w = match &event {
            ActivityEvent::Delivery { .. } => {
                Self::tenant_item(tenant, key::activity_bucket(&hour_bucket(at)), BUCKET_BYTES)
            }
            _ => Self::tenant_item(tenant, key::ACTIVITY.to_owned(), ACTIVITY_BYTES),
        };
        self.write_one(Op::UpdateItem, w).await?;
        self.inner.record(tenant, at, event).await
    }

    async fn activity(&self, tenant: &TenantId, now: DateTime<Utc>) -> Result<Activity, StoreError> {
        let a = self.inner.activity(tenant, now).await?;
        let pk = key::tenant(tenant);
        let status = a.hook_verified_at.is_some()
            || a.last_job_at.is_some()
            || a.okta_token_used_at.is_some()
            || a.okta_problem_at.is_some();
        self.get_item(pk.clone(), status.then_some(ACTIVITY_BYTES)).await?;
        // The day's hour items (a day's worth is one read unit), then the newest hour item.
        let day: &[usize] = if a.events_24h + a.jobs_24h > 0 { &[BUCKET_BYTES] } else { &[] };
        self.query_page(&pk, day, true).await?;
        let latest: &[usize] = if a.last_delivery_at.is_some() { &[BUCKET_BYTES] } else { &[] };
        self.query_page(&pk, latest, true).await?;
        Ok(a)
    }
}

#[async_trait]
impl LoginStateStore for DynamoModel {
    async fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let w = Self::tenant_item(&session.tenant, key::session(&session.sid), json_len(session) + 30);
        self.write_one(Op::PutItem, w).await?;
        self.inner.put_session(session).await
    }

    async fn get_session(
        &self,
        tenant: &TenantId,
        sid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let found = self.inner.get_session(tenant, sid, now).await?;
        let pk = key::tenant(tenant);
        let bytes = found.as_ref().map(|s| keyed(&pk, &key::session(sid), json_len(s) + 30));
        self.get_item(pk, bytes).await?;
        Ok(found)
    }

    async fn delete_session(&self, tenant: &TenantId, sid: &str) -> Result<(), StoreError> {
        self.write_one(Op::DeleteItem, Self::tenant_item(tenant, key::session(sid), SMALL_BYTES)).await?;
        self.inner.delete_session(tenant, sid).await
    }

    async fn put_admin_session(&self, session: &AdminSession) -> Result<(), StoreError> {
        let w = Self::tenant_item(&session.tenant, key::admin_session(&session.sid), json_len(session) + 30);
        self.write_one(Op::PutItem, w).await?;
        self.inner.put_admin_session(session).await
    }

    async fn get_admin_session(
        &self,
        tenant: &TenantId,
        sid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>, StoreError> {
        let found = self.inner.get_admin_session(tenant, sid, now).await?;
        let pk = key::tenant(tenant);
        let bytes = found.as_ref().map(|s| keyed(&pk, &key::admin_session(sid), json_len(s) + 30));
        self.get_item(pk, bytes).await?;
        Ok(found)
    }

    async fn delete_admin_session(&self, tenant: &TenantId, sid: &str) -> Result<(), StoreError> {
        self.write_one(Op::DeleteItem, Self::tenant_item(tenant, key::admin_session(sid), SMALL_BYTES)).await?;
        self.inner.delete_admin_session(tenant, sid).await
    }

    async fn put_login(&self, login: &LoginState) -> Result<(), StoreError> {
        let body = json_len(login) + login.browser_binding.len() + 40;
        self.write_one(Op::PutItem, Self::tenant_item(&login.tenant, key::login(&login.state), body)).await?;
        self.inner.put_login(login).await
    }

    async fn take_login(
        &self,
        tenant: &TenantId,
        state: &str,
        browser_binding: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginState>, StoreError> {
        // A conditional `DeleteItem` returning the old item.
        self.write_one(Op::DeleteItem, Self::tenant_item(tenant, key::login(state), SMALL_BYTES * 2)).await?;
        self.inner.take_login(tenant, state, browser_binding, now).await
    }

    async fn claim_assertion(
        &self,
        tenant: &TenantId,
        assertion_digest: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.write_one(Op::PutItem, Self::tenant_item(tenant, key::assertion(assertion_digest), 20)).await?;
        self.inner.claim_assertion(tenant, assertion_digest, expires_at, now).await
    }
}

#[async_trait]
impl TokenStore for DynamoModel {
    async fn insert_token(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let bytes = token_bytes(record);
        let w = Write::new(key::token(&record.sha256), key::TOKEN, bytes)
            .indexed(&key::token_index(&record.tenant, record.kind), bytes);
        self.write_one(Op::PutItem, w).await?;
        self.inner.insert_token(record).await
    }

    async fn find_token(&self, sha256: &str) -> Result<Option<TokenRecord>, StoreError> {
        let found = self.inner.find_token(sha256).await?;
        self.get_item(key::token(sha256), found.as_ref().map(token_bytes)).await?;
        Ok(found)
    }

    async fn list_tokens(&self, tenant: &TenantId, kind: TokenKind) -> Result<Vec<TokenRecord>, StoreError> {
        let tokens = self.inner.list_tokens(tenant, kind).await?;
        let sizes: Vec<usize> = tokens.iter().map(token_bytes).collect();
        self.query(&index_partition(&key::token_index(tenant, kind)), &sizes, false, usize::MAX).await?;
        Ok(tokens)
    }

    async fn revoke_token(&self, record: &TokenRecord, at: DateTime<Utc>) -> Result<(), StoreError> {
        let bytes = token_bytes(record);
        let w = Write::new(key::token(&record.sha256), key::TOKEN, bytes)
            .indexed(&key::token_index(&record.tenant, record.kind), bytes);
        self.write_one(Op::UpdateItem, w).await?;
        self.inner.revoke_token(record, at).await
    }

    async fn rotate_token(
        &self,
        old: &TokenRecord,
        until: DateTime<Utc>,
        new: &TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let write = |r: &TokenRecord| {
            let bytes = token_bytes(r);
            Write::new(key::token(&r.sha256), key::TOKEN, bytes).indexed(&key::token_index(&r.tenant, r.kind), bytes)
        };
        // One transaction, which the adapter does not retry.
        match self.transact_once(&[write(new), write(old)]).await {
            TxTry::Held(hold) => {
                let result = self.inner.rotate_token(old, until, new, now).await;
                drop(hold);
                result
            }
            TxTry::Refused => {
                self.lock().stats.failures += 1;
                Err(unavailable("the token rotation's transaction was cancelled or throttled"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::future::join_all;

    use super::*;
    use crate::domain::change::{Action, Actor, EntityKind};
    use crate::fakes::contract;

    fn tenant(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    fn user(bytes: [u8; 16], email: &str) -> User {
        User::new(UserId::from_random(bytes), Email::parse(email).unwrap(), "Ann".into(), "Lee".into(), Utc::now())
    }

    fn numbered(n: u32) -> User {
        let mut bytes = [0u8; 16];
        bytes[12..].copy_from_slice(&n.to_be_bytes());
        user(bytes, &format!("user{n}@example.com"))
    }

    fn change(u: &User, action: Action) -> NewChange {
        NewChange {
            at: Utc::now(),
            actor: Actor::Admin,
            entity: EntityKind::User,
            entity_id: u.id.to_string(),
            action,
            changes: Default::default(),
        }
    }

    fn model(config: ModelConfig) -> Arc<DynamoModel> {
        DynamoModel::new(Arc::new(MemoryStore::default()), config)
    }

    /// Transactions take a fixed 20 ms (so concurrent ones overlap); nothing else takes time.
    fn overlapping() -> ModelConfig {
        ModelConfig { transact_write_items: Latency::fixed(Duration::from_millis(20)), ..ModelConfig::instant() }
    }

    #[tokio::test]
    async fn passes_the_store_contracts() {
        let m = model(ModelConfig::instant());
        let s = &*m;
        contract::store_contract(s, s, s, s).await;
        contract::team_pending_dedupe_contract(s, s, s).await;
        contract::sync_store_contract(s).await;
        contract::activity_store_contract(s).await;
        contract::login_state_contract(s).await;
        contract::token_store_contract(s).await;
        contract::group_contract(s, s, s).await;
        contract::batch_reads_and_positions_contract(s, s, s).await;
        let stats = m.stats();
        assert!(stats.total_requests() > 0 && stats.wcu > 0.0 && stats.rcu > 0.0, "{stats:?}");
        assert_eq!((stats.failures, stats.throttles, stats.conflicts), (0, 0, 0), "{stats:?}");
    }

    #[tokio::test]
    async fn makes_the_adapters_requests() {
        let m = model(ModelConfig::instant());
        let t = tenant("shapes");
        let ann = numbered(1);
        let stored = m.create_user(&t, &ann, &[change(&ann, Action::Created)]).await.unwrap();
        // The counter's first use: a refused UpdateItem, the legacy GetItem, the PutItem, the UpdateItem.
        let s = m.stats();
        assert_eq!(
            (s.requests_of("UpdateItem"), s.requests_of("GetItem"), s.requests_of("PutItem")),
            (2, 1, 1),
            "{s:?}"
        );
        assert_eq!(s.requests_of("TransactWriteItems"), 1);
        // The counter thrice; user, email and userName claims, count shard, change record (a
        // tenant with no data of earlier builds: no check where they kept claims).
        assert_eq!(s.items_written, 3 + 5, "{s:?}");

        m.reset_stats();
        let mut moved = stored.clone();
        moved.email = Email::parse("ann.lee@example.com").unwrap();
        m.update_user(&t, &stored, &moved, &[change(&ann, Action::Updated)]).await.unwrap();
        let s = m.stats();
        assert_eq!((s.requests_of("UpdateItem"), s.requests_of("TransactWriteItems")), (1, 1), "{s:?}");
        // The counter; the user; the email's new claim and its release; the userName's (it is
        // the email) the same; the change record.
        assert_eq!(s.items_written, 1 + 1 + 2 + 2 + 1, "{s:?}");

        m.reset_stats();
        assert!(m.find_by_email(&t, &moved.email).await.unwrap().is_some());
        assert!(m.find_by_email(&t, &Email::parse("nobody@example.com").unwrap()).await.unwrap().is_none());
        let s = m.stats();
        assert_eq!((s.requests_of("GetItem"), s.items_read), (4, 2), "{s:?}");

        m.reset_stats();
        let page = m.list_changes(&t, 0, 10).await.unwrap();
        assert_eq!(page.events.len(), 2);
        let s = m.stats();
        // The counter's `GetItem`, then one `BatchGetItem` of exactly the numbers wanted.
        assert_eq!((s.requests_of("BatchGetItem"), s.requests_of("GetItem"), s.items_read), (1, 1, 2 + 1), "{s:?}");

        // A refused write voids the number it took.
        m.reset_stats();
        let err = m.create_user(&t, &ann, &[change(&ann, Action::Created)]).await.unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
        let s = m.stats();
        assert_eq!((s.requests_of("UpdateItem"), s.requests_of("PutItem")), (1, 1), "{s:?}");
    }

    #[tokio::test]
    async fn counts_modelled_time_per_scope() {
        let config = ModelConfig {
            get_item: Latency::fixed(Duration::from_millis(3)),
            query: Latency::fixed(Duration::from_millis(5)),
            query_per_item: Duration::from_micros(20),
            ..ModelConfig::instant()
        };
        let m = model(config);
        let t = tenant("timed");
        let ann = numbered(2);
        let (_, untimed) = with_modelled_time(m.create_user(&t, &ann, &[])).await;
        assert_eq!(untimed, Duration::ZERO);
        let ((), spent) = with_modelled_time(async {
            m.get_user(&t, &ann.id).await.unwrap();
            let (_, inner) = with_modelled_time(m.find_by_email(&t, &ann.email)).await;
            assert_eq!(inner, Duration::from_millis(6));
            m.list_users(&t, &UserQuery { limit: 10, ..UserQuery::default() }).await.unwrap();
        })
        .await;
        assert_eq!(spent, Duration::from_millis(3 + 6 + 5) + Duration::from_micros(20));
        assert_eq!(m.stats().modelled, spent);
    }

    #[tokio::test]
    async fn concurrent_updates_of_one_user_conflict_and_one_wins() {
        let m = model(overlapping());
        let t = tenant("race");
        let ann = numbered(3);
        let read = m.create_user(&t, &ann, &[]).await.unwrap();
        let (mut a, mut b) = (read.clone(), read.clone());
        a.first_name = "Anna".into();
        b.first_name = "Annie".into();
        let changes = [change(&read, Action::Updated)];
        let (ra, rb) = tokio::join!(m.update_user(&t, &read, &a, &changes), m.update_user(&t, &read, &b, &changes));
        let outcomes = [ra.is_ok(), rb.is_ok()];
        assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{ra:?} {rb:?}");
        let lost = if ra.is_ok() { rb } else { ra };
        assert!(matches!(lost, Err(StoreError::VersionConflict)), "{lost:?}");
        let s = m.stats();
        assert!(s.conflicts >= 1, "{s:?}");
        let home = key::user_pk(&t, read.id.as_str());
        assert_eq!(s.conflicts_by_partition.keys().collect::<Vec<_>>(), vec![&home], "{s:?}");
        assert_eq!(m.inner().get_user(&t, &read.id).await.unwrap().unwrap().version, 2);
    }

    #[tokio::test]
    async fn creators_in_one_tenant_share_no_item_but_the_count_shard() {
        let t = tenant("crowd");
        // One user per count shard: no item in common, so no conflict at all.
        let mut by_shard = BTreeMap::new();
        for n in 0u32.. {
            let u = numbered(n);
            by_shard.entry(key::user_count(&t, u.id.as_str())).or_insert(u);
            if by_shard.len() as u64 == key::USER_COUNT_SHARDS {
                break;
            }
        }
        let m = model(overlapping());
        let changes: Vec<[NewChange; 1]> = by_shard.values().map(|u| [change(u, Action::Created)]).collect();
        let created = join_all(by_shard.values().zip(&changes).map(|(u, c)| m.create_user(&t, u, c))).await;
        assert!(created.iter().all(Result::is_ok), "{created:?}");
        let s = m.stats();
        assert_eq!(s.conflicts, 0, "{s:?}");
        assert_eq!(s.requests_of("TransactWriteItems"), key::USER_COUNT_SHARDS, "{s:?}");

        // 32 creators: the change numbers are taken outside the transactions, but two users in
        // one count shard update the same item, so some transactions are cancelled and retried.
        let m = model(overlapping());
        let users: Vec<User> = (100..132).map(numbered).collect();
        let changes: Vec<[NewChange; 1]> = users.iter().map(|u| [change(u, Action::Created)]).collect();
        let created = join_all(users.iter().zip(&changes).map(|(u, c)| m.create_user(&t, u, c))).await;
        assert!(created.iter().all(Result::is_ok), "{created:?}");
        let s = m.stats();
        assert!(s.conflicts > 0, "{s:?}");
        let shards: Vec<String> = (0..key::USER_COUNT_SHARDS).map(|n| key::user_count_shard(&t, n)).collect();
        assert!(s.conflicts_by_partition.keys().all(|pk| shards.contains(pk)), "{s:?}");
        assert_eq!(m.inner().count_scim_visible(&t).await.unwrap(), 32);
        assert_eq!(m.inner().list_changes(&t, 0, 100).await.unwrap().events.len(), 32);
    }

    #[tokio::test]
    async fn one_hot_partition_throttles_and_spread_load_does_not() {
        let t = tenant("hot");
        let until = Utc::now() + chrono::Duration::hours(1);
        let hot = model(ModelConfig::instant());
        let results = join_all((0..3000u64).map(|i| hot.remember_position(&t, "users", i, "cursor", until))).await;
        let s = hot.stats();
        assert!(s.throttles > 0, "{s:?}");
        assert!(results.iter().any(Result::is_err), "some writes run out of attempts");
        assert!(results.iter().filter(|r| r.is_ok()).count() >= 1000, "the burst is served");
        assert!(s.peak_partition_wcu >= 1000.0, "{s:?}");
        assert_eq!(s.peak_partition, key::list_positions(&t, "users"));

        let spread = model(ModelConfig::instant());
        let lists: Vec<String> = (0..3000).map(|i| format!("list-{i}")).collect();
        let results = join_all(lists.iter().map(|l| spread.remember_position(&t, l, 0, "cursor", until))).await;
        assert!(results.iter().all(Result::is_ok));
        let s = spread.stats();
        assert_eq!((s.throttles, s.failures), (0, 0), "{s:?}");
        assert_eq!(s.wcu, 3000.0);
    }

    #[test]
    fn samples_the_configured_percentiles() {
        let mut rng = Rng::new(ModelConfig::default().seed);
        for latency in [Latency::millis(3, 8), Latency::millis(4, 10), Latency::millis(10, 25)] {
            let mut draws: Vec<Duration> = (0..10_000).map(|_| rng.sample(&latency)).collect();
            draws.sort();
            let (p50, p99) = (draws[5_000].as_secs_f64(), draws[9_900].as_secs_f64());
            let near = |got: f64, want: Duration| (got / want.as_secs_f64() - 1.0).abs() < 0.15;
            assert!(near(p50, latency.p50), "p50 {p50} for {latency:?}");
            assert!(near(p99, latency.p99), "p99 {p99} for {latency:?}");
        }
        assert_eq!(rng.sample(&Latency::fixed(Duration::from_millis(20))), Duration::from_millis(20));
        assert_eq!(rng.sample(&Latency::ZERO), Duration::ZERO);
    }

    #[test]
    fn pages_split_by_limit_and_megabyte() {
        assert_eq!(pages(&[], 10).len(), 1);
        assert_eq!(pages(&[1; 25], 10).iter().map(|p| p.len()).collect::<Vec<_>>(), vec![10, 10, 5]);
        assert_eq!(pages(&[400_000; 5], usize::MAX).iter().map(|p| p.len()).collect::<Vec<_>>(), vec![2, 2, 1]);
    }
}
