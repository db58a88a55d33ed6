//! Okta single sign-on (SPEC §10): `GET /okta/login` starts the authorization-code flow (PKCE,
//! state, nonce), the three callback routes finish it and set the session cookie, `POST
//! /okta/logout` clears it. Every answer is for a person's browser: redirects, or HTML pages with
//! the right status and no internals.
use std::sync::Arc;

use axum::extract::{Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
use shared::adapters::aws::Adapters;
use shared::adapters::http::{
    html_escape as escape, original_path, request_span, tenant_of, with_tenant_prefix, PublicUrls,
};
use shared::app::sso::{CallbackQuery, SsoError, SsoService};
use shared::domain::routing::RoutingError;
use shared::domain::sso::{login_cookie_name, Refusal, Session, LOGIN_TTL, SESSION_COOKIE};
use shared::domain::TenantId;

#[derive(Clone)]
pub struct State {
    pub base_domain: String,
    /// Every URL handed out or redirected to is built from these, never from request headers.
    pub urls: PublicUrls,
    pub sso: Arc<SsoService>,
}

impl State {
    pub fn from_adapters(a: &Adapters) -> Self {
        Self {
            base_domain: a.settings.base_domain.clone(),
            urls: a.settings.public_urls(),
            sso: Arc::new(a.sso_service()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error(transparent)]
    Sso(#[from] SsoError),
    #[error("This page does not exist.")]
    NoRoute,
}

/// An HTML page for people: a title, one or two sentences, no internals.
pub fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>{t}</title><style>body{{font:16px/1.5 system-ui,sans-serif;\
         margin:0;background:#f5f6f8;color:#1d2330}}main{{max-width:560px;margin:12vh auto;background:#fff;\
         border:1px solid #e2e5eb;border-radius:10px;padding:28px 32px}}h1{{font-size:22px;margin:0 0 10px}}\
         </style></head><body><main><h1>{t}</h1><p>{m}</p></main></body></html>",
        t = escape(title),
        m = escape(message)
    );
    let mut r = (status, Html(html)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        use StatusCode as S;
        let again = "Go back to the learning platform and choose “Sign in with Okta” again.";
        match &self {
            Self::Routing(RoutingError::NoTenant) | Self::NoRoute => {
                page(S::NOT_FOUND, "Not found", "This sign-in address is not known. Check the link you followed.")
            }
            Self::Routing(_) => page(S::BAD_REQUEST, "Bad request", "This sign-in address is not valid."),
            Self::Sso(e) => {
                let (status, title, message): (StatusCode, &str, String) = match e {
                    SsoError::NotEnabled => {
                        (S::NOT_FOUND, "Not found", "Signing in with Okta is not enabled for this organisation.".into())
                    }
                    SsoError::NotConfigured => (
                        S::SERVICE_UNAVAILABLE,
                        "Sign-in unavailable",
                        "Signing in with Okta is not fully set up for this organisation yet. Ask your administrator."
                            .into(),
                    ),
                    SsoError::UnsafeReturnTo => (
                        S::BAD_REQUEST,
                        "Bad request",
                        "The page to return to after signing in must be on this site.".into(),
                    ),
                    SsoError::MissingState | SsoError::StaleState => (
                        S::BAD_REQUEST,
                        "Sign-in expired",
                        format!("This sign-in has expired or was already used. {again}"),
                    ),
                    SsoError::OtherBrowser => (
                        S::BAD_REQUEST,
                        "Sign-in started elsewhere",
                        format!(
                            "This sign-in was started in another browser (or this browser blocked its cookie), so \
                             it cannot finish here. {again}"
                        ),
                    ),
                    SsoError::Provider(code) if code == "access_denied" => (
                        S::FORBIDDEN,
                        "Access denied",
                        "Okta did not allow this sign-in: you may not be assigned to the learning platform, or you \
                         cancelled. Ask your administrator if you should have access."
                            .into(),
                    ),
                    SsoError::Provider(code) => (
                        S::BAD_REQUEST,
                        "Sign-in failed",
                        format!("Okta could not sign you in (error: {code}). {again}"),
                    ),
                    SsoError::Verification(_) => (
                        S::UNAUTHORIZED,
                        "Sign-in failed",
                        format!("Okta's answer could not be verified, so you were not signed in. {again}"),
                    ),
                    SsoError::ProviderUnavailable(_) => (
                        S::BAD_GATEWAY,
                        "Okta unavailable",
                        "Okta could not be reached to sign you in. Try again in a few minutes.".into(),
                    ),
                    SsoError::Refused(why) => (
                        S::FORBIDDEN,
                        "Access denied",
                        match why {
                            Refusal::UnknownUser => "Your account must exist in the learning platform before you can \
                                                     sign in. Ask your administrator to add you."
                                .into(),
                            Refusal::Deactivated => {
                                "Your learning platform account is deactivated. Ask your administrator.".into()
                            }
                            Refusal::EmailLinkedElsewhere => "Your email address belongs to an account that is linked \
                                                              to another Okta user. Ask your administrator."
                                .into(),
                            Refusal::EmailNotVerified => "Your email address is not verified in Okta, so it cannot be \
                                                          linked to your learning platform account. Ask your \
                                                          administrator."
                                .into(),
                            Refusal::LinkedToAnotherOrg => "Your learning platform account was linked through another \
                                                            Okta organisation. It can sign in once this organisation's \
                                                            provisioning (the next sync, or SCIM) confirms it. Ask your \
                                                            administrator."
                                .into(),
                        },
                    ),
                    SsoError::Unavailable(_) => (
                        S::SERVICE_UNAVAILABLE,
                        "Sign-in unavailable",
                        "Something went wrong on our side. Try again in a few minutes.".into(),
                    ),
                };
                if status.is_server_error() || status == S::UNAUTHORIZED {
                    tracing::warn!(error = %shared::ports::error_chain(e), status = status.as_u16(), "sign-in failed");
                } else {
                    tracing::info!(status = status.as_u16(), "sign-in refused");
                }
                page(status, title, &message)
            }
        }
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
    with_tenant_prefix(routes)
        .fallback(|| async { PageError::NoRoute })
        .layer(middleware::from_fn(request_span))
        .with_state(state)
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
    // Binds the login to this browser: the callback must bring it back (SPEC §10). Ten minutes,
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
