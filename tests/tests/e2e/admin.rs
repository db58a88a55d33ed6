//! The admin API through API Gateway's routing, on the real stack.
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::json;
use shared::domain::change::{Action, Actor, EntityKind, NewChange};
use shared::domain::user::{User, UserStatus};
use shared::domain::{Email, OktaUserId, TenantId, UserId};
use shared::ports::{UserReader, UserWriter};

use crate::helpers::TestApp;

fn error_code(r: &crate::helpers::Reply) -> String {
    r.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_new_tenant_gets_config_secrets_and_an_empty_user_list() {
    let app = TestApp::spawn().await;
    let put = app
        .admin(
            "PUT",
            "/admin/tenants/acme",
            Some(json!({"okta_domain": "https://acme.okta.com", "client_id": "0oaclient", "app_id": "0oaapp",
                "sso_enabled": true, "provisioning": "event_hooks", "manager_mode": "team_first_user",
                "field_mappings": [{"okta": "costCenter", "field": "cost_center"}]})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.json()["version"], 1);
    assert_eq!(put.json()["manager_mode"], "team_first_user");

    let set = app
        .admin("POST", "/admin/tenants/acme/secrets/okta_api_token", Some(json!({"value": "00okta-token-value"})))
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    assert!(set.body.is_empty());
    let set = app
        .admin("POST", "/admin/tenants/acme/secrets/oidc_client_secret", Some(json!({"value": "client-secret-value"})))
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT);

    let got = app.admin("GET", "/admin/tenants/acme", None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(!got.body.contains("00okta-token-value") && !got.body.contains("client-secret-value"), "{}", got.body);
    let v = got.json();
    assert_eq!(v["okta_domain"], "https://acme.okta.com");
    assert_eq!(v["secrets"]["okta_api_token"]["set"], true);
    assert_eq!(v["secrets"]["oidc_client_secret"]["set"], true);
    assert_eq!(v["secrets"]["event_hook_secret"]["set"], false);

    let users = app.admin("GET", "/admin/tenants/acme/users", None).await;
    assert_eq!(users.status, StatusCode::OK);
    assert_eq!(users.json(), json!({"users": [], "next": null}));

    // A second PUT replaces the config and bumps the version; GET → PUT round-trips.
    let mut again = got.json();
    again["sso_enabled"] = json!(false);
    let put = app.admin("PUT", "/admin/tenants/acme", Some(again)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.json()["version"], 2);
    assert_eq!(put.json()["sso_enabled"], false);
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;

    let mut no_token =
        axum::http::Request::builder().uri("/admin/tenants/acme").body(axum::body::Body::empty()).unwrap();
    no_token.headers_mut().insert("host", "127.0.0.1".parse().unwrap());
    let r = app.call(no_token).await;
    assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    assert_eq!(r.headers["www-authenticate"], "Bearer");

    let wrong = axum::http::Request::builder()
        .uri("/admin/tenants/acme")
        .header("authorization", format!("Bearer {}x", app.admin_token))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.call(wrong).await.status, StatusCode::UNAUTHORIZED);

    let unknown = app.admin("GET", "/admin/tenants/nobody", None).await;
    assert_eq!((unknown.status, error_code(&unknown).as_str()), (StatusCode::NOT_FOUND, "tenant_not_found"));
    let unknown = app.admin("GET", "/admin/tenants/nobody/users", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let unknown = app.admin("POST", "/admin/tenants/nobody/scim-tokens", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let bad_id = app.admin("GET", "/admin/tenants/Not_A_Tenant", None).await;
    assert_eq!((bad_id.status, error_code(&bad_id).as_str()), (StatusCode::BAD_REQUEST, "invalid_request"));

    let req = axum::http::Request::builder()
        .method("PUT")
        .uri("/admin/tenants/acme")
        .header("authorization", format!("Bearer {}", app.admin_token))
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"okta_domain\": "))
        .unwrap();
    let r = app.call(req).await;
    assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::BAD_REQUEST, "invalid_json"));
    assert!(r.content_type().starts_with("application/json"));

    let huge = json!({"okta_domain": "https://acme.okta.com", "padding": "x".repeat(70 * 1024)});
    let r = app.admin("PUT", "/admin/tenants/acme", Some(huge)).await;
    assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));

    let invalid = app
        .admin(
            "PUT",
            "/admin/tenants/acme",
            Some(json!({"okta_domain": "http://acme.okta.com", "deactivation_brake_percent": 300})),
        )
        .await;
    assert_eq!((invalid.status, error_code(&invalid).as_str()), (StatusCode::BAD_REQUEST, "invalid_config"));
    let fields: Vec<String> = invalid.json()["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["okta_domain", "deactivation_brake_percent"]);

    let typo = app
        .admin("PUT", "/admin/tenants/acme", Some(json!({"okta_domain": "https://acme.okta.com", "sso_enabeld": true})))
        .await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
    assert!(typo.body.contains("sso_enabeld"), "{}", typo.body);

    let unknown_secret =
        app.admin("POST", "/admin/tenants/acme/secrets/admin_token", Some(json!({"value": "x"}))).await;
    assert_eq!(unknown_secret.status, StatusCode::BAD_REQUEST);
    let not_json = app.admin("POST", "/admin/tenants/acme/secrets/okta_api_token", Some(json!({"value": 42}))).await;
    assert_eq!((not_json.status, error_code(&not_json).as_str()), (StatusCode::BAD_REQUEST, "invalid_json"));

    let r = app.admin("DELETE", "/admin/tenants/acme", None).await;
    assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    let r = app.admin("GET", "/admin/nothing-here", None).await;
    assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::NOT_FOUND, "not_found"));
    let r = app.admin("GET", "/admin/tenants/acme/users?status=gone", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app.admin("GET", "/admin/tenants/acme/users?bogus=1", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app.admin("GET", "/admin/tenants/acme/users?cursor=%25%25", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app.admin("GET", "/admin/tenants/acme/groups", None).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, serde_json::json!({"groups": []})));
}

#[tokio::test]
async fn scim_tokens_and_event_hook_secrets_are_shown_once() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;

    let issued = app.admin("POST", "/admin/tenants/acme/scim-tokens", None).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
    assert_eq!(issued.headers["cache-control"], "no-store");
    let token = issued.json()["token"].as_str().unwrap().to_owned();
    let id = issued.json()["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with("scim_") && token.len() > 40);
    assert!(app
        .functions
        .adapters
        .root
        .tokens
        .verify_scim(&TenantId::parse("acme").unwrap(), &token)
        .await
        .unwrap()
        .is_some());

    let listed = app.admin("GET", "/admin/tenants/acme/scim-tokens", None).await;
    assert!(!listed.body.contains(&token), "token value never listed");
    assert_eq!(listed.json()["tokens"][0]["id"], id.as_str());
    assert!(listed.json()["tokens"][0].get("sha256").is_none(), "hash never listed");

    let revoked = app.admin("DELETE", &format!("/admin/tenants/acme/scim-tokens/{id}"), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert!(app
        .functions
        .adapters
        .root
        .tokens
        .verify_scim(&TenantId::parse("acme").unwrap(), &token)
        .await
        .unwrap()
        .is_none());
    let again = app.admin("DELETE", "/admin/tenants/acme/scim-tokens/tok_nope", None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let first = app.admin("POST", "/admin/tenants/acme/event-hook-secret", None).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.json()["header"], "Authorization");
    let second = app.admin("POST", "/admin/tenants/acme/event-hook-secret", None).await;
    let (s1, s2) =
        (first.json()["secret"].as_str().unwrap().to_owned(), second.json()["secret"].as_str().unwrap().to_owned());
    assert_ne!(s1, s2);
    let acme = TenantId::parse("acme").unwrap();
    let secrets = &app.functions.adapters.root.secrets;
    assert_eq!(
        secrets.verify_event_hook_secret(&acme, &s1).await.unwrap(),
        Some(true),
        "old secret valid during overlap"
    );
    let view = app.admin("GET", "/admin/tenants/acme", None).await.json();
    assert!(view["secrets"]["event_hook_secret"]["previous_valid_until"].is_string());
    let revoke = app.admin("DELETE", "/admin/tenants/acme/event-hook-secret/previous", None).await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    assert_eq!(secrets.verify_event_hook_secret(&acme, &s1).await.unwrap(), Some(false));
    assert_eq!(secrets.verify_event_hook_secret(&acme, &s2).await.unwrap(), Some(true));
}

fn user(n: u8, email: &str, okta: &str) -> User {
    let mut b = [0u8; 16];
    b[0] = n;
    let mut u =
        User::new(UserId::from_random(b), Email::parse(email).unwrap(), format!("F{n}"), format!("L{n}"), Utc::now());
    u.okta_id = Some(OktaUserId::parse(okta).unwrap());
    u
}

fn created(u: &User) -> NewChange {
    NewChange {
        at: Utc::now(),
        actor: Actor::Admin,
        entity: EntityKind::User,
        entity_id: u.id.to_string(),
        action: Action::Created,
        changes: shared::domain::change::diff(None, u),
    }
}

#[tokio::test]
async fn users_are_listed_per_tenant_only() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    app.create_tenant("beta").await;
    let store = &app.functions.adapters.store;
    let (acme, beta) = (TenantId::parse("acme").unwrap(), TenantId::parse("beta").unwrap());
    let mut ids = Vec::new();
    for n in 1..=3 {
        let u = user(n, &format!("User{n}@Acme.com"), &format!("00uacme{n}"));
        ids.push(store.create_user(&acme, &u, &[created(&u)]).await.unwrap().id);
    }
    let b = user(9, "user1@acme.com", "00uacme1");
    let b = store.create_user(&beta, &b, &[created(&b)]).await.unwrap();
    let mut off = store.get_user(&acme, &ids[2]).await.unwrap().unwrap();
    let before = off.clone();
    off.status = UserStatus::Deactivated;
    store.update_user(&acme, &before, &off, &[created(&off)]).await.unwrap();

    let all = app.admin("GET", "/admin/tenants/acme/users", None).await.json();
    assert_eq!(all["users"].as_array().unwrap().len(), 3);
    let page1 = app.admin("GET", "/admin/tenants/acme/users?limit=2", None).await.json();
    assert_eq!(page1["users"].as_array().unwrap().len(), 2);
    let cursor = page1["next"].as_str().unwrap();
    let page2 = app.admin("GET", &format!("/admin/tenants/acme/users?limit=2&cursor={cursor}"), None).await.json();
    assert_eq!(page2["users"].as_array().unwrap().len(), 1);
    assert!(page2["next"].is_null());

    let by_email = app.admin("GET", "/admin/tenants/acme/users?email=USER1%40acme.COM", None).await.json();
    assert_eq!(by_email["users"][0]["id"], ids[0].as_str());
    let by_okta = app.admin("GET", "/admin/tenants/acme/users?okta_id=00uacme2", None).await.json();
    assert_eq!(by_okta["users"][0]["id"], ids[1].as_str());
    let inactive = app.admin("GET", "/admin/tenants/acme/users?status=deactivated", None).await.json();
    assert_eq!(inactive["users"].as_array().unwrap().len(), 1);
    assert_eq!(inactive["users"][0]["status"], "deactivated");

    let one = app.admin("GET", &format!("/admin/tenants/acme/users/{}", ids[0]), None).await;
    assert_eq!(one.status, StatusCode::OK);
    for field in [
        "id",
        "okta_id",
        "email",
        "first_name",
        "last_name",
        "title",
        "job_title",
        "avatar_url",
        "primary_language",
        "primary_location",
        "primary_team",
        "manager_id",
        "status",
        "status_reason",
        "custom_fields",
        "invited_at",
        "created_at",
        "updated_at",
    ] {
        assert!(one.json().get(field).is_some(), "User has {field}");
    }
    // Tenant B's user through tenant A's path: not found, and nothing of B in the answer.
    let cross = app.admin("GET", &format!("/admin/tenants/acme/users/{}", b.id), None).await;
    assert_eq!(cross.status, StatusCode::NOT_FOUND);
    let beta_list = app.admin("GET", "/admin/tenants/beta/users", None).await.json();
    assert_eq!(beta_list["users"].as_array().unwrap().len(), 1);
    // A cursor from tenant A cannot reach into tenant B.
    let leaked = app.admin("GET", &format!("/admin/tenants/beta/users?limit=2&cursor={cursor}"), None).await.json();
    assert!(leaked["users"].as_array().unwrap().iter().all(|u| u["id"] == b.id.as_str()));

    let changes = app.admin("GET", "/admin/tenants/acme/changes?after=0&limit=10", None).await.json();
    assert_eq!(changes["changes"].as_array().unwrap().len(), 4);
    assert_eq!(changes["changes"][0]["seq"], 1);
    assert_eq!(changes["next_after"], 4);
    let rest = app.admin("GET", "/admin/tenants/acme/changes?after=3", None).await.json();
    assert_eq!(rest["changes"].as_array().unwrap().len(), 1);
}
