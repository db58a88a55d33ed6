//! The Okta API client against the simulator (which speaks Okta's wire format): lookups, paging,
//! error codes, rate limits, retries, timeouts, and a token that never leaves the org.
use std::time::Duration;

use harness::okta_sim::{Fault, OktaSim};
use serde_json::json;
use shared::adapters::okta_http::{OktaHttp, OktaHttpOptions};
use shared::adapters::outbound::OutboundPolicy;
use shared::domain::{OktaUserId, Secret};
use shared::ports::okta::{OktaError, OktaOrg};
use shared::ports::OktaDirectory;

use crate::world::profile;

async fn setup() -> (OktaSim, OktaOrg, OktaHttp) {
    let sim = OktaSim::start(0, "00token", "0oaapp").await.unwrap();
    let org = OktaOrg {
        tenant: shared::domain::TenantId::parse("acme").unwrap(),
        base_url: sim.base_url.clone(),
        api_token: Secret::new("00token"),
    };
    let client = OktaHttp::new(OktaHttpOptions {
        timeout: Duration::from_millis(500),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        // The simulator is on loopback: as make dev and the tests allow, never in Lambda.
        outbound: OutboundPolicy { allow_loopback: true },
        ..OktaHttpOptions::default()
    });
    (sim, org, client)
}

/// No SSRF: without the local-development allowance, an Okta org on a loopback, private or
/// link-local address (or a name that resolves to one) is refused before any request is sent.
#[tokio::test]
async fn internal_addresses_are_refused_at_use() {
    let (sim, org, _) = setup().await;
    let strict = OktaHttp::new(OktaHttpOptions { retries: 0, ..OktaHttpOptions::default() });
    let before = sim.requests();
    for base in [
        sim.base_url.clone(),
        "https://169.254.169.254".into(),
        "https://10.0.0.7".into(),
        "https://localhost:9".into(),
    ] {
        let org = OktaOrg { base_url: base.clone(), ..org.clone() };
        match strict.get_user(&org, "00u1").await {
            Err(OktaError::Protocol(why)) => assert!(why.contains("refused URL"), "{base}: {why}"),
            other => panic!("{base}: {other:?}"),
        }
    }
    assert_eq!(sim.requests(), before, "nothing reached the simulator");
}

#[tokio::test]
async fn users_by_id_or_login_and_one_assignment() {
    let (sim, org, client) = setup().await;
    let id = sim.create_user(profile("Ann", "Lee", "ann@acme.example", json!({"login": "ann.lee@acme.example"})), true);
    let unassigned = sim.create_user(profile("Bo", "Ng", "bo@acme.example", json!({})), false);
    let by_id = client.get_user(&org, &id).await.unwrap().unwrap();
    assert_eq!(by_id.id, id);
    assert_eq!(by_id.attr("firstName").as_deref(), Some("Ann"));
    let by_login = client.get_user(&org, "ANN.LEE@acme.example").await.unwrap().unwrap();
    assert_eq!(by_login.id, id);
    assert!(client.get_user(&org, "00unobody").await.unwrap().is_none(), "E0000007 → not found");
    let oid = OktaUserId::parse(&id).unwrap();
    assert_eq!(client.get_app_user(&org, "0oaapp", &oid).await.unwrap().unwrap().id, id);
    assert!(client.get_app_user(&org, "0oaapp", &OktaUserId::parse(&unassigned).unwrap()).await.unwrap().is_none());
    let limit = client.rate_limit(&org.base_url).expect("rate-limit headers tracked");
    assert_eq!(limit.limit, 600);
    assert!(limit.remaining < 600);
}

#[tokio::test]
async fn app_users_page_with_link_headers_and_embedded_users() {
    let (sim, org, client) = setup().await;
    for i in 0..7 {
        sim.create_user(profile("U", &format!("N{i}"), &format!("u{i}@acme.example"), json!({})), i != 3);
    }
    let mut seen = Vec::new();
    let mut next = None;
    let mut pages = 0;
    loop {
        let page = client.list_app_users(&org, "0oaapp", next.as_deref(), 2).await.unwrap();
        pages += 1;
        for u in &page.users {
            let embedded = u.embedded.as_ref().and_then(|e| e.user.as_ref()).expect("expand=user embeds the user");
            assert_eq!(embedded.id, u.id);
            seen.push(u.id.clone());
        }
        match page.next {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (6, 3), "6 assigned users in pages of 2");
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 6);
    // A next link to another origin is refused: the token never leaves the org.
    let evil = client.list_app_users(&org, "0oaapp", Some("https://evil.example/api/v1/apps/0oaapp/users"), 2).await;
    assert!(matches!(evil, Err(OktaError::Protocol(_))));
}

#[tokio::test]
async fn errors_retries_and_rate_limits() {
    let (sim, org, client) = setup().await;
    let id = sim.create_user(profile("Ann", "Lee", "ann@acme.example", json!({})), true);
    // A wrong token: E0000011, not retried.
    let bad = OktaOrg { api_token: Secret::new("wrong"), ..org.clone() };
    match client.get_user(&bad, &id).await {
        Err(OktaError::Unauthorized { code }) => assert_eq!(code, "E0000011"),
        other => panic!("{other:?}"),
    }
    // Two 5xx then success: retried with backoff.
    sim.inject(Fault::ServerError, 2);
    let before = sim.requests();
    assert!(client.get_user(&org, &id).await.unwrap().is_some());
    assert_eq!(sim.requests() - before, 3);
    // Too many 5xx: unavailable after the bounded retries (1 + 3 attempts).
    sim.inject(Fault::ServerError, 4);
    assert!(matches!(client.get_user(&org, &id).await, Err(OktaError::Unavailable(_))));
    // A timeout is retried like a 5xx.
    sim.inject(Fault::Delay(Duration::from_millis(800)), 1);
    assert!(client.get_user(&org, &id).await.unwrap().is_some());
    // Garbage instead of JSON is a protocol error, not a crash.
    sim.inject(Fault::Garbage, 1);
    assert!(matches!(client.get_user(&org, &id).await, Err(OktaError::Protocol(_))));
    // A 429 with a near reset is waited out inline; an exhausted bucket is handed back as
    // "retry after", measured from X-Rate-Limit-Reset against the response Date.
    sim.inject(Fault::RateLimited, 1);
    assert!(client.get_user(&org, &id).await.unwrap().is_some());
    sim.set_rate_limit(2, Duration::from_secs(30));
    assert!(client.get_user(&org, &id).await.is_ok());
    assert!(client.get_user(&org, &id).await.is_ok());
    match client.get_user(&org, &id).await {
        Err(OktaError::RateLimited { retry_after }) => {
            assert!(retry_after >= Duration::from_secs(20), "{retry_after:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.rate_limit(&org.base_url).unwrap().remaining, 0);
}
