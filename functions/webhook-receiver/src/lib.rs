//! Okta Event Hooks (SPEC §5): `GET` and `POST /webhooks/okta`, per tenant.
//!
//! This release resolves the tenant and answers every hook request with a clear `501` JSON error:
//! Okta then keeps the events in its System Log, and nothing is acknowledged that was not queued.
use axum::extract::{Request, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde_json::json;
use shared::adapters::aws::Adapters;
use shared::adapters::http::{request_span, tenant_of, with_tenant_prefix};
use shared::domain::routing::RoutingError;

#[derive(Clone)]
pub struct State {
    pub base_domain: String,
}

impl State {
    pub fn from_adapters(a: &Adapters) -> Self {
        Self { base_domain: a.settings.base_domain.clone() }
    }
}

/// The receiver's errors, as JSON (Okta reads only the status; people read the body).
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error("event hook deliveries are not accepted by this release yet")]
    NotImplemented,
    #[error("no such route")]
    NoRoute,
}

impl IntoResponse for HookError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::Routing(RoutingError::NoTenant) => (StatusCode::NOT_FOUND, "tenant_not_found"),
            Self::Routing(_) => (StatusCode::BAD_REQUEST, "invalid_tenant"),
            Self::NotImplemented => (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
            Self::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
        };
        (status, Json(json!({"error": {"code": code, "message": self.to_string()}}))).into_response()
    }
}

pub fn router(state: State) -> Router {
    let routes = Router::new().route("/webhooks/okta", get(hook).post(hook));
    with_tenant_prefix(routes)
        .fallback(|| async { HookError::NoRoute })
        .layer(middleware::from_fn(request_span))
        .with_state(state)
}

async fn hook(AxState(state): AxState<State>, req: Request) -> Result<Response, HookError> {
    let (parts, _body) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    tracing::warn!(tenant = %tenant, "event hook request refused: not implemented in this release");
    Err(HookError::NotImplemented)
}
