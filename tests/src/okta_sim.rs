//! An Okta org of the project's own, speaking Okta's wire format (docs/okta-wire.md §1–3): users,
//! app assignments (`expand=user`, `Link` paging), `SSWS` auth, rate-limit headers and `429`s,
//! Okta error objects, injectable faults; and event-hook deliveries of the changes made to it,
//! on demand, with duplicates and in shuffled order. `make dev` runs it as tenant `demo`'s org.
use std::collections::{BTreeMap, BTreeSet, VecDeque};
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
use serde_json::{json, Map, Value};

/// A deterministic PRNG (SplitMix64): shuffles and duplicates are reproducible from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// A fault to answer the next API request with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    RateLimited,
    ServerError,
    /// Answer after this long (longer than the client's timeout = a timeout).
    Delay(Duration),
    Garbage,
}

#[derive(Debug, Clone)]
pub struct HookTarget {
    pub url: String,
    pub header: String,
    pub secret: String,
}

#[derive(Debug, Clone, Copy)]
pub struct DeliverOptions {
    /// Events per delivery envelope.
    pub batch: usize,
    /// Percent chance of sending an envelope twice (same `eventId`).
    pub duplicate_percent: u64,
    /// Percent chance of an event also appearing in a later envelope (same `uuid`).
    pub repeat_event_percent: u64,
    pub shuffle: bool,
    pub seed: u64,
}

impl Default for DeliverOptions {
    fn default() -> Self {
        Self { batch: 10, duplicate_percent: 0, repeat_event_percent: 0, shuffle: false, seed: 1 }
    }
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

impl Org {
    fn tick(&mut self) -> DateTime<Utc> {
        // Strictly increasing lastUpdated, even within one millisecond.
        let now = Utc::now().max(self.last_updated + chrono::Duration::milliseconds(1));
        self.last_updated = now;
        now
    }

    fn event(&mut self, event_type: &str, user_id: &str, with_app: bool) {
        let user = &self.users[user_id];
        let login = user["profile"]["login"].clone();
        let mut targets = vec![];
        if with_app {
            targets.push(json!({"id": format!("0ua{}", &user_id[3..]), "type": "AppUser", "alternateId": login, "displayName": "app user", "detailEntry": null}));
            targets.push(json!({"id": self.app_id, "type": "AppInstance", "alternateId": "Learning Platform", "displayName": "Learning Platform", "detailEntry": null}));
        }
        targets.push(
            json!({"id": user_id, "type": "User", "alternateId": login, "displayName": "user", "detailEntry": null}),
        );
        let published = self.tick();
        self.events.push(json!({
            "uuid": uuid::Uuid::new_v4().to_string(), "published": ts(published), "eventType": event_type, "version": "0",
            "displayMessage": event_type, "severity": "INFO",
            "actor": {"id": "00uadmin0000000000x1", "type": "User", "alternateId": "admin@okta-sim.example", "displayName": "Sim Admin", "detailEntry": null},
            "outcome": {"result": "SUCCESS", "reason": null}, "target": targets,
            "transaction": {"type": "WEB", "id": uuid::Uuid::new_v4().simple().to_string(), "detail": {}},
        }));
    }

    /// Rate limiting and faults for one API request: `Err(response)` to answer instead.
    fn admit(&mut self) -> Result<HeaderMap, Box<Response>> {
        self.requests += 1;
        let now = Utc::now();
        if now >= self.rate_reset {
            self.rate_reset = now + chrono::Duration::from_std(self.rate_window).unwrap_or_default();
            self.rate_remaining = self.rate_limit;
        }
        let mut headers = HeaderMap::new();
        let fault = self.faults.pop_front();
        let limited = self.rate_remaining == 0 || fault == Some(Fault::RateLimited);
        if !limited {
            self.rate_remaining -= 1;
        }
        let reset = if fault == Some(Fault::RateLimited) {
            (now + chrono::Duration::seconds(1)).timestamp()
        } else {
            self.rate_reset.timestamp() + 1
        };
        headers.insert("x-rate-limit-limit", HeaderValue::from(self.rate_limit));
        headers.insert("x-rate-limit-remaining", HeaderValue::from(if limited { 0 } else { self.rate_remaining }));
        headers.insert("x-rate-limit-reset", HeaderValue::from(reset));
        headers.insert(
            "x-okta-request-id",
            HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string()).expect("ascii"),
        );
        headers.insert(
            "date",
            HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).expect("ascii"),
        );
        if limited {
            let mut r = okta_error(
                StatusCode::TOO_MANY_REQUESTS,
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
            );
            r.headers_mut().extend(headers);
            return Err(Box::new(r));
        }
        match fault {
            Some(Fault::ServerError) => {
                let mut r = okta_error(StatusCode::INTERNAL_SERVER_ERROR, "E0000009", "Internal Server Error");
                r.headers_mut().extend(headers);
                Err(Box::new(r))
            }
            Some(Fault::Garbage) => Err(Box::new((StatusCode::OK, headers, "<html>not json").into_response())),
            Some(Fault::Delay(d)) => {
                headers.insert("x-sim-delay-ms", HeaderValue::from(d.as_millis() as u64));
                Ok(headers)
            }
            _ => Ok(headers),
        }
    }

    fn find(&self, id_or_login: &str) -> Option<&Value> {
        self.users.get(id_or_login).or_else(|| {
            self.users
                .values()
                .find(|u| u["profile"]["login"].as_str().is_some_and(|l| l.eq_ignore_ascii_case(id_or_login)))
        })
    }

    fn app_user(&self, user: &Value, expand: bool) -> Value {
        let id = user["id"].as_str().unwrap_or_default();
        let mut app_user = json!({
            "id": id, "externalId": null, "created": user["created"], "lastUpdated": user["lastUpdated"],
            "scope": "USER", "status": "ACTIVE", "syncState": "DISABLED",
            "credentials": {"userName": user["profile"]["login"]},
            "profile": {"email": user["profile"]["email"]},
            "_links": {"app": {"href": format!("/api/v1/apps/{}", self.app_id)}, "user": {"href": format!("/api/v1/users/{id}")}},
        });
        if expand {
            app_user["_embedded"] = json!({"user": user});
        }
        app_user
    }
}

fn authorised(org: &Org, headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("SSWS {}", org.token))
}

async fn delay_of(headers: &HeaderMap) {
    if let Some(ms) = headers.get("x-sim-delay-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

type Sim = State<OktaSim>;

/// An Okta 404 with the rate-limit headers of the request.
fn not_found(headers: HeaderMap, what: &str) -> Response {
    let mut r = okta_error(StatusCode::NOT_FOUND, "E0000007", &format!("Not found: Resource not found: {what}"));
    r.headers_mut().extend(headers);
    r
}

impl OktaSim {
    /// Authenticates and admits one API request, then reads what it needs from the org.
    fn admitted<T>(&self, headers: &HeaderMap, read: impl FnOnce(&Org) -> T) -> Result<(HeaderMap, T), Box<Response>> {
        let mut org = self.org.lock().expect("lock");
        if !authorised(&org, headers) {
            return Err(Box::new(okta_error(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided")));
        }
        let reply_headers = org.admit()?;
        Ok((reply_headers, read(&org)))
    }
}

async fn api_get_user(State(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let (reply_headers, body) = match sim.admitted(&headers, |org| org.find(&id).cloned()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    delay_of(&reply_headers).await;
    match body {
        Some(user) => (reply_headers, Json(user)).into_response(),
        None => not_found(reply_headers, &format!("{id} (User)")),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    after: Option<String>,
    expand: Option<String>,
}

async fn api_get_app(State(sim): Sim, headers: HeaderMap, Path(app): Path<String>) -> Response {
    let found = sim.admitted(&headers, |org| {
        (app == org.app_id).then(|| {
            json!({
                "id": org.app_id, "name": "oidc_client", "label": "Learning platform", "status": "ACTIVE",
                "signOnMode": "OPENID_CONNECT", "created": "2026-01-05T10:00:00.000Z",
                "lastUpdated": "2026-01-05T10:00:00.000Z",
                "_links": {"users": {"href": format!("/api/v1/apps/{}/users", org.app_id)}},
            })
        })
    });
    found_or_404(found, &format!("{app} (AppInstance)")).await
}

/// One resource read through [`OktaSim::admitted`]: `200` with it, or Okta's `404 E0000007`.
async fn found_or_404(found: Result<(HeaderMap, Option<Value>), Box<Response>>, what: &str) -> Response {
    let (reply_headers, body) = match found {
        Ok(x) => x,
        Err(r) => return *r,
    };
    delay_of(&reply_headers).await;
    match body {
        Some(v) => (reply_headers, Json(v)).into_response(),
        None => not_found(reply_headers, what),
    }
}

async fn api_get_app_user(
    State(sim): Sim,
    headers: HeaderMap,
    Path((app, id)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> Response {
    let expand = q.expand.as_deref() == Some("user");
    let found = sim.admitted(&headers, |org| {
        (app == org.app_id && org.assigned.contains(&id))
            .then(|| org.users.get(&id).map(|u| org.app_user(u, expand)))
            .flatten()
    });
    found_or_404(found, &format!("{id} (AppUser)")).await
}

async fn api_list_app_users(
    State(sim): Sim,
    headers: HeaderMap,
    Path(app): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let expand = q.expand.as_deref() == Some("user");
    let listed = sim.admitted(&headers, |org| {
        (app == org.app_id).then(|| {
            let from = q.after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let ids: Vec<&String> = org.assigned.range::<str, _>((from, Bound::Unbounded)).take(limit + 1).collect();
            let page: Vec<Value> =
                ids.iter().take(limit).filter_map(|id| org.users.get(*id).map(|u| org.app_user(u, expand))).collect();
            (page, (ids.len() > limit).then(|| ids[limit - 1].clone()))
        })
    });
    let (mut reply_headers, (page, next)) = match listed {
        Ok((h, Some(found))) => (h, found),
        Ok((h, None)) => return not_found(h, &format!("{app} (AppInstance)")),
        Err(r) => return *r,
    };
    delay_of(&reply_headers).await;
    let base = format!("{}/api/v1/apps/{app}/users", sim.base_url);
    let expand = q.expand.as_deref().map(|e| format!("&expand={e}")).unwrap_or_default();
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    reply_headers.append(
        "link",
        HeaderValue::from_str(&format!("<{base}?limit={limit}{expand}>; rel=\"self\"")).expect("ascii"),
    );
    if let Some(after) = next {
        reply_headers.append(
            "link",
            HeaderValue::from_str(&format!("<{base}?after={after}&limit={limit}{expand}>; rel=\"next\""))
                .expect("ascii"),
        );
    }
    (reply_headers, Json(page)).into_response()
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
        };
        let sim = Self {
            org: Arc::new(Mutex::new(org)),
            base_url,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client"),
        };
        let app = Router::new()
            .route("/api/v1/users/{id}", get(api_get_user))
            .route("/api/v1/apps/{app}", get(api_get_app))
            .route("/api/v1/apps/{app}/users", get(api_list_app_users))
            .route("/api/v1/apps/{app}/users/{id}", get(api_get_app_user))
            .merge(crate::okta_sim_admin::routes())
            .with_state(sim.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(sim)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Org) -> T) -> T {
        f(&mut self.org.lock().expect("lock"))
    }

    pub fn set_hook(&self, hook: HookTarget) {
        self.with(|o| o.hook = Some(hook));
    }

    /// Replaces the API token the org accepts (the old one is revoked, as an Okta admin would).
    /// Deletes the app from the org (a wrong `app_id` from then on): every app endpoint answers
    /// 404 `E0000007`, the single assignment read exactly as for an unassigned user.
    pub fn delete_app(&self) {
        self.with(|o| o.app_id = format!("{}-deleted", o.app_id));
    }

    pub fn set_token(&self, token: &str) {
        self.with(|o| o.token = token.to_owned());
    }

    pub fn set_auto_deliver(&self, on: bool) {
        self.with(|o| o.auto_deliver = on);
    }

    pub fn auto_deliver(&self) -> bool {
        self.with(|o| o.auto_deliver)
    }

    pub fn set_rate_limit(&self, per_window: u64, window: Duration) {
        self.with(|o| {
            o.rate_limit = per_window;
            o.rate_window = window;
            o.rate_remaining = per_window;
            o.rate_reset = Utc::now() + chrono::Duration::from_std(window).unwrap_or_default();
        });
    }

    pub fn inject(&self, fault: Fault, times: usize) {
        self.with(|o| o.faults.extend(std::iter::repeat_n(fault, times)));
    }

    pub fn requests(&self) -> u64 {
        self.with(|o| o.requests)
    }

    pub fn app_id(&self) -> String {
        self.with(|o| o.app_id.clone())
    }

    /// Creates an ACTIVE user with this profile (`login` defaults to `email`); returns its id.
    pub fn create_user(&self, profile: Map<String, Value>, assign: bool) -> String {
        let id = self.with(|o| {
            o.next_id += 1;
            format!("00u{:017}", o.next_id - 1)
        });
        self.create_user_with_id(&id, profile, assign)
    }

    /// Creates a user with this id (Okta's ids are not ordered by creation: a new person may sort
    /// before everyone a running sync has already listed).
    pub fn create_user_with_id(&self, id: &str, mut profile: Map<String, Value>, assign: bool) -> String {
        let id = id.to_owned();
        self.with(|o| {
            if !profile.contains_key("login") {
                let email = profile.get("email").cloned().unwrap_or(Value::Null);
                profile.insert("login".into(), email);
            }
            let now = ts(o.tick());
            o.users.insert(id.clone(), json!({"id": id, "status": "ACTIVE", "created": now, "activated": now, "statusChanged": now,
                "lastLogin": null, "lastUpdated": now, "passwordChanged": null, "type": {"id": "otysim"}, "profile": profile,
                "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}}, "_links": {"self": {"href": format!("/api/v1/users/{id}")}}}));
            o.event("user.lifecycle.create", &id, false);
            if assign {
                o.assigned.insert(id.clone());
                o.event("application.user_membership.add", &id, true);
            }
            id
        })
    }

    fn touch(o: &mut Org, id: &str, f: impl FnOnce(&mut Value)) -> bool {
        let now = ts(o.tick());
        match o.users.get_mut(id) {
            Some(u) => {
                f(u);
                u["lastUpdated"] = json!(now);
                true
            }
            None => false,
        }
    }

    /// Merges profile attributes (null removes one) and emits `user.account.update_profile`.
    pub fn update_profile(&self, id: &str, changes: Map<String, Value>) -> bool {
        self.with(|o| {
            let ok = Self::touch(o, id, |u| {
                for (k, v) in changes {
                    if v.is_null() {
                        u["profile"].as_object_mut().expect("profile").remove(&k);
                    } else {
                        u["profile"][k] = v;
                    }
                }
            });
            if ok {
                o.event("user.account.update_profile", id, false);
            }
            ok
        })
    }

    pub fn set_status(&self, id: &str, status: &str) -> bool {
        let event = match status {
            "DEPROVISIONED" => "user.lifecycle.deactivate",
            "SUSPENDED" => "user.lifecycle.suspend",
            _ => "user.lifecycle.reactivate",
        };
        self.with(|o| {
            let before = o.users.get(id).map(|u| u["status"].as_str().unwrap_or_default().to_owned());
            let event = if before.as_deref() == Some("SUSPENDED") && status == "ACTIVE" {
                "user.lifecycle.unsuspend"
            } else {
                event
            };
            let ok = Self::touch(o, id, |u| {
                u["status"] = json!(status);
                u["statusChanged"] = u["lastUpdated"].clone();
            });
            if ok {
                o.event(event, id, false);
            }
            ok
        })
    }

    pub fn deactivate(&self, id: &str) -> bool {
        self.set_status(id, "DEPROVISIONED")
    }
    pub fn reactivate(&self, id: &str) -> bool {
        self.set_status(id, "ACTIVE")
    }
    pub fn suspend(&self, id: &str) -> bool {
        self.set_status(id, "SUSPENDED")
    }

    /// Deletes a user (Okta deactivates first if needed, as its API does on the first DELETE).
    pub fn delete(&self, id: &str) -> bool {
        let status = self.with(|o| o.users.get(id).map(|u| u["status"].as_str().unwrap_or_default().to_owned()));
        match status {
            None => false,
            Some(s) => {
                if s != "DEPROVISIONED" {
                    self.deactivate(id);
                }
                self.with(|o| {
                    o.event("user.lifecycle.delete.initiated", id, false);
                    o.users.remove(id);
                    o.assigned.remove(id);
                });
                true
            }
        }
    }

    pub fn assign(&self, id: &str) -> bool {
        self.with(|o| {
            if !o.users.contains_key(id) {
                return false;
            }
            o.assigned.insert(id.to_owned());
            o.event("application.user_membership.add", id, true);
            true
        })
    }

    pub fn unassign(&self, id: &str) -> bool {
        self.with(|o| {
            if !o.users.contains_key(id) || !o.assigned.remove(id) {
                return false;
            }
            o.event("application.user_membership.remove", id, true);
            true
        })
    }

    pub fn user(&self, id: &str) -> Option<Value> {
        self.with(|o| o.users.get(id).cloned())
    }

    pub fn users(&self) -> Vec<Value> {
        self.with(|o| o.users.values().cloned().collect())
    }

    pub fn is_assigned(&self, id: &str) -> bool {
        self.with(|o| o.assigned.contains(id))
    }

    pub fn pending_events(&self) -> usize {
        self.with(|o| o.events.len())
    }

    /// Drops the pending events undelivered (an event hook that was off, or deliveries Okta gave
    /// up on): only a sync can learn what they said.
    pub fn discard_events(&self) {
        self.with(|o| o.events.clear());
    }

    /// Sends every pending event to the hook as Okta would, possibly duplicated and reordered.
    /// Returns the HTTP status of each delivery attempt.
    pub async fn deliver(&self, opts: DeliverOptions) -> Vec<u16> {
        let (hook, events) = self.with(|o| (o.hook.clone(), std::mem::take(&mut o.events)));
        let Some(hook) = hook else { return Vec::new() };
        let mut rng = Rng::new(opts.seed);
        let mut batches: Vec<Vec<Value>> = events.chunks(opts.batch.max(1)).map(<[Value]>::to_vec).collect();
        // Events repeated in a later envelope (same uuid, new eventId).
        let mut repeats = Vec::new();
        for e in &events {
            if rng.chance(opts.repeat_event_percent) {
                repeats.push(e.clone());
            }
        }
        if !repeats.is_empty() {
            batches.push(repeats);
        }
        let mut envelopes: Vec<Value> = batches
            .into_iter()
            .map(|mut evs| {
                if opts.shuffle {
                    rng.shuffle(&mut evs);
                }
                json!({"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
                    "source": format!("{}/api/v1/eventHooks/whosim", self.base_url), "eventId": uuid::Uuid::new_v4().to_string(),
                    "eventTime": ts(Utc::now()), "contentType": "application/json", "data": {"events": evs}})
            })
            .collect();
        let originals = envelopes.len();
        for i in 0..originals {
            if rng.chance(opts.duplicate_percent) {
                envelopes.push(envelopes[i].clone());
            }
        }
        if opts.shuffle {
            rng.shuffle(&mut envelopes);
        }
        let mut statuses = Vec::new();
        for envelope in envelopes {
            let mut attempt = 0;
            loop {
                let sent = self
                    .http
                    .post(&hook.url)
                    .header("accept", "application/json")
                    .header("content-type", "application/json")
                    .header(hook.header.as_str(), hook.secret.as_str())
                    .body(envelope.to_string())
                    .send()
                    .await;
                let status = sent.map(|r| r.status().as_u16()).unwrap_or(599);
                statuses.push(status);
                // Okta retries once after a 5xx or a timeout, never after a 4xx.
                if status >= 500 && attempt == 0 {
                    attempt += 1;
                    continue;
                }
                break;
            }
        }
        statuses
    }
}
