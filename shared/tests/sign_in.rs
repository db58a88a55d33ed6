//! The sign-in use case on in-memory ports (the fast tier: no emulator, no AWS SDK): a login bound
//! to its browser and used once, linking by Okta id then by verified email, refusals, sessions
//! that end at logout, deactivation and SSO off. The end-to-end tests run it against a real
//! OpenID provider; these pin the rules in seconds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed test
use chrono::Duration;
use shared::app::sso::{CallbackQuery, SsoError, SsoService};
use shared::domain::sso::{Refusal, SignedIn};
use shared::domain::tenant::{ConfigRules, TenantConfig, TenantConfigInput};
use shared::domain::user::{User, UserStatus};
use shared::domain::{OktaUserId, Secret, TenantId};
use shared::fakes::Fakes;
use shared::ports::{Clock, ConfigStore, UserReader, UserWriter};

const REDIRECT: &str = "https://api.example.com/t/acme/okta/auth_callback";

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

async fn tenant(f: &Fakes, jit: bool) -> TenantConfig {
    let input: TenantConfigInput = serde_json::from_value(serde_json::json!({
        "okta_domain": "https://acme.okta.com", "client_id": "0oaclient", "sso_enabled": true,
        "jit_provisioning": jit, "provisioning": "none"
    }))
    .unwrap();
    let config = input.into_config(acme(), None, f.clock.now(), ConfigRules { allow_insecure_okta: true }).unwrap();
    let stored = f.store.put_config(&config).await.unwrap();
    let secrets = f.secret_service();
    secrets
        .set(&acme(), shared::app::secrets::TenantSecret::OidcClientSecret, Secret::new("client-secret"))
        .await
        .unwrap();
    secrets.rotate_session_key().await.unwrap();
    stored
}

async fn user(f: &Fakes, n: u8, email: &str, okta: Option<&str>) -> User {
    f.numbered_user(&acme(), n, email, okta.map(|o| (o, "https://acme.okta.com"))).await
}

fn who(okta: &str, email: &str, verified: bool) -> SignedIn {
    SignedIn {
        okta_id: OktaUserId::parse(okta).unwrap(),
        email: Some(email.into()),
        email_verified: verified,
        given_name: Some("Ann".into()),
        family_name: Some("Lee".into()),
        locale: None,
        updated_at: None,
    }
}

/// Starts a login and comes back with `code` in the browser holding `binding` (the login cookie).
async fn sign_in(
    sso: &SsoService,
    code: &str,
    binding: Option<&str>,
) -> Result<shared::app::sso::SignInDone, SsoError> {
    let started = sso.start(&acme(), Some("/courses"), REDIRECT).await.unwrap();
    let state = started.url.split("state=").nth(1).unwrap().to_owned();
    let query = CallbackQuery { code: Some(code.into()), state: Some(state), ..Default::default() };
    let cookie = started.cookie_value.clone();
    sso.finish(&acme(), &query, binding.or(Some(cookie.as_str()))).await
}

#[tokio::test]
async fn a_login_finishes_once_and_only_in_the_browser_that_started_it() {
    let f = Fakes::new();
    tenant(&f, false).await;
    let ann = user(&f, 1, "ann@acme.example", Some("00uann")).await;
    let sso = f.sso_service();
    let started = sso.start(&acme(), Some("/courses"), REDIRECT).await.unwrap();
    let state = started.url.split("state=").nth(1).unwrap().to_owned();
    f.oidc.will_sign_in("code-1", who("00uann", "ann@acme.example", true));
    let query = CallbackQuery { code: Some("code-1".into()), state: Some(state), ..Default::default() };
    assert!(matches!(sso.finish(&acme(), &query, Some("another-browser")).await, Err(SsoError::OtherBrowser)));
    assert!(matches!(sso.finish(&acme(), &query, None).await, Err(SsoError::OtherBrowser)));
    let done = sso.finish(&acme(), &query, Some(&started.cookie_value)).await.unwrap();
    assert_eq!((done.session.user_id, done.return_to.as_str()), (ann.id, "/courses"));
    assert!(sso.session(&acme(), &done.cookie).await.is_some());
    assert!(
        matches!(sso.finish(&acme(), &query, Some(&started.cookie_value)).await, Err(SsoError::StaleState)),
        "replay"
    );
    assert!(matches!(sso.start(&acme(), Some("https://evil.example/"), REDIRECT).await, Err(SsoError::UnsafeReturnTo)));
}

#[tokio::test]
async fn users_link_by_okta_id_then_by_verified_email_and_the_rest_are_refused() {
    let f = Fakes::new();
    tenant(&f, false).await;
    let bob = user(&f, 2, "bob@acme.example", None).await;
    user(&f, 3, "cy@acme.example", Some("00ucy")).await;
    let sso = f.sso_service();
    // An unverified email links nobody.
    f.oidc.will_sign_in("c1", who("00ubob", "bob@acme.example", false));
    assert!(matches!(sign_in(&sso, "c1", None).await, Err(SsoError::Refused(Refusal::EmailNotVerified))));
    // A verified one links Bob's account to this Okta id, once and for all.
    f.oidc.will_sign_in("c2", who("00ubob", "bob@acme.example", true));
    assert_eq!(sign_in(&sso, "c2", None).await.unwrap().session.user_id, bob.id);
    let linked = f.store.get_user(&acme(), &bob.id).await.unwrap().unwrap();
    assert_eq!(linked.okta_id.unwrap().as_str(), "00ubob");
    // Cy's email, presented by another Okta user, does not take Cy's account.
    f.oidc.will_sign_in("c3", who("00uother", "cy@acme.example", true));
    assert!(matches!(sign_in(&sso, "c3", None).await, Err(SsoError::Refused(Refusal::EmailLinkedElsewhere))));
    // Someone unknown, without just-in-time provisioning.
    f.oidc.will_sign_in("c4", who("00unew", "new@acme.example", true));
    assert!(matches!(sign_in(&sso, "c4", None).await, Err(SsoError::Refused(Refusal::UnknownUser))));
    // A code the provider never issued.
    assert!(matches!(sign_in(&sso, "forged", None).await, Err(SsoError::Verification(_))));
}

#[tokio::test]
async fn just_in_time_provisioning_creates_the_user_from_the_claims() {
    let f = Fakes::new();
    tenant(&f, true).await;
    let sso = f.sso_service();
    f.oidc.will_sign_in("c1", who("00ujit", "jit@acme.example", true));
    let done = sign_in(&sso, "c1", None).await.unwrap();
    let u = f.store.get_user(&acme(), &done.session.user_id).await.unwrap().unwrap();
    assert_eq!((u.email.as_str(), u.okta_id.unwrap().as_str()), ("jit@acme.example", "00ujit"));
}

#[tokio::test]
async fn sessions_end_at_logout_deactivation_sso_off_and_expiry() {
    let f = Fakes::new();
    let config = tenant(&f, false).await;
    let ann = user(&f, 1, "ann@acme.example", Some("00uann")).await;
    let sso = f.sso_service();
    let session = |code: &'static str| {
        f.oidc.will_sign_in(code, who("00uann", "ann@acme.example", true));
        sign_in(&sso, code, None)
    };
    // Logout ends it (and says where the provider logs out).
    let done = session("c1").await.unwrap();
    let to = sso.end_session(&acme(), Some(&done.cookie), "https://acme.example/").await.unwrap();
    assert!(to.starts_with("https://acme.okta.com/v1/logout"), "{to}");
    assert!(sso.session(&acme(), &done.cookie).await.is_none());
    // Not for another tenant, and not after its expiry.
    let done = session("c2").await.unwrap();
    assert!(sso.session(&TenantId::parse("other").unwrap(), &done.cookie).await.is_none());
    f.clock.advance(shared::domain::sso::SESSION_TTL + Duration::seconds(1));
    assert!(sso.session(&acme(), &done.cookie).await.is_none());
    // Turning single sign-on off ends them.
    let done = session("c3").await.unwrap();
    assert!(sso.session(&acme(), &done.cookie).await.is_some());
    let mut current = f.store.get_config(&acme()).await.unwrap().unwrap();
    current.sso_enabled = false;
    f.store.put_config(&current).await.unwrap();
    assert!(sso.session(&acme(), &done.cookie).await.is_none());
    current = f.store.get_config(&acme()).await.unwrap().unwrap();
    current.sso_enabled = config.sso_enabled;
    f.store.put_config(&current).await.unwrap();
    // Deactivating the user ends every session at once.
    let done = session("c4").await.unwrap();
    assert!(sso.session(&acme(), &done.cookie).await.is_some());
    let before = f.store.get_user(&acme(), &ann.id).await.unwrap().unwrap();
    let mut after = before.clone();
    after.status = UserStatus::Deactivated;
    f.store.update_user(&acme(), &before, &after, &[]).await.unwrap();
    assert!(sso.session(&acme(), &done.cookie).await.is_none());
}
