//! Benchmark (not a test): each function's cold start, as Lambda runs it. Every release binary is
//! started as a fresh process with the Lambda environment and its own variables from
//! `template.yaml`, pointed at a runtime-API stub of ours (`/2018-06-01/runtime/invocation/next`,
//! `.../response`, `.../error`, `/init/error`) on loopback, and handed one event from `events/`
//! that makes it read the local AWS emulator. Reported per function (median of `COLD_RUNS`, 5):
//! init (process start → its first `next`), first invocation (event handed → response posted),
//! the stripped binary's size, and peak RSS (the kernel's `VmHWM` once the response is in).
//! Run it with `benches/cold-start.sh`, which builds the binaries and starts the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed test
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tokio::sync::Notify;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The function, its logical id in the template, and the event it is handed.
const FUNCTIONS: [(&str, &str, &str); 6] = [
    ("webhook-receiver", "WebhookReceiverFunction", "webhook-receiver/verify.200.json"),
    ("user-fetch-worker", "UserFetchWorkerFunction", "user-fetch-worker/batch.200.json"),
    ("nightly-sync", "NightlySyncFunction", "nightly-sync/schedule.200.json"),
    ("scim-handler", "ScimHandlerFunction", "scim-handler/service-provider-config-unknown-token.401.json"),
    ("sign-in", "SignInFunction", "sign-in/login-sso-off.404.json"),
    ("admin-api", "AdminApiFunction", "admin-api/get-tenant-unknown.404.json"),
];

#[derive(Default)]
struct Stub {
    event: String,
    /// When the process first asked for an invocation, and when it answered it.
    first_next: Option<Instant>,
    handed: Option<Instant>,
    answered: Option<(Instant, String)>,
    failed: Option<String>,
    served: bool,
}

type Shared = (Arc<Mutex<Stub>>, Arc<Notify>);

async fn next(State((stub, done)): State<Shared>) -> Response {
    let event = {
        let mut s = stub.lock().expect("stub");
        s.first_next.get_or_insert_with(Instant::now);
        if s.served {
            None
        } else {
            s.served = true;
            s.handed = Some(Instant::now());
            Some(s.event.clone())
        }
    };
    match event {
        Some(body) => {
            let mut h = HeaderMap::new();
            let deadline = (chrono::Utc::now() + chrono::Duration::seconds(30)).timestamp_millis();
            for (k, v) in [
                ("lambda-runtime-aws-request-id", "cold-start-1".to_owned()),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench".into()),
                ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000".into()),
                ("content-type", "application/json".into()),
            ] {
                h.insert(k, v.parse().expect("header"));
            }
            (h, body).into_response()
        }
        None => {
            // The second `next`: the process is idle between invocations, as in Lambda.
            done.notify_one();
            std::future::pending::<()>().await;
            StatusCode::OK.into_response()
        }
    }
}

async fn response(State((stub, _)): State<Shared>, Path(_id): Path<String>, body: String) -> StatusCode {
    stub.lock().expect("stub").answered = Some((Instant::now(), body));
    StatusCode::ACCEPTED
}

async fn error(State((stub, done)): State<Shared>, body: String) -> StatusCode {
    stub.lock().expect("stub").failed = Some(body);
    done.notify_one();
    StatusCode::ACCEPTED
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Run {
    init: Duration,
    invocation: Duration,
    rss_kib: u64,
    answer: String,
}

async fn cold_start(binary: &PathBuf, env: &HashMap<String, String>, event: &str) -> Result<Run, Error> {
    let stub = Arc::new(Mutex::new(Stub { event: event.to_owned(), ..Default::default() }));
    let done = Arc::new(Notify::new());
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(|s, _: Path<String>, b| error(s, b)))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state((stub.clone(), done.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?.to_string();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("no pid")?;
    tokio::time::timeout(Duration::from_secs(30), done.notified()).await.map_err(|_| "the function never finished")?;
    let rss_kib = vm_hwm_kib(pid).unwrap_or(0);
    child.kill().await?;
    server.abort();
    let s = stub.lock().expect("stub");
    if let Some(e) = &s.failed {
        return Err(format!("the function reported an error: {e}").into());
    }
    let first_next = s.first_next.ok_or("no next")?;
    let handed = s.handed.ok_or("no event handed")?;
    let (answered, answer) = s.answered.clone().ok_or("no response")?;
    Ok(Run { init: first_next - started, invocation: answered - handed, rss_kib, answer })
}

fn median<T: Copy + Ord>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        return Err("run benches/cold-start.sh: the functions read the local AWS emulator".into());
    }
    let runs: usize = std::env::var("COLD_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin_dir = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join("release");
    let sdk = shared::adapters::aws::sdk_config().await;
    let stage = format!("c{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let stack = harness::LocalStack::provision(&sdk, harness::StackOptions::new(stage)).await?;

    let mut rows = Vec::new();
    println!("| function | binary (stripped) | init p50 | first invocation p50 | peak RSS p50 | answer |");
    println!("|---|---|---|---|---|---|");
    for (name, logical, event_file) in FUNCTIONS {
        let binary = bin_dir.join(name);
        let size = std::fs::metadata(&binary).map_err(|e| format!("{}: {e} (build it first)", binary.display()))?.len();
        let event = std::fs::read_to_string(root.join("events").join(event_file))?;
        let mut env: HashMap<String, String> = stack.function_env.get(logical).cloned().unwrap_or_default();
        for k in [
            "AWS_ENDPOINT_URL",
            "AWS_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_EC2_METADATA_DISABLED",
        ] {
            if let Ok(v) = std::env::var(k) {
                env.insert(k.into(), v);
            }
        }
        for (k, v) in [
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ] {
            env.insert(k.into(), v.into());
        }
        let mut measured = Vec::new();
        for _ in 0..runs {
            measured.push(cold_start(&binary, &env, &event).await?);
        }
        let init = median(measured.iter().map(|r| r.init).collect());
        let invocation = median(measured.iter().map(|r| r.invocation).collect());
        let rss = median(measured.iter().map(|r| r.rss_kib).collect());
        let status: serde_json::Value = serde_json::from_str(&measured[0].answer).unwrap_or(json!({}));
        let answer = status.get("statusCode").map(|s| format!("HTTP {s}")).unwrap_or_else(|| "ok".into());
        let mib = |b: u64| b as f64 / 1024.0 / 1024.0;
        println!(
            "| {name} | {:.1} MiB | {:.1} ms | {:.1} ms | {:.1} MiB | {answer} |",
            mib(size),
            init.as_secs_f64() * 1000.0,
            invocation.as_secs_f64() * 1000.0,
            rss as f64 / 1024.0
        );
        rows.push(json!({"function": name, "binary_bytes": size, "init_ms": init.as_secs_f64() * 1000.0,
            "first_invocation_ms": invocation.as_secs_f64() * 1000.0, "peak_rss_kib": rss, "runs": runs}));
    }
    std::fs::create_dir_all(root.join(".local/bench"))?;
    std::fs::write(root.join(".local/bench/cold-start.json"), serde_json::to_string_pretty(&rows)?)?;
    Ok(())
}
