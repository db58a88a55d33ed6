//! A fault-injecting proxy in front of the AWS emulator, for fault-injection tests: the real AWS SDK
//! clients of the real adapters talk to it, and it forwards every call to the emulator unless a
//! rule says otherwise. Rules match an operation by its `X-Amz-Target` (DynamoDB, SQS and Secrets
//! Manager all speak AWS JSON: `DynamoDB_20120810.TransactWriteItems`, `AmazonSQS.SendMessageBatch`,
//! `secretsmanager.GetSecretValue`) and answer, a set number of times, with throttling, a 500, or
//! after a delay, exactly as the service's wire protocol would; the SDK's own retries and the
//! adapters' error mapping then run for real.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsFault {
    /// `400` with the service's `ThrottlingException` (retried by the SDK with backoff).
    Throttle,
    /// `500 InternalFailure` (retried by the SDK).
    ServerError,
    /// Forwarded after this long (longer than a caller's deadline = a timeout).
    Delay(Duration),
}

#[derive(Debug, Clone)]
struct Rule {
    target: String,
    fault: AwsFault,
    /// Calls of the target to let through before the faults start.
    skip: usize,
    remaining: usize,
}

#[derive(Default)]
struct Inner {
    rules: Vec<Rule>,
    /// Calls seen per target, and how many of them were faulted.
    calls: HashMap<String, (u64, u64)>,
}

#[derive(Clone)]
pub struct FaultProxy {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    inner: Arc<Mutex<Inner>>,
}

impl FaultProxy {
    /// Starts on a free loopback port, forwarding to `upstream` (the emulator's base URL).
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().build().expect("client"),
            inner: inner.clone(),
        };
        let app = Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, inner })
    }

    /// The next `times` calls of `target` get `fault`.
    pub fn inject(&self, target: &str, fault: AwsFault, times: usize) {
        self.inject_after(target, 0, fault, times);
    }

    /// After `skip` calls of `target` go through, the next `times` get `fault`.
    pub fn inject_after(&self, target: &str, skip: usize, fault: AwsFault, times: usize) {
        self.inner.lock().expect("proxy").rules.push(Rule { target: target.into(), fault, skip, remaining: times });
    }

    /// Removes every rule (the outage is over).
    pub fn heal(&self) {
        self.inner.lock().expect("proxy").rules.clear();
    }

    /// (calls, faulted calls) of `target` so far.
    pub fn calls(&self, target: &str) -> (u64, u64) {
        self.inner.lock().expect("proxy").calls.get(target).copied().unwrap_or_default()
    }

    /// Every target seen, with (calls, faulted calls).
    pub fn targets(&self) -> Vec<(String, (u64, u64))> {
        let mut all: Vec<_> = self.inner.lock().expect("proxy").calls.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort();
        all
    }

    /// An SDK config whose every client goes through this proxy.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(&self.url).load().await
    }
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({"__type": kind, "message": message}).to_string();
    let mut r = (status, body).into_response();
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/x-amz-json-1.0"));
    if let Ok(v) = HeaderValue::from_str(kind) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

async fn forward(State(s): State<Shared>, req: Request) -> Response {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let fault = {
        let mut inner = s.inner.lock().expect("proxy");
        let fault = inner.rules.iter_mut().find(|r| r.target == target && r.remaining > 0).and_then(|r| {
            if r.skip > 0 {
                r.skip -= 1;
                return None;
            }
            r.remaining -= 1;
            Some(r.fault)
        });
        let entry = inner.calls.entry(target.clone()).or_default();
        entry.0 += 1;
        if fault.is_some() {
            entry.1 += 1;
        }
        fault
    };
    match fault {
        Some(AwsFault::Throttle) => {
            let kind = if target.starts_with("DynamoDB") {
                "com.amazonaws.dynamodb.v20120810#ThrottlingException"
            } else {
                "ThrottlingException"
            };
            return aws_error(StatusCode::BAD_REQUEST, kind, "Rate exceeded (injected)");
        }
        Some(AwsFault::ServerError) => {
            return aws_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "injected failure")
        }
        Some(AwsFault::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, 64 * 1024 * 1024).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut up = s.client.request(parts.method.clone(), format!("{}{path}", s.upstream));
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" {
            up = up.header(k, v);
        }
    }
    match up.body(bytes.to_vec()).send().await {
        Ok(resp) => {
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default();
            let mut out = Response::new(Body::from(body));
            *out.status_mut() = status;
            for (k, v) in &headers {
                if k != "content-length" && k != "transfer-encoding" && k != "connection" {
                    out.headers_mut().append(k, v.clone());
                }
            }
            out
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
