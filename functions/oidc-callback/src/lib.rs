//! Okta single sign-on (docs/behaviour/sign-in.md): `GET /okta/login` starts the authorization-code flow (PKCE,
//! state, nonce), the three callback routes finish it and set the session cookie, `POST
//! /okta/logout` clears it. Every answer is for a person's browser: redirects, or HTML pages with
//! the right status and no internals.
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
use shared::app::sso::{CallbackQuery, SsoError, SsoService};
use shared::domain::routing::RoutingError;
use shared::domain::sso::{login_cookie_name, Session, LOGIN_TTL, SESSION_COOKIE};
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
        .route("/okta/me", get(me));
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
    let path = base.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or("/");
    HeaderValue::from_str(&format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"))
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

fn cookie_value(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (name, value) = c.trim().split_once('=')?;
        (name == wanted).then(|| value.to_owned())
    })
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, &format!("__Host-{SESSION_COOKIE}")).or_else(|| cookie_value(headers, SESSION_COOKIE))
}

async fn login(AxState(state): AxState<State>, req: Request) -> Result<Response, PageError> {
    let path = original_path(&req);
    let (parts, _) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).map_err(|_| SsoError::UnsafeReturnTo)?;
    let return_to = q.iter().find(|(k, _)| k == "return_to").map(|(_, v)| v.as_str());
    let base = state.urls.tenant_base(&path, &tenant);
    let started = state.sso.start(&tenant, return_to, &format!("{base}/okta/auth_callback")).await?;
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
    let mut r = redirect(&format!("{base}{}", done.return_to));
    r.headers_mut().insert(header::SET_COOKIE, cookie(&done.cookie, done.max_age_seconds, &base));
    if let Some(c) = login_cookie.and_then(|name| cookie_named(&name, "", 0, &base)) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// The valid session the request's cookie carries, if any.
async fn current_session(state: &State, headers: &HeaderMap, tenant: &TenantId) -> Option<Session> {
    state.sso.session(tenant, &session_cookie(headers)?).await
}

/// Who is signed in (a plain page for people and for checking a login works).
async fn me(AxState(state): AxState<State>, req: Request) -> Result<Response, PageError> {
    let path = original_path(&req);
    let (parts, _) = req.into_parts();
    let tenant = tenant_of(&parts, &state.base_domain)?;
    let base = state.urls.tenant_base(&path, &tenant);
    let session = current_session(&state, &parts.headers, &tenant).await;
    Ok(match session {
        Some(s) => page(
            StatusCode::OK,
            "Signed in",
            &format!("You are signed in to the learning platform as user {} (Okta user {}).", s.user_id, s.okta_id),
        ),
        None => {
            let login = format!("{base}/okta/login?return_to=/okta/me");
            page(StatusCode::UNAUTHORIZED, "Not signed in", &format!("Sign in with Okta at {login}"))
        }
    })
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
