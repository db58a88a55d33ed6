//! The admin API's one error type, mapped to JSON responses in exactly one place.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shared::adapters::http::BodyError;
use shared::app::sync::SyncError;
use shared::app::AdminError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body must be JSON: {0}")]
    BadJson(String),
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("a valid admin bearer token is required")]
    Unauthorized,
    #[error("this admin token may not use this route: a tenant admin token reaches only its own tenant, and never deployment routes or admin-token issuing")]
    Forbidden,
    #[error("no such route")]
    NoRoute,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { limit } => Self::TooLarge(limit),
            BodyError::Unreadable => Self::BadRequest("the request body could not be read".into()),
        }
    }
}

impl ApiError {
    pub(crate) fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Admin(e) => match e {
                AdminError::TenantNotFound => (StatusCode::NOT_FOUND, "tenant_not_found"),
                AdminError::UserNotFound => (StatusCode::NOT_FOUND, "user_not_found"),
                AdminError::TokenNotFound => (StatusCode::NOT_FOUND, "token_not_found"),
                AdminError::TooManyTokens(_) => (StatusCode::CONFLICT, "too_many_tokens"),
                AdminError::InvalidConfig(_) => (StatusCode::BAD_REQUEST, "invalid_config"),
                AdminError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
                AdminError::Conflict => (StatusCode::CONFLICT, "conflict"),
                AdminError::InvalidState(_) => (StatusCode::CONFLICT, "invalid_state"),
                AdminError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            },
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::BadJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            Self::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Sync(e) => match e {
                SyncError::TenantNotFound => (StatusCode::NOT_FOUND, "tenant_not_found"),
                SyncError::RunNotFound => (StatusCode::NOT_FOUND, "sync_run_not_found"),
                SyncError::NotEnabled => (StatusCode::CONFLICT, "event_hooks_not_enabled"),
                SyncError::NotAwaitingApproval => (StatusCode::CONFLICT, "not_awaiting_approval"),
                SyncError::RunExpired => (StatusCode::CONFLICT, "run_expired"),
                SyncError::Starting => (StatusCode::CONFLICT, "run_starting"),
                SyncError::AnotherRunActive(_) => (StatusCode::CONFLICT, "another_run_active"),
                SyncError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            },
        }
    }
}

/// Logs the whole cause chain (never shown to the caller).
fn log_chain(err: &dyn std::error::Error) {
    tracing::error!(error = %shared::ports::error_chain(err), "admin request failed");
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut body = json!({"error": {"code": code, "message": self.to_string()}});
        if let Self::Admin(AdminError::InvalidConfig(invalid)) = &self {
            body["error"]["problems"] = json!(invalid.0);
        }
        if status.is_server_error() {
            log_chain(&self);
        } else {
            tracing::info!(code, status = status.as_u16(), "admin request refused");
        }
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
