//! The integration page, Settings › Integrations › Okta (docs/behaviour/integration-page.md), at `/admin/ui/`.
//!
//! Server-rendered HTML with one script of our own (Copy buttons and the live sync progress; all
//! else works without it) under a strict CSP. Signed in with an admin credential exchanged for a
//! server-side session (`HttpOnly; Secure; SameSite=Strict` cookie); every form carries the
//! session's CSRF token and a cross-origin `Origin` is refused. Every change goes through the
//! same use cases, validation and messages as the JSON API; every secret is shown once.
mod dashboard;
mod forms;
mod page;
mod views;

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use shared::adapters::http::{cookie_value, read_body};
use shared::app::admin::UI_SESSION_HOURS;
use shared::app::connect::ConnectError;
use shared::app::sync::SyncError;
use shared::app::AdminError;
use shared::domain::admin_session::{AdminSession, OpenedBy};

use crate::{ApiError, State, BODY_LIMIT};
use page::Viewer;

/// `__Host-`: Secure, `Path=/`, no `Domain`, so no sibling host can set or shadow it.
pub const COOKIE: &str = "__Host-okta_bridge_admin";
/// The sign-in form's double-submit cookie (login CSRF): a cross-site POST does not carry it.
pub const SIGN_IN_COOKIE: &str = "__Host-okta_bridge_sign_in";

pub fn routes() -> Router<State> {
    Router::new()
        .route("/admin/ui", get(|| async { see_other("/admin/ui/") }))
        .route("/admin/ui/", get(dashboard::show))
        .route("/admin/ui/assets/app.css", get(|| async { asset(page::CSS, "text/css; charset=utf-8") }))
        .route("/admin/ui/assets/app.js", get(|| async { asset(page::JS, "text/javascript; charset=utf-8") }))
        .route("/admin/ui/sign-in", get(views::sign_in_page).post(views::sign_in))
        .route("/admin/ui/sign-out", post(sign_out))
        .route("/admin/ui/org", post(forms::save_org))
        .route("/admin/ui/sso", post(forms::save_sso))
        .route("/admin/ui/provisioning", post(forms::save_provisioning))
        .route("/admin/ui/switches", post(forms::save_switches))
        .route("/admin/ui/event-hook-secret", post(forms::issue_event_hook_secret))
        .route("/admin/ui/event-hook-secret/previous", post(forms::end_previous_event_hook_secret))
        .route("/admin/ui/scim-tokens", post(forms::issue_scim_token))
        .route("/admin/ui/scim-tokens/{id}/rotate", post(forms::rotate_scim_token))
        .route("/admin/ui/scim-tokens/{id}/revoke", post(forms::revoke_scim_token))
        .route("/admin/ui/connect", post(forms::connect))
        .route("/admin/ui/event-hook/register", post(forms::register_hook))
        .route("/admin/ui/sync", post(views::start_sync))
        .route("/admin/ui/sync/{id}", get(views::run_page))
        .route("/admin/ui/sync/{id}/progress", get(views::run_progress))
        .route("/admin/ui/sync/{id}/approve", post(views::approve))
        .route("/admin/ui/people", get(views::people))
        .route("/admin/ui/people/invite-all", post(views::invite_all))
        .route("/admin/ui/people/{id}/invite", post(views::invite))
        .route("/admin/ui/changes", get(views::changes))
}

/// Why a page could not be served, mapped to a page (or a redirect) once, in [`UiError::into_response`].
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("not signed in")]
    SignedOut,
    #[error("the form's security token is missing or stale")]
    Csrf,
    #[error("the form came from another site")]
    CrossOrigin,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    BadRequest(String),
    /// Okta (or another service the page calls) did not answer; the words say which.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<AdminError> for UiError {
    fn from(e: AdminError) -> Self {
        Self::Api(ApiError::Admin(e))
    }
}

impl From<SyncError> for UiError {
    fn from(e: SyncError) -> Self {
        Self::Api(ApiError::Sync(e))
    }
}

impl From<ConnectError> for UiError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::TenantNotFound => Self::Api(ApiError::Admin(AdminError::TenantNotFound)),
            ConnectError::NotReady(m) | ConnectError::Okta(m) => Self::BadRequest(m),
            ConnectError::OktaDown(m) => Self::Unavailable(m),
            ConnectError::Unavailable(c) => Self::Api(ApiError::Admin(AdminError::Unavailable(c))),
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, title, text) = match &self {
            Self::SignedOut => return see_other("/admin/ui/sign-in"),
            Self::Csrf | Self::CrossOrigin => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was older than your session or came from another site, so nothing was changed. \
                 Go back, reload the page and try again."
                    .to_owned(),
            ),
            Self::NotFound(what) => (StatusCode::NOT_FOUND, "Not found", format!("There is no such {what}.")),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "That did not work", m.clone()),
            Self::Unavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                format!("{m}. Nothing was changed; try again in a minute."),
            ),
            Self::Api(e) => {
                // The API's own status and message (never internals: a 5xx says only that).
                let (status, _) = e.status_and_code();
                let text = if status.is_server_error() {
                    "A service this page depends on did not answer. Nothing was lost; try again in a minute.".to_owned()
                } else {
                    e.to_string()
                };
                (status, if status.is_server_error() { "Try again" } else { "That did not work" }, text)
            }
        };
        if status.is_server_error() {
            tracing::error!(error = %shared::ports::error_chain(&self), "integration page request failed");
        } else {
            tracing::info!(status = status.as_u16(), "integration page request refused");
        }
        let body =
            format!("{}<p><a href=\"/admin/ui/\">Back to the integration page</a></p>", page::notice("error", &text));
        html(status, page::layout(title, None, &body))
    }
}

pub(crate) type Result<T> = std::result::Result<T, UiError>;

/// The scheme the deployment is served on.
pub(crate) fn public_scheme(s: &State) -> String {
    url::Url::parse(&s.urls.api_url).map(|u| u.scheme().to_owned()).unwrap_or_else(|_| "https".into())
}

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("content-security-policy", HeaderValue::from_static(page::UI_CSP));
    // Forms send their real Origin (with `no-referrer` a browser sends `Origin: null`).
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    r
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

pub(crate) fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(crate) fn strict_cookie(name: &str, value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(crate) fn session_cookie(value: &str, max_age: i64) -> HeaderValue {
    strict_cookie(COOKIE, value, max_age)
}

pub(crate) fn set_session_cookie(r: &mut Response, session: &AdminSession) {
    r.headers_mut().append(header::SET_COOKIE, session_cookie(&session.cookie_value(), UI_SESSION_HOURS * 3600));
}

/// The signed-in session, or [`UiError::SignedOut`].
pub(crate) async fn signed_in(s: &State, headers: &HeaderMap) -> Result<AdminSession> {
    let Some(cookie) = cookie_value(headers, COOKIE) else { return Err(UiError::SignedOut) };
    let session = s.admin.ui_session(&cookie).await?.ok_or(UiError::SignedOut)?;
    let span = tracing::Span::current();
    span.record("tenant", session.tenant.as_str());
    match &session.opened_by {
        OpenedBy::Operator { .. } => span.record("caller", "operator"),
        OpenedBy::TenantToken { token_id } => span.record("caller", token_id.as_str()),
    };
    Ok(session)
}

pub(crate) fn viewer(session: &AdminSession) -> Viewer<'_> {
    Viewer {
        tenant: session.tenant.as_str(),
        csrf: &session.csrf,
        signed_in_as: match &session.opened_by {
            OpenedBy::Operator { .. } => "the operator token".to_owned(),
            OpenedBy::TenantToken { token_id } => format!("tenant admin token {token_id}"),
        },
    }
}

/// A submitted form's fields (the last value of a repeated name wins).
#[derive(Debug, Default)]
pub(crate) struct Form(HashMap<String, String>);

impl Form {
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", |v| v.as_str())
    }
    pub fn trimmed(&self, name: &str) -> &str {
        self.get(name).trim()
    }
    /// A trimmed value, `None` when empty.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.trimmed(name)).filter(|v| !v.is_empty()).map(str::to_owned)
    }
    pub fn on(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// Reads a bounded url-encoded form.
pub(crate) async fn read_form(headers: &HeaderMap, body: Body) -> Result<Form> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(UiError::BadRequest("the form must be sent as application/x-www-form-urlencoded".into()));
        }
    }
    let bytes = read_body(headers, body, BODY_LIMIT).await.map_err(ApiError::from)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&bytes).map_err(|_| UiError::BadRequest("the form could not be read".into()))?;
    Ok(Form(pairs.into_iter().collect()))
}

/// The request's `Origin`, when it has one, must be the site itself: this host, and the scheme the
/// deployment is served on (`PUBLIC_API_URL`'s: https in AWS).
pub(crate) fn same_origin(headers: &HeaderMap, scheme: &str) -> bool {
    // No Origin, or an opaque one (`null`, which some referrer policies and privacy settings
    // send): the CSRF token and the SameSite=Strict cookie decide alone.
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).filter(|o| *o != "null") else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    url::Url::parse(origin).ok().is_some_and(|u| {
        if u.scheme() != scheme {
            return false;
        }
        let authority = match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
            None => u.host_str().unwrap_or("").to_owned(),
        };
        authority.eq_ignore_ascii_case(host)
    })
}

/// A form of a signed-in page: the session, then same origin and its CSRF token, then the fields.
pub(crate) async fn signed_form(s: &State, headers: &HeaderMap, body: Body) -> Result<(AdminSession, Form)> {
    let session = signed_in(s, headers).await?;
    if !same_origin(headers, &public_scheme(s)) {
        return Err(UiError::CrossOrigin);
    }
    let form = read_form(headers, body).await?;
    if !session.csrf_matches(form.get("csrf")) {
        return Err(UiError::Csrf);
    }
    Ok((session, form))
}

async fn sign_out(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, _) = signed_form(&s, &headers, body).await?;
    s.admin.close_ui_session(&session).await?;
    tracing::info!("integration page: signed out");
    let mut r = see_other("/admin/ui/sign-in?signed_out=1");
    r.headers_mut().append(header::SET_COOKIE, session_cookie("", 0));
    Ok(r)
}

/// The query of a page (`?notice=...`, `?cursor=...`).
pub(crate) fn query_map(uri: &Uri) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
        .collect()
}

pub(crate) fn run_id(raw: &str) -> Result<&str> {
    if raw.is_empty() || raw.len() > 64 || !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(UiError::NotFound("sync run"));
    }
    Ok(raw)
}

pub(crate) type Id = Path<String>;
