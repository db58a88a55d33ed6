//! The SCIM `/Users` endpoints (RFC 7644 §3): get, list (key lookups, filters, sorting, the
//! paged walk Okta's import needs), create, replace, patch and delete. Every write goes through
//! the provisioning state machine ([`Provisioner::apply_scim`]).
//!
//! [`Provisioner::apply_scim`]: crate::app::provisioning::Provisioner::apply_scim
use serde_json::Value;
use tracing::instrument;

use super::{check_if_match, Resource, ScimFailure, ScimService, MAX_EVALUATED, WRITE_ATTEMPTS};
use crate::app::provisioning::{Outcome, ProvisionError};
use crate::domain::scim::patch as scim_patch;
use crate::domain::scim::query::{list_response, ListParams};
use crate::domain::scim::user::{self as scim_user, user_resource};
use crate::domain::user::User;
use crate::domain::{Email, TenantId, UserId};
use crate::ports::user_store::UserQuery;

/// The positions of the unfiltered `/Users` walk (one list per tenant: attributes and count
/// change neither which users nor their order).
const WALK: &str = "scim-users";

/// Users a SCIM client can see: all but those it deleted.
fn visible(u: &User) -> bool {
    u.scim_visible()
}

impl ScimService {
    /// Counts a user write towards the tenant's metrics (docs/behaviour/observability.md).
    fn counted(&self, tenant: &TenantId, outcome: Outcome) {
        if let Some(metric) = outcome.metric() {
            self.telemetry.count(tenant, metric, 1);
        }
    }

    async fn visible_user(&self, tenant: &TenantId, id: &str) -> Result<User, ScimFailure> {
        let id = UserId::parse(id).map_err(|_| ScimFailure::NotFound("User"))?;
        match self.users.get_user(tenant, &id).await? {
            Some(u) if visible(&u) => Ok(u),
            _ => Err(ScimFailure::NotFound("User")),
        }
    }

    pub async fn get_user(&self, tenant: &TenantId, id: &str, base: &str) -> Result<Resource, ScimFailure> {
        let u = self.visible_user(tenant, id).await?;
        Ok(Resource { body: user_resource(&u, base), version: u.version })
    }

    /// The user an equality on a key names, if the filter requires one.
    async fn key_lookup(&self, tenant: &TenantId, params: &ListParams) -> Result<Option<Option<User>>, ScimFailure> {
        let Some(filter) = &params.filter else { return Ok(None) };
        let Some((attr, value)) = filter.key_lookup(&["username", "emails.value", "externalid", "id"]) else {
            return Ok(None);
        };
        let found = match attr.as_str() {
            "username" => self.users.find_by_user_name(tenant, &value).await?,
            "emails.value" => match Email::parse(&value) {
                Ok(e) => self.users.find_by_email(tenant, &e).await?,
                Err(_) => None,
            },
            "externalid" => self.users.find_by_external_id(tenant, &value).await?,
            _ => match UserId::parse(&value) {
                Ok(id) => self.users.get_user(tenant, &id).await?,
                Err(_) => None,
            },
        };
        Ok(Some(found))
    }

    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn list_users(&self, tenant: &TenantId, params: &ListParams, base: &str) -> Result<Value, ScimFailure> {
        if let Some(found) = self.key_lookup(tenant, params).await? {
            let hits: Vec<Value> = found
                .filter(visible)
                .map(|u| user_resource(&u, base))
                .filter(|r| params.filter.as_ref().is_none_or(|f| f.matches(r)))
                .into_iter()
                .collect();
            return Ok(self.page(hits, params));
        }
        if params.filter.is_none() && params.sort_by.is_none() {
            return self.walk_users(tenant, params, base).await;
        }
        let mut hits = Vec::new();
        let mut evaluated = 0usize;
        let mut cursor = None;
        loop {
            let page = self.users.list_users(tenant, &UserQuery { status: None, cursor, limit: 1000 }).await?;
            for u in page.items.iter().filter(|u| visible(u)) {
                evaluated += 1;
                if evaluated > MAX_EVALUATED {
                    return Err(ScimFailure::TooMany);
                }
                let r = user_resource(u, base);
                if params.filter.as_ref().is_none_or(|f| f.matches(&r)) {
                    hits.push(r);
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(self.page(hits, params))
    }

    /// An unfiltered list in id order (stable across pages, as Okta's import needs). Each page
    /// resumes from the store cursor the page before it left at its end (a position kept an
    /// hour), so a page reads about `count` users and an import of N users about N in all;
    /// `totalResults` comes from the tenant's count, not from reading. A page with no kept
    /// position (jumping ahead, or an hour later) walks from the start to it.
    async fn walk_users(&self, tenant: &TenantId, params: &ListParams, base: &str) -> Result<Value, ScimFailure> {
        let total = self.users.count_scim_visible(tenant).await?;
        let before = params.start_index - 1;
        let want = params.count as usize;
        if want == 0 {
            return Ok(list_response(total as usize, params.start_index, Vec::new()));
        }
        let now = self.clock.now();
        let mut cursor =
            if before > 0 { self.positions.recall_position(tenant, WALK, before, now).await? } else { None };
        let mut skip = if before > 0 && cursor.is_none() { before } else { 0 };
        let mut page = Vec::new();
        loop {
            // Each batch is read whole (skipped, or listed), so its cursor is where the page ends.
            let limit = (skip + (want - page.len()) as u64).min(1000) as u32;
            let batch = self.users.list_users(tenant, &UserQuery { status: None, cursor, limit }).await?;
            for u in batch.items.iter().filter(|u| visible(u)) {
                if skip > 0 {
                    skip -= 1;
                } else {
                    page.push(params.projection.apply(user_resource(u, base)));
                }
            }
            cursor = batch.next;
            if cursor.is_none() || page.len() >= want {
                break;
            }
        }
        // The next page resumes where this one ended, wherever joiners land meanwhile.
        if let Some(next) = &cursor {
            let at = before + page.len() as u64;
            self.positions.remember_position(tenant, WALK, at, next, now + chrono::Duration::hours(1)).await?;
        }
        Ok(list_response(total as usize, params.start_index, page))
    }

    /// `POST /Users`. A `userName` of a user the client deleted brings that user back.
    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create_user(&self, tenant: &TenantId, body: &Value, base: &str) -> Result<Resource, ScimFailure> {
        let config = self.config(tenant).await?;
        let desired = scim_user::from_resource(body)?;
        let user_name = desired.user_name.clone().unwrap_or_else(|| desired.email.as_str().to_owned());
        for _ in 0..WRITE_ATTEMPTS {
            let by_name = self.users.find_by_user_name(tenant, &user_name).await?;
            let by_email = self.users.find_by_email(tenant, &desired.email).await?;
            if by_name.as_ref().is_some_and(visible) {
                return Err(ScimFailure::Uniqueness("userName is already in use by another user"));
            }
            if by_email.as_ref().is_some_and(visible) {
                return Err(ScimFailure::Uniqueness("the email address is already in use by another user"));
            }
            // A user the client deleted comes back as the same user, with their history.
            let existing = by_name.or(by_email);
            let mut desired = desired.clone();
            if existing.is_some() && desired.active.is_none() {
                desired.active = Some(true);
            }
            match self.provisioner.apply_scim(&config, existing, &desired).await {
                Ok((outcome, u)) => {
                    self.counted(tenant, outcome);
                    return Ok(Resource { body: user_resource(&u, base), version: u.version });
                }
                Err(ProvisionError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ScimFailure::Busy)
    }

    /// `PUT /Users/{id}`: the body is the whole user; readOnly attributes it echoes are ignored.
    pub async fn replace_user(
        &self,
        tenant: &TenantId,
        id: &str,
        body: &Value,
        if_match_header: Option<&str>,
        base: &str,
    ) -> Result<Resource, ScimFailure> {
        let desired = scim_user::from_resource(body)?;
        self.write_user(tenant, id, if_match_header, base, |_, _| Ok(desired.clone())).await
    }

    /// `PATCH /Users/{id}`: the operations applied to the user's SCIM form, stored as a PUT of it.
    pub async fn patch_user(
        &self,
        tenant: &TenantId,
        id: &str,
        body: &Value,
        if_match_header: Option<&str>,
        base: &str,
    ) -> Result<Resource, ScimFailure> {
        let ops = scim_patch::parse_request(body)?;
        self.write_user(tenant, id, if_match_header, base, |user, current| {
            let mut resource = current.clone();
            scim_patch::apply(&mut resource, &ops)?;
            let mut desired = scim_user::from_resource(&resource)?;
            if let Some(written) = &user.scim_attributes {
                desired.attributes = scim_user::patched_attributes(written, current, &resource);
            }
            Ok(desired)
        })
        .await
    }

    /// Reads the user, builds what to store from its SCIM form, and writes it conditionally; if
    /// another writer got in between, reads again (or, under `If-Match`, answers 412).
    async fn write_user(
        &self,
        tenant: &TenantId,
        id: &str,
        if_match_header: Option<&str>,
        base: &str,
        desire: impl Fn(&User, &Value) -> Result<scim_user::ScimUser, ScimFailure>,
    ) -> Result<Resource, ScimFailure> {
        let config = self.config(tenant).await?;
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.visible_user(tenant, id).await?;
            check_if_match(if_match_header, current.version)?;
            let desired = desire(&current, &user_resource(&current, base))?;
            match self.provisioner.apply_scim(&config, Some(current), &desired).await {
                Ok((outcome, u)) => {
                    self.counted(tenant, outcome);
                    tracing::info!(?outcome, user_id = %u.id, "SCIM user written");
                    return Ok(Resource { body: user_resource(&u, base), version: u.version });
                }
                Err(ProvisionError::Conflict) if if_match_header.is_some() => {
                    return Err(ScimFailure::PreconditionFailed)
                }
                Err(ProvisionError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ScimFailure::Busy)
    }

    /// `DELETE /Users/{id}`: deactivated (`scim_deleted`), then 404 to SCIM.
    pub async fn delete_user(
        &self,
        tenant: &TenantId,
        id: &str,
        if_match_header: Option<&str>,
    ) -> Result<(), ScimFailure> {
        let config = self.config(tenant).await?;
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.visible_user(tenant, id).await?;
            check_if_match(if_match_header, current.version)?;
            match self.provisioner.scim_delete(&config, &current).await {
                Ok(_) => {
                    self.counted(tenant, Outcome::Deactivated);
                    return Ok(());
                }
                Err(ProvisionError::Conflict) if if_match_header.is_some() => {
                    return Err(ScimFailure::PreconditionFailed)
                }
                Err(ProvisionError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ScimFailure::Busy)
    }
}
