//! The SCIM 2.0 service provider end to end (docs/behaviour/scim.md, docs/okta-wire.md §4): authentication and
//! discovery, Okta's provisioning sequence step by step, Entra ID's dialect, the RFC examples as
//! fixtures (`tests/fixtures/scim`), every error path, tenant isolation on every route, paging
//! totals, concurrent member changes, and the references that wait for users to appear. Stored
//! state is checked through the admin API.
pub(crate) mod flows;
pub(crate) mod round_trips;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;

use crate::helpers::{Reply, TestApp};

pub(crate) async fn scim(app: &TestApp, path: &str, auth: Option<&str>) -> Reply {
    let mut req = Request::get(path).header("host", "127.0.0.1:3000");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    app.call(req.body(Body::empty()).unwrap()).await
}

pub(crate) fn assert_scim_error(r: &Reply, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.content_type(), "application/scim+json");
    let body = r.json();
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(body["status"], status.as_u16().to_string(), "status is a string");
    assert!(!body["detail"].as_str().unwrap_or("").is_empty());
}

#[tokio::test]
async fn tokens_are_per_tenant_and_discovery_has_the_rfc_shapes() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    app.create_tenant("other").await;
    let issued = app.admin("POST", "/admin/tenants/acme/scim-tokens", None).await.json();
    let token = issued["token"].as_str().unwrap().to_owned();
    let other =
        app.admin("POST", "/admin/tenants/other/scim-tokens", None).await.json()["token"].as_str().unwrap().to_owned();

    // Bearer, the bare token (Okta OIN "Header" mode), or Basic with the token as the password.
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("okta:{token}"));
    for auth in [format!("Bearer {token}"), format!("bearer {token}"), token.clone(), format!("Basic {basic}")] {
        let r = scim(&app, "/t/acme/scim/v2/ServiceProviderConfig", Some(&auth)).await;
        assert_eq!(r.status, StatusCode::OK, "{auth:.12}: {}", r.body);
        assert_eq!(r.content_type(), "application/scim+json");
        let spc = r.json();
        assert_eq!(spc["patch"]["supported"], true);
        let limits = shared::domain::scim::schemas::SPC_LIMITS_SCHEMA;
        assert_eq!(spc[limits]["maxPayloadSize"], 1024 * 1024, "the body limit is advertised");
        assert_eq!(spc["meta"]["location"], "http://127.0.0.1:3000/t/acme/scim/v2/ServiceProviderConfig");
    }
    // Refused: none, wrong, another tenant's token (any way), another scheme, Basic without a
    // password or not base64.
    let other_basic = base64::engine::general_purpose::STANDARD.encode(format!("okta:{other}"));
    let no_password = base64::engine::general_purpose::STANDARD.encode("okta:");
    for auth in [
        None,
        Some("Bearer scim_wrong".to_owned()),
        Some(format!("Bearer {other}")),
        Some(other.clone()),
        Some(format!("Basic {other_basic}")),
        Some(format!("Basic {no_password}")),
        Some(format!("Basic {token}")),
        Some(format!("Digest {token}")),
    ] {
        let r = scim(&app, "/t/acme/scim/v2/Users", auth.as_deref()).await;
        assert_scim_error(&r, StatusCode::UNAUTHORIZED);
        assert!(r.headers.get("www-authenticate").is_some());
    }
    let bearer = format!("Bearer {token}");
    let types = scim(&app, "/t/acme/scim/v2/ResourceTypes", Some(&bearer)).await.json();
    assert_eq!(types["totalResults"], 2);
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    let user_type = scim(&app, "/t/acme/scim/v2/ResourceTypes/User", Some(&bearer)).await.json();
    assert_eq!(user_type["schema"], "urn:ietf:params:scim:schemas:core:2.0:User");
    let schemas = scim(&app, "/t/acme/scim/v2/Schemas", Some(&bearer)).await.json();
    let ids: Vec<&str> = schemas["Resources"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"urn:okta-bridge:params:scim:schemas:extension:2.0:User"), "{ids:?}");
    let ours =
        scim(&app, "/t/acme/scim/v2/Schemas/urn:okta-bridge:params:scim:schemas:extension:2.0:User", Some(&bearer))
            .await
            .json();
    let names: Vec<&str> =
        ours["attributes"].as_array().unwrap().iter().map(|a: &Value| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["approvers", "contentRegion", "customField1", "customField2", "customField3"]);
    assert_scim_error(&scim(&app, "/t/acme/scim/v2/Schemas/urn:nope", Some(&bearer)).await, StatusCode::NOT_FOUND);
    assert_scim_error(&scim(&app, "/t/acme/scim/v2/Nothing", Some(&bearer)).await, StatusCode::NOT_FOUND);
    // Users and Groups need the tenant's provisioning to be `scim`.
    for path in ["/t/acme/scim/v2/Users?filter=userName%20eq%20%22a%22", "/t/acme/scim/v2/Groups"] {
        let r = scim(&app, path, Some(&bearer)).await;
        assert_scim_error(&r, StatusCode::NOT_FOUND);
        assert!(r.json()["detail"].as_str().unwrap().contains("not enabled"), "{}", r.body);
    }

    // A revoked token stops working at once in this process.
    let id = issued["id"].as_str().unwrap();
    assert_eq!(
        app.admin("DELETE", &format!("/admin/tenants/acme/scim-tokens/{id}"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_scim_error(
        &scim(&app, "/t/acme/scim/v2/ServiceProviderConfig", Some(&bearer)).await,
        StatusCode::UNAUTHORIZED,
    );
}
