//! What "Connect to Okta" reads and writes in the org (docs/okta-wire.md §1.1, §2): the app's
//! settings (sign-on mode, redirect URIs, client id, SAML ACS and audience), a user list probe,
//! the Event Hooks API (list, create, update, verify: the org calls the hook's URL with a
//! challenge, as Okta does, and delivers to it once verified), and the org authorization
//! server's discovery document and keys.
use std::net::SocketAddr;

use axum::routing::{get, post};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::*;

pub(super) fn routes() -> Router<OktaSim> {
    Router::new()
        .route("/api/v1/users", get(api_list_users))
        .route("/api/v1/eventHooks", get(api_list_hooks).post(api_create_hook))
        .route("/api/v1/eventHooks/{id}", get(api_get_hook).put(api_update_hook))
        .route("/api/v1/eventHooks/{id}/lifecycle/verify", post(api_verify_hook))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/v1/keys", get(|| async { Json(json!({"keys": []})) }))
        .route("/sim/app", get(sim_get_app).post(sim_set_app))
        .route("/sim/event-hooks", get(sim_hooks))
        .fallback(to_authorization_server)
}

/// The org's authorization server, when an OpenID provider plays it (`make dev`).
async fn to_authorization_server(State(sim): Sim, req: axum::extract::Request) -> Response {
    let Some(upstream) = sim.with(|o| o.oidc_upstream.clone()) else {
        return okta_error(StatusCode::NOT_FOUND, "E0000022", "The endpoint does not support the provided HTTP method");
    };
    match crate::oidc_op::forward(&upstream, req).await {
        Some((status, headers, body)) => (status, headers, axum::body::Body::from(body)).into_response(),
        None => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// The app as `GET /api/v1/apps/{id}` shows it, before the org's `id` and links.
pub(super) fn default_app() -> Value {
    json!({"name": "oidc_client", "label": "Learning platform", "status": "ACTIVE", "signOnMode": "OPENID_CONNECT",
           "settings": {"oauthClient": {"redirect_uris": []}}, "credentials": {"oauthClient": {"client_id": "0oasimclient"}}})
}

/// An event hook as the org keeps it (the secret too, to deliver with; Okta never returns it).
#[derive(Debug, Clone)]
pub(super) struct StoredHook {
    pub wire: Value,
    pub secret: String,
}

impl StoredHook {
    fn header(&self) -> String {
        self.wire["channel"]["config"]["authScheme"]["key"].as_str().unwrap_or("Authorization").to_owned()
    }
    fn uri(&self) -> String {
        self.wire["channel"]["config"]["uri"].as_str().unwrap_or_default().to_owned()
    }
}

/// Names under `localhost` resolve to loopback, as browsers resolve them (`acme.localhost`).
struct LoopbackResolver;

impl Resolve for LoopbackResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs: Addrs = Box::new(vec![SocketAddr::from(([127, 0, 0, 1], 0))].into_iter());
                return Ok(addrs);
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The client the org calls hooks with (`timeout`: 3 s for verification, as Okta's), names
/// under `localhost` resolved to loopback.
pub(super) fn hook_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(LoopbackResolver))
        .build()
        .expect("http client")
}

type Sim = State<OktaSim>;

/// Authenticates, rate-limits and checks the token may manage hooks.
fn admitted_hooks(sim: &OktaSim, headers: &HeaderMap) -> Result<HeaderMap, Box<Response>> {
    let mut org = sim.org.lock().expect("lock");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("SSWS {}", org.token)) {
        return Err(Box::new(okta_error(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided")));
    }
    let h = org.admit()?;
    if !org.hooks_manageable {
        return Err(Box::new(okta_error(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        )));
    }
    Ok(h)
}

async fn api_list_users(State(sim): Sim, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(200).clamp(1, 200);
    let found = sim.admitted(&headers, |org| org.users.values().take(limit).cloned().collect::<Vec<_>>());
    match found {
        Ok((h, users)) => {
            super::wire::delay_of(&h).await;
            (h, Json(users)).into_response()
        }
        Err(r) => *r,
    }
}

fn hook_not_found(id: &str) -> Response {
    okta_error(StatusCode::NOT_FOUND, "E0000007", &format!("Not found: Resource not found: {id} (EventHook)"))
}

fn hook_wire(id: &str, body: &Value, verification: &str, created: &str) -> Value {
    let mut channel = body["channel"].clone();
    // authScheme.value is write-only.
    if let Some(scheme) = channel["config"]["authScheme"].as_object_mut() {
        scheme.remove("value");
    }
    json!({"id": id, "status": "ACTIVE", "verificationStatus": verification, "name": body["name"],
           "events": body["events"], "channel": channel, "created": created, "lastUpdated": ts(Utc::now()),
           "createdBy": "00uadmin0000000000x1",
           "_links": {"verify": {"href": format!("/api/v1/eventHooks/{id}/lifecycle/verify"), "hints": {"allow": ["POST"]}}}})
}

fn invalid_hook(body: &Value) -> Option<Response> {
    let uri = body["channel"]["config"]["uri"].as_str().unwrap_or_default();
    let items = body["events"]["items"].as_array().map_or(0, Vec::len);
    if uri.is_empty() || items == 0 || body["events"]["type"] != "EVENT_TYPE" || body["channel"]["type"] != "HTTP" {
        return Some(okta_error(StatusCode::BAD_REQUEST, "E0000001", "Api validation failed: eventHook"));
    }
    None
}

async fn api_list_hooks(State(sim): Sim, headers: HeaderMap) -> Response {
    match admitted_hooks(&sim, &headers) {
        Ok(h) => {
            (h, Json(sim.with(|o| o.event_hooks.iter().map(|x| x.wire.clone()).collect::<Vec<_>>()))).into_response()
        }
        Err(r) => *r,
    }
}

async fn api_get_hook(State(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let h = match admitted_hooks(&sim, &headers) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    match sim.with(|o| o.event_hooks.iter().find(|x| x.wire["id"] == id).map(|x| x.wire.clone())) {
        Some(w) => (h, Json(w)).into_response(),
        None => hook_not_found(&id),
    }
}

/// A create or update: admitted, the body valid; the rate-limit headers and the secret it sets.
fn admitted_write(sim: &OktaSim, headers: &HeaderMap, body: &Value) -> Result<(HeaderMap, String), Box<Response>> {
    let h = admitted_hooks(sim, headers)?;
    if let Some(r) = invalid_hook(body) {
        return Err(Box::new(r));
    }
    Ok((h, body["channel"]["config"]["authScheme"]["value"].as_str().unwrap_or_default().to_owned()))
}

async fn api_create_hook(State(sim): Sim, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let (h, secret) = match admitted_write(&sim, &headers, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let wire = sim.with(|o| {
        let id = format!("who{:017}", o.event_hooks.len() + 1);
        let wire = hook_wire(&id, &body, "UNVERIFIED", &ts(Utc::now()));
        o.event_hooks.push(StoredHook { wire: wire.clone(), secret });
        wire
    });
    (StatusCode::OK, h, Json(wire)).into_response()
}

async fn api_update_hook(
    State(sim): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let (h, secret) = match admitted_write(&sim, &headers, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let updated = sim.with(|o| {
        let hook = o.event_hooks.iter_mut().find(|x| x.wire["id"] == id)?;
        let created = hook.wire["created"].as_str().unwrap_or_default().to_owned();
        // A changed channel must be verified again.
        let verification = if hook.wire["channel"]["config"]["uri"] == body["channel"]["config"]["uri"] {
            hook.wire["verificationStatus"].as_str().unwrap_or("UNVERIFIED").to_owned()
        } else {
            "UNVERIFIED".to_owned()
        };
        hook.wire = hook_wire(&id, &body, &verification, &created);
        if !secret.is_empty() {
            hook.secret = secret;
        }
        Some(hook.wire.clone())
    });
    match updated {
        Some(w) => (h, Json(w)).into_response(),
        None => hook_not_found(&id),
    }
}

/// Okta's verification: a GET with `X-Okta-Verification-Challenge` and the hook's auth header;
/// the answer must be `{"verification": challenge}`. Verified hooks get the org's deliveries.
async fn api_verify_hook(State(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let h = match admitted_hooks(&sim, &headers) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let Some(hook) = sim.with(|o| o.event_hooks.iter().find(|x| x.wire["id"] == id).cloned()) else {
        return hook_not_found(&id);
    };
    let challenge = uuid::Uuid::new_v4().simple().to_string();
    let client = hook_client(Duration::from_secs(3));
    let mut answered = false;
    // One retry after a timeout or an error, as Okta does.
    for _ in 0..2 {
        let sent = client
            .get(hook.uri())
            .header("x-okta-verification-challenge", &challenge)
            .header(hook.header().as_str(), hook.secret.as_str())
            .send()
            .await;
        if let Ok(r) = sent {
            if r.status().is_success() {
                answered = r.json::<Value>().await.ok().and_then(|v| v["verification"].as_str().map(str::to_owned))
                    == Some(challenge.clone());
                break;
            }
        }
    }
    if !answered {
        return okta_error(
            StatusCode::BAD_REQUEST,
            "E0000001",
            "Api validation failed: Verification of event hook failed: the endpoint did not answer the challenge",
        );
    }
    let wire = sim.with(|o| {
        let stored = o.event_hooks.iter_mut().find(|x| x.wire["id"] == id)?;
        stored.wire["verificationStatus"] = json!("VERIFIED");
        Some(stored.wire.clone())
    });
    match wire {
        Some(w) => (h, Json(w)).into_response(),
        None => okta_error(StatusCode::NOT_FOUND, "E0000007", "Not found"),
    }
}

async fn discovery(State(sim): Sim, req: axum::extract::Request) -> Response {
    if sim.with(|o| o.oidc_upstream.is_some()) {
        return to_authorization_server(State(sim), req).await;
    }
    let b = &sim.base_url;
    Json(json!({
        "issuer": b, "authorization_endpoint": format!("{b}/oauth2/v1/authorize"),
        "token_endpoint": format!("{b}/oauth2/v1/token"), "userinfo_endpoint": format!("{b}/oauth2/v1/userinfo"),
        "jwks_uri": format!("{b}/oauth2/v1/keys"), "end_session_endpoint": format!("{b}/oauth2/v1/logout"),
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid", "email", "profile"],
    }))
    .into_response()
}

async fn sim_get_app(State(sim): Sim) -> Response {
    Json(sim.app()).into_response()
}

/// Changes the app as an Okta admin would in its settings: `{"signOnMode", "redirect_uris",
/// "add_redirect_uris", "client_id", "acs_url", "audience", "label", "status"}`, each optional.
async fn sim_set_app(State(sim): Sim, Json(body): Json<Value>) -> Response {
    sim.configure_app(&body);
    Json(sim.app()).into_response()
}

async fn sim_hooks(State(sim): Sim) -> Response {
    Json(sim.with(|o| o.event_hooks.iter().map(|x| x.wire.clone()).collect::<Vec<_>>())).into_response()
}

impl OktaSim {
    /// The app as the Apps API returns it.
    pub fn app(&self) -> Value {
        self.with(|o| {
            let mut app = o.app.clone();
            app["id"] = json!(o.app_id);
            app["created"] = json!("2026-01-05T10:00:00.000Z");
            app["lastUpdated"] = json!("2026-01-05T10:00:00.000Z");
            app["_links"] = json!({"users": {"href": format!("/api/v1/apps/{}/users", o.app_id)}});
            app
        })
    }

    /// See [`sim_set_app`].
    pub fn configure_app(&self, body: &Value) {
        self.with(|o| {
            let app = &mut o.app;
            for key in ["signOnMode", "label", "status"] {
                if let Some(v) = body.get(key) {
                    app[key] = v.clone();
                }
            }
            if let Some(v) = body.get("redirect_uris") {
                app["settings"]["oauthClient"] = json!({"redirect_uris": v});
            }
            // As an Okta admin adds a sign-in redirect URI to the app's list.
            if let Some(Value::Array(more)) = body.get("add_redirect_uris") {
                let mut uris = app["settings"]["oauthClient"]["redirect_uris"].as_array().cloned().unwrap_or_default();
                for uri in more {
                    if !uris.contains(uri) {
                        uris.push(uri.clone());
                    }
                }
                app["settings"]["oauthClient"] = json!({"redirect_uris": uris});
            }
            if let Some(v) = body.get("client_id") {
                app["credentials"]["oauthClient"] = json!({"client_id": v});
            }
            if body.get("acs_url").is_some() || body.get("audience").is_some() {
                app["settings"]["signOn"] = json!({"ssoAcsUrl": body.get("acs_url"), "audience": body.get("audience")});
            }
        });
    }

    /// Serves the org's authorization server (its issuer is the org's URL, as Okta's org
    /// authorization server) from `upstream`, an OpenID provider started with that issuer.
    pub fn set_oidc_upstream(&self, upstream: &str) {
        self.with(|o| o.oidc_upstream = Some(upstream.to_owned()));
    }

    /// Each page of app users answers after `delay` (a large org, to watch a sync's progress).
    pub fn set_page_delay(&self, delay: Duration) {
        self.with(|o| o.page_delay = delay);
    }

    /// Whether the API token may read and manage event hooks (a Super Administrator's may).
    pub fn set_hooks_manageable(&self, on: bool) {
        self.with(|o| o.hooks_manageable = on);
    }

    /// An event hook an Okta admin created and verified by hand, subscribing to every event the
    /// bridge handles; the org delivers to it from now on.
    pub fn add_verified_hook(&self, target: HookTarget) {
        let body = json!({"name": "Learning platform", "events": {"type": "EVENT_TYPE", "items": shared::domain::okta::HANDLED_EVENT_TYPES},
            "channel": {"type": "HTTP", "version": "1.0.0", "config": {"uri": target.url, "headers": [],
                "authScheme": {"type": "HEADER", "key": target.header}}}});
        self.with(|o| {
            let id = format!("who{:017}", o.event_hooks.len() + 1);
            let wire = hook_wire(&id, &body, "VERIFIED", &ts(Utc::now()));
            o.event_hooks.push(StoredHook { wire, secret: target.secret.clone() });
            o.hook = Some(target);
        });
    }

    /// The org's event hooks, as the Event Hooks API lists them.
    pub fn event_hooks(&self) -> Vec<Value> {
        self.with(|o| o.event_hooks.iter().map(|x| x.wire.clone()).collect())
    }
}

impl Org {
    /// Where deliveries go: the hook a test set, and every verified hook of the Event Hooks API
    /// (each tenant's), once per URL.
    pub(super) fn hook_targets(&self) -> Vec<HookTarget> {
        let mut targets: Vec<HookTarget> = self.hook.iter().cloned().collect();
        for h in &self.event_hooks {
            let live = h.wire["verificationStatus"] == "VERIFIED" && h.wire["status"] == "ACTIVE";
            if live && !targets.iter().any(|t| t.url == h.uri()) {
                targets.push(HookTarget { url: h.uri(), header: h.header(), secret: h.secret.clone() });
            }
        }
        targets
    }
}
