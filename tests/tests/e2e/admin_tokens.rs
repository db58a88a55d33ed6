//! Tenant admin tokens and token records (docs/behaviour/secrets-and-tokens.md, docs/behaviour/admin-api.md), against the emulator: a tenant token
//! reaches its own tenant only, never deployment routes; issue, rotate with overlap, revoke; SCIM
//! tokens of the legacy Secrets Manager document keep working and move into records.
use axum::http::StatusCode;
use serde_json::json;
use shared::domain::legacy_scim_tokens::{ScimTokenRecord, ScimTokenSet};
use shared::ports::SecretStore;

use crate::helpers::{remember_secret, Reply, TestApp};
use crate::scim::scim;

fn forbidden(r: &Reply, what: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.body);
    assert_eq!(r.json()["error"]["code"], "forbidden", "{what}");
}

async fn issue_admin_token(app: &TestApp, tenant: &str) -> (String, String) {
    let r = app.admin("POST", &format!("/admin/tenants/{tenant}/admin-tokens"), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.headers["cache-control"], "no-store");
    (r.json()["id"].as_str().unwrap().to_owned(), r.json()["token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_tenant_admin_token_reaches_its_own_tenant_and_nothing_else() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let (id, token) = issue_admin_token(&app, "acme").await;
    assert!(token.starts_with("obadm_") && token.len() > 40);

    // Its own tenant: config, users, SCIM tokens, its own admin tokens.
    let own = app.admin_as(&token, "GET", "/admin/tenants/acme", None).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.json()["secrets"]["admin_tokens_active"], 1);
    let put = app
        .admin_as(&token, "PUT", "/admin/tenants/acme", Some(json!({"okta_domain": "https://acme2.okta.com"})))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(app.admin_as(&token, "GET", "/admin/tenants/acme/users", None).await.status, StatusCode::OK);
    let scim_token = app.admin_as(&token, "POST", "/admin/tenants/acme/scim-tokens", None).await;
    assert_eq!(scim_token.status, StatusCode::CREATED, "{}", scim_token.body);
    let listed = app.admin_as(&token, "GET", "/admin/tenants/acme/admin-tokens", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json()["tokens"][0]["id"], id.as_str());
    assert!(!listed.body.contains(&token) && listed.json()["tokens"][0].get("sha256").is_none());

    // Another tenant, existing or not: 403, and nothing of it changes.
    let before = app.admin("GET", "/admin/tenants/other", None).await.json();
    for (method, path, body) in [
        ("GET", "/admin/tenants/other", None),
        ("PUT", "/admin/tenants/other", Some(json!({"okta_domain": "https://evil.okta.com"}))),
        ("GET", "/admin/tenants/other/users", None),
        ("POST", "/admin/tenants/other/scim-tokens", None),
        ("POST", "/admin/tenants/other/secrets/okta_api_token", Some(json!({"value": "00stolen"}))),
        ("GET", "/admin/tenants/other/admin-tokens", None),
        ("POST", "/admin/tenants/other/sync", None),
        ("GET", "/admin/tenants/ghost", None),
        ("GET", "/admin/tenants/acmex/health", None),
    ] {
        forbidden(&app.admin_as(&token, method, path, body).await, path);
    }
    assert_eq!(app.admin("GET", "/admin/tenants/other", None).await.json(), before, "other tenant untouched");
    assert_eq!(before["secrets"]["okta_api_token"]["set"], false);

    // Deployment routes and minting admin tokens are the operator's.
    for (method, path) in [
        ("POST", "/admin/admin-token/rotate"),
        ("DELETE", "/admin/admin-token/previous"),
        ("POST", "/admin/session-key/rotate"),
        ("DELETE", "/admin/session-key/previous"),
        ("POST", "/admin/dlq/redrive"),
        ("POST", "/admin/tenants/acme/admin-tokens"),
    ] {
        forbidden(&app.admin_as(&token, method, path, None).await, path);
    }
    let rotate = format!("/admin/tenants/acme/admin-tokens/{id}/rotate");
    forbidden(&app.admin_as(&token, "POST", &rotate, None).await, "rotating");

    // Kinds stay apart: an admin token is no SCIM token, a SCIM token no admin token.
    let scim_value = scim_token.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        scim(&app, "/t/acme/scim/v2/Users", Some(&format!("Bearer {token}"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.admin_as(&scim_value, "GET", "/admin/tenants/acme", None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.admin_as("obadm_made-up", "GET", "/admin/tenants/acme", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admin_tokens_rotate_with_overlap_and_revoke_at_once() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let (id, old) = issue_admin_token(&app, "acme").await;
    let (other_id, _) = issue_admin_token(&app, "other").await;

    // Rotation: the operator gets a new token; the old one works until `previous_valid_until`.
    let rotated = app.admin("POST", &format!("/admin/tenants/acme/admin-tokens/{id}/rotate"), None).await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    assert_eq!(rotated.headers["cache-control"], "no-store");
    let new = rotated.json()["token"].as_str().unwrap().to_owned();
    let new_id = rotated.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(rotated.json()["previous_id"], id.as_str());
    let until: chrono::DateTime<chrono::Utc> =
        rotated.json()["previous_valid_until"].as_str().unwrap().parse().unwrap();
    assert!(until > chrono::Utc::now() + chrono::Duration::hours(23));
    for t in [&old, &new] {
        assert_eq!(app.admin_as(t, "GET", "/admin/tenants/acme", None).await.status, StatusCode::OK);
    }

    // The tenant's own token revokes the old one: refused at once (this deployment's tests run
    // with no cache; a warm Lambda elsewhere refuses within 60 s, see `app::tokens`).
    let revoked = app.admin_as(&new, "DELETE", &format!("/admin/tenants/acme/admin-tokens/{id}"), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
    assert_eq!(app.admin_as(&old, "GET", "/admin/tenants/acme", None).await.status, StatusCode::UNAUTHORIZED);
    let listed = app.admin("GET", "/admin/tenants/acme/admin-tokens", None).await.json();
    let states: Vec<_> =
        listed["tokens"].as_array().unwrap().iter().map(|t| (t["id"].clone(), t["active"].clone())).collect();
    assert!(states.contains(&(json!(id), json!(false))) && states.contains(&(json!(new_id), json!(true))));

    // A revoked token cannot be rotated; another tenant's token id is not found here.
    let again = app.admin("POST", &format!("/admin/tenants/acme/admin-tokens/{id}/rotate"), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.json()["error"]["code"], "token_not_found");
    let foreign = app.admin_as(&new, "DELETE", &format!("/admin/tenants/acme/admin-tokens/{other_id}"), None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let unknown_tenant = app.admin("POST", "/admin/tenants/ghost/admin-tokens", None).await;
    assert_eq!(unknown_tenant.status, StatusCode::NOT_FOUND);

    // A token can revoke itself: the integration page's "disconnect".
    let own = app.admin_as(&new, "DELETE", &format!("/admin/tenants/acme/admin-tokens/{new_id}"), None).await;
    assert_eq!(own.status, StatusCode::NO_CONTENT);
    assert_eq!(app.admin_as(&new, "GET", "/admin/tenants/acme", None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn issuing_stops_at_the_cap_of_active_tokens() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    for _ in 0..shared::domain::api_token::MAX_ACTIVE {
        issue_admin_token(&app, "acme").await;
    }
    let refused = app.admin("POST", "/admin/tenants/acme/admin-tokens", None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.json()["error"]["code"], "too_many_tokens");
}

#[tokio::test]
async fn scim_tokens_of_the_legacy_document_keep_working_and_move_into_records() {
    let app = TestApp::spawn().await;
    let r = app
        .admin(
            "PUT",
            "/admin/tenants/acme",
            Some(json!({"okta_domain": "https://acme.okta.com", "provisioning": "scim"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let acme = shared::domain::TenantId::parse("acme").unwrap();
    let (live, gone) = ("scim_legacy-document-live-token-0123456789", "scim_legacy-document-revoked-token-012345");
    remember_secret(live);
    remember_secret(gone);
    let record = |id: &str, value: &str, revoked_at| ScimTokenRecord {
        id: id.into(),
        sha256: shared::domain::secret::sha256_hex(value.as_bytes()),
        created_at: chrono::Utc::now(),
        revoked_at,
        expires_at: None,
    };
    let legacy = ScimTokenSet {
        tokens: vec![record("tok_live", live, None), record("tok_gone", gone, Some(chrono::Utc::now()))],
        migrated_at: None,
    };
    let name =
        app.functions.adapters.root.secrets.names().tenant(&acme, shared::app::secrets::TenantSecret::ScimTokens);
    let secrets = shared::adapters::secrets_manager::SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(
        crate::helpers::sdk().await,
    ));
    secrets.put_secret(&name, &legacy.encode()).await.unwrap();

    // The SCIM client notices nothing: its token works (and is carried over); a revoked one does not.
    assert_eq!(scim(&app, "/t/acme/scim/v2/Users", Some(&format!("Bearer {live}"))).await.status, StatusCode::OK);
    assert_eq!(
        scim(&app, "/t/acme/scim/v2/Users", Some(&format!("Bearer {gone}"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    let view = app.admin("GET", "/admin/tenants/acme", None).await.json();
    assert_eq!(view["secrets"]["scim_tokens_active"], 1, "counted from records");

    // The admin API carries the whole document over and empties it.
    let listed = app.admin("GET", "/admin/tenants/acme/scim-tokens", None).await.json();
    let mut ids: Vec<_> =
        listed["tokens"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    assert_eq!(ids, ["tok_gone", "tok_live"]);
    let doc = ScimTokenSet::decode(&secrets.get_secret(&name).await.unwrap().unwrap()).unwrap();
    assert!(doc.tokens.is_empty() && doc.migrated_at.is_some(), "the legacy document is emptied");

    // Revoked as a record: refused, and never revived by the document.
    let revoked = app.admin("DELETE", "/admin/tenants/acme/scim-tokens/tok_live", None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(
        scim(&app, "/t/acme/scim/v2/Users", Some(&format!("Bearer {live}"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    let health = app.admin("GET", "/admin/tenants/acme/health", None).await.json();
    assert_eq!(health["secrets"]["scim_tokens_active"], 0, "{health}");
}
