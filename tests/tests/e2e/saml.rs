//! SAML 2.0 sign-in end to end (docs/behaviour/sign-in.md, "SAML 2.0"): the sign-in function's
//! `/saml/*` routes against a real SAML IdP running locally (`tests/saml-idp`, from the npm
//! registry), a headless browser going through its login form and posting its answer to our ACS,
//! and a refusal for each acceptance rule: the IdP is told to get one thing wrong, or its real
//! signed answer is rearranged as an attacker would (signature wrapping, a comment in the NameID,
//! a DTD), or replayed.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use harness::saml_idp::{HtmlForm, SamlIdp};
use serde_json::{json, Value};
use shared::domain::user::{User, UserStatus};
use shared::domain::{Email, OktaUserId, TenantId, UserId};
use shared::ports::{UserReader, UserWriter};

use crate::helpers::{Reply, TestApp};

struct Saml {
    app: TestApp,
    idp: SamlIdp,
    tenant: String,
    /// `urls.saml` of the admin API's tenant view: what the admin pasted into Okta.
    urls: Value,
    /// This browser's cookies on our site (`name=value`).
    jar: std::sync::Mutex<Vec<String>>,
}

fn people() -> Value {
    json!([
        {"email": "ann@acme.example", "firstName": "Ann", "lastName": "Lee", "oktaId": "00usamlann001"},
        {"email": "bob@acme.example", "firstName": "Bob", "lastName": "Ray", "oktaId": "00usamlbob001"},
        {"email": "eve@acme.example", "firstName": "Eve", "lastName": "Ash", "oktaId": "00usamleve001"},
        {"email": "ann@acme.example.evil.test", "firstName": "Mal", "lastName": "Lory", "oktaId": "00usamlmal001"},
    ])
}

fn split_url(url: &str) -> (String, String) {
    let u = url::Url::parse(url).expect("absolute URL");
    let host = match u.port() {
        Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
        None => u.host_str().unwrap_or_default().to_owned(),
    };
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    };
    (host, path)
}

impl Saml {
    async fn new(tenant: &str, extra: Value) -> Self {
        Self::on(TestApp::spawn().await, tenant, extra).await
    }

    async fn on(app: TestApp, tenant: &str, extra: Value) -> Self {
        let idp = SamlIdp::start().await.expect("the SAML IdP starts");
        let mut config = json!({"okta_domain": idp.base, "sso_enabled": true, "sso_protocol": "saml",
            "saml_idp_metadata_url": idp.metadata_url(), "provisioning": "scim"});
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        let put = app.admin("PUT", &format!("/admin/tenants/{tenant}"), Some(config)).await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.body);
        let urls = app.admin("GET", &format!("/admin/tenants/{tenant}"), None).await.json()["urls"]["saml"].clone();
        // The admin pastes our entity id and ACS URL into the Okta app.
        idp.register_sp(urls["entity_id"].as_str().unwrap(), urls["acs_url"].as_str().unwrap()).await;
        idp.people(people()).await;
        let s = Self { app, idp, tenant: tenant.into(), urls, jar: Default::default() };
        s.seed("ann@acme.example", Some("00usamlann001"), UserStatus::Active).await;
        s.seed("bob@acme.example", None, UserStatus::Active).await;
        s.seed("eve@acme.example", Some("00usamleve001"), UserStatus::Deactivated).await;
        s
    }

    async fn seed(&self, email: &str, okta: Option<&str>, status: UserStatus) -> User {
        let mut u = User::new(
            UserId::from_random(*uuid::Uuid::new_v4().as_bytes()),
            Email::parse(email).unwrap(),
            "Seed".into(),
            "User".into(),
            chrono::Utc::now(),
        );
        u.okta_id = okta.map(|o| OktaUserId::parse(o).unwrap());
        u.okta_org = okta.map(|_| self.idp.base.clone());
        u.status = status;
        self.app.functions.adapters.store.create_user(&self.tenant_id(), &u, &[]).await.unwrap()
    }

    fn tenant_id(&self) -> TenantId {
        TenantId::parse(&self.tenant).unwrap()
    }

    async fn user(&self, email: &str) -> User {
        let email = Email::parse(email).unwrap();
        self.app.functions.adapters.store.find_by_email(&self.tenant_id(), &email).await.unwrap().unwrap()
    }

    /// A request to our site from this browser (its cookies; they are kept as a browser would).
    async fn send(&self, method: &str, url: &str, form: Option<String>, with_cookies: bool) -> Reply {
        let (host, path) = split_url(url);
        let mut req = Request::builder().method(method).uri(path).header("host", host);
        let cookies = self.jar.lock().unwrap().clone();
        if with_cookies && !cookies.is_empty() {
            req = req.header("cookie", cookies.join("; "));
        }
        let req = match form {
            Some(f) => req.header("content-type", "application/x-www-form-urlencoded").body(Body::from(f)),
            None => req.body(Body::empty()),
        };
        let r = self.app.call(req.unwrap()).await;
        if with_cookies {
            for set in r.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
                let pair = set.split(';').next().unwrap_or_default().to_owned();
                let mut jar = self.jar.lock().unwrap();
                jar.retain(|c| c.split('=').next() != pair.split('=').next());
                if !set.contains("Max-Age=0") {
                    jar.push(pair);
                }
            }
        }
        r
    }

    /// SP-initiated: our login redirects to the IdP, the person signs in there, and the IdP's
    /// auto-posting form comes back (not yet posted).
    async fn login_at_idp(&self, email: &str, return_to: &str) -> HtmlForm {
        let start = format!("http://127.0.0.1:3000/t/{}/saml/login?return_to={return_to}", self.tenant);
        let mut r = self.send("GET", &start, None, true).await;
        // The /t/ form sends the browser to the tenant's canonical host first.
        if r.status == StatusCode::FOUND && !r.headers["location"].to_str().unwrap().starts_with(&self.idp.base) {
            let canonical = r.headers["location"].to_str().unwrap().to_owned();
            r = self.send("GET", &canonical, None, true).await;
        }
        assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
        let cookie = r.headers["set-cookie"].to_str().unwrap();
        for attr in ["HttpOnly", "Secure", "SameSite=None", "Max-Age=600"] {
            assert!(cookie.contains(attr), "the login cookie must come back on a cross-site POST: {cookie}");
        }
        let location = r.headers["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&format!("{}/sso?SAMLRequest=", self.idp.base)), "{location}");
        self.idp.sign_in(&location, email).await
    }

    /// The browser posts the IdP's form to our ACS.
    async fn post(&self, form: &HtmlForm, with_cookies: bool) -> Reply {
        assert_eq!(form.action, self.acs(), "the IdP posts to the ACS the admin registered");
        self.send("POST", &form.action, Some(form.encoded()), with_cookies).await
    }

    fn acs(&self) -> &str {
        self.urls["acs_url"].as_str().unwrap()
    }

    /// The session cookie an ACS answer set, checked as a session cookie.
    fn session_cookie(r: &Reply) -> String {
        let set = r
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.contains("okta_bridge_session="))
            .unwrap_or_else(|| panic!("no session cookie: {:?}", r.headers))
            .to_owned();
        for attr in ["HttpOnly", "Secure", "SameSite=Lax"] {
            assert!(set.contains(attr), "{set}");
        }
        set.split(';').next().unwrap().to_owned()
    }

    async fn me(&self, session: &str) -> Reply {
        let base = self.urls["entity_id"].as_str().unwrap().trim_end_matches("/saml/metadata").to_owned();
        let (host, _) = split_url(&base);
        let req = Request::get("/okta/me").header("host", host).header("cookie", session).body(Body::empty());
        self.app.call(req.unwrap()).await
    }
}

fn assert_page(r: &Reply, status: StatusCode, words: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/html"), "{:?}", r.headers);
    assert!(r.body.contains(words), "expected {words:?} in {}", r.body);
}

#[tokio::test]
async fn a_person_signs_in_through_a_real_idp_once_and_only_in_their_browser() {
    let s = Saml::new("saml-sp", json!({})).await;
    assert!(s.urls["entity_id"].as_str().unwrap().ends_with("/saml/metadata"));
    // Our SP metadata, as the admin's Okta reads it.
    let meta = s.send("GET", s.urls["metadata_url"].as_str().unwrap(), None, false).await;
    assert_eq!(meta.status, StatusCode::OK);
    assert!(meta.body.contains(s.acs()) && meta.body.contains(s.urls["entity_id"].as_str().unwrap()));

    let form = s.login_at_idp("ann@acme.example", "/courses/42").await;
    let done = s.post(&form, true).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.headers["location"].to_str().unwrap().ends_with("/courses/42"));
    let cleared = done
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .any(|c| c.starts_with("okta_bridge_login_") && c.contains("Max-Age=0") && c.contains("SameSite=None"));
    assert!(cleared, "the finished login's binding cookie is cleared: {:?}", done.headers);
    let session = Saml::session_cookie(&done);
    let me = s.me(&session).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let who = me.json();
    let ann = s.user("ann@acme.example").await;
    assert_eq!((who["id"].as_str(), who["email"].as_str()), (Some(ann.id.as_str()), Some("ann@acme.example")));
    assert_eq!(who["okta_id"], "00usamlann001");
    assert!(who["first_name"].is_string() && who["last_name"].is_string());

    // The same response again (a replay): refused.
    assert_page(&s.post(&form, true).await, StatusCode::BAD_REQUEST, "expired or was already used");
    // A login finished in another browser (no login cookie): refused, and no session.
    let form = s.login_at_idp("ann@acme.example", "/").await;
    let elsewhere = s.post(&form, false).await;
    assert_page(&elsewhere, StatusCode::BAD_REQUEST, "started in another browser");
    assert!(elsewhere.headers.get("set-cookie").is_none());
    // Bob has no Okta id here yet: the oktaUserId attribute links him by email.
    let form = s.login_at_idp("bob@acme.example", "/").await;
    assert_eq!(s.post(&form, true).await.status, StatusCode::SEE_OTHER);
    assert_eq!(s.user("bob@acme.example").await.okta_id.unwrap().as_str(), "00usamlbob001");
    // Deactivated: refused with the same page as OIDC.
    let form = s.login_at_idp("eve@acme.example", "/").await;
    assert_page(&s.post(&form, true).await, StatusCode::FORBIDDEN, "deactivated");
    // /okta/login on a SAML tenant goes to the SAML login.
    let r = s.send("GET", &format!("http://127.0.0.1:3000/t/{}/okta/login?return_to=/x", s.tenant), None, false).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert!(r.headers["location"].to_str().unwrap().ends_with("/saml/login?return_to=%2Fx"));
}

#[tokio::test]
async fn the_okta_dashboard_tile_signs_in_when_allowed_and_only_once() {
    let s = Saml::new("saml-tile", json!({})).await;
    let entity = s.urls["entity_id"].as_str().unwrap().to_owned();
    let form = s.idp.tile(&entity, "ann@acme.example", Some("/courses/7")).await;
    let done = s.post(&form, false).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.headers["location"].to_str().unwrap().ends_with("/courses/7"));
    let me = s.me(&Saml::session_cookie(&done)).await;
    assert_eq!(me.json()["email"], "ann@acme.example");
    assert_page(&s.post(&form, false).await, StatusCode::BAD_REQUEST, "expired or was already used");

    let off = app_with_tiles_off(&s).await;
    let form = s.idp.tile(&entity, "ann@acme.example", None).await;
    assert_page(&off.post(&form, false).await, StatusCode::FORBIDDEN, "Okta dashboard is turned off");
}

/// The same tenant with IdP-initiated sign-in switched off.
async fn app_with_tiles_off(s: &Saml) -> &Saml {
    let mut config = s.app.admin("GET", &format!("/admin/tenants/{}", s.tenant), None).await.json();
    config["saml_allow_idp_initiated"] = json!(false);
    let put = s.app.admin("PUT", &format!("/admin/tenants/{}", s.tenant), Some(config)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    s
}

#[tokio::test]
async fn each_acceptance_rule_refuses_a_response_and_links_no_one() {
    let s = Saml::new("saml-rules", json!({})).await;
    let cases = [
        ("audience", json!({"audience": "http://other.example/saml/metadata"})),
        ("destination", json!({"destination": "http://evil.example/saml/acs"})),
        ("recipient", json!({"recipient": "http://evil.example/saml/acs"})),
        ("issuer", json!({"issuer": "http://www.okta.com/exkSOMEONEELSE"})),
        ("expired", json!({"lifetime_seconds": -600})),
        ("not yet valid", json!({"not_before_offset_seconds": 600})),
        ("signed by an unknown key", json!({"key": "attacker"})),
        ("signed by the next key before it is published", json!({"key": "next"})),
        ("unsigned", json!({"sign": "none"})),
    ];
    for (what, overrides) in cases {
        s.idp.next(overrides).await;
        let form = s.login_at_idp("bob@acme.example", "/").await;
        let r = s.post(&form, true).await;
        assert_page(&r, StatusCode::UNAUTHORIZED, "could not be verified");
        assert!(r.headers.get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().contains("session=")), "{what}");
        assert!(s.user("bob@acme.example").await.okta_id.is_none(), "{what}: nothing linked");
    }
    // An answer to a request this browser never made.
    s.idp.next(json!({"in_response_to": "idNEVERSENT"})).await;
    let form = s.login_at_idp("bob@acme.example", "/").await;
    assert_page(&s.post(&form, true).await, StatusCode::BAD_REQUEST, "expired or was already used");
    // The IdP refused (status not Success).
    s.idp.next(json!({"status": "urn:oasis:names:tc:SAML:2.0:status:Responder"})).await;
    let form = s.login_at_idp("bob@acme.example", "/").await;
    assert_page(&s.post(&form, true).await, StatusCode::UNAUTHORIZED, "could not be verified");
    assert!(s.user("bob@acme.example").await.okta_id.is_none());
    // Signed on the Response instead of the Assertion, or both: accepted.
    for sign in ["response", "both"] {
        s.idp.next(json!({"sign": sign})).await;
        let form = s.login_at_idp("ann@acme.example", "/").await;
        assert_eq!(s.post(&form, true).await.status, StatusCode::SEE_OTHER, "{sign}");
    }
}

/// The real IdP's last signed answer, rearranged by `shape`, posted by an attacker.
async fn post_rearranged(s: &Saml, email: &str, shape: impl Fn(&str) -> String) -> Reply {
    let entity = s.urls["entity_id"].as_str().unwrap().to_owned();
    let form = s.idp.tile(&entity, email, None).await;
    let xml = s.idp.last().await["xml"].as_str().unwrap().to_owned();
    let evil = shape(&xml);
    assert_ne!(evil, xml, "the shape changed nothing");
    use base64::Engine;
    let posted = base64::engine::general_purpose::STANDARD.encode(evil);
    let mut forged = form.clone();
    forged.fields = vec![("SAMLResponse".into(), posted)];
    s.post(&forged, false).await
}

/// `(start, end)` of the one `<…:Assertion …>…</…:Assertion>` element of `xml`.
fn assertion_span(xml: &str) -> (usize, usize) {
    let open = xml.find(":Assertion ").or_else(|| xml.find("<Assertion ")).expect("an assertion");
    let start = xml[..open].rfind('<').unwrap();
    let close = xml.rfind(":Assertion>").or_else(|| xml.rfind("</Assertion>")).unwrap();
    (start, close + xml[close..].find('>').unwrap() + 1)
}

/// The assertion with the NameID and email replaced: an attacker's unsigned copy.
fn evil_copy(assertion: &str, id: &str) -> String {
    let mut evil = assertion.replace("ann@acme.example", "bob@acme.example").replace("00usamlann001", "00usamlbob001");
    if let (Some(s), Some(e)) = (evil.find("<ds:Signature"), evil.find("</ds:Signature>")) {
        evil.replace_range(s..e + "</ds:Signature>".len(), "");
    }
    let id_at = evil.find(" ID=\"").unwrap() + 5;
    let id_end = id_at + evil[id_at..].find('"').unwrap();
    evil.replace_range(id_at..id_end, id);
    evil
}

#[tokio::test]
async fn signature_wrapping_comments_and_dtds_are_refused() {
    let s = Saml::new("saml-xsw", json!({})).await;
    let bob_before = s.user("bob@acme.example").await;
    type Shape = Box<dyn Fn(&str) -> String>;
    let shapes: Vec<(&str, Shape)> = vec![
        (
            "an unsigned assertion before the signed one",
            Box::new(|x: &str| {
                let (a, b) = assertion_span(x);
                format!("{}{}{}", &x[..a], evil_copy(&x[a..b], "idEVIL1"), &x[a..])
            }),
        ),
        (
            "an unsigned assertion after the signed one",
            Box::new(|x: &str| {
                let (_, b) = assertion_span(x);
                let (a, _) = assertion_span(x);
                format!("{}{}{}", &x[..b], evil_copy(&x[a..b], "idEVIL2"), &x[b..])
            }),
        ),
        (
            "the signed assertion moved into Extensions, an evil one in its place",
            Box::new(|x: &str| {
                let (a, b) = assertion_span(x);
                let ext = format!(
                    "<samlp:Extensions xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">{}</samlp:Extensions>",
                    &x[a..b]
                );
                format!("{}{ext}{}{}", &x[..a], evil_copy(&x[a..b], "idEVIL3"), &x[b..])
            }),
        ),
        (
            "the evil assertion takes the signed one's id and signature",
            Box::new(|x: &str| {
                let (a, b) = assertion_span(x);
                let signed = &x[a..b];
                let id_at = signed.find(" ID=\"").unwrap() + 5;
                let id = &signed[id_at..id_at + signed[id_at..].find('"').unwrap()];
                let sig = &signed[signed.find("<ds:Signature").unwrap()..signed.find("</ds:Signature>").unwrap() + 15];
                let evil = evil_copy(signed, id);
                // Right after the evil assertion's Issuer, where the signature sat.
                let issuer_close = evil.find("</").unwrap();
                let at = issuer_close + evil[issuer_close..].find('>').unwrap() + 1;
                format!("{}{}{sig}{}{}", &x[..a], &evil[..at], &evil[at..], &x[b..])
            }),
        ),
        (
            "a DTD with an entity",
            Box::new(|x: &str| {
                let body = x.trim_start_matches(|c| c != '<');
                let body = if body.starts_with("<?xml") { &body[body.find("?>").unwrap() + 2..] } else { body };
                format!("<!DOCTYPE r [<!ENTITY who \"bob@acme.example\">]>{body}")
            }),
        ),
    ];
    for (what, shape) in shapes {
        let r = post_rearranged(&s, "ann@acme.example", shape).await;
        assert_page(&r, StatusCode::UNAUTHORIZED, "could not be verified");
        assert!(r.headers.get("set-cookie").is_none(), "{what}");
    }
    // The IdP signed Mallory's address `ann@acme.example.evil.test`; a comment after
    // `ann@acme.example` leaves the signature valid (c14n drops comments) but must not make her Ann.
    let r = post_rearranged(&s, "ann@acme.example.evil.test", |x| {
        x.replace("ann@acme.example.evil.test<", "ann@acme.example<!---->.evil.test<")
    })
    .await;
    assert_page(&r, StatusCode::UNAUTHORIZED, "could not be verified");
    assert_eq!(s.user("bob@acme.example").await, bob_before, "nothing linked or changed");
}

#[tokio::test]
async fn two_idp_certificates_are_trusted_during_a_rollover() {
    let s = Saml::new("saml-roll", json!({})).await;
    s.idp.publish(&["current", "next"]).await;
    // The admin pastes the new metadata (both certificates) as XML this time.
    let xml = reqwest::get(s.idp.metadata_url()).await.unwrap().text().await.unwrap();
    let mut config = s.app.admin("GET", "/admin/tenants/saml-roll", None).await.json();
    config["saml_idp_metadata_url"] = Value::Null;
    config["saml_idp_metadata_xml"] = json!(xml);
    assert_eq!(s.app.admin("PUT", "/admin/tenants/saml-roll", Some(config)).await.status, StatusCode::OK);
    for key in ["current", "next"] {
        s.idp.next(json!({"key": key})).await;
        let form = s.login_at_idp("ann@acme.example", "/").await;
        assert_eq!(s.post(&form, true).await.status, StatusCode::SEE_OTHER, "{key}");
    }
    s.idp.next(json!({"key": "attacker"})).await;
    let form = s.login_at_idp("ann@acme.example", "/").await;
    assert_page(&s.post(&form, true).await, StatusCode::UNAUTHORIZED, "could not be verified");
}

#[tokio::test]
async fn a_person_signs_in_with_saml_in_a_real_browser() {
    let (app, base) = TestApp::spawn_listening().await;
    let s = Saml::on(app, "saml-browser", json!({})).await;
    // Debian's chromium (make test installs it), driven by puppeteer-core from tests/saml-idp.
    let out = tokio::process::Command::new("node")
        .arg("browser-login.js")
        .arg(format!("{base}/t/saml-browser/saml/login?return_to=/okta/me"))
        .arg("ann@acme.example")
        .arg("/okta/me")
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("saml-idp"))
        .output()
        .await
        .expect("node runs");
    assert!(out.status.success(), "the browser sign-in failed: {}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    // It landed on the tenant's own host (the ACS the admin registered), signed in as Ann.
    assert!(seen["landed"].as_str().unwrap().starts_with(s.acs().trim_end_matches("/saml/acs")), "{seen}");
    assert_eq!(seen["status"], 200, "{seen}");
    let me: Value = serde_json::from_str(seen["body"].as_str().unwrap()).expect("/okta/me answers JSON");
    assert_eq!((me["email"].as_str(), me["okta_id"].as_str()), (Some("ann@acme.example"), Some("00usamlann001")));
    assert_eq!(me["id"].as_str(), Some(s.user("ann@acme.example").await.id.as_str()));
    let cookies = seen["cookies"].as_array().unwrap();
    let session =
        cookies.iter().find(|c| c["name"].as_str().unwrap().ends_with("okta_bridge_session")).expect("a session");
    assert_eq!(
        (&session["secure"], &session["httpOnly"], &session["sameSite"]),
        (&json!(true), &json!(true), &json!("Lax"))
    );
    assert!(
        cookies.iter().all(|c| !c["name"].as_str().unwrap().starts_with("okta_bridge_login_")),
        "the login's binding cookie is gone: {seen}"
    );
}
