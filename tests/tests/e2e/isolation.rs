//! The tenant isolation sweep: for every route of every function in `template.yaml` (and every
//! admin operation in the OpenAPI document), tenant A's credentials and identifiers are used
//! against tenant B. Every attempt must be refused, no answer may carry anything of B's (or A's),
//! and B's data must be the same afterwards. A route the sweep does not know fails the test, so
//! a new route cannot ship without its isolation check. The figure is printed at the end.
use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use shared::domain::change::{Action, Actor, EntityKind, NewChange};
use shared::domain::group::{Group, Member};
use shared::domain::sso::{LoginState, Session};
use shared::domain::sync_run::{RunTrigger, SyncRun};
use shared::domain::user::User;
use shared::domain::{Email, GroupId, OktaUserId, TenantId, UserId};
use shared::ports::{GroupStore, LoginStateStore, SyncStore, UserWriter};

use crate::helpers::{Reply, TestApp};
use crate::scim::flows::Client;

/// What tenant A holds that an attacker in A could present to B.
struct TenantA {
    hook_secret: String,
    scim_token: String,
    scim_token_id: String,
    admin_token: String,
    admin_token_id: String,
    cookie: String,
    state: String,
    user: String,
    okta_id: String,
    group: String,
    run: String,
}

struct Sweep<'a> {
    app: &'a TestApp,
    /// Strings that must never appear in an answer to an attempt: B's ids, emails and secrets,
    /// and A's too.
    forbidden: Vec<String>,
    attempts: usize,
    routes: BTreeSet<(String, String)>,
}

impl Sweep<'_> {
    /// One attempt: `route` is the template's (method, path) it exercises.
    async fn attempt(&mut self, route: (&str, &str), req: Request<Body>, refused: &[StatusCode]) -> Reply {
        let what = format!("{} {}", req.method(), req.uri());
        let r = self.app.call(req).await;
        assert!(refused.contains(&r.status), "{what}: {} is not a refusal: {}", r.status, r.body);
        let location = r.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("");
        for f in &self.forbidden {
            assert!(
                !r.body.contains(f.as_str()) && !location.contains(f.as_str()),
                "{what} answered with {f:.12}…: {}",
                r.body
            );
        }
        self.attempts += 1;
        self.routes.insert((route.0.to_owned(), route.1.to_owned()));
        r
    }
}

fn req(method: &str, uri: &str, headers: &[(&str, &str)], body: Option<Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri).header("host", "127.0.0.1:3000");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    match body {
        Some(v) => b.header("content-type", "application/json").body(Body::from(v.to_string())).unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

fn change(entity: EntityKind, id: &str) -> NewChange {
    NewChange {
        at: chrono::Utc::now(),
        actor: Actor::Admin,
        entity,
        entity_id: id.into(),
        action: Action::Created,
        changes: Default::default(),
    }
}

/// Tenant A, with a user, a group, a sync run, a login in flight and a signed-in session.
async fn tenant_a(app: &TestApp) -> TenantA {
    let scim = Client::new(app, "iso-a").await;
    let store = &app.functions.adapters.store;
    let a = TenantId::parse("iso-a").unwrap();
    let now = chrono::Utc::now();
    let mut u = User::new(
        UserId::from_random([0xa1; 16]),
        Email::parse("alice@a.example").unwrap(),
        "Alice".into(),
        "A".into(),
        now,
    );
    u.okta_id = Some(OktaUserId::parse("00uAliceOfTenantA001").unwrap());
    store.create_user(&a, &u, &[change(EntityKind::User, u.id.as_str())]).await.unwrap();
    let g = Group {
        id: GroupId::from_random([0xa2; 16]),
        display_name: "A group".into(),
        external_id: None,
        created_at: now,
        updated_at: now,
        version: 0,
    };
    store.create_group(&a, &g, &change(EntityKind::Group, g.id.as_str())).await.unwrap();
    store
        .change_members(
            &a,
            &g.id,
            &[Member::User(u.id.clone())],
            &[],
            None,
            &change(EntityKind::Membership, g.id.as_str()),
        )
        .await
        .unwrap();
    let run = store
        .create_run(&SyncRun::new("run-of-tenant-a".into(), a.clone(), RunTrigger::Admin, true, now))
        .await
        .unwrap();
    let state = "state-of-tenant-a-0123456789".to_owned();
    store
        .put_login(&LoginState {
            tenant: a.clone(),
            state: state.clone(),
            nonce: "nonce-of-a".into(),
            pkce_verifier: "verifier-of-a".into(),
            redirect_uri: "http://127.0.0.1:3000/t/iso-a/okta/auth_callback".into(),
            return_to: "/".into(),
            browser_binding: "binding-of-a".into(),
            created_at: now,
            expires_at: now + chrono::Duration::minutes(10),
        })
        .await
        .unwrap();
    let keys = app.functions.adapters.root.secrets.session_keys().await.unwrap();
    let session = Session {
        tenant: a.clone(),
        user_id: u.id.clone(),
        okta_id: u.okta_id.clone().unwrap(),
        sid: "session-of-tenant-a".into(),
        issued_at: now,
        expires_at: now + chrono::Duration::hours(1),
    };
    store
        .put_session(&shared::domain::sso::SessionRecord {
            tenant: a.clone(),
            sid: session.sid.clone(),
            user_id: u.id.clone(),
            id_token: Some("id-token-of-tenant-a".into()),
            created_at: now,
            expires_at: session.expires_at,
        })
        .await
        .unwrap();
    let hook = app.admin("POST", "/admin/tenants/iso-a/event-hook-secret", None).await.json();
    let tokens = app.admin("GET", "/admin/tenants/iso-a/scim-tokens", None).await.json();
    let admin_token = app.admin("POST", "/admin/tenants/iso-a/admin-tokens", None).await.json();
    TenantA {
        admin_token: admin_token["token"].as_str().unwrap().to_owned(),
        admin_token_id: admin_token["id"].as_str().unwrap().to_owned(),
        hook_secret: hook["secret"].as_str().unwrap().to_owned(),
        scim_token: scim.auth.trim_start_matches("Bearer ").to_owned(),
        scim_token_id: tokens["tokens"][0]["id"].as_str().unwrap().to_owned(),
        cookie: format!("okta_bridge_session={}", session.seal(&keys[0])),
        state,
        user: u.id.to_string(),
        okta_id: u.okta_id.unwrap().to_string(),
        group: g.id.to_string(),
        run: run.id,
    }
}

/// B's state as an admin sees it, to compare before and after the sweep.
async fn snapshot(app: &TestApp) -> Value {
    let mut out = json!({});
    for part in [
        "",
        "/users",
        "/groups",
        "/teams",
        "/scim-tokens",
        "/admin-tokens",
        "/sync-runs",
        "/changes?after=0&limit=1000",
    ] {
        out[part] = app.admin("GET", &format!("/admin/tenants/iso-b{part}"), None).await.json();
    }
    // The config's `updated_at` is the only field a refused write could have touched.
    out
}

#[tokio::test]
async fn tenant_a_cannot_reach_tenant_b_on_any_route() {
    let app = TestApp::spawn().await;
    let a = tenant_a(&app).await;
    // Tenant B: SCIM users and a group, SSO on, a hook secret.
    let b = Client::new(&app, "iso-b").await;
    let b_user = b.create("bob@b.example", json!({"externalId": "bob-ext"})).await;
    let b_group = b.post("/Groups", &json!({"displayName": "B group", "members": [{"value": b_user}]})).await.json()
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut config = app.admin("GET", "/admin/tenants/iso-b", None).await.json();
    for k in ["tenant", "created_at", "updated_at", "version"] {
        config.as_object_mut().unwrap().remove(k);
    }
    config["sso_enabled"] = json!(true);
    config["client_id"] = json!("0oaB");
    assert_eq!(app.admin("PUT", "/admin/tenants/iso-b", Some(config)).await.status, StatusCode::OK);
    let b_hook = app.admin("POST", "/admin/tenants/iso-b/event-hook-secret", None).await.json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = snapshot(&app).await;

    let mut sweep = Sweep {
        app: &app,
        forbidden: vec![
            b_user.clone(),
            "bob@b.example".into(),
            b_group.clone(),
            b_hook.clone(),
            b.auth.trim_start_matches("Bearer ").to_owned(),
            a.user.clone(),
            "alice@a.example".into(),
            a.group.clone(),
            a.hook_secret.clone(),
            a.scim_token.clone(),
            a.admin_token.clone(),
            "id-token-of-tenant-a".into(),
        ],
        attempts: 0,
        routes: BTreeSet::new(),
    };
    let (unauthorized, not_found, bad) = (StatusCode::UNAUTHORIZED, StatusCode::NOT_FOUND, StatusCode::BAD_REQUEST);
    // B provisions by SCIM, so its hook endpoint is off (404); with hooks on, A's secret is a 401
    // (the webhook tests check that one).
    let hook_refusals = [unauthorized, not_found];

    // Webhook receiver: A's secret on B, by path and by host; a request naming both tenants.
    let challenge = [("x-okta-verification-challenge", "c"), ("authorization", a.hook_secret.as_str())];
    let delivery = json!({"eventType": "com.okta.event_hook", "eventId": "e1", "data": {"events": [{"uuid": "u1",
        "published": "2026-11-26T00:00:00Z", "eventType": "user.lifecycle.deactivate", "target": [{"id": "00uBobOfTenantB00001", "type": "User"}]}]}});
    let depth = app.queue_depth().await;
    for (route, host_route) in [
        (("GET", "/t/{tenant}/webhooks/okta"), ("GET", "/webhooks/okta")),
        (("POST", "/t/{tenant}/webhooks/okta"), ("POST", "/webhooks/okta")),
    ] {
        let body = (route.0 == "POST").then(|| delivery.clone());
        let headers: &[(&str, &str)] = if route.0 == "GET" { &challenge } else { &challenge[1..] };
        sweep.attempt(route, req(route.0, "/t/iso-b/webhooks/okta", headers, body.clone()), &hook_refusals).await;
        let mut by_host = req(host_route.0, "/webhooks/okta", headers, body.clone());
        by_host.headers_mut().insert("host", "iso-b.localhost:3000".parse().unwrap());
        sweep.attempt(host_route, by_host, &hook_refusals).await;
        let mut both = req(route.0, "/t/iso-a/webhooks/okta", headers, body);
        both.headers_mut().insert("host", "iso-b.localhost:3000".parse().unwrap());
        sweep.attempt(route, both, &[bad]).await;
    }
    assert_eq!(app.queue_depth().await, depth, "nothing queued");

    // SCIM: A's token on every kind of B's route (any scheme); B's token with A's identifiers.
    let a_bearer = format!("Bearer {}", a.scim_token);
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let gpatch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": a.user}]}]});
    for (m, p) in [
        ("GET", "".to_owned()),
        ("GET", "/ServiceProviderConfig".into()),
        ("GET", "/Schemas".into()),
        ("GET", "/Users".into()),
        ("POST", "/Users".into()),
        ("GET", format!("/Users/{b_user}")),
        ("PUT", format!("/Users/{b_user}")),
        ("PATCH", format!("/Users/{b_user}")),
        ("DELETE", format!("/Users/{b_user}")),
        ("GET", "/Users?filter=userName%20eq%20%22bob%40b.example%22".into()),
        ("GET", "/Groups".into()),
        ("POST", "/Groups".into()),
        ("GET", format!("/Groups/{b_group}")),
        ("PATCH", format!("/Groups/{b_group}")),
        ("DELETE", format!("/Groups/{b_group}")),
    ] {
        let route = if p.is_empty() { "/t/{tenant}/scim/v2" } else { "/t/{tenant}/scim/v2/{proxy+}" };
        let body = match (m, p.starts_with("/Groups")) {
            ("PATCH", true) => Some(gpatch.clone()),
            ("POST" | "PUT" | "PATCH", _) => Some(patch.clone()),
            _ => None,
        };
        for auth in [a_bearer.clone(), a.scim_token.clone()] {
            let r = req(m, &format!("/t/iso-b/scim/v2{p}"), &[("authorization", &auth)], body.clone());
            sweep.attempt(("ANY", route), r, &[unauthorized]).await;
        }
        let mut by_host = req(m, &format!("/scim/v2{p}"), &[("authorization", &a_bearer)], body);
        by_host.headers_mut().insert("host", "iso-b.localhost:3000".parse().unwrap());
        let host_route = if p.is_empty() { "/scim/v2" } else { "/scim/v2/{proxy+}" };
        sweep.attempt(("ANY", host_route), by_host, &[unauthorized]).await;
    }
    let b_bearer = b.auth.clone();
    for (m, p) in [
        ("GET", format!("/Users/{}", a.user)),
        ("PUT", format!("/Users/{}", a.user)),
        ("PATCH", format!("/Users/{}", a.user)),
        ("DELETE", format!("/Users/{}", a.user)),
        ("GET", format!("/Groups/{}", a.group)),
        ("PATCH", format!("/Groups/{}", a.group)),
        ("DELETE", format!("/Groups/{}", a.group)),
    ] {
        let body = match (m, p.starts_with("/Groups")) {
            ("PUT", _) => Some(json!({"userName": "x@b.example"})),
            ("PATCH", true) => Some(gpatch.clone()),
            ("PATCH", false) => Some(patch.clone()),
            _ => None,
        };
        let r = req(m, &format!("/t/iso-b/scim/v2{p}"), &[("authorization", &b_bearer)], body);
        sweep.attempt(("ANY", "/t/{tenant}/scim/v2/{proxy+}"), r, &[not_found]).await;
    }
    for f in [format!("id eq \"{}\"", a.user), "userName eq \"alice@a.example\"".into()] {
        let q: String = url::form_urlencoded::byte_serialize(f.as_bytes()).collect();
        let r = app
            .call(req("GET", &format!("/t/iso-b/scim/v2/Users?filter={q}"), &[("authorization", &b_bearer)], None))
            .await;
        assert_eq!(r.json()["totalResults"], 0, "{f}");
    }

    // SSO: A's login state and A's session on B's routes.
    let cookie = [("cookie", a.cookie.as_str())];
    for (template_route, path) in [
        ("/t/{tenant}/okta/auth_callback", "/t/iso-b/okta/auth_callback"),
        ("/t/{tenant}/{locale}/okta/auth_callback", "/t/iso-b/en/okta/auth_callback"),
        ("/t/{tenant}/users/auth/okta/callback", "/t/iso-b/users/auth/okta/callback"),
    ] {
        let uri = format!("{path}?code=code-of-a&state={}", a.state);
        sweep.attempt(("GET", template_route), req("GET", &uri, &cookie, None), &[bad]).await;
    }
    for (template_route, path) in [
        ("/okta/auth_callback", "/okta/auth_callback"),
        ("/{locale}/okta/auth_callback", "/en/okta/auth_callback"),
        ("/users/auth/okta/callback", "/users/auth/okta/callback"),
    ] {
        let mut r = req("GET", &format!("{path}?code=code-of-a&state={}", a.state), &cookie, None);
        r.headers_mut().insert("host", "iso-b.localhost:3000".parse().unwrap());
        sweep.attempt(("GET", template_route), r, &[bad]).await;
    }
    sweep.attempt(("GET", "/t/{tenant}/okta/me"), req("GET", "/t/iso-b/okta/me", &cookie, None), &[unauthorized]).await;
    let mut me = req("GET", "/okta/me", &cookie, None);
    me.headers_mut().insert("host", "iso-b.localhost:3000".parse().unwrap());
    sweep.attempt(("GET", "/okta/me"), me, &[unauthorized]).await;
    // Logout with A's cookie on B: B's cookie is cleared and no hint of A's session goes anywhere.
    let see_other = StatusCode::SEE_OTHER;
    let r = sweep
        .attempt(("POST", "/t/{tenant}/okta/logout"), req("POST", "/t/iso-b/okta/logout", &cookie, None), &[see_other])
        .await;
    assert!(!r.headers.get("location").unwrap().to_str().unwrap().contains("id_token_hint"));
    let mut out = req("POST", "/okta/logout", &cookie, None);
    out.headers_mut().insert("host", "iso-b.localhost:3000".parse().unwrap());
    sweep.attempt(("POST", "/okta/logout"), out, &[see_other]).await;
    // Starting a login carries no credential; A's state is still unused and works for A only.
    for route in [("GET", "/okta/login"), ("GET", "/t/{tenant}/okta/login")] {
        sweep.routes.insert((route.0.into(), route.1.into()));
    }
    // SAML: the SP metadata and the start of a login carry no credential. A signed response made
    // for A, posted to B's ACS with A's cookie, signs no one in at B.
    for route in ["/saml/metadata", "/t/{tenant}/saml/metadata", "/saml/login", "/t/{tenant}/saml/login"] {
        sweep.routes.insert(("GET".into(), route.into()));
    }
    let for_a = shared::domain::saml::testing::TestResponse::new(
        "http://127.0.0.1:3000/t/iso-a/saml/acs",
        "http://127.0.0.1:3000/t/iso-a/saml/metadata",
        "alice@a.example",
        chrono::Utc::now(),
    );
    let form = serde_urlencoded::to_string([("SAMLResponse", for_a.posted())]).unwrap();
    let acs = |uri: &str| {
        Request::builder()
            .method("POST")
            .uri(uri)
            .header("host", "127.0.0.1:3000")
            .header("cookie", a.cookie.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.clone()))
            .unwrap()
    };
    sweep.attempt(("POST", "/t/{tenant}/saml/acs"), acs("/t/iso-b/saml/acs"), &[not_found, unauthorized]).await;
    let mut by_host = acs("/saml/acs");
    by_host.headers_mut().insert("host", "iso-b.localhost:3000".parse().unwrap());
    sweep.attempt(("POST", "/saml/acs"), by_host, &[not_found, unauthorized]).await;

    // Admin API, with the operator's token (every tenant): A's identifiers named under B find
    // nothing. Every documented operation with an id is tried.
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/../functions/admin-api/openapi.json", env!("CARGO_MANIFEST_DIR")))
            .unwrap(),
    )
    .unwrap();
    let mut admin_attempts = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.contains("{tenant}") || !(path.contains("{id}") || path.contains("{name}")) {
            continue;
        }
        for method in ops.as_object().unwrap().keys().filter(|m| *m != "parameters") {
            let id = if path.contains("/users/") {
                a.user.clone()
            } else if path.contains("/sync-runs/") {
                a.run.clone()
            } else if path.contains("/scim-tokens/") {
                a.scim_token_id.clone()
            } else if path.contains("/admin-tokens/") {
                a.admin_token_id.clone()
            } else {
                continue;
            };
            let uri = path.replace("{tenant}", "iso-b").replace("{id}", &id);
            let r = app.admin(&method.to_uppercase(), &uri, None).await;
            // 409: the operation does not apply to B at all (a sync run of a SCIM tenant).
            assert!(
                [not_found, bad, StatusCode::CONFLICT].contains(&r.status),
                "{method} {uri}: {} {}",
                r.status,
                r.body
            );
            for f in &sweep.forbidden {
                assert!(!r.body.contains(f.as_str()), "{method} {uri} answered with {f:.12}…");
            }
            admin_attempts += 1;
        }
    }
    let by_okta = app.admin("GET", &format!("/admin/tenants/iso-b/users?okta_id={}", a.okta_id), None).await.json();
    assert_eq!(by_okta["users"], json!([]));
    let by_email = app.admin("GET", "/admin/tenants/iso-b/users?email=alice%40a.example", None).await.json();
    assert_eq!(by_email["users"], json!([]));
    sweep.attempts += admin_attempts + 2;
    // With A's tenant admin token: every documented operation under B, and every deployment
    // operation, is refused before it runs (403), A's ids or B's.
    let mut tenant_token_attempts = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if path == "/admin/openapi.json" {
            continue;
        }
        for method in ops.as_object().unwrap().keys().filter(|m| *m != "parameters") {
            let uri = path.replace("{tenant}", "iso-b").replace("{id}", &a.user).replace("{name}", "okta_api_token");
            let body = (method == "put" || uri.contains("/secrets/")).then(|| json!({"value": "stolen-by-a"}));
            let r = app.admin_as(&a.admin_token, &method.to_uppercase(), &uri, body).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "A's admin token: {method} {uri}: {}", r.body);
            for f in &sweep.forbidden {
                assert!(!r.body.contains(f.as_str()), "{method} {uri} answered with {f:.12}…");
            }
            tenant_token_attempts += 1;
        }
    }
    sweep.attempts += tenant_token_attempts;
    sweep.routes.insert(("ANY".into(), "/admin/{proxy+}".into()));

    // Every route of the template was swept.
    let template = harness::template::Template::load(&harness::template::default_path()).unwrap();
    for r in template.routes().unwrap() {
        assert!(
            sweep.routes.contains(&(r.method.clone(), r.path.clone())),
            "{} {} ({}) is not in the sweep",
            r.method,
            r.path,
            r.function
        );
    }
    // B is as it was; A's state still works for A.
    assert_eq!(snapshot(&app).await, before, "nothing of B changed");
    let taken = app
        .functions
        .adapters
        .store
        .take_login(&TenantId::parse("iso-a").unwrap(), &a.state, "binding-of-a", chrono::Utc::now())
        .await
        .unwrap();
    assert!(taken.is_some(), "A's login state was not consumed by B's callbacks");
    println!(
        "isolation sweep: {} attempts over {} routes ({} admin operations with ids, {} with A's tenant admin token): all refused, 0 answers with another tenant's data",
        sweep.attempts,
        sweep.routes.len(),
        admin_attempts,
        tenant_token_attempts
    );
}
