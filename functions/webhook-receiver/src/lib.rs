//! Okta Event Hooks (docs/behaviour/event-hooks.md, docs/okta-wire.md §1): `GET /webhooks/okta` answers the one-time
//! verification challenge; `POST /webhooks/okta` authenticates a delivery, dedupes it, queues one
//! user-fetch job per user and answers `200` only once every job is durably in SQS.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use shared::adapters::aws::Adapters;
use shared::adapters::edge::{serve, EdgeRefusals, TenantRouting};
use shared::adapters::emf::EmfMetrics;
use shared::adapters::http::{read_body, tenant_of, BodyError, MIB};
use shared::adapters::settings::SettingsError;
use shared::app::hooks::{HookError, HookService};
use shared::domain::routing::RoutingError;

/// Okta's deliveries are small; anything over 1 MiB is refused (docs/behaviour/event-hooks.md).
pub const BODY_LIMIT: usize = MIB;
pub const CHALLENGE_HEADER: &str = "x-okta-verification-challenge";

#[derive(Clone)]
pub struct State {
    pub base_domain: String,
    pub hooks: Arc<HookService>,
    pub metrics: Arc<EmfMetrics>,
}

impl State {
    /// The receiver sends to the user-fetch queue: it cannot be built without one.
    pub fn from_adapters(a: &Adapters) -> Result<Self, SettingsError> {
        Ok(Self {
            base_domain: a.settings.base_domain.clone(),
            hooks: Arc::new(a.root.hooks(a.user_fetch_queue()?)),
            metrics: a.metrics.clone(),
        })
    }
}

/// The receiver's errors, as JSON (Okta reads only the status: 4xx is final, 5xx is retried once).
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("no such route")]
    NoRoute,
    #[error("this route does not accept {0}")]
    MethodNotAllowed(axum::http::Method),
}

impl EdgeRefusals for ReceiverError {
    fn no_route() -> Response {
        Self::NoRoute.into_response()
    }
    fn method_not_allowed(method: &axum::http::Method) -> Response {
        Self::MethodNotAllowed(method.clone()).into_response()
    }
}

impl IntoResponse for ReceiverError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::Routing(RoutingError::NoTenant) | Self::Hook(HookError::TenantNotFound) => {
                (StatusCode::NOT_FOUND, "tenant_not_found")
            }
            Self::Hook(HookError::NotEnabled) => (StatusCode::NOT_FOUND, "event_hooks_not_enabled"),
            Self::Routing(_) => (StatusCode::BAD_REQUEST, "invalid_tenant"),
            Self::Hook(HookError::Unauthorized) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Hook(HookError::BadRequest(_)) => (StatusCode::BAD_REQUEST, "invalid_delivery"),
            Self::Hook(HookError::Unavailable(_)) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Body(BodyError::TooLarge { .. }) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::Body(BodyError::Unreadable) => (StatusCode::BAD_REQUEST, "invalid_delivery"),
            Self::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        };
        if let Self::Hook(HookError::Unavailable(_)) = &self {
            tracing::error!(error = %shared::ports::error_chain(&self), "delivery not queued; Okta will retry");
        } else {
            tracing::info!(code, status = status.as_u16(), "hook request refused");
        }
        (status, Json(json!({"error": {"code": code, "message": self.to_string()}}))).into_response()
    }
}

pub fn router(state: State) -> Router {
    let routes = Router::new().route("/webhooks/okta", get(verify).post(deliver));
    serve::<_, ReceiverError>(routes, TenantRouting::HostOrPrefix, state.metrics.clone(), state)
}

fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn verify(AxState(state): AxState<State>, req: Request) -> Result<Response, ReceiverError> {
    let (parts, _) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let challenge = header_value(&parts.headers, CHALLENGE_HEADER);
    let answer = state.hooks.verify(&tenant, |name| header_value(&parts.headers, name), challenge.as_deref()).await?;
    Ok((StatusCode::OK, Json(json!({ "verification": answer }))).into_response())
}

async fn deliver(AxState(state): AxState<State>, req: Request<Body>) -> Result<Response, ReceiverError> {
    let (parts, body) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let bytes = read_body(&parts.headers, body, BODY_LIMIT).await?;
    state.hooks.deliver(&tenant, |name| header_value(&parts.headers, name), &bytes).await?;
    // Okta expects 200 (or 204) with an empty body.
    Ok(StatusCode::OK.into_response())
}
