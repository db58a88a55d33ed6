//! Okta single sign-on end to end (docs/behaviour/sign-in.md): the service's login and callback routes against a
//! real OpenID provider running locally (panva/oidc-provider, OpenID Certified), a headless browser
//! signing in through its login form, and an attacker's proxy tampering with token answers.
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use harness::oidc_op::{Browser, OpenIdProvider, Tamper};
use serde_json::{json, Value};
use shared::domain::sso::{Session, SESSION_COOKIE};
use shared::domain::user::{User, UserStatus};
use shared::domain::{Email, OktaUserId, TenantId, UserId};
use shared::ports::UserWriter;

use crate::helpers::{Reply, TestApp};

const HOST: &str = "127.0.0.1:3000";
const APP: &str = "http://127.0.0.1:3000/";
const CLIENT_SECRET: &str = "bridge-client-secret-for-tests";

struct Sso {
    app: TestApp,
    op: OpenIdProvider,
    browser: Browser,
    /// The login cookies `/okta/login` set in "this" browser, sent back with every request.
    jar: std::sync::Mutex<Vec<String>>,
}

/// A second identity provider with our client and the same people (another org, another issuer).
async fn another_provider() -> OpenIdProvider {
    OpenIdProvider::start(
        json!([{"client_id": "bridge", "client_secret": CLIENT_SECRET, "redirect_uris": [format!("{APP}t/acme/okta/auth_callback")]}]),
        accounts(),
        600,
    )
    .await
    .expect("a second provider starts")
}

fn accounts() -> Value {
    json!({
        "00uexisting0001": {"email": "ann@acme.example", "email_verified": true, "given_name": "Ann", "family_name": "Lee"},
        "00ulinkme00001": {"email": "Bob@Acme.example", "email_verified": true, "given_name": "Bob", "family_name": "Ray"},
        "00uunverified01": {"email": "cat@acme.example", "email_verified": false, "given_name": "Cat", "family_name": "Fox"},
        "00uimpostor001": {"email": "dan@acme.example", "email_verified": true, "given_name": "Dan", "family_name": "Oak"},
        "00udeactivated1": {"email": "eve@acme.example", "email_verified": true, "given_name": "Eve", "family_name": "Ash"},
        "00unewcomer001": {"email": "fay@acme.example", "email_verified": true, "given_name": "Fay", "family_name": "Elm", "locale": "fr-FR"},
    })
}

async fn seed_user(app: &TestApp, email: &str, okta: Option<&str>, status: UserStatus) -> User {
    let tenant = TenantId::parse("acme").unwrap();
    let mut u = User::new(
        UserId::from_random(*uuid::Uuid::new_v4().as_bytes()),
        Email::parse(email).unwrap(),
        "Seed".into(),
        "User".into(),
        chrono::Utc::now(),
    );
    u.okta_id = okta.map(|o| OktaUserId::parse(o).unwrap());
    u.status = status;
    app.functions.adapters.store.create_user(&tenant, &u, &[]).await.unwrap()
}

impl Sso {
    async fn new(jit: bool, id_token_ttl: u64) -> Self {
        let app = TestApp::spawn().await;
        let clients = json!([
            {"client_id": "bridge", "client_secret": CLIENT_SECRET,
             "redirect_uris": [format!("{APP}t/acme/okta/auth_callback"), format!("{APP}t/acme/en-GB/okta/auth_callback"),
                               format!("{APP}t/acme/users/auth/okta/callback")],
             "post_logout_redirect_uris": [format!("{APP}t/acme/")]},
            {"client_id": "other-app", "client_secret": "other-app-secret", "redirect_uris": ["http://127.0.0.1:9/callback"]},
            {"client_id": "bridge-twin", "client_secret": "twin-secret", "redirect_uris": ["http://127.0.0.1:9/twin"]},
        ]);
        let op = OpenIdProvider::start(clients, accounts(), id_token_ttl).await.expect("the OpenID provider starts");
        let config = json!({"okta_domain": op.issuer, "client_id": "bridge", "sso_enabled": true,
            "jit_provisioning": jit, "provisioning": "none"});
        assert_eq!(app.admin("PUT", "/admin/tenants/acme", Some(config)).await.status, StatusCode::OK);
        let r = app
            .admin("POST", "/admin/tenants/acme/secrets/oidc_client_secret", Some(json!({"value": CLIENT_SECRET})))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        seed_user(&app, "ann@acme.example", Some("00uexisting0001"), UserStatus::Active).await;
        seed_user(&app, "bob@acme.example", None, UserStatus::Active).await;
        seed_user(&app, "cat@acme.example", None, UserStatus::Active).await;
        seed_user(&app, "dan@acme.example", Some("00urealdan0001"), UserStatus::Active).await;
        seed_user(&app, "eve@acme.example", Some("00udeactivated1"), UserStatus::Deactivated).await;
        Self { app, op, browser: Browser::new(), jar: Default::default() }
    }

    /// A request from this browser: its login cookies, and the session cookie if given.
    async fn get(&self, path_and_query: &str, cookie: Option<&str>) -> Reply {
        let mut cookies = self.jar.lock().unwrap().clone();
        cookies.extend(cookie.map(|c| format!("{SESSION_COOKIE}={c}")));
        self.get_with_cookies(path_and_query, &cookies).await
    }

    /// A request from another browser: none of this one's cookies.
    async fn get_elsewhere(&self, path_and_query: &str) -> Reply {
        self.get_with_cookies(path_and_query, &[]).await
    }

    async fn get_with_cookies(&self, path_and_query: &str, cookies: &[String]) -> Reply {
        let mut req = Request::get(path_and_query).header("host", HOST);
        if !cookies.is_empty() {
            req = req.header("cookie", cookies.join("; "));
        }
        let r = self.app.call(req.body(Body::empty()).unwrap()).await;
        for set in r.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or_default().to_owned();
            if pair.starts_with("okta_bridge_login_") {
                let mut jar = self.jar.lock().unwrap();
                jar.retain(|c| c.split('=').next() != pair.split('=').next());
                if !set.contains("Max-Age=0") {
                    jar.push(pair);
                }
            }
        }
        r
    }

    /// `/okta/login` → the provider's authorization URL.
    async fn start(&self, return_to: &str) -> String {
        let r = self.get(&format!("/t/acme/okta/login?return_to={}", urlencode(return_to)), None).await;
        assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
        r.headers["location"].to_str().unwrap().to_owned()
    }

    /// Signs in at the provider as `login`; returns the callback path and query it sends back.
    async fn at_provider(&self, auth_url: &str, login: &str) -> String {
        let back = self.browser.sign_in(auth_url, login, APP).await;
        back.trim_start_matches(APP.trim_end_matches('/')).to_owned()
    }

    async fn sign_in(&self, login: &str) -> Reply {
        let auth = self.start("/courses/42?tab=1").await;
        let callback = self.at_provider(&auth, login).await;
        self.get(&callback, None).await
    }

    async fn session_of(&self, r: &Reply) -> Session {
        let set = r.headers["set-cookie"].to_str().unwrap();
        let value = set.split(';').next().unwrap().split_once('=').unwrap().1;
        let keys = self.app.functions.adapters.root.secrets.session_keys().await.unwrap();
        Session::open(value, &keys, chrono::Utc::now()).expect("a valid session cookie")
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn query_param(url: &str, name: &str) -> String {
    reqwest::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap()
}

fn assert_page(r: &Reply, status: StatusCode, text: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(r.content_type().starts_with("text/html"), "{}", r.content_type());
    assert!(r.body.contains(text), "expected {text:?} in {}", r.body);
    assert!(r.headers.get("set-cookie").is_none(), "no session on a refusal");
    assert_html_headers(r);
}

/// Every HTML answer: a strict CSP that forbids framing, nosniff, HSTS.
pub(crate) fn assert_html_headers(r: &Reply) {
    let csp = r.headers.get("content-security-policy").map(|v| v.to_str().unwrap()).unwrap_or_default();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "CSP: {csp:?}");
    assert!(!csp.contains("script-src"), "no script is allowed: {csp}");
    assert_eq!(r.headers.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"));
    assert!(r.headers.get("strict-transport-security").is_some_and(|v| v.to_str().unwrap().contains("max-age=")));
    assert_eq!(r.headers.get("x-frame-options").map(|v| v.to_str().unwrap()), Some("DENY"));
}

#[tokio::test]
async fn an_existing_user_signs_in_and_a_verified_email_links_once() {
    let s = Sso::new(false, 600).await;
    let auth = s.start("/courses/42?tab=1").await;
    // The authorization request Okta expects: code flow, PKCE S256, state and nonce, openid email profile.
    for (k, v) in [("response_type", "code"), ("client_id", "bridge"), ("code_challenge_method", "S256")] {
        assert_eq!(query_param(&auth, k), v);
    }
    assert!(query_param(&auth, "scope").split(' ').collect::<Vec<_>>().contains(&"openid"));
    let state = query_param(&auth, "state");
    assert!(state.len() >= 43 && state.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert!(!query_param(&auth, "nonce").is_empty() && query_param(&auth, "code_challenge").len() == 43);
    assert_eq!(query_param(&auth, "redirect_uri"), format!("{APP}t/acme/okta/auth_callback"));

    let callback = s.at_provider(&auth, "00uexisting0001").await;
    let r = s.get(&callback, None).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    assert_eq!(r.headers["location"], "http://127.0.0.1:3000/t/acme/courses/42?tab=1");
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/t/acme", "Max-Age="] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let session = s.session_of(&r).await;
    assert_eq!(session.okta_id.as_str(), "00uexisting0001");
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let me = s.get("/t/acme/okta/me", Some(value)).await;
    assert_eq!(me.status, StatusCode::OK);
    let who: serde_json::Value = serde_json::from_str(&me.body).expect("GET /okta/me answers JSON");
    assert_eq!(who["id"], session.user_id.as_str());
    assert_eq!(who["okta_id"], "00uexisting0001");
    for field in ["email", "first_name", "last_name"] {
        assert!(who[field].as_str().is_some_and(|v| !v.is_empty()), "{field}: {who}");
    }
    let anonymous = s.get("/t/acme/okta/me", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = serde_json::from_str(&anonymous.body).expect("a 401 in JSON too");
    assert_eq!(body["error"], "not_signed_in");
    assert_eq!(s.get("/t/acme/okta/me", Some(&format!("{value}x"))).await.status, StatusCode::UNAUTHORIZED);

    // The same callback again (a replay): refused, no second session.
    let again = s.get(&callback, None).await;
    assert_page(&again, StatusCode::BAD_REQUEST, "expired or was already used");

    // Bob exists without an Okta id; Okta verified his email (in another case): linked, once.
    let r = s.sign_in("00ulinkme00001").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let bob = s.app.admin("GET", "/admin/tenants/acme/users?okta_id=00ulinkme00001", None).await.json();
    assert_eq!(bob["users"][0]["email"], "bob@acme.example");
    let changes = s.app.admin("GET", "/admin/tenants/acme/changes?after=0&limit=100", None).await.json();
    let sso_changes: Vec<&Value> =
        changes["changes"].as_array().unwrap().iter().filter(|c| c["actor"] == "sso").collect();
    assert_eq!(sso_changes.len(), 1, "the link is one change by sso");
    assert!(sso_changes[0]["changes"]["okta_id"].is_object());
    assert_eq!(s.sign_in("00ulinkme00001").await.status, StatusCode::FOUND, "then found by Okta id");

    // The locale and legacy callback routes finish a login too.
    for route in ["/t/acme/en-GB/okta/auth_callback", "/t/acme/users/auth/okta/callback"] {
        let auth = s.start("/").await;
        let callback = s.at_provider(&auth, "00uexisting0001").await;
        let query = callback.split_once('?').unwrap().1;
        let r = s.get(&format!("{route}?{query}"), None).await;
        assert_eq!(r.status, StatusCode::FOUND, "{route}: {}", r.body);
        assert_eq!(r.headers["location"], "http://127.0.0.1:3000/t/acme/");
    }
}

/// docs/behaviour/sign-in.md, login CSRF: the callback URL of a login started in one browser, opened in another
/// (no login cookie, or another login's), answers 400 and signs nobody in; the login stays usable
/// by the browser that started it. The login cookie is short-lived, HttpOnly and path-scoped.
#[tokio::test]
async fn a_callback_opened_in_another_browser_signs_nobody_in() {
    let s = Sso::new(false, 600).await;
    let login = s.get("/t/acme/okta/login?return_to=/", None).await;
    assert_eq!(login.status, StatusCode::FOUND, "{}", login.body);
    let set: Vec<&str> = login.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    let binding = set.iter().find(|c| c.starts_with("okta_bridge_login_")).expect("a login cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/t/acme", "Max-Age=600"] {
        assert!(binding.contains(attr), "{binding}");
    }
    let auth = login.headers["location"].to_str().unwrap().to_owned();
    let callback = s.at_provider(&auth, "00uexisting0001").await;
    // The attacker's victim opens the callback: no cookie of this login.
    let elsewhere = s.get_elsewhere(&callback).await;
    assert_page(&elsewhere, StatusCode::BAD_REQUEST, "started in another browser");
    assert!(elsewhere.headers.get("set-cookie").is_none(), "no session");
    // Another login's cookie is no better.
    let other_login = s.get_elsewhere("/t/acme/okta/login?return_to=/").await;
    let other_cookie = other_login.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let forged_name = format!("{}={}", binding.split('=').next().unwrap(), other_cookie.split_once('=').unwrap().1);
    let forged = s.get_with_cookies(&callback, &[forged_name]).await;
    assert_page(&forged, StatusCode::BAD_REQUEST, "started in another browser");
    // The browser that started it finishes it.
    let mine = s.get(&callback, None).await;
    assert_eq!(mine.status, StatusCode::FOUND, "{}", mine.body);
    assert!(mine.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with(SESSION_COOKIE)));
}

/// Issue 14 §8: the URLs the product hands out (the OIDC redirect_uri, the post-login redirect,
/// SCIM locations, the admin API's paste-into-Okta URLs) come from configuration: a forged `Host`
/// or `X-Forwarded-*` header changes none of them.
#[tokio::test]
async fn a_forged_host_changes_no_url_the_product_hands_out() {
    let s = Sso::new(false, 600).await;
    let req = Request::get("/t/acme/okta/login?return_to=/x")
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "http")
        .body(Body::empty())
        .unwrap();
    let r = s.app.call(req).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let auth = r.headers["location"].to_str().unwrap().to_owned();
    assert_eq!(query_param(&auth, "redirect_uri"), format!("{APP}t/acme/okta/auth_callback"));
    let view = s.app.admin("GET", "/admin/tenants/acme", None).await.json();
    assert_eq!(view["urls"]["event_hook"], "http://acme.localhost:3000/webhooks/okta", "{view}");
    assert_eq!(view["urls"]["oidc_redirect_uris"][1], format!("{APP}t/acme/okta/auth_callback"));
}

/// No SSRF through discovery: a document that names an endpoint on another host (or an internal
/// address) is refused before anything is sent there; the login page says Okta is unreachable.
#[tokio::test]
async fn discovered_endpoints_must_be_on_the_issuers_host() {
    use harness::oidc_op::Tamper;
    // One provider: a refused discovery is not cached, so each tampered document is read afresh.
    let s = Sso::new(false, 600).await;
    for (field, url) in [
        ("jwks_uri", "http://127.0.0.2:9/keys".to_owned()),
        ("token_endpoint", "https://169.254.169.254/latest/meta-data".to_owned()),
        ("userinfo_endpoint", "https://evil.example/userinfo".to_owned()),
    ] {
        s.op.tamper(Tamper::DiscoveryEndpoint(field, url));
        let r = s.get("/t/acme/okta/login?return_to=/", None).await;
        assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{field}: {}", r.body);
        assert!(r.body.contains("Okta could not be reached"), "{field}");
        let logs = crate::helpers::captured_logs();
        assert!(logs.contains("issuer's host"), "the log says why: {field}");
    }
}

/// Sessions can be ended: logout ends the session everywhere (the old cookie stops working), and
/// a session stops working at once when the user is deactivated or single sign-on is switched
/// off. The cookie carries who and which session, never a token.
#[tokio::test]
async fn sessions_end_at_logout_deactivation_and_sso_off_and_carry_no_token() {
    let s = Sso::new(false, 600).await;
    let value = |r: &Reply| {
        r.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with(SESSION_COOKIE))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_owned()
    };
    let r = s.sign_in("00uexisting0001").await;
    let cookie = value(&r);
    let payload =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, cookie.split('.').next().unwrap())
            .unwrap();
    let payload = String::from_utf8(payload).unwrap();
    assert!(!payload.contains("id_token") && !payload.contains("eyJ"), "no token in the cookie: {payload}");
    assert_eq!(s.get("/t/acme/okta/me", Some(&cookie)).await.status, StatusCode::OK);
    // Logout ends it: the same cookie, replayed, is refused.
    let req = Request::post("/t/acme/okta/logout")
        .header("host", HOST)
        .header("cookie", format!("{SESSION_COOKIE}={cookie}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(s.app.call(req).await.status, StatusCode::SEE_OTHER);
    assert_eq!(s.get("/t/acme/okta/me", Some(&cookie)).await.status, StatusCode::UNAUTHORIZED, "ended by logout");
    // Deactivation ends it.
    let cookie = value(&s.sign_in("00uexisting0001").await);
    assert_eq!(s.get("/t/acme/okta/me", Some(&cookie)).await.status, StatusCode::OK);
    let tenant = TenantId::parse("acme").unwrap();
    let store = &s.app.functions.adapters.store;
    let ann = shared::ports::UserReader::find_by_okta_id(
        store.as_ref(),
        &tenant,
        &OktaUserId::parse("00uexisting0001").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let mut off = ann.clone();
    off.status = UserStatus::Deactivated;
    let off = store.update_user(&tenant, &ann, &off, &[]).await.unwrap();
    assert_eq!(
        s.get("/t/acme/okta/me", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED,
        "the user was deactivated"
    );
    let mut on = off.clone();
    on.status = UserStatus::Active;
    store.update_user(&tenant, &off, &on, &[]).await.unwrap();
    assert_eq!(s.get("/t/acme/okta/me", Some(&cookie)).await.status, StatusCode::OK);
    // Single sign-on switched off ends it.
    let mut config = s.app.admin("GET", "/admin/tenants/acme", None).await.json();
    config["sso_enabled"] = json!(false);
    assert_eq!(s.app.admin("PUT", "/admin/tenants/acme", Some(config)).await.status, StatusCode::OK);
    assert_eq!(s.get("/t/acme/okta/me", Some(&cookie)).await.status, StatusCode::UNAUTHORIZED, "SSO is off");
}

/// A hook or a sync named Bob as a manager by his Okta id before Bob had one here: when single
/// sign-on links that Okta id to him by verified email, the waiting reference resolves (docs/behaviour/managers-and-teams.md).
#[tokio::test]
async fn linking_at_sign_in_resolves_the_references_waiting_for_that_okta_id() {
    use shared::domain::mapping::ManagerRef;
    use shared::domain::team::Waiting;
    use shared::ports::{PendingStore, UserReader};
    let s = Sso::new(false, 600).await;
    let tenant = TenantId::parse("acme").unwrap();
    let store = &s.app.functions.adapters.store;
    let reference = ManagerRef::OktaId(OktaUserId::parse("00ulinkme00001").unwrap()).key();
    let mut report = seed_user(&s.app, "rey@acme.example", Some("00ureport00001"), UserStatus::Active).await;
    let mut waiting = report.clone();
    waiting.pending_manager = Some(reference.clone());
    report = store.update_user(&tenant, &report, &waiting, &[]).await.unwrap();
    store.add_pending(&tenant, &reference, &Waiting::UserManager(report.id.clone())).await.unwrap();

    let r = s.sign_in("00ulinkme00001").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let bob = store.find_by_okta_id(&tenant, &OktaUserId::parse("00ulinkme00001").unwrap()).await.unwrap().unwrap();
    let report = store.get_user(&tenant, &report.id).await.unwrap().unwrap();
    assert_eq!(report.manager_id.as_ref(), Some(&bob.id), "{report:?}");
    assert_eq!(report.pending_manager, None);
    assert!(store.pending_for(&tenant, &reference).await.unwrap().is_empty(), "the pending record is gone");
}

#[tokio::test]
async fn refusals_for_the_wrong_person_say_why_and_create_no_session() {
    let s = Sso::new(false, 600).await;
    assert_page(&s.sign_in("00uunverified01").await, StatusCode::FORBIDDEN, "not verified");
    assert_page(&s.sign_in("00uimpostor001").await, StatusCode::FORBIDDEN, "linked to another Okta user");
    assert_page(&s.sign_in("00udeactivated1").await, StatusCode::FORBIDDEN, "deactivated");
    assert_page(&s.sign_in("00unewcomer001").await, StatusCode::FORBIDDEN, "must exist");
    // None of them was changed or linked.
    let cat = s.app.admin("GET", "/admin/tenants/acme/users?email=cat@acme.example", None).await.json();
    assert!(cat["users"][0]["okta_id"].is_null());
    let dan = s.app.admin("GET", "/admin/tenants/acme/users?email=dan@acme.example", None).await.json();
    assert_eq!(dan["users"][0]["okta_id"], "00urealdan0001");
}

#[tokio::test]
async fn just_in_time_provisioning_creates_the_user_through_the_state_machine() {
    let s = Sso::new(true, 600).await;
    let r = s.sign_in("00unewcomer001").await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let fay = s.app.admin("GET", "/admin/tenants/acme/users?okta_id=00unewcomer001", None).await.json();
    let fay = &fay["users"][0];
    assert_eq!((fay["email"].as_str(), fay["first_name"].as_str()), (Some("fay@acme.example"), Some("Fay")));
    assert_eq!(fay["status"], "active");
    let changes = s.app.admin("GET", "/admin/tenants/acme/changes?after=0&limit=100", None).await.json();
    assert!(changes["changes"].as_array().unwrap().iter().any(|c| c["actor"] == "sso" && c["action"] == "created"));
    // An unverified email is never provisioned.
    assert_page(&s.sign_in("00uunverified01").await, StatusCode::FORBIDDEN, "not verified");
}

#[tokio::test]
async fn tampered_substituted_and_expired_tokens_are_refused() {
    let s = Sso::new(false, 600).await;
    // A tampered signature.
    let auth = s.start("/").await;
    let callback = s.at_provider(&auth, "00uexisting0001").await;
    s.op.tamper(Tamper::FlipSignature);
    assert_page(&s.get(&callback, None).await, StatusCode::UNAUTHORIZED, "could not be verified");

    // A genuine ID token for the same client but another login (wrong nonce).
    let other_nonce = s
        .browser
        .id_token_for(
            &s.op.issuer,
            "bridge",
            CLIENT_SECRET,
            &format!("{APP}t/acme/okta/auth_callback"),
            "not-ours",
            "00uexisting0001",
        )
        .await;
    let auth = s.start("/").await;
    let callback = s.at_provider(&auth, "00uexisting0001").await;
    s.op.tamper(Tamper::SwapIdToken(other_nonce));
    assert_page(&s.get(&callback, None).await, StatusCode::UNAUTHORIZED, "could not be verified");

    // A genuine ID token with our nonce, issued to another client (wrong audience).
    let auth = s.start("/").await;
    let nonce = query_param(&auth, "nonce");
    let other_aud = s
        .browser
        .id_token_for(
            &s.op.issuer,
            "other-app",
            "other-app-secret",
            "http://127.0.0.1:9/callback",
            &nonce,
            "00uexisting0001",
        )
        .await;
    let callback = s.at_provider(&auth, "00uexisting0001").await;
    s.op.tamper(Tamper::SwapIdToken(other_aud));
    assert_page(&s.get(&callback, None).await, StatusCode::UNAUTHORIZED, "could not be verified");

    // A state nobody issued (a forged or mismatched callback).
    let auth = s.start("/").await;
    let callback = s.at_provider(&auth, "00uexisting0001").await;
    let forged = callback
        .replace(&format!("state={}", query_param(&format!("http://x{callback}"), "state")), "state=forged-state");
    assert_page(&s.get(&forged, None).await, StatusCode::BAD_REQUEST, "expired or was already used");
    let r = s.get("/t/acme/okta/auth_callback?code=abc", None).await;
    assert_page(&r, StatusCode::BAD_REQUEST, "expired or was already used");
    // Each refusal for its own reason (the logs say which; the pages never do).
    let logs = crate::helpers::captured_logs().to_lowercase();
    for reason in ["signature", "nonce", "audience"] {
        assert!(logs.contains(reason), "no refusal logged for the {reason}");
    }
    // Every refusal above logged no token, code or secret.
    assert!(!logs.contains(CLIENT_SECRET));
    assert!(!logs.contains(&query_param(&format!("http://x{callback}"), "code")));
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    let s = Sso::new(false, 1).await;
    let auth = s.start("/").await;
    let callback = s.at_provider(&auth, "00uexisting0001").await;
    // The token answer is held until the 1-second ID token has expired.
    s.op.tamper(Tamper::Delay(Duration::from_millis(2500)));
    assert_page(&s.get(&callback, None).await, StatusCode::UNAUTHORIZED, "could not be verified");
    assert!(crate::helpers::captured_logs().to_lowercase().contains("expired"));
}

#[tokio::test]
async fn the_wrong_issuer_is_refused() {
    let s = Sso::new(false, 600).await;
    // A genuine ID token, our client and our nonce, but from another issuer.
    let elsewhere = another_provider().await;
    let auth = s.start("/").await;
    let nonce = query_param(&auth, "nonce");
    let foreign = s
        .browser
        .id_token_for(
            &elsewhere.issuer,
            "bridge",
            CLIENT_SECRET,
            &format!("{APP}t/acme/okta/auth_callback"),
            &nonce,
            "00uexisting0001",
        )
        .await;
    let callback = s.at_provider(&auth, "00uexisting0001").await;
    s.op.tamper(Tamper::SwapIdToken(foreign));
    assert_page(&s.get(&callback, None).await, StatusCode::UNAUTHORIZED, "could not be verified");
    assert!(crate::helpers::captured_logs().to_lowercase().contains("issuer"));

    // The tenant names an issuer the provider does not claim to be (discovery says otherwise).
    let config = json!({"okta_domain": s.op.issuer, "issuer": format!("{}/oauth2/default", s.op.issuer),
        "client_id": "bridge", "sso_enabled": true, "provisioning": "none"});
    assert_eq!(s.app.admin("PUT", "/admin/tenants/acme", Some(config)).await.status, StatusCode::OK);
    let r = s.get("/t/acme/okta/login?return_to=/", None).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    assert!(r.body.contains("Okta could not be reached"));
}

#[tokio::test]
async fn open_redirects_okta_errors_disabled_sso_and_logout() {
    let s = Sso::new(false, 600).await;
    for bad in ["//evil.example", "https://evil.example", "/\\evil.example", "/%5Cevil", "javascript:alert(1)"] {
        let r = s.get(&format!("/t/acme/okta/login?return_to={}", urlencode(bad)), None).await;
        assert_page(&r, StatusCode::BAD_REQUEST, "must be on this site");
    }
    // Okta says no (the user is not assigned, or cancelled).
    let auth = s.start("/").await;
    let state = query_param(&auth, "state");
    let r = s
        .get(
            &format!(
                "/t/acme/okta/auth_callback?error=access_denied&error_description=User+is+not+assigned&state={state}"
            ),
            None,
        )
        .await;
    assert_page(&r, StatusCode::FORBIDDEN, "Access denied");
    assert!(!r.body.contains("User is not assigned"), "the provider's text is not echoed");
    let r = s.get("/t/acme/okta/auth_callback?error=server_error", None).await;
    assert_page(&r, StatusCode::BAD_REQUEST, "server_error");

    // Logout: the cookie is cleared and the browser goes to the issuer's end-session endpoint.
    let signed = s.sign_in("00uexisting0001").await;
    let cookie =
        signed.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let req = Request::post("/t/acme/okta/logout")
        .header("host", HOST)
        .header("cookie", format!("{SESSION_COOKIE}={cookie}"))
        .body(Body::empty())
        .unwrap();
    let r = s.app.call(req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.headers["location"].to_str().unwrap();
    assert!(to.starts_with(&format!("{}/session/end", s.op.issuer)), "{to}");
    assert!(query_param(to, "id_token_hint").split('.').count() == 3);
    assert_eq!(query_param(to, "post_logout_redirect_uri"), format!("{APP}t/acme/"));
    assert!(r.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));

    // A tenant with SSO switched off: not found.
    let config = json!({"okta_domain": s.op.issuer, "client_id": "bridge", "sso_enabled": false});
    assert_eq!(s.app.admin("PUT", "/admin/tenants/acme", Some(config)).await.status, StatusCode::OK);
    assert_page(&s.get("/t/acme/okta/login?return_to=/", None).await, StatusCode::NOT_FOUND, "not enabled");
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_once_and_sign_in_goes_on() {
    let mut s = Sso::new(false, 600).await;
    // The first sign-in caches the issuer's discovery document and keys.
    assert_eq!(s.sign_in("00uexisting0001").await.status, StatusCode::FOUND);
    // The issuer rotates its signing key: new ID tokens name a `kid` the cached keys lack.
    s.op.rotate_keys().await.expect("the provider restarts with a new key");
    let r = s.sign_in("00uexisting0001").await;
    assert_eq!(r.status, StatusCode::FOUND, "the keys are read again once: {}", r.body);
    assert_eq!(s.session_of(&r).await.okta_id.as_str(), "00uexisting0001");
}

/// Issue 14 §3: identities are linked as (Okta org, `sub`). Pointing a tenant at another Okta org
/// (an IdP someone else runs) does not let that org sign in as the users linked before; an issuer
/// off the Okta domain is refused outright.
#[tokio::test]
async fn a_new_okta_org_cannot_sign_in_as_users_linked_through_the_old_one() {
    let s = Sso::new(false, 600).await;
    // Bob is linked through this org at his first sign-in.
    assert_eq!(s.sign_in("00ulinkme00001").await.status, StatusCode::FOUND);
    let tenant = TenantId::parse("acme").unwrap();
    let store = &s.app.functions.adapters.store;
    let bob = shared::ports::UserReader::find_by_okta_id(
        store.as_ref(),
        &tenant,
        &OktaUserId::parse("00ulinkme00001").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(bob.okta_org.as_deref(), Some(s.op.issuer.as_str()));
    // An issuer on another host than the Okta domain: refused when written.
    let off = json!({"okta_domain": s.op.issuer, "issuer": "https://evil.example/oauth2/default", "client_id": "bridge",
        "sso_enabled": true, "provisioning": "none"});
    let r = s.app.admin("PUT", "/admin/tenants/acme", Some(off)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // The tenant now points at another org, which claims the same `sub`.
    let other = another_provider().await;
    let moved =
        json!({"okta_domain": other.issuer, "client_id": "bridge", "sso_enabled": true, "provisioning": "none"});
    assert_eq!(s.app.admin("PUT", "/admin/tenants/acme", Some(moved)).await.status, StatusCode::OK);
    let auth = s.start("/").await;
    assert!(auth.starts_with(&other.issuer), "{auth}");
    let callback = s.browser.sign_in(&auth, "00ulinkme00001", APP).await;
    let callback = callback.trim_start_matches(APP.trim_end_matches('/')).to_owned();
    assert_page(&s.get(&callback, None).await, StatusCode::FORBIDDEN, "another Okta organisation");
}
