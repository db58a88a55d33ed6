//! Fault injection through the real adapters: the functions' AWS SDK clients talk to the emulator
//! through a proxy (`harness::fault_proxy`) that throttles, fails or delays chosen operations, so
//! the SDK's retries and the adapters' error mapping run for real. For each fault: what the caller
//! sees (status, retry, DLQ) and that nothing is lost or duplicated once it is over. Okta's faults
//! (429 storms, 5xx, timeouts, garbage bodies) are injected by the Okta simulator in `hooks.rs` and
//! `okta_client.rs`.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use harness::fault_proxy::{AwsFault, FaultProxy};
use harness::okta_sim::DeliverOptions;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::scim::flows::Client;
use crate::world::{profile, World};

const SEND_BATCH: &str = "AmazonSQS.SendMessageBatch";
const TRANSACT: &str = "DynamoDB_20120810.TransactWriteItems";
const GET_SECRET: &str = "secretsmanager.GetSecretValue";
const GET_ITEM: &str = "DynamoDB_20120810.GetItem";

async fn proxy() -> FaultProxy {
    FaultProxy::start(&std::env::var("AWS_ENDPOINT_URL").expect("make test sets AWS_ENDPOINT_URL")).await.unwrap()
}

fn created_events(changes: &Value) -> usize {
    changes["changes"].as_array().unwrap().iter().filter(|c| c["entity"] == "user" && c["action"] == "created").count()
}

#[tokio::test]
async fn sqs_send_failures_make_okta_retry_and_lose_nothing() {
    let proxy = proxy().await;
    let w = World::in_app(TestApp::spawn_through(&proxy).await, "acme", "individual", false).await;
    for i in 0..25 {
        w.sim.create_user(profile("Send", &format!("Fail{i}"), &format!("send{i}@acme.example"), json!({})), true);
    }
    // The delivery's second SendMessageBatch fails through all of the queue adapter's attempts
    // (3, each with the SDK's 3): the first 10 jobs are queued, the receiver answers 503, and Okta
    // retries the whole delivery. (Fewer failures are absorbed by those retries: no 503 at all.)
    proxy.inject_after(SEND_BATCH, 1, AwsFault::ServerError, 9);
    let statuses = w.sim.deliver(DeliverOptions { batch: 25, ..Default::default() }).await;
    assert_eq!(statuses[..2], [503, 200], "a failed enqueue is a 5xx, so Okta retries: {:?}", proxy.targets());
    assert_eq!(proxy.calls(SEND_BATCH).1, 9);
    // 25 users → 25 jobs, plus the 10 the failed attempt had already queued (sent again by the retry).
    assert_eq!(w.app.queue_depth().await, 10 + 25, "the retry queued the whole delivery again");
    let stats = w.app.drain(true).await;
    assert!(stats.failed.is_empty(), "{stats:?}");
    let users = w.all_users().await;
    assert_eq!(users.len(), 25, "nothing lost");
    let log = w.app.admin("GET", "/admin/tenants/acme/changes?after=0&limit=1000", None).await.json();
    assert_eq!(created_events(&log), 25, "duplicate jobs converge to one write each");
}

#[tokio::test]
async fn dynamodb_throttling_retries_the_job_and_writes_once() {
    let proxy = proxy().await;
    let w = World::in_app(TestApp::spawn_through(&proxy).await, "acme", "individual", false).await;
    for i in 0..6 {
        w.sim.create_user(profile("Throttled", &format!("T{i}"), &format!("t{i}@acme.example"), json!({})), true);
    }
    let statuses = w.sim.deliver(DeliverOptions::default()).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // Six throttled transactions: the SDK's retries and the store's own (a throttled or
    // conflicting transaction is re-read and re-sent) absorb them; no job fails.
    proxy.inject(TRANSACT, AwsFault::Throttle, 6);
    // And the next 18 reads failing (the batch's jobs run concurrently, 3 SDK attempts each): a
    // job whose read fails through every attempt fails as retryable, the worker puts its message
    // back with a backoff, and the next attempt goes through.
    proxy.inject(GET_ITEM, AwsFault::ServerError, 18);
    let stats = w.app.drain(true).await;
    // Whether a job's read failed through all its attempts depends on how the batch's concurrent
    // reads interleave; what must hold is the end state below, whatever was retried.
    tracing::info!(received = stats.received, "worker receives under failing reads (6 jobs)");
    assert_eq!((proxy.calls(TRANSACT).1, proxy.calls(GET_ITEM).1), (6, 18));
    assert_eq!(w.all_users().await.len(), 6, "nothing lost");
    let log = w.app.admin("GET", "/admin/tenants/acme/changes?after=0&limit=1000", None).await.json();
    assert_eq!(created_events(&log), 6, "nothing written twice");
    let seqs: Vec<u64> = log["changes"].as_array().unwrap().iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "the change log has no gaps");
}

#[tokio::test]
async fn secrets_manager_outage_answers_retry_later_everywhere_then_recovers() {
    let proxy = proxy().await;
    let app = TestApp::spawn_through(&proxy).await;
    let scim = Client::new(&app, "acme").await;
    let hooks = json!({"okta_domain": "https://hooks.okta.com", "app_id": "0oaapp", "provisioning": "event_hooks"});
    assert_eq!(app.admin("PUT", "/admin/tenants/hooks", Some(hooks)).await.status, StatusCode::OK);
    let hook = app.admin("POST", "/admin/tenants/hooks/event-hook-secret", None).await.json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    // Fresh functions: nothing cached, and Secrets Manager is down.
    let cold = harness::Functions::wire(&proxy.sdk_config().await, &app.stack.env).unwrap();
    let routers = cold.routers();
    proxy.inject(GET_SECRET, AwsFault::ServerError, 10_000);
    let call = |router: &std::sync::Arc<axum::Router>, req: Request<Body>| {
        let router = (**router).clone();
        async move {
            use http_body_util::BodyExt;
            use tower::ServiceExt;
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
            (status, retry, body)
        }
    };
    let get = |uri: &str, auth: &str| {
        Request::get(uri).header("host", "127.0.0.1:3000").header("authorization", auth).body(Body::empty()).unwrap()
    };
    // SCIM tokens are records in DynamoDB: provisioning goes on through the outage.
    let (status, _, body) = call(&routers.scim, get("/t/acme/scim/v2/Users", &scim.auth)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A value that is no record might be in a legacy token document, which cannot be read now:
    // retry later, in the SCIM error schema (not a 401 that would make the client give up).
    let (status, retry, body) = call(&routers.scim, get("/t/acme/scim/v2/Users", "Bearer scim_unknown")).await;
    assert_eq!((status, retry.as_deref()), (StatusCode::SERVICE_UNAVAILABLE, Some("1")), "{body}");
    assert!(body.contains("urn:ietf:params:scim:api:messages:2.0:Error"));
    let delivery = json!({"eventType": "com.okta.event_hook", "eventId": "e-outage", "data": {"events": []}});
    let post = Request::post("/t/hooks/webhooks/okta")
        .header("host", "127.0.0.1:3000")
        .header("authorization", &hook)
        .body(Body::from(delivery.to_string()))
        .unwrap();
    let (status, _, body) = call(&routers.webhook, post).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "Okta retries a 5xx: {body}");
    assert!(!body.contains(&hook));
    let (status, _, body) =
        call(&routers.admin, get("/admin/tenants/acme", &format!("Bearer {}", app.admin_token))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("\"unavailable\""), "{body}");
    // The outage ends: the same requests work, with nothing lost in between.
    proxy.heal();
    let (status, _, body) = call(&routers.scim, get("/t/acme/scim/v2/Users", &scim.auth)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = call(&routers.admin, get("/admin/tenants/acme", &format!("Bearer {}", app.admin_token))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn dynamodb_failures_leave_scim_writes_whole_or_absent() {
    let proxy = proxy().await;
    let app = TestApp::spawn_through(&proxy).await;
    let scim = Client::new(&app, "acme").await;
    let body = json!({"userName": "whole@acme.example", "name": {"givenName": "W", "familyName": "H"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}});
    // Every transaction fails: the create answers 503 in the SCIM error schema and leaves nothing.
    proxy.inject(TRANSACT, AwsFault::ServerError, 10_000);
    let r = scim.send("POST", "/Users", Some(&body), &[]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.headers["retry-after"], "1");
    proxy.heal();
    let q = "/Users?filter=userName%20eq%20%22whole%40acme.example%22";
    assert_eq!(scim.get(q).await.json()["totalResults"], 0, "nothing half-written");
    // Reads slowed down and throttled: still answered, by the SDK's retries.
    proxy.inject(GET_ITEM, AwsFault::Throttle, 2);
    let created = scim.post("/Users", &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(scim.get(q).await.json()["totalResults"], 1);
    let log = app.admin("GET", "/admin/tenants/acme/changes?after=0&limit=100", None).await.json();
    assert_eq!(created_events(&log), 1);
    assert_eq!(app.admin("GET", "/admin/tenants/acme/teams", None).await.json()["teams"].as_array().unwrap().len(), 1);
}

/// Issue 14 §5, no unauthenticated cost: requests naming made-up tenants on every public route
/// are refused from the (negatively) cached config read, before any secret is read; asking again
/// for the same names costs nothing at all.
#[tokio::test]
async fn made_up_tenants_cost_no_secret_read() {
    const GET_SECRET: &str = "secretsmanager.GetSecretValue";
    let proxy = proxy().await;
    let app = TestApp::spawn_through_cached(&proxy).await;
    let requests = |n: usize| {
        (0..n).flat_map(|i| {
            let t = format!("made-up-{i}");
            [
                Request::post(format!("/t/{t}/webhooks/okta"))
                    .header("authorization", "guess")
                    .header("content-type", "application/json")
                    .body(Body::from("{\"data\":{\"events\":[]}}"))
                    .unwrap(),
                Request::get(format!("/t/{t}/scim/v2/Users"))
                    .header("authorization", "Bearer guess")
                    .body(Body::empty())
                    .unwrap(),
                Request::get(format!("/t/{t}/okta/login"))
                    .header("host", "127.0.0.1:3000")
                    .body(Body::empty())
                    .unwrap(),
            ]
        })
    };
    let secrets_before = proxy.calls(GET_SECRET).0;
    for req in requests(20) {
        let r = app.call(req).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
    let reads_after_first = proxy.calls(GET_ITEM).0;
    for req in requests(20) {
        assert_eq!(app.call(req).await.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(proxy.calls(GET_SECRET).0, secrets_before, "no secret was read for a tenant that does not exist");
    assert_eq!(proxy.calls(GET_ITEM).0, reads_after_first, "the same names again: answered from the cache");
}
