//! The admin router on in-memory fakes: authorisation, limits and error shapes, without AWS.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed test
use std::sync::Arc;

use admin_api::{router, State};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use shared::domain::Secret;
use shared::fakes::Fakes;
use shared::ports::SecretStore;
use tower::ServiceExt;

fn state(f: &Fakes) -> State {
    let okta = Arc::new(shared::adapters::okta_http::OktaHttp::new(Default::default()));
    State {
        admin: Arc::new(f.admin()),
        connect: Arc::new(f.root().connect()),
        changes: f.store.clone(),
        sync: Arc::new(f.sync_service(okta)),
        health: Arc::new(f.health()),
        invitations: Arc::new(f.invitations()),
        teams: f.store.clone(),
        groups: f.store.clone(),
        urls: shared::adapters::http::PublicUrls {
            api_url: "https://api.example.com".into(),
            base_domain: String::new(),
        },
        metrics: Arc::new(shared::adapters::emf::EmfMetrics::with_sink(f.clock.clone(), Box::new(|_| {}))),
    }
}

async fn app() -> axum::Router {
    let f = Fakes::new();
    f.secrets.put_secret(&Fakes::secret_names().admin_token, &Secret::new("tok")).await.unwrap();
    router(state(&f))
}

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app.clone().oneshot(req.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn every_route_needs_the_admin_token() {
    let app = app().await;
    for (m, p) in [
        ("GET", "/admin/tenants/acme"),
        ("PUT", "/admin/tenants/acme"),
        ("POST", "/admin/tenants/acme/scim-tokens"),
        ("GET", "/admin/nothing"),
    ] {
        let (status, body) = call(&app, m, p, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {p}");
        assert_eq!(body["error"]["code"], "unauthorized");
        assert_eq!(call(&app, m, p, Some("tok2"), None).await.0, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn put_get_and_limits() {
    let app = app().await;
    let (s, body) = call(
        &app,
        "PUT",
        "/admin/tenants/acme",
        Some("tok"),
        Some(r#"{"okta_domain":"https://acme.okta.com"}"#.into()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["tenant"], "acme");
    let (s, _) = call(&app, "GET", "/admin/tenants/acme", Some("tok"), None).await;
    assert_eq!(s, StatusCode::OK);
    let big = format!(r#"{{"okta_domain":"https://acme.okta.com","x":"{}"}}"#, "a".repeat(64 * 1024));
    let (s, body) = call(&app, "PUT", "/admin/tenants/acme", Some("tok"), Some(big)).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")));
    let (s, body) = call(&app, "PUT", "/admin/tenants/acme", Some("tok"), Some("[".into())).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")));
    let (s, body) = call(&app, "GET", "/admin/tenants/nope/users", Some("tok"), None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("tenant_not_found")));
}

#[tokio::test]
async fn without_a_stored_admin_token_everyone_is_refused() {
    // No admin token stored at all: every request is refused, never let through.
    let f = Fakes::new();
    let app = router(state(&f));
    assert_eq!(call(&app, "GET", "/admin/tenants/acme", Some(""), None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, "GET", "/admin/tenants/acme", Some("anything"), None).await.0, StatusCode::UNAUTHORIZED);
}
