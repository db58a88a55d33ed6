//! SCIM 2.0 service provider at `/scim/v2` per tenant (SPEC §9).
//!
//! This release resolves the tenant and answers every SCIM request with a `501` in the SCIM error
//! schema (`application/scim+json`), so SCIM clients report a clear error instead of a false success.
use axum::extract::{Request, State as AxState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{middleware, Router};
use serde_json::json;
use shared::adapters::aws::Adapters;
use shared::adapters::http::{request_span, tenant_of, with_tenant_prefix};
use shared::domain::routing::RoutingError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[derive(Clone)]
pub struct State {
    pub base_domain: String,
}

impl State {
    pub fn from_adapters(a: &Adapters) -> Self {
        Self { base_domain: a.settings.base_domain.clone() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error("SCIM provisioning is not available in this release")]
    NotImplemented,
    #[error("no such SCIM endpoint")]
    NoRoute,
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Routing(RoutingError::NoTenant) | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Routing(_) => StatusCode::BAD_REQUEST,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        };
        let body =
            json!({"schemas": [ERROR_SCHEMA], "status": status.as_u16().to_string(), "detail": self.to_string()});
        let mut r = (status, body.to_string()).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
        r
    }
}

pub fn router(state: State) -> Router {
    let routes = Router::new().route("/scim/v2", any(scim)).route("/scim/v2/{*rest}", any(scim));
    with_tenant_prefix(routes)
        .fallback(|| async { ScimError::NoRoute })
        .layer(middleware::from_fn(request_span))
        .with_state(state)
}

async fn scim(AxState(state): AxState<State>, req: Request) -> Result<Response, ScimError> {
    let (parts, _body) = req.into_parts();
    tenant_of(&parts, &state.base_domain)?;
    Err(ScimError::NotImplemented)
}
