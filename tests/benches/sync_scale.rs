//! Benchmark (not a test) of the nightly sync at directory scale: N app users in the Okta
//! simulator, a full run, then an unchanged second run. Run it with `benches/sync-scale.sh`
//! (`SYNC_USERS=10000,100000` by default; figures also go to `.local/bench/sync-scale.json`);
//! `cargo test` runs it with 1,000 users so it keeps working.
//!
//! The store is the in-memory one behind the DynamoDB model (`shared::fakes::DynamoModel`: each
//! request's latency, per-partition capacity and throttling, transaction conflicts; see
//! docs/benchmarks.md), so wall times include what DynamoDB would cost. The simulator runs in a
//! child process of this one, so its 100,000 users are not counted as the sync's memory, and the
//! sync reaches it over loopback HTTP through the real Okta client.
//!
//! Reported per N and run: Okta calls (the run's own count and the client's HTTP requests,
//! retries included) against the goal ⌈N/500⌉ + 2, user writes (every `create_user` and
//! `update_user` the store was asked for), the model's DynamoDB requests, write units,
//! transaction conflicts and throttled requests, invocations, wall time and the part of it spent
//! waiting for Okta's rate-limit reset, and memory: the heap high-water of each invocation above
//! its start (counted by the allocator) and the part of it still allocated when the invocation
//! returned (the users the in-memory store gained: in Lambda they are in DynamoDB). The estimated
//! invocation RSS is the base process RSS plus the peak less what the store retained; the store
//! grows steadily through a run, so this slightly under-counts a first run's working set, and the
//! peak itself is the upper bound. The process's own RSS high-water (store included) is shown too.
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use harness::okta_sim::OktaSim;
use peak_alloc::PeakAlloc;
use serde_json::{json, Map, Value};
use shared::adapters::okta_http::OktaHttp;
use shared::app::root::{Ports, Root};
use shared::app::sync::{Step, SyncMessage, SyncOptions, SyncService};
use shared::domain::change::NewChange;
use shared::domain::sync_run::{RunTrigger, SyncRun};
use shared::domain::user::User;
use shared::domain::{Secret, TenantId};
use shared::fakes::{DynamoModel, Fakes, MemoryQueue, ModelConfig};
use shared::ports::{StoreError, UserWriter};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const TOKEN: &str = "00bench-sync-token";
const APP: &str = "0oabenchsync";
/// The nightly-sync function's timeout in template.yaml.
const LAMBDA_TIMEOUT: Duration = Duration::from_secs(900);

/// Pages per invocation (`PAGES_PER_INVOCATION`, default 10). The real bound is Lambda's time
/// limit; a smaller one makes more invocations, each with its own memory figure, and keeps the
/// store's growth inside one invocation small, so the memory bounds below are tight.
fn pages_per_invocation() -> u64 {
    std::env::var("PAGES_PER_INVOCATION").ok().and_then(|v| v.parse().ok()).unwrap_or(10)
}

/// Counts the user writes the store is asked for, then does them.
struct CountingWriter {
    inner: Arc<DynamoModel>,
    writes: AtomicU64,
}

#[async_trait]
impl UserWriter for CountingWriter {
    async fn create_user(&self, tenant: &TenantId, user: &User, changes: &[NewChange]) -> Result<User, StoreError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.create_user(tenant, user, changes).await
    }

    async fn update_user(
        &self,
        tenant: &TenantId,
        before: &User,
        after: &User,
        changes: &[NewChange],
    ) -> Result<User, StoreError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.update_user(tenant, before, after, changes).await
    }
}

fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok()).unwrap_or(0)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The child process: the Okta simulator with `n` assigned users, until its stdin closes.
fn serve_sim(n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let sim = OktaSim::start(0, TOKEN, APP).await?;
        for i in 0..n {
            let mut p = Map::new();
            p.insert("firstName".into(), json!("Scale"));
            p.insert("lastName".into(), json!(format!("Person{i}")));
            p.insert("email".into(), json!(format!("person{i}@scale.example")));
            p.insert("department".into(), json!(format!("Team {}", i % 50)));
            p.insert("title".into(), json!(if i % 10 == 0 { "Manager" } else { "Engineer" }));
            p.insert("costCenter".into(), json!(format!("CC{}", i % 13)));
            sim.create_user(p, true);
        }
        println!("ready {}", sim.base_url);
        std::io::stdout().flush()?;
        // The parent holds our stdin; when it closes (or dies) we stop.
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

struct SimProcess {
    child: std::process::Child,
    base_url: String,
}

impl SimProcess {
    fn spawn(n: usize) -> Result<Self, Box<dyn std::error::Error>> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--serve-sim", &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        let base_url = line.trim().strip_prefix("ready ").ok_or_else(|| format!("simulator said {line:?}"))?.to_owned();
        Ok(Self { child, base_url })
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct RunFigures {
    invocations: u64,
    wall: Duration,
    waited: Duration,
    writes: u64,
    http_requests: u64,
    heap_peak_above_start: u64,
    /// Of that, what was still allocated when the invocation returned: the store's growth (the
    /// users it gained), since the sync keeps nothing between invocations.
    heap_retained: u64,
    rss_hwm_kib: u64,
    /// The model's figures for the run.
    ddb_requests: u64,
    wcu: f64,
    conflicts: u64,
    throttles: u64,
    failures: u64,
}

struct Bench {
    sync: SyncService,
    queue: Arc<MemoryQueue>,
    writer: Arc<CountingWriter>,
    okta: Arc<OktaHttp>,
    tenant: TenantId,
    model: Arc<DynamoModel>,
}

impl Bench {
    async fn new(sim_url: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let fakes = Fakes::new();
        let model = DynamoModel::new(fakes.store.clone(), ModelConfig::default());
        let okta = Arc::new(OktaHttp::new(shared::adapters::okta_http::OktaHttpOptions {
            outbound: shared::adapters::outbound::OutboundPolicy { allow_loopback: true },
            ..Default::default()
        }));
        // The model's wiring, with a writer that counts.
        let writer = Arc::new(CountingWriter { inner: model.clone(), writes: AtomicU64::new(0) });
        let ports = Ports { writer: writer.clone(), ..harness::bench::model::ports(&fakes, &model, okta.clone()) };
        let root = Root::new(ports, Fakes::tuning());
        let admin = root.admin();
        let tenant = TenantId::parse("scale")?;
        let config = json!({"okta_domain": sim_url, "app_id": APP, "provisioning": "event_hooks",
            "manager_mode": "individual", "field_mappings": [{"okta": "costCenter", "field": "cost_center"}]});
        admin.put_tenant(&tenant, serde_json::from_value(config)?).await?;
        admin.set_secret(&tenant, "okta_api_token", Secret::new(TOKEN)).await?;
        let queue = fakes.queue.clone();
        let sync = root.sync(
            queue.clone(),
            SyncOptions { max_pages_per_invocation: pages_per_invocation(), ..SyncOptions::default() },
        );
        Ok(Self { sync, queue, writer, okta, tenant, model })
    }

    /// One run from the button to its end, one `resume` per queue message, as the Lambda would.
    async fn run(&self) -> Result<(SyncRun, RunFigures), Box<dyn std::error::Error>> {
        let mut f = RunFigures::default();
        let (writes0, http0) = (self.writer.writes.load(Ordering::Relaxed), self.okta.calls());
        let m0 = self.model.stats();
        let started = Instant::now();
        let (run, _) = self.sync.start(&self.tenant, RunTrigger::Admin, false).await?;
        while let Some((body, delay)) = self.queue.pop() {
            if !delay.is_zero() {
                f.waited += delay;
                tokio::time::sleep(delay).await;
            }
            let msg: SyncMessage = serde_json::from_str(&body)?;
            // Each invocation starts with a fresh high-water mark, as a new Lambda process would.
            let _ = std::fs::write("/proc/self/clear_refs", "5");
            HEAP.reset_peak_usage();
            let at_start = HEAP.current_usage() as u64;
            let step = self.sync.resume(&msg, Some(Instant::now() + LAMBDA_TIMEOUT)).await?;
            f.invocations += 1;
            let peak = (HEAP.peak_usage() as u64).saturating_sub(at_start);
            if peak > f.heap_peak_above_start {
                f.heap_peak_above_start = peak;
                f.heap_retained = (HEAP.current_usage() as u64).saturating_sub(at_start);
            }
            f.rss_hwm_kib = f.rss_hwm_kib.max(proc_status_kib("VmHWM:"));
            if let Step::Finished(_) = step {
                break;
            }
        }
        f.wall = started.elapsed();
        f.writes = self.writer.writes.load(Ordering::Relaxed) - writes0;
        f.http_requests = self.okta.calls() - http0;
        let m1 = self.model.stats();
        f.ddb_requests = m1.requests.values().sum::<u64>() - m0.requests.values().sum::<u64>();
        f.wcu = m1.wcu - m0.wcu;
        f.conflicts = m1.conflicts - m0.conflicts;
        f.throttles = m1.throttles - m0.throttles;
        f.failures = m1.failures - m0.failures;
        Ok((self.sync.get(&self.tenant, &run.id).await?, f))
    }
}

fn report(n: usize, label: &str, run: &SyncRun, f: &RunFigures, base_rss_kib: u64) -> Value {
    let goal = n.div_ceil(500) as u64 + 2;
    let c = &run.counts;
    println!(
        "N={n:>7} {label:<9} status={:?} okta_calls={} (goal <= {goal}, http requests {}) pages={} seen={} created={} \
         updated={} unchanged={} errors={} user_writes={} invocations={} wall={:.1}s (rate-limit waits {:.1}s) \
         heap_peak_above_start={:.1}MiB (of which retained by the store {:.1}MiB) est_invocation_rss={:.1}..{:.1}MiB \
         process_vm_hwm={:.1}MiB dynamodb_requests={} wcu={:.0} conflicts={} throttled={} failed={}",
        run.status,
        c.okta_calls,
        f.http_requests,
        c.pages,
        c.seen,
        c.created,
        c.updated,
        c.unchanged,
        c.errors,
        f.writes,
        f.invocations,
        f.wall.as_secs_f64(),
        f.waited.as_secs_f64(),
        mib(f.heap_peak_above_start),
        mib(f.heap_retained),
        mib(base_rss_kib * 1024 + f.heap_peak_above_start - f.heap_retained),
        mib(base_rss_kib * 1024 + f.heap_peak_above_start),
        f.rss_hwm_kib as f64 / 1024.0,
        f.ddb_requests,
        f.wcu,
        f.conflicts,
        f.throttles,
        f.failures,
    );
    if label == "first" {
        let met = f.wall < Duration::from_secs(15 * 60) && c.okta_calls <= goal;
        println!(
            "goal: first sync of {n} under 15 min within Okta's budget: {:.1} s, {} Okta calls {}",
            f.wall.as_secs_f64(),
            c.okta_calls,
            if met { "MET" } else { "NOT MET" }
        );
    } else {
        let met = f.writes == 0 && c.okta_calls <= goal;
        println!(
            "goal: unchanged sync of {n}: {} user writes, {} Okta calls (<= {goal}) {}",
            f.writes,
            c.okta_calls,
            if met { "MET" } else { "NOT MET" }
        );
    }
    json!({"n": n, "run": label, "status": run.status, "okta_calls": c.okta_calls, "okta_goal": goal,
        "http_requests": f.http_requests, "pages": c.pages, "seen": c.seen, "created": c.created, "updated": c.updated,
        "unchanged": c.unchanged, "errors": c.errors, "user_writes": f.writes, "invocations": f.invocations,
        "wall_s": f.wall.as_secs_f64(), "rate_limit_wait_s": f.waited.as_secs_f64(),
        "heap_peak_above_start_mib": mib(f.heap_peak_above_start), "heap_retained_mib": mib(f.heap_retained),
        "est_invocation_rss_mib": mib(base_rss_kib * 1024 + f.heap_peak_above_start - f.heap_retained),
        "est_invocation_rss_upper_mib": mib(base_rss_kib * 1024 + f.heap_peak_above_start),
        "process_vm_hwm_mib": f.rss_hwm_kib as f64 / 1024.0, "dynamodb_requests": f.ddb_requests, "wcu": f.wcu,
        "conflicts": f.conflicts, "throttled": f.throttles, "failed": f.failures})
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-sim") {
        let n = args.get(i + 1).and_then(|v| v.parse().ok()).ok_or("--serve-sim N")?;
        return serve_sim(n);
    }
    let sizes: Vec<usize> = std::env::var("SYNC_USERS")
        .unwrap_or_else(|_| if harness::bench::is_test_run() { "1000".into() } else { "10000,100000".into() })
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // What a Lambda process holds before its first invocation: the runtime, an HTTP client.
    let base_rss_kib = rt.block_on(async {
        let _client = OktaHttp::new(Default::default());
        proc_status_kib("VmRSS:")
    });
    println!("pages per invocation: {}", pages_per_invocation());
    println!(
        "base process RSS {:.1} MiB (runtime and Okta client, before any store or run)",
        base_rss_kib as f64 / 1024.0
    );
    let mut figures = Vec::new();
    for n in sizes {
        let seeded = Instant::now();
        let sim = SimProcess::spawn(n)?;
        println!("N={n:>7} simulator seeded in {:.1}s at {}", seeded.elapsed().as_secs_f64(), sim.base_url);
        rt.block_on(async {
            let bench = Bench::new(&sim.base_url).await?;
            let (first, f1) = bench.run().await?;
            figures.push(report(n, "first", &first, &f1, base_rss_kib));
            assert_eq!((first.counts.created, first.counts.errors), (n as u64, 0), "every user created");
            let (second, f2) = bench.run().await?;
            figures.push(report(n, "unchanged", &second, &f2, base_rss_kib));
            assert_eq!(f2.writes, 0, "an unchanged sync writes no user");
            Ok::<_, Box<dyn std::error::Error>>(())
        })?;
        drop(sim);
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/bench");
    std::fs::create_dir_all(&out)?;
    let name = if harness::bench::is_test_run() { "sync-scale-test.json" } else { "sync-scale.json" };
    std::fs::write(out.join(name), serde_json::to_string_pretty(&figures)?)?;
    println!("figures written to .local/bench/{name}");
    Ok(())
}
