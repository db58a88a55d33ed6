//! Benchmark (not a test) of the two SCIM requests that matter at scale (issue: SCIM 2.0):
//! `GET /Users?filter=userName eq "..."` (Okta's existence check before every assignment) and
//! `PATCH /Groups/{id}` adding one member to a 10,000-member group. Both go through the real
//! scim-handler router (token check, routing, JSON, the use case, the store), on one thread, once
//! with the in-memory store and once against the local AWS emulator through the real SDK.
//! Run it with `benches/scim.sh`, which starts the emulator. Figures: stdout and
//! `.local/bench/scim.json`.
//!
//! Knobs: `SCIM_USERS` (users to look up among, default 10000 in memory / 500 on the emulator),
//! `GROUP_MEMBERS` (default 10000), `REQUESTS` (default 20000 in memory / 300 on the emulator).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed test
use harness::bench::{id_bytes as id, ms, percentile};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use shared::adapters::emf::EmfMetrics;
use shared::app::scim::ScimService;
use shared::app::tokens::TokenService;
use shared::app::AdminService;
use shared::domain::api_token::TokenKind;
use shared::domain::change::{Action, Actor, EntityKind, NewChange};
use shared::domain::user::User;
use shared::domain::{Email, TenantId, UserId};
use shared::ports::{Clock, GroupStore, UserWriter};
use tower::ServiceExt;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A size: the benchmark's default, or a small one when `cargo test` runs it.
fn env_usize(name: &str, default: usize) -> usize {
    harness::bench::size(name, default, default.min(if name == "REQUESTS" { 20 } else { 200 }))
}

/// What the benchmark needs of a backend: its stores, secrets and services.
struct Backend {
    name: &'static str,
    router: axum::Router,
    admin: AdminService,
    tokens: Arc<TokenService>,
    writer: Arc<dyn UserWriter>,
    groups: Arc<dyn GroupStore>,
    clock: Arc<dyn Clock>,
    users: usize,
    requests: usize,
}

fn router(tokens: Arc<TokenService>, scim: ScimService, clock: Arc<dyn Clock>) -> axum::Router {
    // Metrics are counted and flushed as in Lambda, into a sink that drops the lines.
    let metrics = Arc::new(EmfMetrics::with_sink(clock, Box::new(|_| {})));
    scim_handler::router(scim_handler::State {
        base_domain: "localhost".into(),
        urls: shared::adapters::http::PublicUrls {
            api_url: "http://127.0.0.1:3000".into(),
            base_domain: "localhost".into(),
        },
        tokens,
        scim: Arc::new(scim),
        metrics,
    })
}

fn memory() -> Backend {
    let f = shared::fakes::Fakes::new();
    let tokens = f.token_service();
    Backend {
        name: "in-memory store",
        router: router(tokens.clone(), f.scim_service(), f.clock.clone()),
        admin: f.admin(),
        tokens,
        writer: f.store.clone(),
        groups: f.store.clone(),
        clock: f.clock.clone(),
        users: env_usize("SCIM_USERS", 10_000),
        requests: env_usize("REQUESTS", 20_000),
    }
}

async fn emulator() -> Result<Backend, Error> {
    let sdk = shared::adapters::aws::sdk_config().await;
    let stage = format!("s{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let stack = harness::LocalStack::provision(&sdk, harness::StackOptions::new(stage)).await?;
    let functions = harness::Functions::wire(&sdk, &stack.env)?;
    let a = &functions.adapters;
    Ok(Backend {
        name: "emulator (DynamoDB over HTTP)",
        router: router(a.root.tokens.clone(), a.root.scim(), a.root.ports.clock.clone()),
        admin: a.root.admin(),
        tokens: a.root.tokens.clone(),
        writer: a.store.clone(),
        groups: a.store.clone(),
        clock: a.root.ports.clock.clone(),
        users: env_usize("SCIM_USERS", 500),
        requests: env_usize("REQUESTS", 300),
    })
}

struct Figures {
    requests: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure(
    router: &axum::Router,
    n: usize,
    request: impl Fn(usize) -> Request<Body>,
    want: StatusCode,
) -> Result<Figures, Error> {
    let mut times = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let req = request(i);
        let t = Instant::now();
        let resp = router.clone().oneshot(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        times.push(t.elapsed());
        if status != want {
            return Err(format!("request {i}: {status} {}", String::from_utf8_lossy(&body)).into());
        }
    }
    let wall = started.elapsed();
    times.sort();
    Ok(Figures {
        requests: n,
        per_second: n as f64 / wall.as_secs_f64(),
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
    })
}

async fn run(b: Backend) -> Result<serde_json::Value, Error> {
    let tenant = TenantId::parse("bench")?;
    b.admin
        .put_tenant(
            &tenant,
            serde_json::from_value(json!({"okta_domain": "https://bench.okta.com", "provisioning": "scim"}))?,
        )
        .await?;
    let (_, token) = b.tokens.issue(&tenant, TokenKind::Scim).await?;
    let auth = format!("Bearer {}", token.expose());
    let now = b.clock.now();
    let change = |entity, id: &str| NewChange {
        at: now,
        actor: Actor::Scim,
        entity,
        entity_id: id.to_owned(),
        action: Action::Created,
        changes: Default::default(),
    };

    // Users to find (and later to add to the group).
    let setup = Instant::now();
    for n in 0..b.users {
        let u = User::new(
            UserId::from_random(id(1, n)),
            Email::parse(&format!("user{n}@bench.example"))?,
            "B".into(),
            format!("U{n}"),
            now,
        );
        b.writer.create_user(&tenant, &u, &[change(EntityKind::User, u.id.as_str())]).await?;
    }
    // A group of GROUP_MEMBERS members, written in member batches like a SCIM PUT would.
    let members = env_usize("GROUP_MEMBERS", 10_000);
    let gid = harness::bench::seed_group(b.groups.as_ref(), &tenant, members, now).await?;
    let setup = setup.elapsed();

    let lookup = measure(
        &b.router,
        b.requests,
        |i| {
            let f: String = url::form_urlencoded::byte_serialize(
                format!("userName eq \"USER{}@bench.example\"", i % b.users).as_bytes(),
            )
            .collect();
            Request::get(format!("/t/bench/scim/v2/Users?filter={f}&startIndex=1&count=100"))
                .header("host", "127.0.0.1:3000")
                .header("authorization", &auth)
                .body(Body::empty())
                .expect("request")
        },
        StatusCode::OK,
    )
    .await?;
    let adds = b.requests.min(b.users);
    let add = measure(
        &b.router,
        adds,
        |i| {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": UserId::from_random(id(1, i)).as_str()}]}]});
            Request::patch(format!("/t/bench/scim/v2/Groups/{gid}"))
                .header("host", "127.0.0.1:3000")
                .header("authorization", &auth)
                .header("content-type", "application/scim+json")
                .body(Body::from(body.to_string()))
                .expect("request")
        },
        StatusCode::NO_CONTENT,
    )
    .await?;
    let now_members = b.groups.list_members(&tenant, &gid).await?.len();
    assert_eq!(now_members, members + adds, "every add stored, nothing else touched");

    println!("\n{} — {} users, a {}-member group (setup {:.1} s)", b.name, b.users, members, setup.as_secs_f64());
    println!("| request | requests | req/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    for (name, f) in [("GET /Users?filter=userName eq", &lookup), ("PATCH /Groups/{id} add 1 member", &add)] {
        println!("| {name} | {} | {:.0} | {:.3} | {:.3} |", f.requests, f.per_second, ms(f.p50), ms(f.p99));
    }
    let fig = |f: &Figures| json!({"requests": f.requests, "per_second": f.per_second, "p50_ms": ms(f.p50), "p99_ms": ms(f.p99)});
    Ok(
        json!({"backend": b.name, "users": b.users, "group_members": members, "filter_lookup": fig(&lookup), "patch_add_member": fig(&add)}),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut results = vec![run(memory()).await?];
    if std::env::var("AWS_ENDPOINT_URL").is_ok() {
        results.push(run(emulator().await?).await?);
    } else {
        println!("\n(AWS_ENDPOINT_URL is not set: the emulator half is skipped; benches/scim.sh runs both)");
    }
    // Figures go to the repository's untracked scratch directory, never into the source tree.
    std::fs::write(harness::bench::figures_file("scim"), serde_json::to_string_pretty(&results)?)?;
    Ok(())
}
