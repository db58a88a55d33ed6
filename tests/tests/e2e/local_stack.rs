//! The local stack itself: API Gateway routing from the template, tenant routing, the SQS
//! event-source mapping with its DLQ, and the nightly trigger.
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use harness::template::Template;

use crate::helpers::TestApp;

fn get(host: &str, path: &str) -> Request<Body> {
    Request::builder().uri(path).header("host", host).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_request_naming_two_tenants_is_refused_in_each_protocol() {
    let app = TestApp::spawn().await;
    let hook = app.call(get("acme.localhost:3000", "/t/other/webhooks/okta")).await;
    assert_eq!(hook.status, StatusCode::BAD_REQUEST);
    assert_eq!(hook.json()["error"]["code"], "invalid_tenant");
    let scim = app.call(get("acme.localhost", "/t/other/scim/v2/Users")).await;
    assert_eq!(scim.status, StatusCode::BAD_REQUEST);
    assert_eq!(scim.content_type(), "application/scim+json");
    assert_eq!(scim.json()["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    let sso = app.call(get("acme.localhost", "/t/other/okta/login")).await;
    assert_eq!(sso.status, StatusCode::BAD_REQUEST);
    assert!(sso.content_type().starts_with("text/html"));
    // The same tenant named twice is fine (and, as acme does not exist here, not found before any
    // token is checked); a request naming none is not found.
    assert_eq!(app.call(get("acme.localhost", "/t/acme/scim/v2/Users")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(get("127.0.0.1:3000", "/webhooks/okta")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_template_route_reaches_its_function() {
    let app = TestApp::spawn().await;
    let template = Template::load(&harness::template::default_path()).unwrap();
    let dispatcher = harness::dispatch::Dispatcher::new(&template, app.functions.routers()).unwrap();
    let routes = template.routes().unwrap();
    assert_eq!(routes.len(), 27, "{routes:?}");
    for route in routes {
        let path = route.path.replace("{tenant}", "demo").replace("{locale}", "en").replace("{proxy+}", "Users/x");
        let method = if route.method == "ANY" { "GET" } else { route.method.as_str() };
        let req =
            Request::builder().method(method).uri(&path).header("host", "demo.localhost").body(Body::empty()).unwrap();
        assert_eq!(dispatcher.function_for(method, &path), Some(route.function.as_str()), "{method} {path}");
        let r = app.call(req).await;
        assert_ne!(r.body, r#"{"message":"Not Found"}"#, "{method} {path} is routed by the template");
        assert!(
            !r.status.is_server_error() || r.status == StatusCode::NOT_IMPLEMENTED,
            "{method} {path} → {}",
            r.status
        );
    }
}

#[tokio::test]
async fn the_worker_is_driven_like_lambda_with_partial_failures_and_a_dlq() {
    let app = TestApp::spawn().await;
    let sqs = &app.functions.adapters.sqs;
    let url = app.stack.env("USER_FETCH_QUEUE_URL").to_owned();
    let arn = app.stack.bindings.attrs["UserFetchQueue.Arn"].clone();
    let dlq = app.stack.created["UserFetchDLQ"].clone();
    sqs.send_message().queue_url(&url).message_body(r#"{"job":"unprocessable in this release"}"#).send().await.unwrap();

    // The worker reports the message as failed every time: it stays, then goes to the DLQ after
    // maxReceiveCount (5) receives, exactly as the template's redrive policy says.
    let mut receives = 0;
    for _ in 0..8 {
        let stats = harness::poller::poll_once(
            sqs,
            &url,
            &arn,
            Duration::from_secs(1),
            &harness::poller::Target::Worker(app.functions.worker.clone()),
        )
        .await
        .unwrap();
        receives += stats.received;
        assert_eq!(stats.deleted, 0, "a failed message is never deleted");
        for receipt in stats.failed {
            // Skip the 180 s visibility timeout: make it visible again now.
            sqs.change_message_visibility()
                .queue_url(&url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
    }
    assert_eq!(receives, 5, "received maxReceiveCount times, then dead-lettered");
    let dead = sqs.receive_message().queue_url(&dlq).wait_time_seconds(1).send().await.unwrap();
    assert_eq!(dead.messages().len(), 1);
    assert_eq!(dead.messages()[0].body(), Some(r#"{"job":"unprocessable in this release"}"#));
}

#[tokio::test]
async fn the_template_schedule_is_nightly_at_three_utc() {
    let template = Template::load(&harness::template::default_path()).unwrap();
    let cron = template.schedule_of("NightlySyncFunction").expect("a schedule");
    assert_eq!(cron, "cron(0 3 * * ? *)");
    assert_eq!(harness::schedule::parse_daily_cron(&cron), Some((3, 0)));
}

/// A method a route does not take, sent straight to each function (API Gateway would route only
/// the template's methods): `405` in the function's own protocol, never an empty answer.
#[tokio::test]
async fn a_wrong_method_is_refused_in_each_protocol() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = TestApp::spawn().await;
    let routers = app.functions.routers();
    let bearer = format!("Bearer {}", app.admin_token);
    let send = |router: std::sync::Arc<axum::Router>, method: &str, path: &str| {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "acme.localhost")
            .header("authorization", bearer.as_str())
            .body(Body::empty());
        async move {
            let resp = (*router).clone().oneshot(req.unwrap()).await.unwrap();
            let status = resp.status();
            let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            let body = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
            (status, ct, body)
        }
    };
    let (status, ct, body) = send(routers.webhook.clone(), "PUT", "/webhooks/okta").await;
    assert_eq!((status, ct.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "application/json"), "{body}");
    assert!(body.contains("\"method_not_allowed\""), "{body}");
    let (status, ct, body) = send(routers.sign_in.clone(), "DELETE", "/t/acme/okta/login").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert!(ct.starts_with("text/html") && body.contains("<h1>"), "{ct} {body}");
    let (status, ct, body) = send(routers.admin.clone(), "PATCH", "/admin/tenants/acme").await;
    assert_eq!((status, ct.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "application/json"), "{body}");
    assert!(body.contains("\"method_not_allowed\""), "{body}");
    let (status, _, body) = send(routers.webhook.clone(), "GET", "/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"not_found\""), "{body}");
}
