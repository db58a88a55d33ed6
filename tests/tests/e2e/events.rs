//! Every sample input in `events/<function>/<case>.<status>.json` goes through its function's
//! handler, against the real stack with tenant `demo`, and must get the status in its name.
//! HTTP functions: the HTTP status. Worker and nightly sync: 200 when the handler returns Ok,
//! 500 when it returns an error (Lambda then reports a failed invocation).
use std::path::Path;

use axum::body::Body;
use http_body_util::BodyExt;
use lambda_runtime::{Context, LambdaEvent};
use tower::ServiceExt;

use crate::helpers::TestApp;

pub const EVENTS_ADMIN_TOKEN: &str = "events-admin-token";
pub const EVENTS_HOOK_SECRET: &str = "events-hook-secret";
pub const EVENTS_SCIM_TOKEN: &str = "scim_events-scim-token";

async fn http_status(router: axum::Router, json: &str) -> u16 {
    let req = lambda_http::request::from_str(json).expect("an API Gateway HTTP API (v2) event");
    let (parts, body) = req.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    let resp = router.oneshot(axum::http::Request::from_parts(parts, Body::from(bytes))).await.expect("infallible");
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

#[tokio::test]
async fn every_event_file_gets_the_status_in_its_name() {
    let app = TestApp::spawn().await;
    // The events authenticate with a fixed token; set it as the (rotated-in) admin token.
    let names = app.functions.adapters.root.secrets.names().clone();
    shared::ports::SecretStore::put_secret(
        &shared::adapters::secrets_manager::SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(
            crate::helpers::sdk().await,
        )),
        &names.admin_token,
        &shared::domain::Secret::new(EVENTS_ADMIN_TOKEN),
    )
    .await
    .unwrap();
    let functions = harness::Functions::wire(crate::helpers::sdk().await, &app.stack.env).unwrap();
    let demo = serde_json::json!({"okta_domain": "https://demo.okta.com", "client_id": "0oademo", "app_id": "0oaapp", "provisioning": "event_hooks"});
    let input = serde_json::from_value(demo).unwrap();
    let demo = shared::domain::TenantId::parse("demo").unwrap();
    functions.admin.admin.put_tenant(&demo, input).await.unwrap();
    // The hook events authenticate with a fixed event-hook secret.
    functions
        .adapters
        .root
        .secrets
        .set(
            &demo,
            shared::app::secrets::TenantSecret::EventHookSecret,
            shared::domain::Secret::new(EVENTS_HOOK_SECRET),
        )
        .await
        .unwrap();
    // Tenant `demo-scim` provisions by SCIM; its events authenticate with a fixed SCIM token.
    let scim_tenant = shared::domain::TenantId::parse("demo-scim").unwrap();
    let input = serde_json::from_value(
        serde_json::json!({"okta_domain": "https://demo-scim.okta.com", "provisioning": "scim"}),
    );
    functions.admin.admin.put_tenant(&scim_tenant, input.unwrap()).await.unwrap();
    let fixed = shared::domain::api_token::TokenRecord {
        id: "tok_events".into(),
        tenant: scim_tenant.clone(),
        kind: shared::domain::api_token::TokenKind::Scim,
        sha256: shared::domain::secret::sha256_hex(EVENTS_SCIM_TOKEN.as_bytes()),
        created_at: chrono::Utc::now(),
        revoked_at: None,
        valid_until: None,
    };
    match shared::ports::TokenStore::insert_token(functions.adapters.store.as_ref(), &fixed).await {
        Ok(()) | Err(shared::ports::StoreError::AlreadyExists) => {}
        Err(e) => panic!("{e}"),
    }
    let verified = functions.adapters.root.tokens.verify_scim(&scim_tenant, EVENTS_SCIM_TOKEN).await.unwrap();
    assert_eq!(verified.as_deref(), Some("tok_events"), "the fixed SCIM token is in place");
    for s in [EVENTS_ADMIN_TOKEN, EVENTS_HOOK_SECRET, EVENTS_SCIM_TOKEN] {
        crate::helpers::remember_secret(s);
    }
    let routers = functions.routers();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut checked = 0;
    let mut dirs: Vec<_> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for dir in dirs {
        let function = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".json") else { continue };
            let expected: u16 = stem
                .rsplit('.')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{name}: name must be <case>.<status>.json"));
            let json = std::fs::read_to_string(&file).unwrap();
            let status = match function.as_str() {
                "admin-api" => http_status((*routers.admin).clone(), &json).await,
                "webhook-receiver" => http_status((*routers.webhook).clone(), &json).await,
                "scim-handler" => http_status((*routers.scim).clone(), &json).await,
                "sign-in" => http_status((*routers.sign_in).clone(), &json).await,
                "user-fetch-worker" => {
                    let event = serde_json::from_str(&json).expect("an SQS event");
                    match user_fetch_worker::handle(LambdaEvent::new(event, Context::default()), &functions.worker)
                        .await
                    {
                        Ok(_) => 200,
                        Err(_) => 500,
                    }
                }
                "nightly-sync" => {
                    let event = serde_json::from_str(&json).expect("a nightly-sync trigger");
                    match nightly_sync::handle(LambdaEvent::new(event, Context::default()), &functions.sync).await {
                        Ok(_) => 200,
                        Err(_) => 500,
                    }
                }
                other => panic!("events/{other}: no such function"),
            };
            assert_eq!(status, expected, "events/{function}/{name}");
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} event files");
}
