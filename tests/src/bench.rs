//! What the benchmarks (`tests/benches`) share: percentiles of sorted timings and the process's
//! peak resident memory.
use std::time::Duration;

/// The `p` quantile (0..=1) of `sorted` timings (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// This process's peak resident set (`VmHWM`), KiB; 0 where `/proc` does not say.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_owned()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// `cargo bench` runs a benchmark with `--bench`; `cargo test` (and so `make test`) runs the same
/// binary without it: then it is a small-N run that checks the benchmark still works.
pub fn is_test_run() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// A size from the environment, else `bench` under `cargo bench` and `test` under `cargo test`.
pub fn size(name: &str, bench: usize, test: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(if is_test_run() { test } else { bench })
}

pub mod model {
    //! The fakes' wiring with every store port behind the DynamoDB model
    //! ([`shared::fakes::DynamoModel`]), the real clock and randomness, and a queue that
    //! charges SQS's latency.
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use async_trait::async_trait;
    use shared::adapters::system::{OsRandom, SystemClock};
    use shared::app::root::Ports;
    use shared::fakes::{DynamoModel, Fakes, MemoryQueue};
    use shared::ports::job_queue::QueueError;
    use shared::ports::{JobQueue, OktaDirectory};

    pub fn ports(fakes: &Fakes, model: &Arc<DynamoModel>, okta: Arc<dyn OktaDirectory>) -> Ports {
        Ports {
            configs: model.clone(),
            users: model.clone(),
            writer: model.clone(),
            changes: model.clone(),
            teams: model.clone(),
            pending: model.clone(),
            dedupe: model.clone(),
            groups: model.clone(),
            runs: model.clone(),
            activity: model.clone(),
            logins: model.clone(),
            tokens: model.clone(),
            positions: model.clone(),
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
            ..fakes.root_with(okta).ports
        }
    }

    /// The in-memory queue, charging each `SendMessageBatch` (10 messages at most, as the SQS
    /// adapter sends them) a latency of median 8 ms and p99 20 ms (log-normal), and counting them.
    pub struct ModelledQueue {
        pub inner: Arc<MemoryQueue>,
        pub calls: AtomicU64,
        /// The latency charged so far, µs.
        pub modelled_us: AtomicU64,
        rng: Mutex<u64>,
    }

    impl ModelledQueue {
        pub fn new(inner: Arc<MemoryQueue>) -> Arc<Self> {
            Arc::new(Self { inner, calls: AtomicU64::new(0), modelled_us: AtomicU64::new(0), rng: Mutex::new(0x9e37) })
        }

        pub fn modelled(&self) -> Duration {
            Duration::from_micros(self.modelled_us.load(Ordering::Relaxed))
        }

        async fn charge(&self, requests: usize) {
            for _ in 0..requests {
                let (u1, u2) = {
                    let mut s = self.rng.lock().unwrap();
                    let mut next = || {
                        *s ^= *s << 13;
                        *s ^= *s >> 7;
                        *s ^= *s << 17;
                        ((*s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
                    };
                    (next(), next())
                };
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                let sigma = (20.0f64 / 8.0).ln() / 2.326;
                let latency = Duration::from_secs_f64(0.008 * (sigma * z).exp());
                self.calls.fetch_add(1, Ordering::Relaxed);
                self.modelled_us.fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
                tokio::time::sleep(latency).await;
            }
        }
    }

    #[async_trait]
    impl JobQueue for ModelledQueue {
        async fn enqueue(&self, bodies: &[String]) -> Result<(), QueueError> {
            self.charge(bodies.len().div_ceil(10)).await;
            self.inner.enqueue(bodies).await
        }

        async fn enqueue_delayed(&self, body: &str, delay: Duration) -> Result<(), QueueError> {
            self.charge(1).await;
            self.inner.enqueue_delayed(body, delay).await
        }

        async fn retry_later(&self, receipt_handle: &str, after: Duration) -> Result<(), QueueError> {
            self.charge(1).await;
            self.inner.retry_later(receipt_handle, after).await
        }
    }
}

/// Where a benchmark writes its figures: `.local/bench/{name}.json` (untracked), or
/// `{name}-test.json` for a `cargo test` run, so a test never overwrites measured figures.
pub fn figures_file(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/bench");
    let _ = std::fs::create_dir_all(&dir);
    dir.join(if is_test_run() { format!("{name}-test.json") } else { format!("{name}.json") })
}

/// Milliseconds, for a figure.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sixteen bytes for a benchmark's ids: a prefix (what kind) and a number.
pub fn id_bytes(prefix: u8, n: usize) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = prefix;
    b[8..].copy_from_slice(&(n as u64).to_be_bytes());
    b
}

/// Writes a group named "Everyone" of `members` members (ids `id_bytes(3, n)`), in member
/// batches as a SCIM PUT would, and returns its id (`id_bytes(2, 0)`).
pub async fn seed_group(
    groups: &dyn shared::ports::GroupStore,
    tenant: &shared::domain::TenantId,
    members: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<shared::domain::GroupId, shared::ports::StoreError> {
    use shared::domain::change::{Action, Actor, EntityKind, NewChange};
    use shared::domain::group::{Group, Member};
    use shared::domain::{GroupId, UserId};
    let gid = GroupId::from_random(id_bytes(2, 0));
    let change = |entity| NewChange {
        at: now,
        actor: Actor::Scim,
        entity,
        entity_id: gid.as_str().to_owned(),
        action: Action::Created,
        changes: Default::default(),
    };
    let group = Group {
        id: gid.clone(),
        display_name: "Everyone".into(),
        external_id: None,
        created_at: now,
        updated_at: now,
        version: 0,
    };
    groups.create_group(tenant, &group, &change(EntityKind::Group)).await?;
    let all: Vec<Member> = (0..members).map(|n| Member::User(UserId::from_random(id_bytes(3, n)))).collect();
    for chunk in all.chunks(shared::ports::group_store::MEMBER_BATCH) {
        groups.change_members(tenant, &gid, chunk, &[], None, &change(EntityKind::Membership)).await?;
    }
    Ok(gid)
}
