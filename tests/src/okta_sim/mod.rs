//! An Okta org of the project's own, speaking Okta's wire format (docs/okta-wire.md §1–3): users,
//! app assignments (`expand=user`, `Link` paging), `SSWS` auth, rate-limit headers and `429`s,
//! Okta error objects, injectable faults; and event-hook deliveries of the changes made to it,
//! on demand, with duplicates and in shuffled order. `make dev` runs it as tenant `demo`'s org.
//!
//! One file per concern: [`prng`] (reproducible shuffles), `org` (the org's model and its rules),
//! `wire` (Okta's API as HTTP handlers), `control` (what tests and `/sim/...` change), `hooks`
//! (delivering event hooks to the receiver); this file holds the types they share.
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

mod control;
mod hooks;
mod org;
pub mod prng;
mod setup_api;
mod wire;

pub use hooks::{DeliverOptions, HookTarget};
pub use prng::Rng;

/// A fault to answer the next API request with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    RateLimited,
    ServerError,
    /// Answer after this long (longer than the client's timeout = a timeout).
    Delay(Duration),
    Garbage,
}

#[derive(Debug)]
struct Org {
    token: String,
    app_id: String,
    users: BTreeMap<String, Value>,
    assigned: BTreeSet<String>,
    events: Vec<Value>,
    hook: Option<HookTarget>,
    faults: VecDeque<Fault>,
    rate_limit: u64,
    rate_window: Duration,
    rate_remaining: u64,
    rate_reset: DateTime<Utc>,
    last_updated: DateTime<Utc>,
    requests: u64,
    next_id: u64,
    auto_deliver: bool,
    /// The app's settings beyond its id (`setup_api`).
    app: Value,
    event_hooks: Vec<setup_api::StoredHook>,
    /// Whether the API token may manage event hooks (a Super Administrator's may).
    hooks_manageable: bool,
    /// How long each page of app users takes (a large org's page, for watching progress).
    page_delay: Duration,
    /// An OpenID provider serving this org's authorization server (`make dev`): everything the
    /// simulator does not answer itself, discovery included, goes there.
    oidc_upstream: Option<String>,
}

#[derive(Clone)]
pub struct OktaSim {
    org: Arc<Mutex<Org>>,
    pub base_url: String,
    http: reqwest::Client,
}

fn okta_error(status: StatusCode, code: &str, summary: &str) -> Response {
    let body = json!({"errorCode": code, "errorSummary": summary, "errorLink": code,
        "errorId": format!("oae{}", &uuid::Uuid::new_v4().simple().to_string()[..20]), "errorCauses": []});
    (status, Json(body)).into_response()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl OktaSim {
    /// Starts the simulator on 127.0.0.1 (port 0 = any free port).
    pub async fn start(port: u16, token: &str, app_id: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let org = Org {
            token: token.to_owned(),
            app_id: app_id.to_owned(),
            users: BTreeMap::new(),
            assigned: BTreeSet::new(),
            events: Vec::new(),
            hook: None,
            faults: VecDeque::new(),
            rate_limit: 600,
            rate_window: Duration::from_secs(60),
            rate_remaining: 600,
            rate_reset: Utc::now(),
            last_updated: Utc::now(),
            requests: 0,
            next_id: 1,
            auto_deliver: false,
            app: setup_api::default_app(),
            event_hooks: Vec::new(),
            hooks_manageable: true,
            page_delay: Duration::ZERO,
            oidc_upstream: None,
        };
        let sim =
            Self { org: Arc::new(Mutex::new(org)), base_url, http: setup_api::hook_client(Duration::from_secs(10)) };
        let app = wire::routes().merge(control::routes()).merge(setup_api::routes()).with_state(sim.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(sim)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Org) -> T) -> T {
        f(&mut self.org.lock().expect("lock"))
    }
}
