//! An Okta org in memory, behind the [`OktaDirectory`] port: users, one app's assignments, and
//! whether the app exists. For use-case tests and the sync's concurrency model; the HTTP adapter
//! is tested against the project's Okta simulator, which speaks Okta's wire format.
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use crate::domain::okta::{AppUser, AppUserEmbedded, EventHook, EventHookSpec, OktaApp, OktaUser};
use crate::domain::OktaUserId;
use crate::ports::okta::{AppUserPage, OktaError, OktaOrg, RateLimit};
use crate::ports::OktaDirectory;

pub struct MemoryOkta {
    app_id: String,
    org: Mutex<Org>,
    calls: AtomicU64,
}

struct Org {
    users: BTreeMap<String, OktaUser>,
    assigned: BTreeSet<String>,
    app_exists: bool,
    /// What the app says beyond its id (sign-on mode, redirect URIs, client id).
    app: Option<OktaApp>,
    hooks: Vec<EventHook>,
    /// Whether the token may read and manage event hooks.
    hooks_allowed: bool,
    /// Okta's clock for `lastUpdated`: one second per change.
    tick: DateTime<Utc>,
}

impl MemoryOkta {
    pub fn new(app_id: &str) -> Self {
        Self {
            app_id: app_id.to_owned(),
            org: Mutex::new(Org {
                users: BTreeMap::new(),
                assigned: BTreeSet::new(),
                app_exists: true,
                app: None,
                hooks: Vec::new(),
                hooks_allowed: true,
                tick: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            }),
            calls: AtomicU64::new(0),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Org) -> T) -> T {
        f(&mut self.org.lock().expect("okta lock"))
    }

    /// What `GET /api/v1/apps/{id}` answers for the app (its id is this org's).
    pub fn set_app(&self, app: OktaApp) {
        self.with(|o| o.app = Some(app));
    }

    /// Whether the token may read and manage event hooks (`403 E0000006` when not).
    pub fn allow_hooks(&self, allowed: bool) {
        self.with(|o| o.hooks_allowed = allowed);
    }

    /// Deactivates a hook, as an Okta admin may.
    pub fn deactivate_hook(&self, id: &str) {
        self.with(|o| o.hooks.iter_mut().filter(|h| h.id == id).for_each(|h| h.status = "INACTIVE".into()));
    }

    /// The org's event hooks.
    pub fn event_hooks(&self) -> Vec<EventHook> {
        self.with(|o| o.hooks.clone())
    }

    /// Calls made to this org so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Creates an `ACTIVE` user with this profile (`login` defaults to `email`).
    pub fn create_user(&self, id: &str, mut profile: Map<String, Value>) {
        if !profile.contains_key("login") {
            if let Some(email) = profile.get("email").cloned() {
                profile.insert("login".into(), email);
            }
        }
        self.with(|o| {
            o.tick += Duration::seconds(1);
            let user = OktaUser { id: id.to_owned(), status: "ACTIVE".into(), last_updated: o.tick, profile };
            o.users.insert(id.to_owned(), user);
        });
    }

    pub fn assign(&self, id: &str) {
        self.with(|o| o.assigned.insert(id.to_owned()));
    }

    pub fn unassign(&self, id: &str) {
        self.with(|o| o.assigned.remove(id));
    }

    pub fn is_assigned(&self, id: &str) -> bool {
        self.with(|o| o.assigned.contains(id) && o.users.contains_key(id))
    }

    /// Changes profile attributes (a bump of `lastUpdated`, as Okta does).
    pub fn update_profile(&self, id: &str, changes: Map<String, Value>) {
        self.with(|o| {
            o.tick += Duration::seconds(1);
            let tick = o.tick;
            if let Some(u) = o.users.get_mut(id) {
                u.profile.extend(changes);
                u.last_updated = tick;
            }
        });
    }

    pub fn set_status(&self, id: &str, status: &str) {
        self.with(|o| {
            o.tick += Duration::seconds(1);
            let tick = o.tick;
            if let Some(u) = o.users.get_mut(id) {
                u.status = status.to_owned();
                u.last_updated = tick;
            }
        });
    }

    /// The app is deleted (or the tenant's `app_id` is wrong): every app endpoint answers 404.
    pub fn set_app_exists(&self, exists: bool) {
        self.with(|o| o.app_exists = exists);
    }

    pub fn user(&self, id: &str) -> Option<OktaUser> {
        self.with(|o| o.users.get(id).cloned())
    }

    /// Every user id, in id order.
    pub fn user_ids(&self) -> Vec<String> {
        self.with(|o| o.users.keys().cloned().collect())
    }

    fn call(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }

    fn app_user(u: &OktaUser, expand: bool) -> AppUser {
        AppUser {
            id: u.id.clone(),
            status: Some("ACTIVE".into()),
            scope: Some("USER".into()),
            embedded: expand.then(|| AppUserEmbedded { user: Some(u.clone()) }),
        }
    }
}

#[async_trait]
impl OktaDirectory for MemoryOkta {
    async fn get_user(&self, _org: &OktaOrg, id_or_login: &str) -> Result<Option<OktaUser>, OktaError> {
        self.call();
        Ok(self.with(|o| {
            o.users.get(id_or_login).cloned().or_else(|| {
                o.users.values().find(|u| u.attr("login").is_some_and(|l| l.eq_ignore_ascii_case(id_or_login))).cloned()
            })
        }))
    }

    async fn get_app(&self, _org: &OktaOrg, app_id: &str) -> Result<Option<OktaApp>, OktaError> {
        self.call();
        Ok(self.with(|o| {
            (o.app_exists && app_id == self.app_id).then(|| {
                o.app.clone().unwrap_or_else(|| OktaApp {
                    id: app_id.to_owned(),
                    status: Some("ACTIVE".into()),
                    sign_on_mode: Some("OPENID_CONNECT".into()),
                    label: Some("Learning platform".into()),
                    settings: Default::default(),
                    credentials: Default::default(),
                })
            })
        }))
    }

    async fn get_app_user(
        &self,
        _org: &OktaOrg,
        app_id: &str,
        user: &OktaUserId,
    ) -> Result<Option<AppUser>, OktaError> {
        self.call();
        Ok(self.with(|o| {
            if !o.app_exists || app_id != self.app_id || !o.assigned.contains(user.as_str()) {
                return None;
            }
            o.users.get(user.as_str()).map(|u| Self::app_user(u, false))
        }))
    }

    async fn list_app_users(
        &self,
        _org: &OktaOrg,
        app_id: &str,
        next: Option<&str>,
        limit: u32,
    ) -> Result<AppUserPage, OktaError> {
        self.call();
        self.with(|o| {
            if !o.app_exists || app_id != self.app_id {
                return Err(OktaError::AppNotFound);
            }
            let from = match next {
                Some(n) => Bound::Excluded(n.strip_prefix("after:").unwrap_or(n).to_owned()),
                None => Bound::Unbounded,
            };
            let limit = limit.clamp(1, 500) as usize;
            let ids: Vec<&String> = o.assigned.range((from, Bound::Unbounded)).take(limit + 1).collect();
            let users =
                ids.iter().take(limit).filter_map(|id| o.users.get(*id)).map(|u| Self::app_user(u, true)).collect();
            let next = (ids.len() > limit).then(|| format!("after:{}", ids[limit - 1]));
            Ok(AppUserPage { users, next })
        })
    }

    fn rate_limit(&self, _base_url: &str) -> Option<RateLimit> {
        None
    }

    async fn probe_users(&self, _org: &OktaOrg) -> Result<(), OktaError> {
        self.call();
        Ok(())
    }

    async fn list_event_hooks(&self, _org: &OktaOrg) -> Result<Vec<EventHook>, OktaError> {
        self.call();
        self.with(|o| if o.hooks_allowed { Ok(o.hooks.clone()) } else { Err(forbidden()) })
    }

    async fn create_event_hook(&self, _org: &OktaOrg, spec: &EventHookSpec) -> Result<EventHook, OktaError> {
        self.call();
        self.with(|o| {
            if !o.hooks_allowed {
                return Err(forbidden());
            }
            let hook = hook_of(&format!("who{}", o.hooks.len() + 1), spec, "UNVERIFIED");
            o.hooks.push(hook.clone());
            Ok(hook)
        })
    }

    async fn update_event_hook(&self, _org: &OktaOrg, id: &str, spec: &EventHookSpec) -> Result<EventHook, OktaError> {
        self.call();
        self.with(|o| {
            let hook = o.hooks.iter_mut().find(|h| h.id == id).ok_or_else(|| not_found("event hook"))?;
            *hook = hook_of(id, spec, &hook.verification_status);
            Ok(hook.clone())
        })
    }

    async fn activate_event_hook(&self, _org: &OktaOrg, id: &str) -> Result<EventHook, OktaError> {
        self.call();
        self.with(|o| {
            let hook = o.hooks.iter_mut().find(|h| h.id == id).ok_or_else(|| not_found("event hook"))?;
            hook.status = "ACTIVE".into();
            Ok(hook.clone())
        })
    }

    /// In memory there is no receiver to call: verification succeeds.
    async fn verify_event_hook(&self, _org: &OktaOrg, id: &str) -> Result<EventHook, OktaError> {
        self.call();
        self.with(|o| {
            let hook = o.hooks.iter_mut().find(|h| h.id == id).ok_or_else(|| not_found("event hook"))?;
            hook.verification_status = "VERIFIED".into();
            Ok(hook.clone())
        })
    }
}

fn forbidden() -> OktaError {
    OktaError::Unauthorized { code: "E0000006".into() }
}

fn not_found(what: &str) -> OktaError {
    OktaError::Rejected { status: 404, code: "E0000007".into(), summary: format!("Not found: {what}") }
}

fn hook_of(id: &str, spec: &EventHookSpec, verification: &str) -> EventHook {
    let mut wire = spec.to_okta();
    wire["id"] = id.into();
    wire["status"] = "ACTIVE".into();
    wire["verificationStatus"] = verification.into();
    serde_json::from_value(wire).unwrap_or_else(|_| EventHook {
        id: id.to_owned(),
        name: spec.name.clone(),
        status: "ACTIVE".into(),
        verification_status: verification.to_owned(),
        events: Default::default(),
        channel: Default::default(),
    })
}
