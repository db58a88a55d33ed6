//! Operations routes (docs/behaviour/admin-api.md, docs/behaviour/observability.md): health, the status page, invitations, secret rotation of the
//! deployment secrets and SCIM tokens, DLQ redrive, the teams list and the OpenAPI document.
use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use shared::app::health::QueueName;
use shared::domain::api_token::TokenKind;

use crate::routes::{json_body_or_empty, no_store, query, tenant};
use crate::{ApiError, State};

type Result<T> = std::result::Result<T, ApiError>;

/// The admin API's OpenAPI 3.1 document, kept true by the e2e test that checks every route and
/// every response the tests see against it.
pub const OPENAPI: &str = include_str!("../openapi.json");

pub async fn openapi() -> Response {
    let mut r = (StatusCode::OK, OPENAPI).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub async fn health(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    let t = tenant(&t)?;
    Ok(Json(s.health.health(&t).await?).into_response())
}

/// The server-rendered status page: health, recent sync runs and the latest changes.
pub async fn status_page(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    let t = tenant(&t)?;
    let health = s.health.health(&t).await?;
    let runs = s.sync.list(&t, 5).await?;
    let latest = s.changes.latest_changes(&t, 20).await.map_err(|e| ApiError::Admin(e.into()))?;
    let mut r = Html(crate::status_page::render(&t, &health, &runs, &latest)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The CSP, frame-ancestors, nosniff and HSTS come with every HTML answer (`request_span`).
    Ok(r)
}

pub async fn invite_user(AxState(s): AxState<State>, Path((t, id)): Path<(String, String)>) -> Result<Response> {
    let t = tenant(&t)?;
    let invited = s.invitations.invite(&t, &id).await?;
    Ok(Json(invited).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BulkInviteBody {
    cursor: Option<String>,
}

/// "Invite everyone not yet invited": one bounded pass; repeat with the returned cursor until `done`.
pub async fn invite_all(
    AxState(s): AxState<State>,
    Path(t): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let t = tenant(&t)?;
    let body: BulkInviteBody = json_body_or_empty(&headers, body).await?;
    Ok(Json(s.invitations.invite_all_uninvited(&t, body.cursor).await?).into_response())
}

/// Issues a SCIM or tenant admin token: `201 {"id", "token"}`, the value shown this once.
pub async fn issue_token(s: &State, t: &str, kind: TokenKind) -> Result<Response> {
    let t = tenant(t)?;
    let (id, token) = s.admin.issue_token(&t, kind).await?;
    Ok(no_store(StatusCode::CREATED, json!({"id": id, "token": token.expose()})))
}

pub async fn list_tokens(s: &State, t: &str, kind: TokenKind) -> Result<Response> {
    let t = tenant(t)?;
    Ok(Json(json!({"tokens": s.admin.list_tokens(&t, kind).await?})).into_response())
}

pub async fn revoke_token(s: &State, t: &str, kind: TokenKind, id: &str) -> Result<Response> {
    let t = tenant(t)?;
    s.admin.revoke_token(&t, kind, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new token for an active one; the old one keeps working until `previous_valid_until`.
async fn rotate_token(s: &State, t: &str, kind: TokenKind, id: &str) -> Result<Response> {
    let t = tenant(t)?;
    let (new_id, token, until) = s.admin.rotate_token(&t, kind, id).await?;
    Ok(no_store(
        StatusCode::CREATED,
        json!({"id": new_id, "token": token.expose(), "previous_id": id, "previous_valid_until": until}),
    ))
}

pub async fn rotate_scim_token(AxState(s): AxState<State>, Path((t, id)): Path<(String, String)>) -> Result<Response> {
    rotate_token(&s, &t, TokenKind::Scim, &id).await
}

/// Tenant admin tokens (docs/behaviour/admin-api.md): issued and rotated by the operator only; listed and revoked by
/// the operator or the tenant's own admin tokens.
pub async fn issue_admin_token(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    issue_token(&s, &t, TokenKind::Admin).await
}

pub async fn list_admin_tokens(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    list_tokens(&s, &t, TokenKind::Admin).await
}

pub async fn revoke_admin_token(AxState(s): AxState<State>, Path((t, id)): Path<(String, String)>) -> Result<Response> {
    revoke_token(&s, &t, TokenKind::Admin, &id).await
}

pub async fn rotate_admin_token_of_tenant(
    AxState(s): AxState<State>,
    Path((t, id)): Path<(String, String)>,
) -> Result<Response> {
    rotate_token(&s, &t, TokenKind::Admin, &id).await
}

pub async fn rotate_admin_token(AxState(s): AxState<State>) -> Result<Response> {
    let (token, previous) = s.admin.rotate_admin_token().await?;
    Ok(no_store(StatusCode::CREATED, json!({"token": token.expose(), "previous_valid_until": previous})))
}

pub async fn revoke_previous_admin_token(AxState(s): AxState<State>) -> Result<Response> {
    s.admin.revoke_previous_admin_token().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn rotate_session_key(AxState(s): AxState<State>) -> Result<Response> {
    let previous = s.admin.rotate_session_key().await?;
    Ok(Json(json!({"rotated": true, "previous_valid_until": previous})).into_response())
}

pub async fn revoke_previous_session_key(AxState(s): AxState<State>) -> Result<Response> {
    s.admin.revoke_previous_session_key().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedriveQuery {
    queue: Option<String>,
    max: Option<usize>,
}

/// Operator: moves dead-lettered messages back to their queue.
pub async fn redrive(AxState(s): AxState<State>, uri: Uri) -> Result<Response> {
    let q: RedriveQuery = query(&uri)?;
    let name = q.queue.as_deref().unwrap_or("user-fetch");
    let queue =
        QueueName::parse(name).ok_or_else(|| ApiError::BadRequest("queue must be user-fetch or sync".into()))?;
    let max = q.max.unwrap_or(shared::app::health::MAX_REDRIVE);
    if !(1..=shared::app::health::MAX_REDRIVE).contains(&max) {
        return Err(ApiError::BadRequest(format!("max must be between 1 and {}", shared::app::health::MAX_REDRIVE)));
    }
    let moved = s.health.redrive(queue, max).await?;
    Ok(Json(json!({"queue": name, "moved": moved})).into_response())
}

/// SCIM groups with their member counts (one members query per group: groups are few).
pub async fn list_groups(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    let t = tenant(&t)?;
    s.admin.get_tenant(&t).await?;
    let store = |e: shared::ports::StoreError| ApiError::Admin(e.into());
    let mut out = Vec::new();
    for g in s.groups.list_groups(&t).await.map_err(store)? {
        let members = s.groups.list_members(&t, &g.id).await.map_err(store)?;
        let pending = members.iter().filter(|m| matches!(m, shared::domain::group::Member::Pending(_))).count();
        out.push(json!({"id": g.id, "display_name": g.display_name, "external_id": g.external_id,
            "members": members.len() - pending, "pending_members": pending,
            "created_at": g.created_at, "updated_at": g.updated_at, "version": g.version}));
    }
    Ok(Json(json!({"groups": out})).into_response())
}

pub async fn list_teams(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    let t = tenant(&t)?;
    s.admin.get_tenant(&t).await?;
    let teams = s.teams.list_teams(&t).await.map_err(|e| ApiError::Admin(e.into()))?;
    Ok(Json(json!({"teams": teams})).into_response())
}
