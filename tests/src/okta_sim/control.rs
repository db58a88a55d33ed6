//! What a test, or a person running `make dev`, changes in the org: users and their lifecycle,
//! assignments, faults, the rate limit, the hook target; and the simulator's own admin endpoints
//! (`/sim/...`) that do it over HTTP so a change can be watched arriving. Not part of Okta's API.
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::*;
use super::{DeliverOptions, OktaSim};

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

impl OktaSim {
    pub fn set_hook(&self, hook: HookTarget) {
        self.with(|o| o.hook = Some(hook));
    }

    /// Deletes the app from the org (a wrong `app_id` from then on): every app endpoint answers
    /// 404 `E0000007`, the single assignment read exactly as for an unassigned user.
    pub fn delete_app(&self) {
        self.with(|o| o.app_id = format!("{}-deleted", o.app_id));
    }

    /// Replaces the API token the org accepts (the old one is revoked, as an Okta admin would).
    pub fn set_token(&self, token: &str) {
        self.with(|o| o.token = token.to_owned());
    }

    pub fn set_auto_deliver(&self, on: bool) {
        self.with(|o| o.auto_deliver = on);
    }

    pub fn auto_deliver(&self) -> bool {
        self.with(|o| o.auto_deliver)
    }

    pub fn set_rate_limit(&self, per_window: u64, window: Duration) {
        self.with(|o| {
            o.rate_limit = per_window;
            o.rate_window = window;
            o.rate_remaining = per_window;
            o.rate_reset = Utc::now() + chrono::Duration::from_std(window).unwrap_or_default();
        });
    }

    pub fn inject(&self, fault: Fault, times: usize) {
        self.with(|o| o.faults.extend(std::iter::repeat_n(fault, times)));
    }

    /// Drops the faults not yet used.
    pub fn clear_faults(&self) {
        self.with(|o| o.faults.clear());
    }

    pub fn requests(&self) -> u64 {
        self.with(|o| o.requests)
    }

    pub fn app_id(&self) -> String {
        self.with(|o| o.app_id.clone())
    }

    /// Creates an ACTIVE user with this profile (`login` defaults to `email`); returns its id.
    pub fn create_user(&self, profile: Map<String, Value>, assign: bool) -> String {
        let id = self.with(|o| {
            o.next_id += 1;
            format!("00u{:017}", o.next_id - 1)
        });
        self.create_user_with_id(&id, profile, assign)
    }

    /// Creates a user with this id (Okta's ids are not ordered by creation: a new person may sort
    /// before everyone a running sync has already listed).
    pub fn create_user_with_id(&self, id: &str, mut profile: Map<String, Value>, assign: bool) -> String {
        let id = id.to_owned();
        self.with(|o| {
            if !profile.contains_key("login") {
                let email = profile.get("email").cloned().unwrap_or(Value::Null);
                profile.insert("login".into(), email);
            }
            let now = ts(o.tick());
            o.users.insert(id.clone(), json!({"id": id, "status": "ACTIVE", "created": now, "activated": now, "statusChanged": now,
                "lastLogin": null, "lastUpdated": now, "passwordChanged": null, "type": {"id": "otysim"}, "profile": profile,
                "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}}, "_links": {"self": {"href": format!("/api/v1/users/{id}")}}}));
            o.event("user.lifecycle.create", &id, false);
            if assign {
                o.assigned.insert(id.clone());
                o.event("application.user_membership.add", &id, true);
            }
            id
        })
    }

    fn touch(o: &mut Org, id: &str, f: impl FnOnce(&mut Value)) -> bool {
        let now = ts(o.tick());
        match o.users.get_mut(id) {
            Some(u) => {
                f(u);
                u["lastUpdated"] = json!(now);
                true
            }
            None => false,
        }
    }

    /// Merges profile attributes (null removes one) and emits `user.account.update_profile`.
    pub fn update_profile(&self, id: &str, changes: Map<String, Value>) -> bool {
        self.with(|o| {
            let ok = Self::touch(o, id, |u| {
                for (k, v) in changes {
                    if v.is_null() {
                        u["profile"].as_object_mut().expect("profile").remove(&k);
                    } else {
                        u["profile"][k] = v;
                    }
                }
            });
            if ok {
                o.event("user.account.update_profile", id, false);
            }
            ok
        })
    }

    pub fn set_status(&self, id: &str, status: &str) -> bool {
        let event = match status {
            "DEPROVISIONED" => "user.lifecycle.deactivate",
            "SUSPENDED" => "user.lifecycle.suspend",
            _ => "user.lifecycle.reactivate",
        };
        self.with(|o| {
            let before = o.users.get(id).map(|u| u["status"].as_str().unwrap_or_default().to_owned());
            let event = if before.as_deref() == Some("SUSPENDED") && status == "ACTIVE" {
                "user.lifecycle.unsuspend"
            } else {
                event
            };
            let ok = Self::touch(o, id, |u| {
                u["status"] = json!(status);
                u["statusChanged"] = u["lastUpdated"].clone();
            });
            if ok {
                o.event(event, id, false);
            }
            ok
        })
    }

    pub fn deactivate(&self, id: &str) -> bool {
        self.set_status(id, "DEPROVISIONED")
    }
    pub fn reactivate(&self, id: &str) -> bool {
        self.set_status(id, "ACTIVE")
    }
    pub fn suspend(&self, id: &str) -> bool {
        self.set_status(id, "SUSPENDED")
    }

    /// Deletes a user (Okta deactivates first if needed, as its API does on the first DELETE).
    pub fn delete(&self, id: &str) -> bool {
        let status = self.with(|o| o.users.get(id).map(|u| u["status"].as_str().unwrap_or_default().to_owned()));
        match status {
            None => false,
            Some(s) => {
                if s != "DEPROVISIONED" {
                    self.deactivate(id);
                }
                self.with(|o| {
                    o.event("user.lifecycle.delete.initiated", id, false);
                    o.users.remove(id);
                    o.assigned.remove(id);
                });
                true
            }
        }
    }

    pub fn assign(&self, id: &str) -> bool {
        self.with(|o| {
            if !o.users.contains_key(id) {
                return false;
            }
            o.assigned.insert(id.to_owned());
            o.event("application.user_membership.add", id, true);
            true
        })
    }

    pub fn unassign(&self, id: &str) -> bool {
        self.with(|o| {
            if !o.users.contains_key(id) || !o.assigned.remove(id) {
                return false;
            }
            o.event("application.user_membership.remove", id, true);
            true
        })
    }

    pub fn user(&self, id: &str) -> Option<Value> {
        self.with(|o| o.users.get(id).cloned())
    }

    pub fn users(&self) -> Vec<Value> {
        self.with(|o| o.users.values().cloned().collect())
    }

    pub fn is_assigned(&self, id: &str) -> bool {
        self.with(|o| o.assigned.contains(id))
    }

    pub fn pending_events(&self) -> usize {
        self.with(|o| o.events.len())
    }

    /// Drops the pending events undelivered (an event hook that was off, or deliveries Okta gave
    /// up on): only a sync can learn what they said.
    pub fn discard_events(&self) {
        self.with(|o| o.events.clear());
    }
}
