//! Every kind of secret is set through the API; none of their values appears in any log line the
//! whole test binary wrote (debug level for dependencies, trace for ours), nor in any response
//! except the one that hands a generated value out.
use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{captured_logs, TestApp};

#[tokio::test]
async fn no_secret_value_reaches_a_log_line_or_a_later_response() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let okta_token = format!("00OKTA-{}", uuid::Uuid::new_v4().simple());
    let client_secret = format!("OIDC-{}", uuid::Uuid::new_v4().simple());
    let mut secrets = vec![app.admin_token.clone(), okta_token.clone(), client_secret.clone()];

    for (name, value) in [("okta_api_token", &okta_token), ("oidc_client_secret", &client_secret)] {
        let r = app.admin("POST", &format!("/admin/tenants/acme/secrets/{name}"), Some(json!({"value": value}))).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        // Rotating it: the old value is now "previous" inside the stored document.
        let r = app
            .admin("POST", &format!("/admin/tenants/acme/secrets/{name}"), Some(json!({"value": format!("{value}-2")})))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        secrets.push(format!("{value}-2"));
    }
    // A malformed secret body is refused without echoing what was sent.
    let r = app
        .admin(
            "POST",
            "/admin/tenants/acme/secrets/okta_api_token",
            Some(json!({"value": okta_token.clone(), "extra": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!r.body.contains(&okta_token));
    for _ in 0..2 {
        let r = app.admin("POST", "/admin/tenants/acme/event-hook-secret", None).await;
        secrets.push(r.json()["secret"].as_str().unwrap().to_owned());
    }
    let r = app.admin("POST", "/admin/tenants/acme/scim-tokens", None).await;
    secrets.push(r.json()["token"].as_str().unwrap().to_owned());
    // Use them: verification paths log too.
    let acme = shared::domain::TenantId::parse("acme").unwrap();
    let svc = &app.functions.adapters.root.secrets;
    let tokens = &app.functions.adapters.root.tokens;
    assert!(tokens.verify_scim(&acme, secrets.last().unwrap()).await.unwrap().is_some());
    assert_eq!(svc.verify_event_hook_secret(&acme, &secrets[5]).await.unwrap(), Some(true));
    let wrong = axum::http::Request::builder()
        .uri("/admin/tenants/acme")
        .header("authorization", format!("Bearer {okta_token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.call(wrong).await.status, StatusCode::UNAUTHORIZED);

    // Later responses never carry them.
    for path in ["/admin/tenants/acme", "/admin/tenants/acme/scim-tokens", "/admin/tenants/acme/users"] {
        let body = app.admin("GET", path, None).await.body;
        for s in &secrets {
            assert!(!body.contains(s.as_str()), "{path} leaks a secret");
        }
    }

    let logs = captured_logs();
    assert!(logs.contains("tenant secret set"), "the capture works and saw this test's requests");
    assert!(logs.contains("SCIM token issued"));
    assert!(logs.len() > 10_000, "debug logs of the SDK are captured too ({} bytes)", logs.len());
    let hits: Vec<&String> = secrets.iter().filter(|s| logs.contains(s.as_str())).collect();
    assert!(hits.is_empty(), "{} secret value(s) found in the logs", hits.len());
}
