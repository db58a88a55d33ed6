//! SCIM 2.0 service provider at `/scim/v2` per tenant (docs/behaviour/scim.md).
//!
//! Every request is authenticated with one of the tenant's SCIM tokens (`Authorization: Bearer
//! <token>`, or the bare token as Okta's OIN "Header" mode sends it), compared in constant time; a
//! token of another tenant is refused like a wrong one. Discovery (`ServiceProviderConfig`,
//! `ResourceTypes`, `Schemas`) is served to any token holder; Users and Groups need the tenant's
//! provisioning to be `scim` (else 404). Bodies over 1 MiB get 413; every answer, errors included,
//! is `application/scim+json`, errors in the SCIM error schema.
use std::sync::Arc;

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Extension, Router};
use serde_json::Value;
use shared::adapters::aws::Adapters;
use shared::adapters::edge::{serve_guarded, EdgeRefusals, TenantRouting};
use shared::adapters::emf::EmfMetrics;
use shared::adapters::http::{bearer, original_path, read_body, tenant_of, BodyError, PublicUrls};
use shared::adapters::settings::SettingsError;
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
    /// SCIM answers with `meta.location` URLs built from `PUBLIC_API_URL`.
    pub fn from_adapters(a: &Adapters) -> Result<Self, SettingsError> {
        Ok(Self {
            base_domain: a.settings.base_domain.clone(),
            urls: a.settings.public_urls()?,
            tokens: a.root.tokens.clone(),
            scim: Arc::new(a.root.scim()),
            metrics: a.metrics.clone(),
        })
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

/// Every SCIM route, also with a trailing slash (some clients add one), behind the token check.
pub fn router(state: State) -> Router {
    let both =
        |r: Router<State>, path: &str, m: MethodRouter<State>| r.route(path, m.clone()).route(&format!("{path}/"), m);
    let mut routes = Router::new();
    routes = both(routes, "/scim/v2/ServiceProviderConfig", get(service_provider_config));
    routes = both(routes, "/scim/v2/ResourceTypes", get(resource_types));
    routes = both(routes, "/scim/v2/ResourceTypes/{id}", get(resource_type));
    routes = both(routes, "/scim/v2/Schemas", get(schemas));
    routes = both(routes, "/scim/v2/Schemas/{id}", get(schema));
    routes = both(routes, "/scim/v2/Users", get(list_users).post(create_user));
    routes = both(routes, "/scim/v2/Users/{id}", get(get_user).put(replace_user).patch(patch_user).delete(delete_user));
    routes = both(routes, "/scim/v2/Groups", get(list_groups).post(create_group));
    routes =
        both(routes, "/scim/v2/Groups/{id}", get(get_group).put(replace_group).patch(patch_group).delete(delete_group));
    // The tenant and its token are checked before anything is answered, "no such resource"
    // and "wrong method" included.
    let guard = |r: Router<State>| r.layer(middleware::from_fn_with_state(state.clone(), authenticate));
    serve_guarded::<_, ScimError>(routes, TenantRouting::HostOrPrefix, state.metrics.clone(), state.clone(), guard)
}

impl EdgeRefusals for ScimError {
    fn no_route() -> Response {
        ScimError::NotFound.into_response()
    }
    fn method_not_allowed(method: &Method) -> Response {
        ScimError::MethodNotAllowed(method.clone()).into_response()
    }
}

/// Who is calling, for every handler: the tenant and its SCIM base URL.
#[derive(Clone)]
struct Caller {
    tenant: TenantId,
    base: String,
}

/// Middleware: the tenant must exist (from the cached config read, before any secret is read: a
/// flood of made-up names costs nothing after the first, docs/behaviour/tenants-and-routing.md, docs/behaviour/secrets-and-tokens.md) and the token must be one of
/// its SCIM tokens.
async fn authenticate(AxState(state): AxState<State>, req: Request, next: Next) -> Response {
    let path = original_path(&req);
    let (parts, body) = req.into_parts();
    let caller = match caller(&state, &parts, &path).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(caller);
    next.run(req).await
}

async fn caller(state: &State, parts: &axum::http::request::Parts, path: &str) -> Result<Caller, ScimError> {
    let tenant = tenant_of(parts, &state.base_domain)?;
    if !state.scim.tenant_exists(&tenant).await? {
        return Err(ScimError::NoTenant);
    }
    let token = presented_token(&parts.headers).ok_or(ScimError::Unauthorized)?;
    match state.tokens.verify_scim(&tenant, &token).await {
        Ok(Some(token_id)) => tracing::debug!(token_id = %token_id, "SCIM token accepted"),
        Ok(None) => return Err(ScimError::Unauthorized),
        Err(e) => {
            tracing::error!(error = %shared::ports::error_chain(&e), "SCIM tokens unreadable");
            return Err(ScimError::Unavailable);
        }
    }
    let base = format!("{}/scim/v2", state.urls.tenant_base(path, &tenant));
    Ok(Caller { tenant, base })
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

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
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

fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

/// The `{id}` of a route (under `/t/{tenant}` the path has the tenant too).
fn id(params: &HashMap<String, String>) -> &str {
    params.get("id").map_or("", String::as_str)
}

type Scim = Result<Response, ScimError>;
type Params = Path<HashMap<String, String>>;

async fn service_provider_config(Extension(c): Extension<Caller>) -> Response {
    scim_json(StatusCode::OK, &scim::service_provider_config(&c.base))
}

async fn resource_types(Extension(c): Extension<Caller>) -> Response {
    scim_json(StatusCode::OK, &scim::list(scim::resource_types(&c.base)))
}

async fn resource_type(Extension(c): Extension<Caller>, Path(p): Params) -> Scim {
    let found = scim::resource_types(&c.base).into_iter().find(|r| r["id"].as_str() == Some(id(&p)));
    Ok(scim_json(StatusCode::OK, &found.ok_or(ScimError::NotFound)?))
}

async fn schemas(Extension(c): Extension<Caller>) -> Response {
    scim_json(StatusCode::OK, &scim::list(scim::schemas(&c.base)))
}

async fn schema(Extension(c): Extension<Caller>, Path(p): Params) -> Scim {
    let found = scim::schemas(&c.base).into_iter().find(|r| r["id"].as_str() == Some(id(&p)));
    Ok(scim_json(StatusCode::OK, &found.ok_or(ScimError::NotFound)?))
}

async fn list_users(AxState(s): AxState<State>, Extension(c): Extension<Caller>, uri: Uri) -> Scim {
    s.scim.config(&c.tenant).await?;
    let params = ListParams::from_query(&query_pairs(&uri))?;
    Ok(scim_json(StatusCode::OK, &s.scim.list_users(&c.tenant, &params, &c.base).await?))
}

async fn create_user(AxState(s): AxState<State>, Extension(c): Extension<Caller>, h: HeaderMap, body: Body) -> Scim {
    let body = json_body(&h, body).await?;
    Ok(resource(StatusCode::CREATED, &s.scim.create_user(&c.tenant, &body, &c.base).await?))
}

async fn get_user(AxState(s): AxState<State>, Extension(c): Extension<Caller>, Path(p): Params, uri: Uri) -> Scim {
    s.scim.config(&c.tenant).await?;
    let projection = Projection::from_query(&query_pairs(&uri))?;
    let mut r = s.scim.get_user(&c.tenant, id(&p), &c.base).await?;
    r.body = projection.apply(r.body);
    Ok(resource(StatusCode::OK, &r))
}

async fn replace_user(
    AxState(s): AxState<State>,
    Extension(c): Extension<Caller>,
    Path(p): Params,
    h: HeaderMap,
    body: Body,
) -> Scim {
    let body = json_body(&h, body).await?;
    let r = s.scim.replace_user(&c.tenant, id(&p), &body, if_match(&h), &c.base).await?;
    Ok(resource(StatusCode::OK, &r))
}

async fn patch_user(
    AxState(s): AxState<State>,
    Extension(c): Extension<Caller>,
    Path(p): Params,
    h: HeaderMap,
    body: Body,
) -> Scim {
    let body = json_body(&h, body).await?;
    let r = s.scim.patch_user(&c.tenant, id(&p), &body, if_match(&h), &c.base).await?;
    Ok(resource(StatusCode::OK, &r))
}

async fn delete_user(
    AxState(s): AxState<State>,
    Extension(c): Extension<Caller>,
    Path(p): Params,
    h: HeaderMap,
) -> Scim {
    s.scim.delete_user(&c.tenant, id(&p), if_match(&h)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_groups(AxState(s): AxState<State>, Extension(c): Extension<Caller>, uri: Uri) -> Scim {
    let params = ListParams::from_query(&query_pairs(&uri))?;
    Ok(scim_json(StatusCode::OK, &s.scim.list_groups(&c.tenant, &params, &c.base).await?))
}

async fn create_group(AxState(s): AxState<State>, Extension(c): Extension<Caller>, h: HeaderMap, body: Body) -> Scim {
    let body = json_body(&h, body).await?;
    Ok(resource(StatusCode::CREATED, &s.scim.create_group(&c.tenant, &body, &c.base).await?))
}

async fn get_group(AxState(s): AxState<State>, Extension(c): Extension<Caller>, Path(p): Params, uri: Uri) -> Scim {
    let projection = Projection::from_query(&query_pairs(&uri))?;
    Ok(resource(StatusCode::OK, &s.scim.get_group(&c.tenant, id(&p), &projection, &c.base).await?))
}

async fn replace_group(
    AxState(s): AxState<State>,
    Extension(c): Extension<Caller>,
    Path(p): Params,
    h: HeaderMap,
    body: Body,
) -> Scim {
    let body = json_body(&h, body).await?;
    let r = s.scim.replace_group(&c.tenant, id(&p), &body, if_match(&h), &c.base).await?;
    Ok(resource(StatusCode::OK, &r))
}

/// `204` with the new ETag: a 10,000-member group is not read back to answer.
async fn patch_group(
    AxState(s): AxState<State>,
    Extension(c): Extension<Caller>,
    Path(p): Params,
    h: HeaderMap,
    body: Body,
) -> Scim {
    let body = json_body(&h, body).await?;
    let g = s.scim.patch_group(&c.tenant, id(&p), &body, if_match(&h)).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(g.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

async fn delete_group(
    AxState(s): AxState<State>,
    Extension(c): Extension<Caller>,
    Path(p): Params,
    h: HeaderMap,
) -> Scim {
    s.scim.delete_group(&c.tenant, id(&p), if_match(&h)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
