//! SCIM 2.0 service provider at `/scim/v2` per tenant (SPEC §9).
//!
//! Every request is authenticated with one of the tenant's SCIM tokens (`Authorization: Bearer
//! <token>`, or the bare token as Okta's OIN "Header" mode sends it), compared in constant time; a
//! token of another tenant is refused like a wrong one. Discovery (`ServiceProviderConfig`,
//! `ResourceTypes`, `Schemas`) is served to any token holder; Users and Groups need the tenant's
//! provisioning to be `scim` (else 404). Bodies over 1 MiB get 413; every answer, errors included,
//! is `application/scim+json`, errors in the SCIM error schema.
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{middleware, Router};
use serde_json::Value;
use shared::adapters::aws::Adapters;
use shared::adapters::emf::EmfMetrics;
use shared::adapters::http::{
    bearer, flush_metrics, original_path, read_body, request_span, tenant_of, with_tenant_prefix, BodyError, PublicUrls,
};
use shared::app::scim::{Resource, ScimFailure, ScimService};
use shared::app::tokens::TokenService;
use shared::domain::routing::RoutingError;
use shared::domain::scim::query::{ListParams, Projection};
use shared::domain::scim::schemas::{self as scim, error, ScimInvalid, MAX_BODY};
use shared::domain::scim::user::etag;
use shared::domain::TenantId;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
pub const ERROR_SCHEMA: &str = scim::ERROR_SCHEMA;

#[derive(Clone)]
pub struct State {
    pub base_domain: String,
    /// `meta.location` and every other URL come from these, never from request headers.
    pub urls: PublicUrls,
    /// The tenant's SCIM token records.
    pub tokens: Arc<TokenService>,
    pub scim: Arc<ScimService>,
    pub metrics: Arc<EmfMetrics>,
}

impl State {
    pub fn from_adapters(a: &Adapters) -> Self {
        Self {
            base_domain: a.settings.base_domain.clone(),
            urls: a.settings.public_urls(),
            tokens: a.tokens.clone(),
            scim: Arc::new(a.scim_service()),
            metrics: a.metrics.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error("a valid SCIM token for this tenant is required")]
    Unauthorized,
    #[error("no such SCIM resource")]
    NotFound,
    #[error("no such tenant")]
    NoTenant,
    #[error("this SCIM endpoint does not accept {0}")]
    MethodNotAllowed(Method),
    #[error("the credentials could not be checked; retry")]
    Unavailable,
    #[error("the request body is larger than {} bytes", MAX_BODY)]
    TooLarge,
    #[error("the body is not valid JSON: {0}")]
    Syntax(String),
    #[error(transparent)]
    Scim(#[from] ScimFailure),
}

impl From<ScimInvalid> for ScimError {
    fn from(e: ScimInvalid) -> Self {
        Self::Scim(ScimFailure::Invalid(e))
    }
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
    r
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        use ScimFailure as F;
        let (status, scim_type) = match &self {
            Self::Routing(RoutingError::NoTenant) | Self::NotFound | Self::NoTenant => (StatusCode::NOT_FOUND, None),
            Self::Routing(_) => (StatusCode::BAD_REQUEST, None),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, None),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, None),
            Self::Unavailable | Self::Scim(F::Unavailable(_)) => (StatusCode::SERVICE_UNAVAILABLE, None),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, None),
            Self::Syntax(_) => (StatusCode::BAD_REQUEST, Some("invalidSyntax")),
            Self::Scim(F::Invalid(e)) => (StatusCode::BAD_REQUEST, Some(e.scim_type)),
            Self::Scim(F::NotFound(_) | F::Disabled) => (StatusCode::NOT_FOUND, None),
            Self::Scim(F::Uniqueness(_)) => (StatusCode::CONFLICT, Some("uniqueness")),
            Self::Scim(F::PreconditionFailed) => (StatusCode::PRECONDITION_FAILED, None),
            Self::Scim(F::TooMany) => (StatusCode::BAD_REQUEST, Some("tooMany")),
            Self::Scim(F::Busy) => (StatusCode::TOO_MANY_REQUESTS, None),
        };
        if let Self::Scim(F::Unavailable(e)) = &self {
            tracing::error!(error = %shared::ports::error_chain(e), "SCIM request failed: store unavailable");
        }
        let mut r = scim_json(status, &error(status.as_u16(), scim_type, &self.to_string()));
        match status {
            StatusCode::UNAUTHORIZED => {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scim\""));
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        r
    }
}

pub fn router(state: State) -> Router {
    let routes = Router::new().route("/scim/v2", any(scim)).route("/scim/v2/{*rest}", any(scim));
    with_tenant_prefix(routes)
        .fallback(|| async { ScimError::NotFound })
        .layer(middleware::from_fn_with_state(state.metrics.clone(), flush_metrics))
        .layer(middleware::from_fn(request_span))
        .with_state(state)
}

/// `Bearer <token>`; `Static <token>` (setup guides that have the admin paste the scheme into
/// Okta's "API token" field, which Okta then sends as the whole header); the bare token (Okta OIN
/// "Header" auth: a value without a scheme); or Basic auth with the token as the password (Okta's
/// custom-app "Basic Auth", any username).
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = bearer(headers) {
        return Some(t.to_owned());
    }
    let raw = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    if let Some((scheme, encoded)) = raw.split_once(' ') {
        if scheme.eq_ignore_ascii_case("static") {
            let token = encoded.trim();
            return (!token.is_empty()).then(|| token.to_owned());
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        let (_, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
        return (!password.is_empty()).then(|| password.to_owned());
    }
    (!raw.is_empty()).then(|| raw.to_owned())
}

fn query_pairs(parts: &axum::http::request::Parts) -> Vec<(String, String)> {
    parts.uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

async fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, ScimError> {
    let bytes = read_body(headers, body, MAX_BODY as usize).await.map_err(|e| match e {
        BodyError::TooLarge { .. } => ScimError::TooLarge,
        BodyError::Unreadable => ScimError::Syntax("the body could not be read".into()),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ScimError::Syntax(format!("line {} column {}", e.line(), e.column())))
}

/// A single resource with its `ETag` (and `Location` when created).
fn resource(status: StatusCode, r: &Resource) -> Response {
    let mut resp = scim_json(status, &r.body);
    if let Ok(v) = HeaderValue::from_str(&etag(r.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED {
        if let Some(loc) = r.body["meta"]["location"].as_str().and_then(|l| HeaderValue::from_str(l).ok()) {
            resp.headers_mut().insert(header::LOCATION, loc);
        }
    }
    resp
}

async fn scim(AxState(state): AxState<State>, req: Request) -> Result<Response, ScimError> {
    let path = original_path(&req);
    let (parts, body) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    // A tenant that does not exist is refused from the cached config read, before any secret is
    // read: a flood of made-up names costs nothing after the first (SPEC §2, §4).
    if !state.scim.tenant_exists(&tenant).await? {
        return Err(ScimError::NoTenant);
    }
    let token = presented_token(&parts.headers).ok_or(ScimError::Unauthorized)?;
    match state.tokens.verify_scim(&tenant, &token).await {
        Ok(Some(token_id)) => tracing::debug!(token_id = %token_id, "SCIM token accepted"),
        Ok(None) => return Err(ScimError::Unauthorized),
        Err(e) => {
            tracing::error!(error = %e, "SCIM tokens unreadable");
            return Err(ScimError::Unavailable);
        }
    }
    let base = format!("{}/scim/v2", state.urls.tenant_base(&path, &tenant));
    let resource_path = path.split("/scim/v2").nth(1).unwrap_or("").trim_matches('/').to_owned();
    let mut segments = resource_path.splitn(2, '/');
    let (first, second) = (segments.next().unwrap_or(""), segments.next());
    let discovery = matches!(first, "ServiceProviderConfig" | "ResourceTypes" | "Schemas");
    if discovery && parts.method != Method::GET {
        return Err(ScimError::MethodNotAllowed(parts.method));
    }
    let found = |items: Vec<Value>, id: &str| items.into_iter().find(|r| r["id"].as_str() == Some(id));
    let body_out = match (first, second) {
        ("ServiceProviderConfig", None) => scim::service_provider_config(&base),
        ("ResourceTypes", None) => scim::list(scim::resource_types(&base)),
        ("ResourceTypes", Some(id)) => found(scim::resource_types(&base), id).ok_or(ScimError::NotFound)?,
        ("Schemas", None) => scim::list(scim::schemas(&base)),
        ("Schemas", Some(id)) => found(scim::schemas(&base), id).ok_or(ScimError::NotFound)?,
        ("Users", id) => return users(&state.scim, &tenant, &parts, body, id, &base).await,
        ("Groups", id) => return groups(&state.scim, &tenant, &parts, body, id, &base).await,
        _ => return Err(ScimError::NotFound),
    };
    Ok(scim_json(StatusCode::OK, &body_out))
}

fn if_match(parts: &axum::http::request::Parts) -> Option<&str> {
    parts.headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

async fn users(
    svc: &ScimService,
    tenant: &TenantId,
    parts: &axum::http::request::Parts,
    body: Body,
    id: Option<&str>,
    base: &str,
) -> Result<Response, ScimError> {
    let m = &parts.method;
    Ok(match (m.as_str(), id) {
        ("GET", None) => {
            svc.config(tenant).await?;
            let params = ListParams::from_query(&query_pairs(parts))?;
            scim_json(StatusCode::OK, &svc.list_users(tenant, &params, base).await?)
        }
        ("POST", None) => {
            let body = json_body(&parts.headers, body).await?;
            resource(StatusCode::CREATED, &svc.create_user(tenant, &body, base).await?)
        }
        ("GET", Some(id)) => {
            svc.config(tenant).await?;
            let projection = Projection::from_query(&query_pairs(parts))?;
            let mut r = svc.get_user(tenant, id, base).await?;
            r.body = projection.apply(r.body);
            resource(StatusCode::OK, &r)
        }
        ("PUT", Some(id)) => {
            let body = json_body(&parts.headers, body).await?;
            resource(StatusCode::OK, &svc.replace_user(tenant, id, &body, if_match(parts), base).await?)
        }
        ("PATCH", Some(id)) => {
            let body = json_body(&parts.headers, body).await?;
            resource(StatusCode::OK, &svc.patch_user(tenant, id, &body, if_match(parts), base).await?)
        }
        ("DELETE", Some(id)) => {
            svc.delete_user(tenant, id, if_match(parts)).await?;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => return Err(ScimError::MethodNotAllowed(m.clone())),
    })
}

async fn groups(
    svc: &ScimService,
    tenant: &TenantId,
    parts: &axum::http::request::Parts,
    body: Body,
    id: Option<&str>,
    base: &str,
) -> Result<Response, ScimError> {
    let m = &parts.method;
    Ok(match (m.as_str(), id) {
        ("GET", None) => {
            let params = ListParams::from_query(&query_pairs(parts))?;
            scim_json(StatusCode::OK, &svc.list_groups(tenant, &params, base).await?)
        }
        ("POST", None) => {
            let body = json_body(&parts.headers, body).await?;
            resource(StatusCode::CREATED, &svc.create_group(tenant, &body, base).await?)
        }
        ("GET", Some(id)) => {
            let projection = Projection::from_query(&query_pairs(parts))?;
            resource(StatusCode::OK, &svc.get_group(tenant, id, &projection, base).await?)
        }
        ("PUT", Some(id)) => {
            let body = json_body(&parts.headers, body).await?;
            resource(StatusCode::OK, &svc.replace_group(tenant, id, &body, if_match(parts), base).await?)
        }
        ("PATCH", Some(id)) => {
            let body = json_body(&parts.headers, body).await?;
            let g = svc.patch_group(tenant, id, &body, if_match(parts)).await?;
            // 204 with the new ETag: a 10,000-member group is not read back to answer.
            let mut r = StatusCode::NO_CONTENT.into_response();
            if let Ok(v) = HeaderValue::from_str(&etag(g.version)) {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        ("DELETE", Some(id)) => {
            svc.delete_group(tenant, id, if_match(parts)).await?;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => return Err(ScimError::MethodNotAllowed(m.clone())),
    })
}
