//! Benchmark (not a test) of the integration page (docs/behaviour/integration-page.md): what the
//! admin function spends answering a browser, on the in-memory ports (no DynamoDB, Secrets
//! Manager or network cost: the emulator's figures are in the load and cold-start benchmarks).
//! One thread, the whole router (session lookup, CSRF, rendering, the security headers):
//! - `GET /admin/ui/`: the page (tenant, health, the last runs, SCIM tokens, 10 changes);
//! - `GET /admin/ui/people`: 50 people of 200, and a name search that reads all 200;
//! - `POST /admin/ui/connect`: every check against the in-memory Okta and OpenID provider;
//! - a refused form (wrong CSRF token), which must cost no more than a page.
//!
//! Run it with `benches/integration-page.sh`. Figures: stdout and `.local/bench/integration-page.json`.
//! Knob: `ITERATIONS` (default 500 per case).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failed unwrap is a failed run
use harness::bench::{peak_rss_kib, percentile};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use shared::domain::api_token::TokenKind;
use shared::domain::tenant::ManagerMode;
use shared::domain::TenantId;
use shared::fakes::{Fakes, MemoryOkta};
use tower::ServiceExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iterations = harness::bench::size("ITERATIONS", 500, 10);
    let f = Fakes::new();
    let t = TenantId::parse("acme").unwrap();
    let okta = Arc::new(MemoryOkta::new("0oaapp"));
    f.event_hook_tenant(&t, "0oaapp", ManagerMode::Individual, 20).await;
    for n in 0..200u8 {
        f.numbered_user(&t, n, &format!("person{n:03}@acme.example"), None).await;
    }
    let root = f.root_with(okta.clone());
    let admin = Arc::new(root.admin());
    let (_, token) = admin.issue_token(&t, TokenKind::Admin).await.unwrap();
    let session = admin.open_ui_session(token.expose(), None).await.unwrap().unwrap();
    let state = admin_api::State {
        admin,
        connect: Arc::new(root.connect()),
        changes: f.store.clone(),
        sync: Arc::new(f.sync_service(okta.clone())),
        health: Arc::new(f.health()),
        invitations: Arc::new(f.invitations()),
        teams: f.store.clone(),
        groups: f.store.clone(),
        urls: shared::adapters::http::PublicUrls {
            api_url: "https://api.example.com".into(),
            base_domain: String::new(),
        },
        metrics: Arc::new(shared::adapters::emf::EmfMetrics::with_sink(f.clock.clone(), Box::new(|_| {}))),
    };
    let app = admin_api::router(state);
    let cookie = format!("{}={}", admin_api::UI_SESSION_COOKIE, session.cookie_value());
    let form = |fields: &str| {
        Request::post("/admin/ui/connect")
            .header("host", "api.example.com")
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(fields.to_owned()))
            .unwrap()
    };
    let get = |path: &str| {
        Request::get(path).header("host", "api.example.com").header("cookie", &cookie).body(Body::empty()).unwrap()
    };
    let csrf = format!("csrf={}", session.csrf);
    type MakeRequest<'a> = Box<dyn Fn() -> Request<Body> + 'a>;
    let cases: Vec<(&str, u16, MakeRequest)> = vec![
        ("GET /admin/ui/ (the page)", 200, Box::new(|| get("/admin/ui/"))),
        ("GET /admin/ui/people (50 of 200)", 200, Box::new(|| get("/admin/ui/people"))),
        ("GET /admin/ui/people?q=walker (no match: reads all 200)", 200, Box::new(|| get("/admin/ui/people?q=walker"))),
        ("POST /admin/ui/connect (in-memory Okta)", 200, Box::new(|| form(&csrf))),
        ("POST with a forged CSRF token (refused)", 403, Box::new(|| form("csrf=forged"))),
    ];
    println!("The integration page on the in-memory ports, {iterations} requests per case, one thread");
    println!("| request | status | bytes | p50 | p99 | per second |");
    println!("|---|---|---|---|---|---|");
    let mut json = Vec::new();
    for (name, status, make) in &cases {
        let mut times = Vec::with_capacity(iterations);
        let mut bytes = 0;
        let started = Instant::now();
        for _ in 0..iterations {
            let t0 = Instant::now();
            let r = app.clone().oneshot(make()).await.unwrap();
            assert_eq!(r.status().as_u16(), *status, "{name}");
            bytes = r.into_body().collect().await.unwrap().to_bytes().len();
            times.push(t0.elapsed());
        }
        let total = started.elapsed();
        times.sort();
        let rate = iterations as f64 / total.as_secs_f64();
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        println!(
            "| {name} | {status} | {bytes} | {:.0} µs | {:.0} µs | {rate:.0} |",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
        json.push(serde_json::json!({"request": name, "status": status, "bytes": bytes,
            "p50_us": p50.as_secs_f64() * 1e6, "p99_us": p99.as_secs_f64() * 1e6, "per_second": rate}));
    }
    let rss = peak_rss_kib();
    println!("peak RSS of the whole run: {:.1} MiB", rss as f64 / 1024.0);
    std::fs::write(
        harness::bench::figures_file("integration-page"),
        serde_json::to_string_pretty(
            &serde_json::json!({"iterations": iterations, "cases": json, "peak_rss_kib": rss}),
        )
        .unwrap(),
    )
    .unwrap();
}
