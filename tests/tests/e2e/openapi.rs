//! The admin API's OpenAPI document, kept true: every admin response any e2e test sees is checked
//! against it (status documented for the route and method, JSON body valid against the schema),
//! the router's routes and the document's paths are the same set, and every documented operation
//! is called once here.
use std::collections::BTreeSet;
use std::sync::OnceLock;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::world::World;

fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::from_str(admin_api::OPENAPI).expect("openapi.json is JSON"))
}

/// The documented path template a concrete path matches, if any.
fn template_of(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    doc()["paths"].as_object()?.keys().map(String::as_str).find(|template| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts.iter().zip(&segments).all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
    })
}

fn validate(schema: &Value, instance: &Value) -> Result<(), String> {
    let root = json!({"$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc()["components"], "allOf": [schema]});
    let validator = jsonschema::validator_for(&root).map_err(|e| format!("schema does not compile: {e}"))?;
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Checks one admin response against the document; panics with what is wrong.
pub fn check(method: &str, path: &str, status: StatusCode, content_type: &str, body: &str) {
    let what = format!("{method} {path} → {}", status.as_u16());
    let code = status.as_u16().to_string();
    let error_schema = json!({"$ref": "#/components/schemas/Error"});
    let Some(template) = template_of(path) else {
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::UNAUTHORIZED,
            "{what}: undocumented admin path answered"
        );
        return;
    };
    let item = &doc()["paths"][template];
    let operation = &item[method.to_ascii_lowercase()];
    if operation.is_null() {
        assert!(
            status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::UNAUTHORIZED,
            "{what}: method not documented for {template}"
        );
        if let Ok(v) = serde_json::from_str::<Value>(body) {
            validate(&error_schema, &v).unwrap_or_else(|e| panic!("{what}: {e}"));
        }
        return;
    }
    let response = &operation["responses"][&code];
    assert!(!response.is_null(), "{what}: status {code} is not documented for {method} {template}");
    match response["content"].as_object().and_then(|c| c.keys().next().cloned()) {
        None => assert!(body.is_empty(), "{what}: documented without a body, answered {body}"),
        Some(media) if media == "application/json" => {
            assert!(content_type.starts_with("application/json"), "{what}: content type {content_type}");
            let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e})"));
            validate(&response["content"][&media]["schema"], &v).unwrap_or_else(|e| panic!("{what}: {e}\n{body}"));
        }
        Some(media) => assert!(content_type.starts_with(&media), "{what}: content type {content_type}, not {media}"),
    }
}

/// Every path the admin router serves, read from its source (the `.route(...)` calls).
fn routed_paths() -> BTreeSet<String> {
    let source = include_str!("../../../functions/admin-api/src/routes.rs");
    let mut out = BTreeSet::new();
    for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(")) {
        let raw = line.split('"').nth(1).unwrap_or_default();
        let path = if line.contains("format!(") {
            format!("/admin/tenants/{{tenant}}{}", raw.trim_start_matches("{t}").replace("{{", "{").replace("}}", "}"))
        } else if line.contains("OPENAPI_PATH") {
            "/admin/openapi.json".to_owned()
        } else if raw.is_empty() {
            "/admin/tenants/{tenant}".to_owned()
        } else {
            raw.to_owned()
        };
        out.insert(path);
    }
    out
}

#[test]
fn the_document_describes_exactly_the_routes_the_router_serves() {
    let documented: BTreeSet<String> = doc()["paths"].as_object().unwrap().keys().cloned().collect();
    let routed = routed_paths();
    assert_eq!(routed, documented, "routes.rs and openapi.json disagree");
    assert_eq!(doc()["openapi"], "3.1.0");
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let w = World::new("individual").await;
    let app: &TestApp = &w.app;
    // Served without the admin token, as JSON.
    let r = app
        .call(
            axum::http::Request::get("/admin/openapi.json")
                .header("host", "127.0.0.1:3000")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["info"]["title"], "okta-bridge admin API");

    let t = "/admin/tenants/acme";
    let okta_id = w.sim.create_user(crate::world::profile("Open", "Api", "open.api@acme.example", json!({})), true);
    w.sync().await;
    let user = w.user_by_okta_id(&okta_id).await.expect("provisioned");
    let uid = user["id"].as_str().unwrap().to_owned();
    let token = app.admin("POST", &format!("{t}/scim-tokens"), None).await.json();
    let tok = token["id"].as_str().unwrap().to_owned();
    let run = app.admin("POST", &format!("{t}/sync"), None).await.json()["run_id"].as_str().unwrap().to_owned();
    let admin_token = app.admin("POST", &format!("{t}/admin-tokens"), None).await;
    let adm = admin_token.json()["id"].as_str().unwrap().to_owned();
    // A tenant admin token outside its scope: 403, documented on every operation.
    let tenant_token = admin_token.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(app.admin_as(&tenant_token, "POST", "/admin/dlq/redrive", None).await.status, StatusCode::FORBIDDEN);
    app.drain_sync().await;
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", t.into(), None),
        ("PUT", t.into(), Some(app.admin("GET", t, None).await.json())),
        ("POST", format!("{t}/secrets/oidc_client_secret"), Some(json!({"value": "oidc-secret-for-openapi"}))),
        ("POST", format!("{t}/event-hook-secret"), None),
        ("DELETE", format!("{t}/event-hook-secret/previous"), None),
        ("GET", format!("{t}/scim-tokens"), None),
        ("POST", format!("{t}/scim-tokens/{tok}/rotate"), None),
        ("DELETE", format!("{t}/scim-tokens/{tok}"), None),
        ("GET", format!("{t}/admin-tokens"), None),
        ("POST", format!("{t}/admin-tokens/{adm}/rotate"), None),
        ("DELETE", format!("{t}/admin-tokens/{adm}"), None),
        ("GET", format!("{t}/users?limit=5"), None),
        ("GET", format!("{t}/users/{uid}"), None),
        ("POST", format!("{t}/users/{uid}/invite"), None),
        ("POST", format!("{t}/invitations"), None),
        ("GET", format!("{t}/teams"), None),
        ("GET", format!("{t}/groups"), None),
        ("GET", format!("{t}/changes?after=0&limit=3"), None),
        ("GET", format!("{t}/sync-runs"), None),
        ("GET", format!("{t}/sync-runs/{run}"), None),
        ("POST", format!("{t}/sync-runs/{run}/approve"), None),
        ("GET", format!("{t}/sync-runs/{run}/diff"), None),
        ("GET", format!("{t}/sync-runs/{run}/errors?cursor=0"), None),
        ("GET", format!("{t}/sync-runs/{run}/candidates"), None),
        ("GET", format!("{t}/health"), None),
        ("GET", format!("{t}/status"), None),
        ("POST", "/admin/dlq/redrive?queue=user-fetch&max=10".into(), None),
        ("POST", "/admin/session-key/rotate".into(), None),
        ("DELETE", "/admin/session-key/previous".into(), None),
        // Last: the admin token changes (the old one keeps working through the overlap).
        ("POST", "/admin/admin-token/rotate".into(), None),
        ("DELETE", "/admin/admin-token/previous".into(), None),
    ];
    let mut seen = BTreeSet::new();
    for (method, path, body) in calls {
        let r = app.admin(method, &path, body).await;
        assert!(r.status.as_u16() < 500 || r.status == StatusCode::NOT_IMPLEMENTED, "{method} {path}: {}", r.body);
        seen.insert(format!("{method} {}", template_of(&path).unwrap()));
    }
    seen.insert("POST /admin/tenants/{tenant}/sync".into());
    seen.insert("POST /admin/tenants/{tenant}/scim-tokens".into());
    seen.insert("POST /admin/tenants/{tenant}/admin-tokens".into());
    seen.insert("GET /admin/openapi.json".into());
    let documented: BTreeSet<String> = doc()["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .map(move |m| format!("{} {p}", m.to_ascii_uppercase()))
        })
        .collect();
    assert_eq!(seen, documented, "every documented operation is exercised");
}
