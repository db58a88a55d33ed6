//! Routes of the admin API. Every handler is behind an admin bearer token: the operator's, or a
//! tenant admin token for that tenant's routes (see [`crate::access`]).
use axum::body::Body;
use axum::extract::{Path, Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use shared::adapters::edge::{serve_guarded, EdgeRefusals, TenantRouting};
use shared::adapters::http::{bearer, read_body};
use shared::app::admin::{Caller, UserFilter};
use shared::domain::api_token::TokenKind;
use shared::domain::sync_run::{RunList, RunTrigger};
use shared::domain::tenant::TenantConfigInput;
use shared::domain::{Secret, TenantId};

use crate::access;
use crate::operations as ops;
use crate::{ApiError, State, BODY_LIMIT};

pub const OPENAPI_PATH: &str = "/admin/openapi.json";

type Result<T> = std::result::Result<T, ApiError>;

pub fn router(state: State) -> Router {
    let t = "/admin/tenants/{tenant}";
    let routes = Router::new()
        .route(t, get(get_tenant).put(put_tenant))
        .route(&format!("{t}/secrets/{{name}}"), post(set_secret))
        .route(&format!("{t}/event-hook-secret"), post(rotate_event_hook_secret))
        .route(&format!("{t}/event-hook-secret/previous"), delete(revoke_previous_event_hook_secret))
        .route(&format!("{t}/scim-tokens"), post(issue_scim_token).get(list_scim_tokens))
        .route(&format!("{t}/scim-tokens/{{id}}"), delete(revoke_scim_token))
        .route(&format!("{t}/admin-tokens"), post(ops::issue_admin_token).get(ops::list_admin_tokens))
        .route(&format!("{t}/admin-tokens/{{id}}"), delete(ops::revoke_admin_token))
        .route(&format!("{t}/admin-tokens/{{id}}/rotate"), post(ops::rotate_admin_token_of_tenant))
        .route(&format!("{t}/users"), get(list_users))
        .route(&format!("{t}/users/{{id}}"), get(get_user))
        .route(&format!("{t}/changes"), get(list_changes))
        .route(&format!("{t}/users/{{id}}/invite"), post(ops::invite_user))
        .route(&format!("{t}/invitations"), post(ops::invite_all))
        .route(&format!("{t}/scim-tokens/{{id}}/rotate"), post(ops::rotate_scim_token))
        .route(&format!("{t}/health"), get(ops::health))
        .route(&format!("{t}/status"), get(ops::status_page))
        .route(&format!("{t}/teams"), get(ops::list_teams))
        .route("/admin/admin-token/rotate", post(ops::rotate_admin_token))
        .route("/admin/admin-token/previous", delete(ops::revoke_previous_admin_token))
        .route("/admin/session-key/rotate", post(ops::rotate_session_key))
        .route("/admin/session-key/previous", delete(ops::revoke_previous_session_key))
        .route("/admin/dlq/redrive", post(ops::redrive))
        .route(OPENAPI_PATH, get(ops::openapi))
        .route(&format!("{t}/sync"), post(start_sync))
        .route(&format!("{t}/sync-runs"), get(list_sync_runs))
        .route(&format!("{t}/sync-runs/{{id}}"), get(get_sync_run))
        .route(&format!("{t}/sync-runs/{{id}}/approve"), post(approve_sync_run))
        .route(&format!("{t}/sync-runs/{{id}}/diff"), get(get_sync_run_diff))
        .route(&format!("{t}/sync-runs/{{id}}/errors"), get(get_sync_run_errors))
        .route(&format!("{t}/sync-runs/{{id}}/candidates"), get(get_sync_run_candidates))
        // Groups arrive with SCIM provisioning; until then the route says so plainly.
        .route(&format!("{t}/groups"), get(ops::list_groups))
        .merge(crate::ui::routes());
    // The credential check is in front of everything, the edge's refusals included (nothing is
    // said, not even "no such route", without a valid token); the edge adds the span and metrics.
    let guard = |r: Router<State>| r.layer(middleware::from_fn_with_state(state.clone(), authorize));
    serve_guarded::<_, ApiError>(routes, TenantRouting::InRoutes, state.metrics.clone(), state.clone(), guard)
}

impl EdgeRefusals for ApiError {
    fn no_route() -> Response {
        ApiError::NoRoute.into_response()
    }
    fn method_not_allowed(_: &axum::http::Method) -> Response {
        ApiError::MethodNotAllowed.into_response()
    }
}

/// The bearer token, compared in constant time, then the route's scope, before anything else
/// happens: `401` without a valid token, `403` for a tenant token outside its tenant.
async fn authorize(AxState(state): AxState<State>, mut req: Request, next: Next) -> Response {
    let scope = access::scope(req.method(), req.uri().path(), OPENAPI_PATH);
    // The API's description is public: it holds no data. The integration page checks its own
    // session cookie (and CSRF token) in its handlers.
    if matches!(scope, access::Scope::Public | access::Scope::Ui) {
        return next.run(req).await;
    }
    let Some(token) = bearer(req.headers()) else { return ApiError::Unauthorized.into_response() };
    let caller = match state.admin.authenticate(token).await {
        Ok(Some(caller)) => caller,
        Ok(None) => return ApiError::Unauthorized.into_response(),
        Err(e) => return ApiError::Admin(e).into_response(),
    };
    let span = tracing::Span::current();
    match &caller {
        Caller::Operator => span.record("caller", "operator"),
        Caller::Tenant { token_id, .. } => span.record("caller", token_id.as_str()),
    };
    if !access::allows(&caller, &scope) {
        return ApiError::Forbidden.into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

pub(crate) fn tenant(raw: &str) -> Result<TenantId> {
    let t = TenantId::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    tracing::Span::current().record("tenant", t.as_str());
    Ok(t)
}

/// Reads a bounded body that claims (or does not deny) to be JSON.
async fn json_bytes(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        if !ct.starts_with("application/json") && !ct.contains("+json") {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    Ok(read_body(headers, body, BODY_LIMIT).await?)
}

/// Reads a bounded JSON body. Parse errors are described without echoing values.
async fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T> {
    let bytes = json_bytes(headers, body).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadJson(describe(&e)))
}

/// Like [`json_body`], but an empty body reads as `T::default()`.
pub(crate) async fn json_body_or_empty<T: DeserializeOwned + Default>(headers: &HeaderMap, body: Body) -> Result<T> {
    let bytes = json_bytes(headers, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadJson(describe(&e)))
}

fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("malformed JSON at line {} column {}", e.line(), e.column())
        }
        // Data errors name fields and expected types; they never carry secret values because
        // secret bodies are parsed by their own handler.
        Category::Data => e.to_string(),
    }
}

pub(crate) fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T> {
    axum::extract::Query::<T>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::BadRequest(format!("bad query string: {}", e.body_text())))
}

pub(crate) fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn get_tenant(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    let t = tenant(&t)?;
    let view = s.admin.get_tenant(&t).await?;
    Ok(Json(with_urls(&s, &t, view)).into_response())
}

/// The tenant's view with the URLs an admin pastes into Okta, built from configuration (never
/// from this request's `Host`): the event hook, the SCIM base, the sign-in redirect URIs, the SAML
/// entity id, ACS and metadata URLs (the same ones the sign-in function checks responses against).
fn with_urls(s: &State, t: &TenantId, view: impl serde::Serialize) -> serde_json::Value {
    let mut body = serde_json::to_value(view).unwrap_or_default();
    body["urls"] = serde_json::to_value(s.urls.setup_urls(t)).unwrap_or_default();
    body
}

async fn put_tenant(
    AxState(s): AxState<State>,
    Path(t): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let t = tenant(&t)?;
    let input: TenantConfigInput = json_body(&headers, body).await?;
    let (view, _created) = s.admin.put_tenant(&t, input).await?;
    Ok(Json(with_urls(&s, &t, view)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    value: String,
}

async fn set_secret(
    AxState(s): AxState<State>,
    Path((t, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let t = tenant(&t)?;
    let bytes = read_body(&headers, body, BODY_LIMIT).await?;
    // Never describe the parse error: the body is a secret.
    let parsed: SecretBody =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::BadJson(r#"expected {"value": "<string>"}"#.into()))?;
    s.admin.set_secret(&t, &name, Secret::new(parsed.value)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn rotate_event_hook_secret(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    let t = tenant(&t)?;
    let secret = s.admin.rotate_event_hook_secret(&t).await?;
    let header = s.admin.get_tenant(&t).await?.config.event_hook_auth_header;
    Ok(no_store(StatusCode::CREATED, json!({"secret": secret.expose(), "header": header})))
}

async fn revoke_previous_event_hook_secret(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    let t = tenant(&t)?;
    s.admin.revoke_previous_event_hook_secret(&t).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn issue_scim_token(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    ops::issue_token(&s, &t, TokenKind::Scim).await
}

async fn list_scim_tokens(AxState(s): AxState<State>, Path(t): Path<String>) -> Result<Response> {
    ops::list_tokens(&s, &t, TokenKind::Scim).await
}

async fn revoke_scim_token(AxState(s): AxState<State>, Path((t, id)): Path<(String, String)>) -> Result<Response> {
    ops::revoke_token(&s, &t, TokenKind::Scim, &id).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersQuery {
    email: Option<String>,
    okta_id: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn list_users(AxState(s): AxState<State>, Path(t): Path<String>, uri: Uri) -> Result<Response> {
    let t = tenant(&t)?;
    let q: UsersQuery = query(&uri)?;
    let page = s
        .admin
        .list_users(
            &t,
            UserFilter { email: q.email, okta_id: q.okta_id, status: q.status, cursor: q.cursor, limit: q.limit },
        )
        .await?;
    Ok(Json(json!({"users": page.items, "next": page.next})).into_response())
}

async fn get_user(AxState(s): AxState<State>, Path((t, id)): Path<(String, String)>) -> Result<Response> {
    let t = tenant(&t)?;
    Ok(Json(s.admin.get_user(&t, &id).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesQuery {
    #[serde(default)]
    after: u64,
    limit: Option<u32>,
}

async fn list_changes(AxState(s): AxState<State>, Path(t): Path<String>, uri: Uri) -> Result<Response> {
    let t = tenant(&t)?;
    let q: ChangesQuery = query(&uri)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be between 1 and 1000".into()));
    }
    s.admin.get_tenant(&t).await?;
    let page = s.changes.list_changes(&t, q.after, limit).await.map_err(|e| ApiError::Admin(e.into()))?;
    Ok(Json(json!({"changes": page.events, "next_after": page.next_after, "has_more": page.more})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncQuery {
    #[serde(default)]
    dry_run: bool,
}

/// "Sync users": `202` with the run (the one already running, if any: one run per tenant).
async fn start_sync(AxState(s): AxState<State>, Path(t): Path<String>, uri: Uri) -> Result<Response> {
    let t = tenant(&t)?;
    let q: SyncQuery = query(&uri)?;
    let (run, already_running) = s.sync.start(&t, RunTrigger::Admin, q.dry_run).await?;
    let mut body = serde_json::to_value(&run).unwrap_or_default();
    body["run_id"] = json!(run.id);
    body["already_running"] = json!(already_running);
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    limit: Option<u32>,
}

async fn list_sync_runs(AxState(s): AxState<State>, Path(t): Path<String>, uri: Uri) -> Result<Response> {
    let t = tenant(&t)?;
    let q: RunsQuery = query(&uri)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be between 1 and 100".into()));
    }
    Ok(Json(json!({"runs": s.sync.list(&t, limit).await?})).into_response())
}

async fn get_sync_run(AxState(s): AxState<State>, Path((t, id)): Path<(String, String)>) -> Result<Response> {
    let t = tenant(&t)?;
    Ok(Json(s.sync.get(&t, &id).await?).into_response())
}

/// Approval: `202` with the run, running again; the sync function applies the held list (each
/// user re-checked) and the run record counts what was applied and skipped.
async fn approve_sync_run(AxState(s): AxState<State>, Path((t, id)): Path<(String, String)>) -> Result<Response> {
    let t = tenant(&t)?;
    Ok((StatusCode::ACCEPTED, Json(s.sync.approve(&t, &id).await?)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListPageQuery {
    cursor: Option<String>,
}

/// A page of a run's diff (dry runs) or error list: `{"entries": [...], "next": cursor | null}`.
async fn run_list_page(s: &State, t: &str, id: &str, uri: &Uri, list: RunList) -> Result<Response> {
    let t = tenant(t)?;
    let q: ListPageQuery = query(uri)?;
    let from = match q.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c.parse::<u64>().map_err(|_| ApiError::BadRequest("cursor is not one this API gave".into()))?,
    };
    let (entries, next) = s.sync.run_list::<serde_json::Value>(&t, id, list, from).await?;
    Ok(Json(json!({"entries": entries, "next": next.map(|n| n.to_string())})).into_response())
}

async fn get_sync_run_diff(
    AxState(s): AxState<State>,
    Path((t, id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response> {
    run_list_page(&s, &t, &id, &uri, RunList::Diff).await
}

async fn get_sync_run_errors(
    AxState(s): AxState<State>,
    Path((t, id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response> {
    run_list_page(&s, &t, &id, &uri, RunList::Errors).await
}

/// The users a run would deactivate (held runs: what approval applies), as `Candidate`s.
async fn get_sync_run_candidates(
    AxState(s): AxState<State>,
    Path((t, id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response> {
    run_list_page(&s, &t, &id, &uri, RunList::Candidates).await
}
