//! The integration page (docs/behaviour/integration-page.md): a new admin sets up a tenant from the page alone in a
//! real headless Chromium against the Okta simulator (tests/browser/integration-page.js, with
//! axe-core and screenshots); and, over plain HTTP, its sessions, CSRF, CSP, isolation and the
//! Connect to Okta checks one by one.
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use harness::okta_sim::OktaSim;
use serde_json::{json, Value};
use shared::app::sync::SyncOptions;
use shared::domain::TenantId;

use crate::helpers::{remember_secret, Reply, TestApp};
use crate::world::{profile, SIM_TOKEN};

const APP_ID: &str = "0oasimapp";

fn cookie_of(reply: &Reply) -> String {
    let set = reply.headers.get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default();
    set.split(';').next().unwrap_or_default().to_owned()
}

/// A browser of the page, over plain HTTP: its session cookie and CSRF token.
struct Page<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
}

impl<'a> Page<'a> {
    /// The sign-in form as a browser sends it: its nonce field and cookie from the form's page.
    async fn sign_in(app: &'a TestApp, token: &str, tenant: &str) -> Reply {
        let form = app
            .call(Request::get("/admin/ui/sign-in").header("host", "127.0.0.1:3000").body(Body::empty()).unwrap())
            .await;
        let at = form.body.find("name=\"sign_in\" value=\"").expect("a nonce field") + 22;
        let nonce = form.body[at..at + form.body[at..].find('"').unwrap()].to_owned();
        let body =
            serde_urlencoded::to_string([("sign_in", nonce.as_str()), ("token", token), ("tenant", tenant)]).unwrap();
        app.call(
            Request::post("/admin/ui/sign-in")
                .header("host", "127.0.0.1:3000")
                .header("cookie", cookie_of(&form))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    async fn open(app: &'a TestApp, token: &str, tenant: &str) -> Self {
        let r = Self::sign_in(app, token, tenant).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let mut page = Self { app, cookie: cookie_of(&r), csrf: String::new() };
        let home = page.get("/admin/ui/").await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        let at = home.body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        page.csrf = home.body[at..at + home.body[at..].find('"').unwrap()].to_owned();
        page
    }

    async fn get(&self, path: &str) -> Reply {
        self.app
            .call(
                Request::get(path)
                    .header("host", "127.0.0.1:3000")
                    .header("cookie", &self.cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &serde_urlencoded::to_string(&all).unwrap(), None).await
    }

    async fn post_raw(&self, path: &str, body: &str, origin: Option<&str>) -> Reply {
        let mut req = Request::post(path)
            .header("host", "127.0.0.1:3000")
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        self.app.call(req.body(Body::from(body.to_owned())).unwrap()).await
    }
}

async fn tenant_with_sim(app: &TestApp, tenant: &str) -> OktaSim {
    let sim = OktaSim::start(0, SIM_TOKEN, APP_ID).await.expect("simulator starts");
    let r = app
        .admin(
            "PUT",
            &format!("/admin/tenants/{tenant}"),
            Some(json!({"okta_domain": sim.base_url, "app_id": APP_ID, "provisioning": "event_hooks",
                "sso_enabled": true, "client_id": "0oasimclient"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .admin("POST", &format!("/admin/tenants/{tenant}/secrets/okta_api_token"), Some(json!({"value": SIM_TOKEN})))
        .await;
    assert_eq!(r.status, 204);
    sim
}

fn check<'v>(report: &'v str, id: &str) -> &'v str {
    let at = report.find(&format!("data-check=\"{id}\"")).unwrap_or_else(|| panic!("no check {id} in {report}"));
    let li_start = report[..at].rfind("<li class=\"").unwrap() + 11;
    &report[li_start..li_start + report[li_start..].find('"').unwrap()]
}

#[tokio::test]
async fn the_page_is_strict_about_sessions_forms_and_scripts() {
    let app = TestApp::spawn().await;
    app.create_tenant("ui-a").await;
    app.create_tenant("ui-b").await;

    // Signed out: the page asks to sign in; forms change nothing.
    let r = app.call(Request::get("/admin/ui/").header("host", "h").body(Body::empty()).unwrap()).await;
    assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/admin/ui/sign-in"));
    let sign_in = app.call(Request::get("/admin/ui/sign-in").header("host", "h").body(Body::empty()).unwrap()).await;
    assert_eq!(sign_in.status, StatusCode::OK);
    let csp = sign_in.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!sign_in.body.contains("<script>") && !sign_in.body.contains("style="), "no inline script or style");

    // A tenant admin token signs in to its own tenant only.
    let issued = app.admin("POST", "/admin/tenants/ui-a/admin-tokens", None).await.json();
    let a_token = issued["token"].as_str().unwrap().to_owned();
    let r = Page::sign_in(&app, &a_token, "ui-b").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "another tenant's page: {}", r.body);
    assert!(!r
        .headers
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("__Host-okta_bridge_admin=")));
    assert_eq!(Page::sign_in(&app, "obadm_wrong", "").await.status, StatusCode::UNAUTHORIZED);
    let r = Page::sign_in(&app, &app.admin_token, "").await;
    assert!(r.body.contains("name the tenant"), "the operator must name a tenant: {}", r.body);

    let page = Page::open(&app, &a_token, "").await;
    let set = Page::sign_in(&app, &a_token, "").await;
    let attrs = set.headers["set-cookie"].to_str().unwrap();
    assert!(attrs.starts_with("__Host-okta_bridge_admin="), "{attrs}");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/;"] {
        assert!(attrs.contains(attr), "{attrs}");
    }
    // Login CSRF: a sign-in form posted from another site (no nonce cookie) is refused.
    let body =
        serde_urlencoded::to_string([("sign_in", "x".repeat(43).as_str()), ("token", a_token.as_str())]).unwrap();
    let forged = app
        .call(
            Request::post("/admin/ui/sign-in")
                .header("host", "127.0.0.1:3000")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert!(!forged
        .headers
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("__Host-okta_bridge_admin")));
    let home = page.get("/admin/ui/").await;
    assert!(home.body.contains("Tenant <strong>ui-a</strong>"), "{}", home.body);
    assert!(!home.body.contains("ui-b"));
    assert_eq!(home.headers["cache-control"], "no-store");

    // Every form needs the session's CSRF token and this site's origin; a refused one changes nothing.
    let before = app.admin("GET", "/admin/tenants/ui-a", None).await.json();
    let body = serde_urlencoded::to_string([("csrf", "forged"), ("okta_domain", "https://evil.okta.com")]).unwrap();
    let forged = page.post_raw("/admin/ui/org", &body, None).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert!(forged.body.contains("nothing was changed"));
    let body = serde_urlencoded::to_string([("okta_domain", "https://evil.okta.com")]).unwrap();
    assert_eq!(page.post_raw("/admin/ui/org", &body, None).await.status, StatusCode::FORBIDDEN, "no token at all");
    let body =
        serde_urlencoded::to_string([("csrf", page.csrf.as_str()), ("okta_domain", "https://evil.okta.com")]).unwrap();
    let cross = page.post_raw("/admin/ui/org", &body, Some("https://evil.example")).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN, "another site's form");
    assert_eq!(app.admin("GET", "/admin/tenants/ui-a", None).await.json()["okta_domain"], before["okta_domain"]);

    // The same validation and messages as the API, beside the field; nothing saved.
    let refused = page.post("/admin/ui/org", &[("okta_domain", "http://acme.okta.com"), ("app_id", "0oa1")]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("f-okta_domain-error") && refused.body.contains("Nothing was saved"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"http://acme.okta.com\""), "what was typed is kept");
    assert_eq!(app.admin("GET", "/admin/tenants/ui-a", None).await.json()["okta_domain"], before["okta_domain"]);
    // A secret the store would refuse is its field's problem, found before anything is saved.
    let long = "x".repeat(5000);
    let refused =
        page.post("/admin/ui/org", &[("okta_domain", "https://changed.okta.com"), ("okta_api_token", &long)]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("f-okta_api_token-error") && !refused.body.contains(&long), "{}", refused.body);
    assert_eq!(app.admin("GET", "/admin/tenants/ui-a", None).await.json()["okta_domain"], before["okta_domain"]);
    // The origin check compares the scheme: https://this-host is not this http deployment.
    let body =
        serde_urlencoded::to_string([("csrf", page.csrf.as_str()), ("okta_domain", "https://x.okta.com")]).unwrap();
    assert_eq!(
        page.post_raw("/admin/ui/org", &body, Some("https://127.0.0.1:3000")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        page.post_raw("/admin/ui/org", &body, Some("http://127.0.0.1:3000")).await.status,
        StatusCode::SEE_OTHER
    );
    // A secret field is write-only: saved, never echoed.
    let saved = page
        .post("/admin/ui/org", &[("okta_domain", "https://ui-a.okta.com"), ("okta_api_token", "00secret-typed-in")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    remember_secret("00secret-typed-in");
    assert!(!page.get("/admin/ui/").await.body.contains("00secret-typed-in"));
    assert_eq!(app.admin("GET", "/admin/tenants/ui-a", None).await.json()["secrets"]["okta_api_token"]["set"], true);

    // Secrets issued on the page are shown on that answer only.
    let issued = page.post("/admin/ui/event-hook-secret", &[]).await;
    assert_eq!(issued.status, StatusCode::OK);
    let at = issued.body.find("id=\"once-hook\"").expect("shown once");
    let value_at = issued.body[at..].find("value=\"").unwrap() + at + 7;
    let secret = &issued.body[value_at..value_at + issued.body[value_at..].find('"').unwrap()];
    remember_secret(secret);
    assert_eq!(issued.headers["cache-control"], "no-store");
    assert!(!page.get("/admin/ui/").await.body.contains(secret));
    // Rotated: the previous secret works for a while, or until the admin ends it.
    let rotated = page.post("/admin/ui/event-hook-secret", &[]).await;
    let at = rotated.body.find("id=\"once-hook\"").expect("shown once") + 1;
    let value_at = rotated.body[at..].find("value=\"").unwrap() + at + 7;
    remember_secret(&rotated.body[value_at..value_at + rotated.body[value_at..].find('"').unwrap()]);
    assert!(rotated.body.contains("End the previous secret now"), "{}", rotated.body);
    let ended = page.post("/admin/ui/event-hook-secret/previous", &[]).await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    let home = page.get("/admin/ui/?notice=previous_secret").await;
    assert!(home.body.contains("no longer works") && !home.body.contains("End the previous secret now"));

    // The live progress is JSON for the session only.
    let r =
        app.call(Request::get("/admin/ui/sync/run1/progress").header("host", "h").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(page.get("/admin/ui/sync/nope/progress").await.status, StatusCode::NOT_FOUND);

    // Revoking the admin token that opened the session ends it.
    let id = issued_id(&app, "ui-a").await;
    let r = app.admin("DELETE", &format!("/admin/tenants/ui-a/admin-tokens/{id}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(page.get("/admin/ui/").await.status, StatusCode::SEE_OTHER, "a revoked token's session is over");

    // Sign-out ends the session server-side: the old cookie is worth nothing after it.
    let page = Page::open(&app, &app.admin_token, "ui-b").await;
    assert!(page.get("/admin/ui/").await.body.contains("signed in with the operator token"));
    let out = page.post("/admin/ui/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(page.get("/admin/ui/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(page.post("/admin/ui/connect", &[]).await.status, StatusCode::SEE_OTHER);

    // A session opened with the operator token ends once that token is rotated out.
    let page = Page::open(&app, &app.admin_token, "ui-b").await;
    let rotated = app.admin("POST", "/admin/admin-token/rotate", None).await;
    assert_eq!(rotated.status, StatusCode::CREATED);
    assert_eq!(page.get("/admin/ui/").await.status, StatusCode::OK, "the previous token works for its overlap");
    let new_token = rotated.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.admin_as(&new_token, "DELETE", "/admin/admin-token/previous", None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(page.get("/admin/ui/").await.status, StatusCode::SEE_OTHER, "rotated out: the session is over");
}

async fn issued_id(app: &TestApp, tenant: &str) -> String {
    let list = app.admin("GET", &format!("/admin/tenants/{tenant}/admin-tokens"), None).await.json();
    list["tokens"].as_array().unwrap().iter().find(|t| t["active"] == true).unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn connect_to_okta_says_what_is_wrong_and_how_to_fix_it() {
    let app = TestApp::spawn().await;
    let sim = tenant_with_sim(&app, "ui-connect").await;
    let page = Page::open(&app, &app.admin_token, "ui-connect").await;

    // Nothing registered yet: the redirect URI, the client secret, the hook secret and the hook fail, each with a fix.
    let r = page.post("/admin/ui/connect", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    for (id, outcome) in [
        ("okta_domain", "pass"),
        ("api_token", "pass"),
        ("app", "pass"),
        ("sso_app", "fail"),
        ("sso_discovery", "pass"),
        ("client_secret", "fail"),
        ("event_hook_secret", "fail"),
        ("event_hook", "fail"),
    ] {
        assert_eq!(check(&r.body, id), outcome, "{id}");
    }
    assert!(
        r.body.contains("To fix: add http://ui-connect.localhost:3000/okta/auth_callback to Sign-in redirect URIs"),
        "{}",
        r.body
    );

    // The token may not manage hooks: said plainly, with the way round it.
    sim.set_hooks_manageable(false);
    let r = page.post("/admin/ui/connect", &[]).await;
    assert!(r.body.contains("may not read event hooks"), "{}", r.body);
    let r = page.post("/admin/ui/event-hook/register", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("only a Super Administrator"), "{}", r.body);
    sim.set_hooks_manageable(true);

    // An org that stops answering: the page still answers, within the time it allows itself
    // (the admin function has 29 s), and says the domain did not answer.
    // Three slow answers: the client's retries would get through at the fourth attempt (after
    // 30 s of timeouts), past the 20 s Connect to Okta allows itself, so the check fails instead.
    sim.inject(harness::okta_sim::Fault::Delay(Duration::from_secs(12)), 3);
    let r = page.post("/admin/ui/connect", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(check(&r.body, "okta_domain"), "fail");
    assert!(r.body.contains("Okta did not answer"), "{}", r.body);
    assert_eq!(check(&r.body, "app"), "skipped");
    sim.clear_faults();

    // A revoked token.
    sim.set_token("00another-token");
    let r = page.post("/admin/ui/connect", &[]).await;
    assert_eq!(check(&r.body, "api_token"), "fail");
    assert!(r.body.contains("E0000011") && r.body.contains("Security › API › Tokens"), "{}", r.body);
    assert_eq!(check(&r.body, "app"), "skipped");
    sim.set_token(SIM_TOKEN);

    // The wrong kind of app for SAML, then a SAML app whose ACS URL is not ours.
    let r = app.admin("GET", "/admin/tenants/ui-connect", None).await.json();
    let mut config = r.clone();
    config["sso_protocol"] = json!("saml");
    config["saml_idp_metadata_xml"] =
        json!(shared::domain::saml::testing::idp_metadata_xml(&[shared::domain::saml::testing::TestKey::Current]));
    assert_eq!(app.admin("PUT", "/admin/tenants/ui-connect", Some(config)).await.status, 200);
    let r = page.post("/admin/ui/connect", &[]).await;
    assert_eq!(check(&r.body, "app"), "fail");
    assert!(r.body.contains("use a SAML 2.0 app"), "{}", r.body);
    sim.configure_app(&json!({"signOnMode": "SAML_2_0", "acs_url": "https://elsewhere.example/acs", "audience": "x"}));
    let r = page.post("/admin/ui/connect", &[]).await;
    assert_eq!(check(&r.body, "app"), "pass");
    assert_eq!(check(&r.body, "sso_app"), "fail");
    assert!(r.body.contains("set Single sign-on URL to http://ui-connect.localhost:3000/saml/acs"), "{}", r.body);
    assert_eq!(check(&r.body, "sso_discovery"), "pass", "the stored IdP metadata parses");
}

#[tokio::test]
async fn a_new_admin_sets_up_a_tenant_from_the_page_alone_in_a_real_browser() {
    let (app, base) = TestApp::spawn_listening().await;
    let sim = OktaSim::start(0, SIM_TOKEN, APP_ID).await.expect("simulator starts");
    let mut ids = Vec::new();
    for i in 0..120 {
        let p = profile(
            &format!("Person{i:03}"),
            "Walker",
            &format!("person{i:03}@acme.example"),
            json!({"title": "Analyst"}),
        );
        ids.push(sim.create_user(p, true));
    }
    sim.discard_events();
    // A large org's pages take a while: the progress bar has time to move.
    sim.set_page_delay(Duration::from_millis(900));

    // Lambda's event source mappings: the sync (25 people a page, so 5 pages) and the worker.
    let adapters = &app.functions.adapters;
    let sync = nightly_sync::State {
        sync: Arc::new(
            adapters.root.sync(adapters.sync_queue().unwrap(), SyncOptions { page_size: 25, ..SyncOptions::default() }),
        ),
        metrics: adapters.metrics.clone(),
        clock: adapters.root.ports.clock.clone(),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for (queue, target) in [
        ("SyncQueue", harness::poller::Target::Sync(sync)),
        ("UserFetchQueue", harness::poller::Target::Worker(app.functions.worker.clone())),
    ] {
        let url = app.stack.created[queue].clone();
        let arn = app.stack.bindings.attrs[&format!("{queue}.Arn")].clone();
        tokio::spawn(harness::poller::run(adapters.sqs.clone(), url, arn, target, stopped.clone()));
    }

    // Screenshots of each step: docs/integration-page holds the committed ones
    // (OKTA_BRIDGE_SCREENSHOTS=docs/integration-page refreshes them); a plain run keeps its own.
    let shots = std::env::var("OKTA_BRIDGE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("okta-bridge-integration-page"));
    let cfg = json!({
        "base": base, "sim": sim.base_url, "operator_token": app.admin_token, "tenant": "acme",
        "api_token": SIM_TOKEN, "app_id": APP_ID, "client_id": "0oasimclient", "client_secret": "sim-client-secret-typed-in",
        "shots": shots, "unassign": ids[..40], "edit": ids[7], "invite_search": "Person101",
    });
    remember_secret("sim-client-secret-typed-in");
    let out = tokio::process::Command::new("node")
        .arg("integration-page.js")
        .arg(cfg.to_string())
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser"))
        .output()
        .await
        .expect("node runs");
    assert!(out.status.success(), "the browser walk-through failed: {}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let step = |name: &str| {
        seen["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no step {name}: {seen}"))
    };

    // Signed in with the operator token, creating the tenant from the page.
    assert_eq!(step("sign-in asks for the domain")["asks"], true);
    assert_eq!(step("signed in")["path"], "/admin/ui/");
    assert_eq!(
        step("signed in")["cookie"],
        json!({"secure": true, "httpOnly": true, "sameSite": "Strict", "path": "/"})
    );
    assert_eq!(step("keyboard focus")["text"], "Skip to content");
    assert!(step("keyboard focus")["outline"].as_str().unwrap().starts_with("solid"), "a visible focus ring");
    assert_eq!(step("org saved")["path"], "/admin/ui/");
    assert_eq!(
        step("sign-in saved")["redirect"],
        "http://acme.localhost:".to_owned() + base.rsplit(':').next().unwrap() + "/okta/auth_callback"
    );
    let refused = step("switches refused");
    assert_eq!((refused["status"].as_u64(), refused["kept"].as_str()), (Some(400), Some("250")));
    assert!(refused["field_error"].as_str().is_some(), "{refused}");

    // The hook, registered from the page, exists in Okta, verified, pointing at the tenant.
    assert_eq!(step("hook registered")["verified"], true, "{seen}");
    let hooks = sim.event_hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["verificationStatus"], "VERIFIED");
    assert_eq!(hooks[0]["channel"]["config"]["uri"], step("provisioning saved")["hook_url"]);

    // Connect to Okta: all green, then exactly one red for the wrong app id.
    let green = step("connect")["checks"].as_array().unwrap().clone();
    assert!(green.len() >= 8 && green.iter().all(|c| c["outcome"] == "pass"), "{green:?}");
    let red: Vec<Value> = step("connect with a wrong app id")["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .cloned()
        .collect();
    assert_eq!(red.len(), 1, "{red:?}");
    assert_eq!(red[0]["id"], "app");
    assert!(red[0]["text"].as_str().unwrap().contains("To fix: copy the id (0oa…)"), "{red:?}");

    let once = step("secret shown once");
    assert_eq!((once["shown"].as_bool(), once["again"].as_bool()), (Some(true), Some(false)));

    // The first sync: the progress moved through the pages; everyone was created.
    let progress = step("first sync")["progress"].as_array().unwrap().clone();
    assert!(progress.len() >= 3, "the bar moved through at least three values: {progress:?}");
    assert!(step("first sync")["page"].as_str().unwrap().contains("120"), "{}", step("first sync")["page"]);
    assert!(
        step("preview")["diff"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("person007@acme.example")),
        "the preview lists the edited person: {}",
        step("preview")
    );
    // Held, then approved: 40 of 120 deactivated.
    assert_eq!((step("held")["held"].as_bool(), step("held")["approve"].as_bool()), (Some(true), Some(true)));
    let held_bar = step("held")["progress"].as_array().unwrap().clone();
    assert!(held_bar.iter().any(|p| p["max"].as_f64() == Some(120.0)), "a determinate bar: {held_bar:?}");
    let t = TenantId::parse("acme").unwrap();
    let runs = app.functions.admin.sync.list(&t, 10).await.unwrap();
    let approved = runs.iter().find(|r| r.approved_at.is_some()).expect("an approved run");
    assert_eq!((approved.counts.applied, approved.status), (40, shared::domain::sync_run::RunStatus::Completed));

    // Invited from the people list.
    let invited = step("invited");
    assert_eq!(invited["rows"], 1);
    assert!(invited["notice"].as_str().unwrap().contains("person101@acme.example"), "{invited}");
    assert!(step("changes")["rows"].as_u64().unwrap() > 0);

    // A forged form changed nothing; sign-out ended the session.
    assert_eq!(step("forged form")["status"], 403);
    assert_eq!(step("signed out")["path"], "/admin/ui/sign-in");
    assert_eq!(step("signed out")["cookie"], false);
    assert_eq!(step("after sign-out")["path"], "/admin/ui/sign-in");

    // The hook the page registered carries Okta's events to the tenant: a joiner arrives.
    let joiner = sim.create_user(profile("Jo", "Iner", "jo.iner@acme.example", json!({})), true);
    let statuses = sim.deliver(harness::okta_sim::DeliverOptions::default()).await;
    assert!(!statuses.is_empty() && statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // (The worker's poller is still running, as Lambda's event source mapping would be.)
    let mut found = Value::Null;
    for _ in 0..120 {
        found = app.admin("GET", &format!("/admin/tenants/acme/users?okta_id={joiner}"), None).await.json();
        if found["users"].as_array().is_some_and(|u| !u.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = stop.send(true);
    assert_eq!(found["users"][0]["email"], "jo.iner@acme.example", "{found}");

    // Accessible everywhere it looked; no CSP violation; no script error.
    for (page, violations) in seen["axe"].as_object().unwrap() {
        assert_eq!(violations, &json!([]), "axe on {page}");
    }
    assert_eq!(seen["csp_violations"], json!([]));
    assert_eq!(seen["console_errors"], json!([]));
}
