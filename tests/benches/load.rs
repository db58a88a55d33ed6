//! Load (not a test): the dev server's routers served on a loopback port (real TCP, API Gateway's
//! routing, every function wired to the local AWS emulator, the worker polling SQS), and a bounded
//! load generator of ours sending concurrent Okta hook deliveries and SCIM traffic at it. Reports
//! throughput, p50/p99 and errors per kind of request, then drains the worker and checks the stored
//! state: every user the hooks named equals the Okta simulator's truth, every SCIM user created is
//! there once, and the group has every member added. Run it with `benches/load.sh`.
//!
//! Knobs: `LOAD_CONCURRENCY` (16), `LOAD_DELIVERIES` (60, of 25 events each), `LOAD_OKTA_USERS`
//! (150), `LOAD_SCIM_USERS` (150: as many creates, lookups and group adds).
use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use harness::dispatch::Dispatcher;
use harness::okta_sim::{HookTarget, OktaSim};
use harness::poller::{poll_once, Target};
use harness::template::Template;
use harness::{Functions, LocalStack, StackOptions};
use serde_json::{json, Value};
use shared::app::secrets::TenantSecret;
use shared::domain::{Secret, TenantId};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Kind {
    name: &'static str,
    times: Vec<Duration>,
    errors: usize,
    /// Answers of 429/503 that the client retried after `Retry-After`, as Okta does.
    retried: usize,
    /// The statuses of the requests that failed in the end.
    failures: Vec<u16>,
    wall: Duration,
}

impl Kind {
    fn row(&mut self, concurrency: usize) -> Value {
        self.times.sort();
        let p = |q: f64| {
            let i = ((self.times.len() as f64 - 1.0) * q).round() as usize;
            self.times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let rate = self.times.len() as f64 / self.wall.as_secs_f64();
        println!(
            "| {} | {} | {concurrency} | {rate:.1} | {:.1} ms | {:.1} ms | {} | {} {:?} |",
            self.name,
            self.times.len(),
            p(0.5),
            p(0.99),
            self.retried,
            self.errors,
            self.failures
        );
        json!({"kind": self.name, "requests": self.times.len(), "concurrency": concurrency, "per_second": rate,
            "p50_ms": p(0.5), "p99_ms": p(0.99), "retried": self.retried, "errors": self.errors, "failed_statuses": self.failures})
    }
}

/// Sends `requests` with at most `concurrency` in flight; 2xx is success. A 429 or 503 is retried
/// after its `Retry-After` (at most 5 times), as Okta's SCIM client and event hooks do; the
/// latency is the request's, retries included.
async fn fire(name: &'static str, requests: Vec<reqwest::RequestBuilder>, concurrency: usize) -> Kind {
    let started = Instant::now();
    let results: Vec<(Duration, u16, usize)> = stream::iter(requests)
        .map(|r| async move {
            let t = Instant::now();
            let mut retried = 0;
            loop {
                let Some(attempt) = r.try_clone() else { return (t.elapsed(), 0, retried) };
                let status = match attempt.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let wait = resp
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok());
                        let _ = resp.bytes().await;
                        if matches!(status, 429 | 503) && retried < 5 {
                            retried += 1;
                            tokio::time::sleep(Duration::from_secs(wait.unwrap_or(1))).await;
                            continue;
                        }
                        status
                    }
                    Err(_) => 0,
                };
                return (t.elapsed(), status, retried);
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = started.elapsed();
    let failures: Vec<u16> = results.iter().map(|r| r.1).filter(|s| !(200..300).contains(s)).collect();
    Kind {
        name,
        errors: failures.len(),
        retried: results.iter().map(|r| r.2).sum(),
        failures,
        times: results.into_iter().map(|(d, _, _)| d).collect(),
        wall,
    }
}

/// Every user of a tenant, through the admin API's cursor paging.
async fn admin_users(http: &reqwest::Client, base: &str, token: &str, tenant: &str) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page: Value = http
            .get(format!("{base}/admin/tenants/{tenant}/users?limit=200{q}"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        out.extend(page["users"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(out),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        return Err("run benches/load.sh: the load runs against the local AWS emulator".into());
    }
    let concurrency = knob("LOAD_CONCURRENCY", 16);
    let deliveries = harness::bench::size("LOAD_DELIVERIES", knob("LOAD_DELIVERIES", 60), 4);
    let okta_users = harness::bench::size("LOAD_OKTA_USERS", knob("LOAD_OKTA_USERS", 150), 10);
    let scim_users = harness::bench::size("LOAD_SCIM_USERS", knob("LOAD_SCIM_USERS", 150), 10);

    // The system, as make dev runs it: one HTTP server, the worker polling SQS.
    let sdk = shared::adapters::aws::sdk_config().await;
    let admin_token = format!("load-{}", uuid::Uuid::new_v4().simple());
    let mut opts = StackOptions::new(format!("l{}", &uuid::Uuid::new_v4().simple().to_string()[..10]));
    opts.secret_values.insert("AdminTokenSecret".into(), admin_token.clone());
    let stack = LocalStack::provision(&sdk, opts).await?;
    let mut env = stack.env.clone();
    env.insert("ALLOW_INSECURE_OKTA".into(), "1".into());
    let functions = Functions::wire(&sdk, &env)?;
    let router =
        Dispatcher::new(&Template::load(&harness::template::default_path())?, functions.routers())?.into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let queue_url = stack.created["UserFetchQueue"].clone();
    let queue_arn = stack.bindings.attrs["UserFetchQueue.Arn"].clone();
    let sqs = functions.adapters.sqs.clone();
    let worker = Target::Worker(functions.worker.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let poller = {
        let (sqs, url, arn, stop) = (sqs.clone(), queue_url.clone(), queue_arn.clone(), stop_rx.clone());
        let worker = Target::Worker(functions.worker.clone());
        tokio::spawn(async move {
            while !*stop.borrow() {
                let _ = poll_once(&sqs, &url, &arn, Duration::from_secs(1), &worker).await;
            }
        })
    };

    // Tenant `load-hooks`: an Okta org with OKTA_USERS assigned people, hooks to our server.
    let sim = OktaSim::start(0, "00load", "0oaload").await?;
    sim.set_rate_limit(1_000_000, Duration::from_secs(60));
    sim.set_auto_deliver(false);
    let hooks = TenantId::parse("load-hooks")?;
    functions
        .admin
        .admin
        .put_tenant(
            &hooks,
            serde_json::from_value(
                json!({"okta_domain": sim.base_url, "app_id": "0oaload", "provisioning": "event_hooks"}),
            )?,
        )
        .await?;
    let secrets = &functions.adapters.root.secrets;
    secrets.set(&hooks, TenantSecret::OktaApiToken, Secret::new("00load")).await?;
    let hook_secret = secrets.rotate_event_hook_secret(&hooks).await?.expose().to_owned();
    sim.set_hook(HookTarget {
        url: format!("{base}/t/load-hooks/webhooks/okta"),
        header: "Authorization".into(),
        secret: hook_secret.clone(),
    });
    let mut okta_ids = Vec::new();
    for i in 0..okta_users {
        let p = json!({"firstName": "Load", "lastName": format!("User{i}"), "email": format!("load{i}@hooks.example"), "department": format!("Team {}", i % 8)});
        okta_ids.push(sim.create_user(p.as_object().cloned().unwrap_or_default(), true));
    }
    // Tenant `load-scim`: a SCIM client's token and a group to push members into.
    let scim = TenantId::parse("load-scim")?;
    functions
        .admin
        .admin
        .put_tenant(
            &scim,
            serde_json::from_value(json!({"okta_domain": "https://load-scim.okta.com", "provisioning": "scim"}))?,
        )
        .await?;
    let token = functions
        .adapters
        .root
        .tokens
        .issue(&scim, shared::domain::api_token::TokenKind::Scim)
        .await?
        .1
        .expose()
        .to_owned();
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let scim_url = format!("{base}/t/load-scim/scim/v2");
    let group: Value = http
        .post(format!("{scim_url}/Groups"))
        .bearer_auth(&token)
        .json(&json!({"displayName": "Load group"}))
        .send()
        .await?
        .json()
        .await?;
    let group_id = group["id"].as_str().ok_or("no group id")?.to_owned();

    println!("\nload: {concurrency} in flight; {deliveries} deliveries of 25 events over {okta_users} Okta users; {scim_users} SCIM users");
    println!("| kind | requests | concurrency | req/s | p50 | p99 | 429/503 retried | errors |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();

    // 1. Hook deliveries: 25 profile-update events each, over the Okta users, all new envelopes.
    let hook_reqs: Vec<_> = (0..deliveries)
        .map(|d| {
            let events: Vec<Value> = (0..25)
                .map(|e| {
                    let id = &okta_ids[(d * 25 + e) % okta_ids.len()];
                    json!({"uuid": uuid::Uuid::new_v4().to_string(), "published": "2026-11-26T03:00:00.000Z",
                        "eventType": "user.account.update_profile", "version": "0",
                        "target": [{"id": id, "type": "User", "alternateId": "x@hooks.example"}]})
                })
                .collect();
            let body = json!({"eventType": "com.okta.event_hook", "eventId": uuid::Uuid::new_v4().to_string(), "data": {"events": events}});
            http.post(format!("{base}/t/load-hooks/webhooks/okta")).header("authorization", &hook_secret).json(&body)
        })
        .collect();
    rows.push(fire("POST /webhooks/okta (25 events)", hook_reqs, concurrency).await.row(concurrency));

    // 2. SCIM: creates, then lookups, then group member adds, each wave concurrent.
    let email = |i: usize| format!("scim{i}@load.example");
    let creates: Vec<_> = (0..scim_users)
        .map(|i| {
            http.post(format!("{scim_url}/Users")).bearer_auth(&token).json(&json!({"userName": email(i),
                "name": {"givenName": "Scim", "familyName": format!("Load{i}")}, "active": true,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": format!("Dept {}", i % 5)}}))
        })
        .collect();
    rows.push(fire("POST /scim/v2/Users", creates, concurrency).await.row(concurrency));
    let lookups: Vec<_> = (0..scim_users)
        .map(|i| {
            let f: String =
                url::form_urlencoded::byte_serialize(format!("userName eq \"{}\"", email(i)).as_bytes()).collect();
            http.get(format!("{scim_url}/Users?filter={f}")).bearer_auth(&token)
        })
        .collect();
    rows.push(fire("GET /scim/v2/Users?filter=userName eq", lookups, concurrency).await.row(concurrency));
    let ids: Vec<String> = admin_users(&http, &base, &admin_token, "load-scim")
        .await?
        .iter()
        .filter_map(|u| u["id"].as_str().map(str::to_owned))
        .collect();
    let adds: Vec<_> = ids
        .iter()
        .map(|id| {
            http.patch(format!("{scim_url}/Groups/{group_id}")).bearer_auth(&token).json(&json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]}))
        })
        .collect();
    rows.push(fire("PATCH /scim/v2/Groups/{id} (+1 member)", adds, concurrency).await.row(concurrency));

    // Drain the worker, then check what is stored.
    let drain_started = Instant::now();
    loop {
        let stats = poll_once(&sqs, &queue_url, &queue_arn, Duration::ZERO, &worker).await?;
        for receipt in &stats.failed {
            let _ = sqs
                .change_message_visibility()
                .queue_url(&queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await;
        }
        if stats.received == 0 {
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(&queue_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await?;
            let depth: usize = attrs.attributes().map_or(0, |a| {
                a.iter()
                    .filter(|(k, _)| k.as_str().starts_with("ApproximateNumberOfMessages"))
                    .filter_map(|(_, v)| v.parse::<usize>().ok())
                    .sum()
            });
            if depth == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let _ = stop_tx.send(true);
    poller.abort();
    let drained = drain_started.elapsed();

    let stored: HashMap<String, Value> = admin_users(&http, &base, &admin_token, "load-hooks")
        .await?
        .into_iter()
        .map(|u| (u["okta_id"].as_str().unwrap_or_default().to_owned(), u))
        .collect();
    let named: std::collections::BTreeSet<&String> =
        (0..deliveries * 25).map(|n| &okta_ids[n % okta_ids.len()]).collect();
    let mut mismatches = 0;
    for id in &named {
        let truth = sim.user(id).ok_or("no sim user")?;
        match stored.get(*id) {
            Some(u) if u["email"] == truth["profile"]["email"] && u["last_name"] == truth["profile"]["lastName"] => {}
            _ => mismatches += 1,
        }
    }
    let scim_count = ids.len();
    let group_now: Value =
        http.get(format!("{scim_url}/Groups/{group_id}")).bearer_auth(&token).send().await?.json().await?;
    let members = group_now["members"].as_array().map_or(0, Vec::len);
    println!(
        "\nafter the load (worker drained in {:.1} s): hook users stored {}/{} equal to Okta's truth ({} mismatches); \
         SCIM users {}/{}; group members {}/{}",
        drained.as_secs_f64(),
        named.len() - mismatches,
        named.len(),
        mismatches,
        scim_count,
        scim_users,
        members,
        scim_count
    );
    // Figures go to the repository's untracked scratch directory, never into the source tree.
    std::fs::write(
        harness::bench::figures_file("load"),
        serde_json::to_string_pretty(&json!({"rows": rows, "hook_users": named.len(), "mismatches": mismatches,
            "scim_users": scim_count, "group_members": members, "drain_seconds": drained.as_secs_f64()}))?,
    )?;
    if mismatches > 0 || scim_count != scim_users || members != scim_count {
        return Err("the stored state does not match what was sent".into());
    }
    Ok(())
}
