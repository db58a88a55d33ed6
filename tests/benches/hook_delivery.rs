//! Benchmark (not a test): a 50-event Okta delivery through the webhook receiver, and the
//! user-fetch worker's throughput, on the real AWS SDK against the local emulator and the Okta
//! simulator. Run it with `benches/hook-delivery.sh` (it starts the emulator).
//!
//! Reports handler time p50/p99, SQS and DynamoDB calls per delivery (counted by an SDK
//! interceptor on every operation), and per-message worker time, Okta calls and DynamoDB calls.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed test
use harness::bench::{ms, percentile};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use axum::body::Body;
use harness::okta_sim::{HookTarget, OktaSim};
use harness::{Functions, LocalStack, StackOptions};
use serde_json::json;
use shared::adapters::aws::Adapters;
use shared::app::secrets::TenantSecret;
use shared::domain::{Secret, TenantId};
use tower::ServiceExt;

#[derive(Debug, Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl Counter {
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "call-counter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        return Err("run benches/hook-delivery.sh: the benchmark needs the local AWS emulator".into());
    }
    let deliveries = harness::bench::size("DELIVERIES", 100, 3);
    let workers_n = harness::bench::size("WORKER_USERS", 200, 10);

    let sdk = shared::adapters::aws::sdk_config().await;
    let (ddb_calls, sqs_calls) = (Counter::default(), Counter::default());
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(ddb_calls.clone()).build(),
    );
    let sqs =
        aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&sdk).interceptor(sqs_calls.clone()).build());
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let stage = format!("b{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let stack = LocalStack::provision(&sdk, StackOptions::new(stage)).await?;
    let mut env: HashMap<String, String> = stack.env.clone();
    env.insert("ALLOW_INSECURE_OKTA".into(), "1".into());
    let functions = Functions::from_adapters(Adapters::from_clients(Functions::settings(&env)?, ddb, sqs.clone(), sm))?;
    let router = webhook_receiver::router(functions.webhook.clone());

    let sim = OktaSim::start(0, "00bench", "0oabench").await?;
    sim.set_rate_limit(1_000_000, Duration::from_secs(60));
    let tenant = TenantId::parse("bench")?;
    let input = serde_json::from_value(
        json!({"okta_domain": sim.base_url, "app_id": "0oabench", "provisioning": "event_hooks"}),
    )?;
    functions.admin.admin.put_tenant(&tenant, input).await?;
    let secrets = &functions.adapters.root.secrets;
    secrets.set(&tenant, TenantSecret::OktaApiToken, Secret::new("00bench")).await?;
    let hook_secret = secrets.rotate_event_hook_secret(&tenant).await?.expose().to_owned();
    sim.set_hook(HookTarget {
        url: "http://unused".into(),
        header: "Authorization".into(),
        secret: hook_secret.clone(),
    });

    // 1. The receiver: deliveries of 50 events (50 users), each new.
    let mut times = Vec::new();
    let (ddb0, sqs0) = (ddb_calls.get(), sqs_calls.get());
    for d in 0..deliveries {
        let events: Vec<_> = (0..50)
            .map(|e| {
                json!({"uuid": uuid::Uuid::new_v4().to_string(), "published": "2026-11-25T12:00:00.000Z",
                "eventType": "user.account.update_profile", "version": "0",
                "target": [{"id": format!("00u{:07}{:010}", d, e), "type": "User", "alternateId": "x@example.com"}]})
            })
            .collect();
        let body = json!({"eventType": "com.okta.event_hook", "eventId": uuid::Uuid::new_v4().to_string(), "data": {"events": events}}).to_string();
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/t/bench/webhooks/okta")
            .header("authorization", &hook_secret)
            .header("content-type", "application/json")
            .body(Body::from(body))?;
        let start = Instant::now();
        let resp = router.clone().oneshot(req).await?;
        times.push(start.elapsed());
        assert_eq!(resp.status(), 200);
    }
    let (ddb_per, sqs_per) =
        ((ddb_calls.get() - ddb0) as f64 / deliveries as f64, (sqs_calls.get() - sqs0) as f64 / deliveries as f64);
    times.sort();
    let queue_url = stack.env("USER_FETCH_QUEUE_URL").to_owned();
    sqs.purge_queue().queue_url(&queue_url).send().await?;

    // 2. The worker: one job per new, assigned Okta user, through SQS like Lambda's event source.
    for i in 0..workers_n {
        let p = json!({"firstName": "Bench", "lastName": format!("User{i}"), "email": format!("bench{i}@example.com"),
            "department": format!("Team {}", i % 10), "title": "Engineer"});
        sim.create_user(p.as_object().cloned().unwrap_or_default(), true);
    }
    let statuses = {
        sim.set_hook(HookTarget {
            url: {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let url = format!("http://{}/t/bench/webhooks/okta", listener.local_addr()?);
                let app = router.clone();
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                });
                url
            },
            header: "Authorization".into(),
            secret: hook_secret.clone(),
        });
        sim.deliver(harness::okta_sim::DeliverOptions { batch: 50, ..Default::default() }).await
    };
    assert!(statuses.iter().all(|s| *s == 200));
    let arn = stack.bindings.attrs["UserFetchQueue.Arn"].clone();
    let (ddb1, okta1) = (ddb_calls.get(), sim.requests());
    let start = Instant::now();
    let mut done = 0;
    while done < workers_n {
        let stats = harness::poller::poll_once(
            &sqs,
            &queue_url,
            &arn,
            Duration::from_secs(1),
            &harness::poller::Target::Worker(functions.worker.clone()),
        )
        .await?;
        done += stats.deleted;
        if stats.received == 0 && start.elapsed() > Duration::from_secs(300) {
            return Err("worker did not finish".into());
        }
    }
    let worker_wall = start.elapsed();
    let ddb_per_msg = (ddb_calls.get() - ddb1) as f64 / workers_n as f64;
    let okta_per_msg = (sim.requests() - okta1) as f64 / workers_n as f64;

    println!("okta-bridge hook delivery benchmark (release build, real AWS SDK against moto on loopback)");
    println!("receiver, {deliveries} deliveries of 50 events (50 users each):");
    println!(
        "  handler time   p50 {:.1} ms   p99 {:.1} ms   max {:.1} ms",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap())
    );
    println!("  per delivery   {sqs_per:.1} SQS calls (SendMessageBatch)   {ddb_per:.1} DynamoDB calls");
    println!("worker, {workers_n} new users (one job each, batches of 10):");
    println!(
        "  wall {:.2} s   {:.1} ms per message   {:.1} messages/s",
        worker_wall.as_secs_f64(),
        ms(worker_wall) / workers_n as f64,
        workers_n as f64 / worker_wall.as_secs_f64()
    );
    println!("  per message    {okta_per_msg:.2} Okta calls   {ddb_per_msg:.1} DynamoDB calls");
    println!(
        "{}",
        json!({"deliveries": deliveries, "p50_ms": ms(percentile(&times, 0.5)), "p99_ms": ms(percentile(&times, 0.99)),
            "sqs_calls_per_delivery": sqs_per, "ddb_calls_per_delivery": ddb_per, "worker_users": workers_n,
            "worker_ms_per_message": ms(worker_wall) / workers_n as f64, "okta_calls_per_message": okta_per_msg,
            "ddb_calls_per_message": ddb_per_msg})
    );
    Ok(())
}
