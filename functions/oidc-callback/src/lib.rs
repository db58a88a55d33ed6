//! Okta single sign-on (SPEC §10): login, callbacks and logout, answered with HTML for people.
//!
//! This release resolves the tenant and answers each sign-in route with a `501` page that says
//! plainly that Okta sign-in is not available yet. No session is ever created.
use axum::extract::{Request, State as AxState};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
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

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error("Signing in with Okta is not available yet.")]
    NotImplemented,
    #[error("This page does not exist.")]
    NoRoute,
}

/// An error page for people: a title, one sentence, no internals.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><main><h1>{title}</h1><p>{message}</p></main></body></html>"
    );
    (status, Html(html)).into_response()
}

impl IntoResponse for SsoError {
    fn into_response(self) -> Response {
        match &self {
            Self::Routing(RoutingError::NoTenant) | Self::NoRoute => page(
                StatusCode::NOT_FOUND,
                "Not found",
                "This sign-in address is not known. Check the link you followed.",
            ),
            Self::Routing(_) => page(StatusCode::BAD_REQUEST, "Bad request", "This sign-in address is not valid."),
            Self::NotImplemented => page(StatusCode::NOT_IMPLEMENTED, "Sign-in unavailable", &self.to_string()),
        }
    }
}

pub fn router(state: State) -> Router {
    let routes = Router::new()
        .route("/okta/login", get(sso))
        .route("/okta/auth_callback", get(sso))
        .route("/{locale}/okta/auth_callback", get(sso))
        .route("/users/auth/okta/callback", get(sso))
        .route("/okta/logout", post(sso));
    with_tenant_prefix(routes)
        .fallback(|| async { SsoError::NoRoute })
        .layer(middleware::from_fn(request_span))
        .with_state(state)
}

async fn sso(AxState(state): AxState<State>, req: Request) -> Result<Response, SsoError> {
    let (parts, _body) = req.into_parts();
    tenant_of(&parts, &state.base_domain)?;
    Err(SsoError::NotImplemented)
}
