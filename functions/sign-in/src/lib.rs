//! Okta single sign-on (docs/behaviour/sign-in.md), by OpenID Connect or SAML 2.0.
//! OIDC: `GET /okta/login` starts the authorization-code flow (PKCE, state, nonce), the three
//! callback routes finish it. SAML: `GET /saml/metadata` (our SP metadata), `GET /saml/login`
//! (the AuthnRequest over HTTP-Redirect), `POST /saml/acs` (the IdP's HTTP-POST). Both set the
//! same session cookie; `GET /okta/me` says who is signed in (JSON), `POST /okta/logout` ends it.
//! Every answer for a person's browser is a redirect or an HTML page with the right status and
//! no internals.
use std::sync::Arc;

use axum::extract::{Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use shared::adapters::aws::Adapters;
use shared::adapters::edge::{serve, EdgeRefusals, TenantRouting};
use shared::adapters::emf::EmfMetrics;
use shared::adapters::http::{original_path, tenant_of, PublicUrls};
use shared::adapters::settings::SettingsError;
use shared::app::sso::{CallbackQuery, SamlEndpoints, SignInDone, SsoError, SsoService};
use shared::domain::routing::RoutingError;
use shared::domain::sso::{login_cookie_name, LOGIN_TTL, SESSION_COOKIE};
use shared::domain::tenant::SsoProtocol;
use shared::domain::TenantId;

#[derive(Clone)]
pub struct State {
    pub base_domain: String,
    /// Every URL handed out or redirected to is built from these, never from request headers.
    pub urls: PublicUrls,
    pub sso: Arc<SsoService>,
    pub metrics: Arc<EmfMetrics>,
}

impl State {
    /// Sign-in redirects to URLs built from `PUBLIC_API_URL`: it cannot start without it.
    pub fn from_adapters(a: &Adapters) -> Result<Self, SettingsError> {
        Ok(Self {
            base_domain: a.settings.base_domain.clone(),
            urls: a.settings.public_urls()?,
            sso: Arc::new(a.root.sso()),
            metrics: a.metrics.clone(),
        })
    }
}

mod pages;

pub use pages::page;
use pages::{BAD_ADDRESS, NOT_FOUND};

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error(transparent)]
    Sso(#[from] SsoError),
    #[error("This page does not exist.")]
    NoRoute,
    #[error("This page does not accept {0}.")]
    MethodNotAllowed(axum::http::Method),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match &self {
            Self::Routing(RoutingError::NoTenant) | Self::NoRoute => page(StatusCode::NOT_FOUND, NOT_FOUND.0, NOT_FOUND.1),
            Self::Routing(_) => page(StatusCode::BAD_REQUEST, BAD_ADDRESS.0, BAD_ADDRESS.1),
            Self::MethodNotAllowed(_) => page(
                StatusCode::METHOD_NOT_ALLOWED,
                "Not allowed",
                "This sign-in address cannot be used that way. Go back to the learning platform and sign in from there.",
            ),
            Self::Sso(e) => {
                let (status, title, message) = pages::for_sso_error(e);
                if status.is_server_error() || status == StatusCode::UNAUTHORIZED {
                    tracing::warn!(error = %shared::ports::error_chain(e), status = status.as_u16(), "sign-in failed");
                } else {
                    tracing::info!(status = status.as_u16(), "sign-in refused");
                }
                page(status, title, &message)
            }
        }
    }
}

impl EdgeRefusals for PageError {
    fn no_route() -> Response {
        Self::NoRoute.into_response()
    }
    fn method_not_allowed(method: &axum::http::Method) -> Response {
        Self::MethodNotAllowed(method.clone()).into_response()
    }
}

pub fn router(state: State) -> Router {
    let routes = Router::new()
        .route("/okta/login", get(login))
        .route("/okta/auth_callback", get(callback))
        .route("/{locale}/okta/auth_callback", get(callback))
        .route("/users/auth/okta/callback", get(callback))
        .route("/okta/logout", post(logout))
        .route("/okta/me", get(me))
        .route("/saml/metadata", get(saml_metadata))
        .route("/saml/login", get(saml_login))
        .route("/saml/acs", post(saml_acs));
    serve::<_, PageError>(routes, TenantRouting::HostOrPrefix, state.metrics.clone(), state)
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A cookie of the tenant's: its path prefix when there is one. `SameSite=Lax`, so it comes back
/// on the top-level redirect from Okta.
fn cookie_named(name: &str, value: &str, max_age: i64, base: &str) -> Option<HeaderValue> {
    cookie_with(name, value, max_age, base, "Lax")
}

/// `same_site` is `Lax`, or `None` for a cookie that must come back on SAML's cross-site POST.
fn cookie_with(name: &str, value: &str, max_age: i64, base: &str, same_site: &str) -> Option<HeaderValue> {
    let path = base.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or("/");
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite={same_site}"
    ))
    .ok()
}

/// The session cookie's name: `__Host-` prefixed when the tenant has its own host (Path=/, no
/// Domain), so no other subdomain can set or shadow it.
fn session_cookie_name(base: &str) -> String {
    let host_mode = base.split_once("://").is_none_or(|(_, rest)| !rest.contains('/'));
    if host_mode {
        format!("__Host-{SESSION_COOKIE}")
    } else {
        SESSION_COOKIE.to_owned()
    }
}

fn cookie(value: &str, max_age: i64, base: &str) -> HeaderValue {
    cookie_named(&session_cookie_name(base), value, max_age, base).unwrap_or_else(|| HeaderValue::from_static(""))
}

use shared::adapters::http::cookie_value;

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, &format!("__Host-{SESSION_COOKIE}")).or_else(|| cookie_value(headers, SESSION_COOKIE))
}

/// The `return_to` query parameter of a login route (checked later by `safe_return_to`).
fn return_to_param(parts: &axum::http::request::Parts) -> Result<Option<String>, SsoError> {
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).map_err(|_| SsoError::UnsafeReturnTo)?;
    Ok(q.into_iter().find(|(k, _)| k == "return_to").map(|(_, v)| v))
}

async fn login(AxState(state): AxState<State>, req: Request) -> Result<Response, PageError> {
    let path = original_path(&req);
    let (parts, _) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let return_to = return_to_param(&parts)?;
    let return_to = return_to.as_deref();
    let base = state.urls.tenant_base(&path, &tenant);
    let started = match state.sso.start(&tenant, return_to, &format!("{base}/okta/auth_callback")).await {
        // One sign-in link for the learning platform, whichever protocol the tenant uses.
        Err(SsoError::OtherProtocol(SsoProtocol::Saml)) => {
            let query = serde_urlencoded::to_string([("return_to", return_to.unwrap_or("/"))]).unwrap_or_default();
            return Ok(redirect(&format!("{base}/saml/login?{query}")));
        }
        other => other?,
    };
    let mut r = redirect(&started.url);
    // Binds the login to this browser: the callback must bring it back (docs/behaviour/sign-in.md). Ten minutes,
    // like the login itself.
    if let Some(c) = cookie_named(&started.cookie_name, &started.cookie_value, LOGIN_TTL.num_seconds(), &base) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(r)
}

async fn callback(AxState(state): AxState<State>, req: Request) -> Result<Response, PageError> {
    let path = original_path(&req);
    let (parts, _) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let query: CallbackQuery =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).map_err(|_| SsoError::MissingState)?;
    let base = state.urls.tenant_base(&path, &tenant);
    let login_cookie = query.state.as_deref().map(login_cookie_name);
    let binding = login_cookie.as_deref().and_then(|name| cookie_value(&parts.headers, name));
    let done = state.sso.finish(&tenant, &query, binding.as_deref()).await?;
    let cleared = login_cookie.and_then(|name| cookie_named(&name, "", 0, &base));
    Ok(signed_in(&base, &done, StatusCode::FOUND, cleared))
}

/// A finished sign-in's answer: to `{base}{return_to}` with the session cookie, and the login's
/// binding cookie cleared.
fn signed_in(base: &str, done: &SignInDone, status: StatusCode, cleared_login: Option<HeaderValue>) -> Response {
    let mut r = redirect(&format!("{base}{}", done.return_to));
    *r.status_mut() = status;
    r.headers_mut().insert(header::SET_COOKIE, cookie(&done.cookie, done.max_age_seconds, base));
    if let Some(c) = cleared_login {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// Who is signed in, as JSON (docs/behaviour/sign-in.md): `200` with the user, `401` without a
/// good session.
async fn me(AxState(state): AxState<State>, req: Request) -> Result<Response, PageError> {
    let path = original_path(&req);
    let (parts, _) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let base = state.urls.tenant_base(&path, &tenant);
    let signed_in = match session_cookie(&parts.headers) {
        Some(cookie) => state.sso.me(&tenant, &cookie).await,
        None => None,
    };
    let (status, body) = match signed_in {
        Some((session, user)) => (
            StatusCode::OK,
            serde_json::json!({
                "id": user.id, "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
                "okta_id": session.okta_id, "tenant": session.tenant, "session_expires_at": session.expires_at,
            }),
        ),
        None => (
            StatusCode::UNAUTHORIZED,
            serde_json::json!({
                "error": "not_signed_in", "message": "No valid session: sign in first.",
                "sign_in": format!("{base}/okta/login?return_to=/okta/me"),
            }),
        ),
    };
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// Our SAML endpoints for the tenant, from configuration: the entity id and first ACS on the
/// tenant's canonical base (its own host when `BASE_DOMAIN` is set), the `/t/{tenant}` ACS too.
fn saml_endpoints(state: &State, tenant: &TenantId) -> (String, SamlEndpoints) {
    let canonical = state.urls.tenant_base("/", tenant);
    let prefixed = state.urls.tenant_base(&format!("/t/{tenant}/"), tenant);
    let mut acs_urls = vec![format!("{canonical}/saml/acs")];
    if prefixed != canonical {
        acs_urls.push(format!("{prefixed}/saml/acs"));
    }
    let endpoints = SamlEndpoints { entity_id: format!("{canonical}/saml/metadata"), acs_urls };
    (canonical, endpoints)
}

async fn saml_metadata(AxState(state): AxState<State>, req: Request) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let (_, endpoints) = saml_endpoints(&state, &tenant);
    let xml = state.sso.saml_sp_metadata(&tenant, &endpoints).await?;
    let mut r = xml.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/samlmetadata+xml"));
    Ok(r)
}

async fn saml_login(AxState(state): AxState<State>, req: Request) -> Result<Response, PageError> {
    let path = original_path(&req);
    let (parts, _) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let return_to = return_to_param(&parts)?;
    let return_to = return_to.as_deref();
    let (canonical, endpoints) = saml_endpoints(&state, &tenant);
    // A tenant that does not sign in by SAML answers here, not after a detour to its own host.
    state.sso.saml_enabled(&tenant).await?;
    if state.urls.tenant_base(&path, &tenant) != canonical {
        // The IdP posts back to the canonical ACS: start there, so the binding cookie is on its site.
        let query = serde_urlencoded::to_string([("return_to", return_to.unwrap_or("/"))]).unwrap_or_default();
        return Ok(redirect(&format!("{canonical}/saml/login?{query}")));
    }
    let started = state.sso.saml_start(&tenant, return_to, &endpoints).await?;
    let mut r = redirect(&started.url);
    // The IdP answers with a cross-site POST: only a SameSite=None cookie comes back with it.
    let same_site = if started.cross_site { "None" } else { "Lax" };
    if let Some(c) =
        cookie_with(&started.cookie_name, &started.cookie_value, LOGIN_TTL.num_seconds(), &canonical, same_site)
    {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// Most bytes of an ACS form read (the `SAMLResponse` cap plus room for `RelayState`).
const ACS_BODY_LIMIT: usize = shared::domain::saml::response::MAX_POSTED_BYTES + 16 * 1024;

async fn saml_acs(AxState(state): AxState<State>, req: Request) -> Result<Response, PageError> {
    let (parts, body) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let bytes = axum::body::to_bytes(body, ACS_BODY_LIMIT)
        .await
        .map_err(|_| SsoError::Saml(shared::domain::saml::SamlRefusal::NotDecodable))?;
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| SsoError::Saml(shared::domain::saml::SamlRefusal::NotDecodable))?;
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let posted = field("SAMLResponse").unwrap_or("");
    let (canonical, endpoints) = saml_endpoints(&state, &tenant);
    let headers = parts.headers.clone();
    let read_cookie = move |name: &str| cookie_value(&headers, name);
    let done = state.sso.saml_acs(&tenant, posted, field("RelayState"), &read_cookie, &endpoints).await?;
    // The binding cookie was SameSite=None, so it is cleared the same way.
    let cleared = done.finished_login_cookie.as_deref().and_then(|name| cookie_with(name, "", 0, &canonical, "None"));
    // See Other: the browser follows with a GET, and the Lax session cookie goes with it.
    Ok(signed_in(&canonical, &done, StatusCode::SEE_OTHER, cleared))
}

async fn logout(AxState(state): AxState<State>, req: Request) -> Result<Response, PageError> {
    let path = original_path(&req);
    let (parts, _) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let base = state.urls.tenant_base(&path, &tenant);
    let presented = session_cookie(&parts.headers);
    let to = state.sso.end_session(&tenant, presented.as_deref(), &format!("{base}/")).await?;
    let mut r = redirect(&to);
    *r.status_mut() = StatusCode::SEE_OTHER;
    r.headers_mut().insert(header::SET_COOKIE, cookie("", 0, &base));
    Ok(r)
}
