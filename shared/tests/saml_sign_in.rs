//! SAML sign-in on in-memory ports (the fast tier): the SP-initiated request used once and only
//! in its browser, IdP-initiated sign-in behind its switch, each assertion accepted once, IdP
//! metadata by URL (cached) or XML with two certificates, and the same linking, provisioning and
//! refusals as OIDC. The end-to-end tests run the same flows against a real SAML IdP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed test
use base64::Engine;
use shared::app::sso::{SamlEndpoints, SignInDone, SsoError, SsoService};
use shared::domain::saml::testing::{idp_metadata_xml, Signed, TestKey, TestResponse};
use shared::domain::saml::SamlRefusal;
use shared::domain::sso::Refusal;
use shared::domain::tenant::{ConfigRules, SsoProtocol, TenantConfig, TenantConfigInput};
use shared::domain::user::{User, UserStatus};
use shared::domain::TenantId;
use shared::fakes::Fakes;
use shared::ports::{Clock, ConfigStore, UserReader, UserWriter};

const ENTITY: &str = "https://acme.example.com/saml/metadata";
const ACS: &str = "https://acme.example.com/saml/acs";
const METADATA_URL: &str = "https://acme.okta.com/app/exkTEST/sso/saml/metadata";

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn endpoints() -> SamlEndpoints {
    SamlEndpoints {
        entity_id: ENTITY.into(),
        acs_urls: vec![ACS.into(), "https://api.example.com/t/acme/saml/acs".into()],
    }
}

async fn tenant(f: &Fakes, extra: serde_json::Value) -> TenantConfig {
    let mut body = serde_json::json!({
        "okta_domain": "https://acme.okta.com", "sso_enabled": true, "sso_protocol": "saml",
        "saml_idp_metadata_url": METADATA_URL, "provisioning": "scim"
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let input: TenantConfigInput = serde_json::from_value(body).unwrap();
    let config = input.into_config(acme(), None, f.clock.now(), ConfigRules::default()).unwrap();
    f.oidc.publish_metadata(METADATA_URL, Some(&idp_metadata_xml(&[TestKey::Current])));
    f.secret_service().rotate_session_key().await.unwrap();
    f.store.put_config(&config).await.unwrap()
}

async fn user(f: &Fakes, n: u8, email: &str, okta: Option<&str>) -> User {
    f.numbered_user(&acme(), n, email, okta.map(|o| (o, "https://acme.okta.com"))).await
}

/// The request id inside the AuthnRequest the browser is sent to the IdP with.
fn request_id(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    let encoded = parsed.query_pairs().find(|(k, _)| k == "SAMLRequest").unwrap().1.into_owned();
    let raw = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    let xml = String::from_utf8(miniz_oxide::inflate::decompress_to_vec(&raw).unwrap()).unwrap();
    assert!(xml.contains(&format!(r#"AssertionConsumerServiceURL="{ACS}""#)), "{xml}");
    assert!(xml.contains(&format!("<saml:Issuer>{ENTITY}</saml:Issuer>")), "{xml}");
    xml.split(" ID=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

fn response(f: &Fakes, email: &str, okta: Option<&str>) -> TestResponse {
    let mut r = TestResponse::new(ACS, ENTITY, email, f.clock.now());
    r.okta_id = okta.map(str::to_owned);
    r
}

async fn acs(
    sso: &SsoService,
    posted: &str,
    relay: Option<&str>,
    cookies: &[(String, String)],
) -> Result<SignInDone, SsoError> {
    let jar = cookies.to_vec();
    let read = move |name: &str| jar.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    sso.saml_acs(&acme(), posted, relay, &read, &endpoints()).await
}

#[tokio::test]
async fn an_sp_initiated_login_finishes_once_and_only_in_its_browser() {
    let f = Fakes::new();
    tenant(&f, serde_json::json!({})).await;
    let ann = user(&f, 1, "ann@acme.example", Some("00uann")).await;
    let sso = f.sso_service();
    let started = sso.saml_start(&acme(), Some("/courses"), &endpoints()).await.unwrap();
    assert!(started.cross_site, "the binding cookie must come back on the IdP's cross-site POST");
    assert!(started.url.starts_with(shared::domain::saml::testing::IDP_SSO_URL));
    let id = request_id(&started.url);
    let mut r = response(&f, "ann@acme.example", Some("00uann"));
    r.in_response_to = Some(id);
    let posted = r.posted();
    let mine = vec![(started.cookie_name.clone(), started.cookie_value.clone())];
    let theirs = vec![(started.cookie_name.clone(), "another-browser".to_owned())];
    assert!(matches!(acs(&sso, &posted, None, &theirs).await, Err(SsoError::OtherBrowser)));
    assert!(matches!(acs(&sso, &posted, None, &[]).await, Err(SsoError::OtherBrowser)), "no cookie");
    let done = acs(&sso, &posted, Some("/ignored-when-solicited"), &mine).await.unwrap();
    assert_eq!(done.session.user_id, ann.id);
    assert_eq!(done.return_to, "/courses");
    assert!(matches!(acs(&sso, &posted, None, &mine).await, Err(SsoError::StaleState)), "a replay is refused");
    assert_eq!(sso.me(&acme(), &done.cookie).await.unwrap().1.id, ann.id);
    // A response to a request nobody started.
    let mut stray = response(&f, "ann@acme.example", Some("00uann"));
    stray.in_response_to = Some("idNEVERSTARTED".into());
    assert!(matches!(acs(&sso, &stray.posted(), None, &mine).await, Err(SsoError::StaleState)));
}

#[tokio::test]
async fn idp_initiated_sign_in_is_taken_once_when_the_tenant_allows_it() {
    let f = Fakes::new();
    tenant(&f, serde_json::json!({})).await;
    let ann = user(&f, 1, "ann@acme.example", Some("00uann")).await;
    let sso = f.sso_service();
    let posted = response(&f, "ann@acme.example", Some("00uann")).posted();
    let done = acs(&sso, &posted, Some("/courses/7"), &[]).await.unwrap();
    assert_eq!((done.session.user_id, done.return_to.as_str()), (ann.id.clone(), "/courses/7"));
    assert!(matches!(acs(&sso, &posted, None, &[]).await, Err(SsoError::StaleState)), "its own replay guard");
    let other = response(&f, "ann@acme.example", Some("00uann")).posted();
    assert_eq!(
        acs(&sso, &other, Some("https://evil.example/"), &[]).await.unwrap().return_to,
        "/",
        "unsafe RelayState"
    );

    let g = Fakes::new();
    tenant(&g, serde_json::json!({"saml_allow_idp_initiated": false})).await;
    user(&g, 1, "ann@acme.example", Some("00uann")).await;
    let posted = response(&g, "ann@acme.example", Some("00uann")).posted();
    assert!(matches!(acs(&g.sso_service(), &posted, None, &[]).await, Err(SsoError::IdpInitiatedOff)));
}

#[tokio::test]
async fn linking_provisioning_and_refusals_are_those_of_oidc() {
    let f = Fakes::new();
    tenant(&f, serde_json::json!({"jit_provisioning": true})).await;
    let linked = user(&f, 1, "ann@acme.example", Some("00uann")).await;
    let unlinked = user(&f, 2, "bob@acme.example", None).await;
    let gone = user(&f, 3, "cy@acme.example", Some("00ucy")).await;
    let mut gone_after = gone.clone();
    gone_after.status = UserStatus::Deactivated;
    f.store.update_user(&acme(), &gone, &gone_after, &[]).await.unwrap();
    let sso = f.sso_service();
    let post = |email: &str, okta: Option<&str>| response(&f, email, okta).posted();

    // Without the oktaUserId attribute: a linked person is found by email; an unlinked one is not.
    let done = acs(&sso, &post("ann@acme.example", None), None, &[]).await.unwrap();
    assert_eq!(done.session.user_id, linked.id);
    let refused = acs(&sso, &post("bob@acme.example", None), None, &[]).await;
    assert!(matches!(refused, Err(SsoError::Refused(Refusal::OktaIdMissing))), "{:?}", refused.as_ref().err());
    // With it: linked by email and the Okta id stored.
    let done = acs(&sso, &post("bob@acme.example", Some("00ubob")), None, &[]).await.unwrap();
    assert_eq!(done.session.user_id, unlinked.id);
    let bob = f.store.get_user(&acme(), &unlinked.id).await.unwrap().unwrap();
    assert_eq!(bob.okta_id.unwrap().as_str(), "00ubob");
    // Deactivated: refused. Unknown with JIT on: created.
    let refused = acs(&sso, &post("cy@acme.example", Some("00ucy")), None, &[]).await;
    assert!(matches!(refused, Err(SsoError::Refused(Refusal::Deactivated))));
    let done = acs(&sso, &post("dee@acme.example", Some("00udee")), None, &[]).await.unwrap();
    let dee = f.store.get_user(&acme(), &done.session.user_id).await.unwrap().unwrap();
    assert_eq!(dee.email.as_str(), "dee@acme.example");
    // A forged response links nothing.
    let mut forged = response(&f, "bob@acme.example", Some("00uattacker"));
    forged.key = TestKey::Attacker;
    let refused = acs(&sso, &forged.posted(), None, &[]).await;
    assert!(matches!(refused, Err(SsoError::Saml(SamlRefusal::BadSignature))), "{:?}", refused.as_ref().err());
    let bob_after = f.store.get_user(&acme(), &unlinked.id).await.unwrap().unwrap();
    assert_eq!(bob_after.okta_id.unwrap().as_str(), "00ubob");
}

#[tokio::test]
async fn metadata_comes_from_its_url_cached_or_from_xml_with_two_certificates() {
    let f = Fakes::new();
    tenant(&f, serde_json::json!({})).await;
    user(&f, 1, "ann@acme.example", Some("00uann")).await;
    let sso = f.sso_service();
    acs(&sso, &response(&f, "ann@acme.example", Some("00uann")).posted(), None, &[]).await.unwrap();
    // The IdP's metadata endpoint goes away: the cached copy keeps sign-in working.
    f.oidc.publish_metadata(METADATA_URL, None);
    acs(&sso, &response(&f, "ann@acme.example", Some("00uann")).posted(), None, &[]).await.unwrap();
    // A fresh service (a new Lambda instance) with no cache and no metadata cannot sign in.
    let cold = f.sso_service();
    let refused = acs(&cold, &response(&f, "ann@acme.example", Some("00uann")).posted(), None, &[]).await;
    assert!(matches!(refused, Err(SsoError::IdpMetadata(_))), "{:?}", refused.as_ref().err());

    // Rollover: the metadata XML carries both certificates; either may sign.
    let g = Fakes::new();
    let xml = idp_metadata_xml(&[TestKey::Current, TestKey::Next]);
    tenant(&g, serde_json::json!({"saml_idp_metadata_url": null, "saml_idp_metadata_xml": xml})).await;
    user(&g, 1, "ann@acme.example", Some("00uann")).await;
    let sso = g.sso_service();
    for key in [TestKey::Current, TestKey::Next] {
        let mut r = response(&g, "ann@acme.example", Some("00uann"));
        r.key = key;
        r.signed = Signed::Both;
        acs(&sso, &r.posted(), None, &[]).await.unwrap_or_else(|e| panic!("{key:?}: {e}"));
    }
}

#[tokio::test]
async fn each_protocol_sends_the_other_away_and_config_rules_hold() {
    let f = Fakes::new();
    let config = tenant(&f, serde_json::json!({})).await;
    assert_eq!(config.sso_protocol, SsoProtocol::Saml);
    let sso = f.sso_service();
    let oidc = sso.start(&acme(), None, "https://acme.example.com/okta/auth_callback").await;
    assert!(matches!(oidc, Err(SsoError::OtherProtocol(SsoProtocol::Saml))));
    let meta = sso.saml_sp_metadata(&acme(), &endpoints()).await.unwrap();
    assert!(meta.contains(ENTITY) && meta.contains(ACS));

    let problems = |body: serde_json::Value| {
        let input: TenantConfigInput = serde_json::from_value(body).unwrap();
        input.into_config(acme(), None, f.clock.now(), ConfigRules::default()).unwrap_err().0
    };
    let p = problems(
        serde_json::json!({"okta_domain": "https://acme.okta.com", "sso_enabled": true, "sso_protocol": "saml"}),
    );
    assert_eq!(p[0].field, "saml_idp_metadata_url");
    let p = problems(
        serde_json::json!({"okta_domain": "https://acme.okta.com", "sso_enabled": true, "sso_protocol": "saml",
        "saml_idp_metadata_url": "http://10.0.0.1/metadata"}),
    );
    assert_eq!(p[0].field, "saml_idp_metadata_url");
    let p = problems(
        serde_json::json!({"okta_domain": "https://acme.okta.com", "sso_enabled": true, "sso_protocol": "saml",
        "saml_idp_metadata_xml": "<md:EntityDescriptor/>"}),
    );
    assert_eq!(p[0].field, "saml_idp_metadata_xml");
}
