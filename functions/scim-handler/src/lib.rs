//! SCIM 2.0 service provider at `/scim/v2` per tenant (SPEC §9).
//!
//! Every request is authenticated with one of the tenant's SCIM tokens (`Authorization: Bearer
//! <token>`, or the bare token as Okta's OIN "Header" mode sends it), compared in constant time; a
//! token of another tenant is refused like a wrong one. Discovery (`ServiceProviderConfig`,
//! `ResourceTypes`, `Schemas`) is served. Users and Groups are not provisioned by this release:
//! they answer `501` in the SCIM error schema, so a client reports a clear error instead of a
//! false success. Every answer is `application/scim+json`.
use std::sync::Arc;

use axum::extract::{Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{middleware, Router};
use serde_json::Value;
use shared::adapters::aws::Adapters;
use shared::adapters::http::{bearer, original_path, public_base, request_span, tenant_of, with_tenant_prefix};
use shared::app::secrets::SecretService;
use shared::domain::routing::RoutingError;
use shared::domain::scim_schemas::{self as scim, error};

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
pub const ERROR_SCHEMA: &str = scim::ERROR_SCHEMA;

#[derive(Clone)]
pub struct State {
    pub base_domain: String,
    pub secrets: Arc<SecretService>,
}

impl State {
    pub fn from_adapters(a: &Adapters) -> Self {
        Self { base_domain: a.settings.base_domain.clone(), secrets: a.secrets.clone() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error("a valid SCIM token for this tenant is required")]
    Unauthorized,
    #[error("SCIM provisioning of users and groups is not available in this release")]
    NotImplemented,
    #[error("no such SCIM resource")]
    NotFound,
    #[error("this SCIM endpoint does not accept {0}")]
    MethodNotAllowed(Method),
    #[error("the credentials could not be checked; retry")]
    Unavailable,
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
    r
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Routing(RoutingError::NoTenant) | Self::NotFound => StatusCode::NOT_FOUND,
            Self::Routing(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut r = scim_json(status, &error(status.as_u16(), None, &self.to_string()));
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scim\""));
        }
        r
    }
}

pub fn router(state: State) -> Router {
    let routes = Router::new().route("/scim/v2", any(scim)).route("/scim/v2/{*rest}", any(scim));
    with_tenant_prefix(routes)
        .fallback(|| async { ScimError::NotFound })
        .layer(middleware::from_fn(request_span))
        .with_state(state)
}

/// `Bearer <token>`, or the bare token (Okta OIN "Header" auth): a value without a scheme.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    bearer(headers).or_else(|| {
        let raw = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
        (!raw.is_empty() && !raw.contains(' ')).then_some(raw)
    })
}

async fn scim(AxState(state): AxState<State>, req: Request) -> Result<Response, ScimError> {
    let path = original_path(&req);
    let (parts, _body) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let token = presented_token(&parts.headers).ok_or(ScimError::Unauthorized)?;
    match state.secrets.verify_scim_token(&tenant, token).await {
        Ok(Some(token_id)) => tracing::debug!(token_id = %token_id, "SCIM token accepted"),
        Ok(None) => return Err(ScimError::Unauthorized),
        Err(e) => {
            tracing::error!(error = %e, "SCIM tokens unreadable");
            return Err(ScimError::Unavailable);
        }
    }
    let base = format!("{}/scim/v2", public_base(&parts.headers, &path, &tenant));
    let resource = path.split("/scim/v2").nth(1).unwrap_or("").trim_matches('/');
    let mut segments = resource.splitn(2, '/');
    let (first, second) = (segments.next().unwrap_or(""), segments.next());
    let discovery = matches!(first, "ServiceProviderConfig" | "ResourceTypes" | "Schemas");
    if discovery && parts.method != Method::GET {
        return Err(ScimError::MethodNotAllowed(parts.method));
    }
    let found = |items: Vec<Value>, id: &str| items.into_iter().find(|r| r["id"].as_str() == Some(id));
    let body = match (first, second) {
        ("ServiceProviderConfig", None) => scim::service_provider_config(&base),
        ("ResourceTypes", None) => scim::list(scim::resource_types(&base)),
        ("ResourceTypes", Some(id)) => found(scim::resource_types(&base), id).ok_or(ScimError::NotFound)?,
        ("Schemas", None) => scim::list(scim::schemas(&base)),
        ("Schemas", Some(id)) => found(scim::schemas(&base), id).ok_or(ScimError::NotFound)?,
        ("Users" | "Groups", _) => return Err(ScimError::NotImplemented),
        _ => return Err(ScimError::NotFound),
    };
    Ok(scim_json(StatusCode::OK, &body))
}
