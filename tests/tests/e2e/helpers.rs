//! The harness: a fresh stack per test (own table, queues and secrets), every function wired to it,
//! and one log capture for the whole binary.
use std::io::Write;
use std::sync::{Mutex, Once, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use harness::template::Template;
use harness::{dispatch::Dispatcher, Functions, LocalStack, StackOptions};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Everything logged by any test in this binary, at every level our code uses and debug for
/// dependencies (the AWS SDK included).
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().expect("log lock")).into_owned()
}

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INIT: Once = Once::new();

#[derive(Clone, Copy)]
struct Capture;

/// With `OKTA_BRIDGE_LOG_FILE` set (make test sets it), every log line also goes to that file, for
/// the secret-leak sweep over the whole run.
fn log_file() -> Option<&'static Mutex<std::fs::File>> {
    static FILE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::var("OKTA_BRIDGE_LOG_FILE").ok()?;
        std::fs::OpenOptions::new().create(true).append(true).open(path).ok().map(Mutex::new)
    })
    .as_ref()
}

/// Remembers a secret value a test set or was handed, for the sweep that greps the whole run's
/// logs for each (`OKTA_BRIDGE_SECRETS_FILE`, set by make test; otherwise nothing is written).
pub fn remember_secret(value: &str) {
    static FILE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        let path = std::env::var("OKTA_BRIDGE_SECRETS_FILE").ok()?;
        std::fs::OpenOptions::new().create(true).append(true).open(path).ok().map(Mutex::new)
    });
    if let (Some(f), false) = (file, value.trim().is_empty() || value.contains('\n')) {
        let _ = writeln!(f.lock().expect("secrets lock"), "{value}");
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().expect("log lock").extend_from_slice(buf);
        if let Some(f) = log_file() {
            let _ = f.lock().expect("log file lock").write_all(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new("debug,shared=trace,admin_api=trace,harness=trace,webhook_receiver=trace,scim_handler=trace,sign_in=trace,user_fetch_worker=trace,nightly_sync=trace,hyper=info,h2=info");
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(|| Capture).init();
    });
}

pub async fn sdk() -> &'static aws_config::SdkConfig {
    static SDK: OnceLock<aws_config::SdkConfig> = OnceLock::new();
    if let Some(s) = SDK.get() {
        return s;
    }
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "the end-to-end tests need the local AWS emulator: run them with `make test`"
    );
    let conf = shared::adapters::aws::sdk_config().await;
    SDK.get_or_init(|| conf)
}

/// A unique stage per test, so tests never share a table, queue or secret.
pub fn unique_stage() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

pub struct TestApp {
    pub stack: LocalStack,
    pub functions: Functions,
    pub admin_token: String,
    pub app: Router,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(None).await
    }

    /// The stack is created directly; the functions' AWS clients go through `proxy` (fault tests).
    pub async fn spawn_through(proxy: &harness::fault_proxy::FaultProxy) -> Self {
        Self::spawn_with(Some(&proxy.sdk_config().await)).await
    }

    /// As [`Self::spawn_through`], with the in-process caches a Lambda has (tests of caching).
    pub async fn spawn_through_cached(proxy: &harness::fault_proxy::FaultProxy) -> Self {
        Self::spawn_configured(Some(&proxy.sdk_config().await), true, None).await
    }

    async fn spawn_with(functions_sdk: Option<&aws_config::SdkConfig>) -> Self {
        Self::spawn_configured(functions_sdk, false, None).await
    }

    /// Serves every function on a free local port, as `make dev` does (for a real browser); the
    /// public URL is that port's. Returns the app and its base URL (`http://127.0.0.1:{port}`).
    pub async fn spawn_listening() -> (Self, String) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("a free port");
        let base = format!("http://127.0.0.1:{}", listener.local_addr().expect("its address").port());
        let app = Self::spawn_configured(None, false, Some(base.clone())).await;
        let router = app.app.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (app, base)
    }

    async fn spawn_configured(
        functions_sdk: Option<&aws_config::SdkConfig>,
        caches: bool,
        public_api_url: Option<String>,
    ) -> Self {
        init_logs();
        let sdk = sdk().await;
        let admin_token = format!("admin-{}", uuid::Uuid::new_v4().simple());
        let mut opts = StackOptions::new(unique_stage());
        if let Some(url) = public_api_url {
            opts.public_api_url = url;
        }
        opts.secret_values.insert("AdminTokenSecret".into(), admin_token.clone());
        let stack = LocalStack::provision(sdk, opts).await.expect("stack provisions from template.yaml");
        remember_secret(&admin_token);
        for value in stack.secret_values.values() {
            remember_secret(value);
        }
        let mut env = stack.env.clone();
        env.insert("ALLOW_INSECURE_OKTA".into(), "1".into());
        if !caches {
            // The functions share one process here but not in Lambda: without the caches, each one
            // reads what it needs itself, as the least-privilege check must see it.
            env.insert("SECRETS_CACHE_TTL_SECONDS".into(), "0".into());
            env.insert("CONFIG_CACHE_TTL_SECONDS".into(), "0".into());
        }
        let functions = Functions::wire(functions_sdk.unwrap_or(sdk), &env).expect("functions wire");
        let template = Template::load(&harness::template::default_path()).expect("template");
        let app = Dispatcher::new(&template, functions.routers()).expect("dispatcher").into_router();
        Self { stack, functions, admin_token, app }
    }

    /// The EMF lines the functions wrote for `tenant` (parsed), oldest first.
    pub fn metric_lines(&self, tenant: &str) -> Vec<serde_json::Value> {
        self.functions
            .adapters
            .metrics
            .recent()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["Tenant"] == tenant)
            .collect()
    }

    /// Sends a request through API Gateway's routing to the right function.
    pub async fn call(&self, req: Request<Body>) -> Reply {
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// An admin API call with the operator token.
    pub async fn admin(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> Reply {
        self.admin_as(&self.admin_token.clone(), method, path, body).await
    }

    /// An admin API call with `bearer` (a tenant admin token, a wrong one, ...).
    pub async fn admin_as(&self, bearer: &str, method: &str, path: &str, body: Option<serde_json::Value>) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1:3000")
            .header("authorization", format!("Bearer {bearer}"));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        if let Some(v) = body.as_ref().and_then(|b| b["value"].as_str()) {
            remember_secret(v);
        }
        let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
        let reply = self.call(req.body(body).expect("request")).await;
        // Generated secrets are handed out once, in these fields.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&reply.body) {
            for field in ["token", "secret", "admin_token"] {
                if let Some(s) = v[field].as_str() {
                    remember_secret(s);
                }
            }
        }
        // Every admin response any test sees must be what the OpenAPI document says.
        crate::openapi::check(method, path, reply.status, reply.content_type(), &reply.body);
        reply
    }

    pub async fn create_tenant(&self, tenant: &str) -> Reply {
        let r = self
            .admin(
                "PUT",
                &format!("/admin/tenants/{tenant}"),
                Some(serde_json::json!({"okta_domain": format!("https://{tenant}.okta.com")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

impl TestApp {
    /// Serves the app on a free loopback port (for callers that speak real HTTP, like the Okta
    /// simulator delivering hooks); returns its base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = self.app.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        url
    }

    pub fn queue_url(&self) -> String {
        self.stack.env("USER_FETCH_QUEUE_URL").to_owned()
    }

    /// Messages in the user-fetch queue, visible or in flight.
    pub async fn queue_depth(&self) -> usize {
        self.depth_of(&self.queue_url()).await
    }

    /// Messages in a queue, visible, delayed or in flight.
    pub async fn depth_of(&self, url: &str) -> usize {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .functions
            .adapters
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(A::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .expect("queue attributes");
        let attrs = out.attributes().cloned().unwrap_or_default();
        let n = |a: A| attrs.get(&a).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        n(A::ApproximateNumberOfMessages)
            + n(A::ApproximateNumberOfMessagesNotVisible)
            + n(A::ApproximateNumberOfMessagesDelayed)
    }

    /// Runs the worker like Lambda's event-source mapping until the queue is empty. With
    /// `hurry`, failed messages are made visible again at once instead of after their backoff.
    pub async fn drain(&self, hurry: bool) -> harness::poller::PollStats {
        let target = harness::poller::Target::Worker(self.functions.worker.clone());
        self.drain_queue("UserFetchQueue", &target, hurry).await
    }

    /// Runs the nightly-sync function on the sync queue until it is empty.
    pub async fn drain_sync(&self) -> harness::poller::PollStats {
        let target = harness::poller::Target::Sync(self.functions.sync.clone());
        self.drain_queue("SyncQueue", &target, true).await
    }

    pub async fn drain_queue(
        &self,
        queue: &str,
        target: &harness::poller::Target,
        hurry: bool,
    ) -> harness::poller::PollStats {
        let sqs = &self.functions.adapters.sqs;
        let url = self.stack.created[queue].clone();
        let arn = self.stack.bindings.attrs[&format!("{queue}.Arn")].clone();
        let mut total = harness::poller::PollStats::default();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1200);
        loop {
            // Short polls: an empty queue answers at once, so draining costs no idle waits.
            let stats =
                harness::poller::poll_once(sqs, &url, &arn, std::time::Duration::ZERO, target).await.expect("poll");
            total.batches += stats.batches;
            total.received += stats.received;
            total.deleted += stats.deleted;
            if hurry {
                for receipt in &stats.failed {
                    let _ = sqs
                        .change_message_visibility()
                        .queue_url(&url)
                        .receipt_handle(receipt)
                        .visibility_timeout(0)
                        .send()
                        .await;
                }
            }
            total.failed.extend(stats.failed);
            if stats.received == 0 {
                if self.depth_of(&url).await == 0 {
                    return total;
                }
                // Messages in flight or delayed: wait a little for them to become visible.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert!(std::time::Instant::now() < deadline, "the queue did not drain in 1200 s");
        }
    }
}
