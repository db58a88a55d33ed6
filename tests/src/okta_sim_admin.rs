//! The simulator's own admin endpoints (`/sim/...`), so a person running `make dev` can change the
//! demo org with curl and watch the change arrive. Not part of Okta's API.
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::okta_sim::{DeliverOptions, OktaSim};

pub fn routes() -> Router<OktaSim> {
    Router::new()
        .route("/sim/users", get(list).post(create))
        .route("/sim/users/{id}", patch(update).delete(remove))
        .route("/sim/users/{id}/{action}", post(lifecycle))
        .route("/sim/deliver", post(deliver))
}

async fn after_change(sim: &OktaSim) -> Value {
    if sim.auto_deliver() {
        let statuses = sim.deliver(DeliverOptions::default()).await;
        json!({"delivered": statuses})
    } else {
        json!({"pending_events": sim.pending_events()})
    }
}

async fn list(State(sim): State<OktaSim>) -> Response {
    let users: Vec<Value> = sim
        .users()
        .into_iter()
        .map(|u| {
            let id = u["id"].as_str().unwrap_or_default().to_owned();
            json!({"id": id, "status": u["status"], "assigned": sim.is_assigned(&id), "profile": u["profile"]})
        })
        .collect();
    Json(users).into_response()
}

#[derive(Deserialize)]
struct CreateQuery {
    assign: Option<bool>,
    /// An Okta id of the caller's choosing (`00u` and 17 letters or digits): Okta's ids are not
    /// ordered by creation, so a new person may sort before everyone a running sync has listed.
    id: Option<String>,
}

async fn create(
    State(sim): State<OktaSim>,
    Query(q): Query<CreateQuery>,
    Json(profile): Json<Map<String, Value>>,
) -> Response {
    if !profile.get("email").is_some_and(Value::is_string) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "profile.email is required"}))).into_response();
    }
    let assign = q.assign.unwrap_or(true);
    let id = match q.id {
        Some(id) if id.len() == 20 && id.starts_with("00u") && id.chars().all(|c| c.is_ascii_alphanumeric()) => {
            if sim.user(&id).is_some() {
                return (StatusCode::CONFLICT, Json(json!({"error": "a user with this id exists"}))).into_response();
            }
            sim.create_user_with_id(&id, profile, assign)
        }
        Some(_) => {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": "id must be 00u and 17 letters or digits"})))
                .into_response()
        }
        None => sim.create_user(profile, assign),
    };
    let delivered = after_change(&sim).await;
    (StatusCode::CREATED, Json(json!({"id": id, "hooks": delivered}))).into_response()
}

async fn update(
    State(sim): State<OktaSim>,
    Path(id): Path<String>,
    Json(changes): Json<Map<String, Value>>,
) -> Response {
    if !sim.update_profile(&id, changes) {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(json!({"id": id, "hooks": after_change(&sim).await})).into_response()
}

async fn remove(State(sim): State<OktaSim>, Path(id): Path<String>) -> Response {
    if !sim.delete(&id) {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(json!({"id": id, "hooks": after_change(&sim).await})).into_response()
}

#[derive(Deserialize)]
struct LifecycleQuery {
    /// `true`: the change's event hooks are lost (a hook that was off, or deliveries Okta gave up
    /// on), so only a sync can learn of it.
    silent: Option<bool>,
}

async fn lifecycle(
    State(sim): State<OktaSim>,
    Path((id, action)): Path<(String, String)>,
    Query(q): Query<LifecycleQuery>,
) -> Response {
    let ok =
        match action.as_str() {
            "deactivate" => sim.deactivate(&id),
            "reactivate" | "activate" | "unsuspend" => sim.reactivate(&id),
            "suspend" => sim.suspend(&id),
            "assign" => sim.assign(&id),
            "unassign" => sim.unassign(&id),
            _ => return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "action must be deactivate, reactivate, suspend, unsuspend, assign or unassign"})),
            )
                .into_response(),
        };
    if !ok {
        return StatusCode::NOT_FOUND.into_response();
    }
    if q.silent.unwrap_or(false) {
        sim.discard_events();
        return Json(json!({"id": id, "hooks": "discarded"})).into_response();
    }
    Json(json!({"id": id, "hooks": after_change(&sim).await})).into_response()
}

#[derive(Deserialize)]
struct DeliverQuery {
    duplicates: Option<bool>,
    shuffle: Option<bool>,
}

async fn deliver(State(sim): State<OktaSim>, Query(q): Query<DeliverQuery>) -> Response {
    let opts = DeliverOptions {
        duplicate_percent: if q.duplicates.unwrap_or(false) { 50 } else { 0 },
        repeat_event_percent: if q.duplicates.unwrap_or(false) { 30 } else { 0 },
        shuffle: q.shuffle.unwrap_or(false),
        ..DeliverOptions::default()
    };
    Json(json!({"delivered": sim.deliver(opts).await})).into_response()
}
