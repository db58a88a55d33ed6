//! The SCIM 2.0 use cases (SPEC §9): Users and Groups for one tenant. User writes go through the
//! provisioning state machine ([`Provisioner::apply_scim`]), so SCIM users get the same mapping,
//! teams, managers, pending references and change log as the worker's. Group members are written
//! one record each: a PATCH reads and writes only the members it names.
//!
//! Equality filters on `userName`, `emails.value`, `externalId` and `id` are answered by key
//! lookups. Any other filter, and `sortBy`, evaluate the tenant's users one page at a time up to
//! [`MAX_EVALUATED`], beyond which the client is told to narrow the filter (`tooMany`).
use std::sync::Arc;

use serde_json::Value;
use tracing::instrument;

use super::provisioning::{membership_change, Outcome, ProvisionError, Provisioner};
use super::telemetry::Telemetry;
use crate::domain::change::{diff, Action, Actor, EntityKind, NewChange};
use crate::domain::group::{Group, Member};
use crate::domain::mapping::ManagerRef;
use crate::domain::scim_group::{self, group_resource};
use crate::domain::scim_patch::{self, GroupPatch};
use crate::domain::scim_query::{list_response, sort, ListParams, Projection};
use crate::domain::scim_schemas::ScimInvalid;
use crate::domain::scim_user::{self, if_match, user_resource};
use crate::domain::team::Waiting;
use crate::domain::tenant::{Provisioning, TenantConfig};
use crate::domain::user::{StatusReason, User};
use crate::domain::{Email, GroupId, TenantId, UserId};
use crate::ports::group_store::MEMBER_BATCH;
use crate::ports::user_store::UserQuery;
use crate::ports::{Clock, ConfigStore, GroupStore, Random, StoreError, UserReader};

/// The most users a non-key filter or a sort evaluates before answering `tooMany`.
pub const MAX_EVALUATED: usize = 10_000;
/// How often a write re-reads and retries when another writer got there first.
const WRITE_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum ScimFailure {
    #[error("{0}")]
    Invalid(ScimInvalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("SCIM provisioning is not enabled for this tenant")]
    Disabled,
    #[error("{0}")]
    Uniqueness(&'static str),
    #[error("the resource has changed: its ETag does not match If-Match")]
    PreconditionFailed,
    #[error("the filter needs more than {MAX_EVALUATED} users evaluated: filter on userName, emails.value, externalId or id")]
    TooMany,
    #[error("the resource is being changed by another request; retry")]
    Busy,
    #[error("the store is unavailable; retry")]
    Unavailable(#[source] StoreError),
}

impl From<ScimInvalid> for ScimFailure {
    fn from(e: ScimInvalid) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for ScimFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict => Self::Busy,
            StoreError::InvalidCursor => {
                Self::Invalid(ScimInvalid::new("invalidValue", "the paging position is not valid"))
            }
            other => Self::Unavailable(other),
        }
    }
}

impl From<ProvisionError> for ScimFailure {
    fn from(e: ProvisionError) -> Self {
        match e {
            ProvisionError::Conflict => Self::Busy,
            ProvisionError::Invalid(m) => Self::Invalid(ScimInvalid::new("invalidValue", m)),
            ProvisionError::EmailTaken => Self::Uniqueness("userName is already in use by another user"),
            ProvisionError::UserNameTaken => Self::Uniqueness("userName is already in use by another user"),
            ProvisionError::ExternalIdTaken => Self::Uniqueness("externalId is already in use by another user"),
            ProvisionError::Store(e) => e.into(),
        }
    }
}

/// A single resource and its version (for the `ETag` header).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub body: Value,
    pub version: u64,
}

pub struct ScimService {
    configs: Arc<dyn ConfigStore>,
    users: Arc<dyn UserReader>,
    groups: Arc<dyn GroupStore>,
    provisioner: Arc<Provisioner>,
    telemetry: Arc<Telemetry>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

/// Users a SCIM client can see: all but those it deleted.
fn visible(u: &User) -> bool {
    u.status_reason != Some(StatusReason::ScimDeleted)
}

fn check_if_match(header: Option<&str>, version: u64) -> Result<(), ScimFailure> {
    match header {
        Some(h) if !if_match(h, version) => Err(ScimFailure::PreconditionFailed),
        _ => Ok(()),
    }
}

impl ScimService {
    pub fn new(
        configs: Arc<dyn ConfigStore>,
        users: Arc<dyn UserReader>,
        groups: Arc<dyn GroupStore>,
        provisioner: Arc<Provisioner>,
        telemetry: Arc<Telemetry>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self { configs, users, groups, provisioner, telemetry, clock, random }
    }

    /// Counts a user write towards the tenant's metrics (SPEC §14).
    fn counted(&self, tenant: &TenantId, outcome: Outcome) {
        if let Some(metric) = outcome.metric() {
            self.telemetry.count(tenant, metric, 1);
        }
    }

    /// The tenant's config, if SCIM provisioning is on for it.
    /// Whether the tenant exists at all (from the cached config read, before any secret is read).
    pub async fn tenant_exists(&self, tenant: &TenantId) -> Result<bool, ScimFailure> {
        Ok(self.configs.get_config(tenant).await?.is_some())
    }

    pub async fn config(&self, tenant: &TenantId) -> Result<TenantConfig, ScimFailure> {
        match self.configs.get_config(tenant).await? {
            Some(c) if c.provisioning == Provisioning::Scim => Ok(c),
            _ => Err(ScimFailure::Disabled),
        }
    }

    async fn visible_user(&self, tenant: &TenantId, id: &str) -> Result<User, ScimFailure> {
        let id = UserId::parse(id).map_err(|_| ScimFailure::NotFound("User"))?;
        match self.users.get_user(tenant, &id).await? {
            Some(u) if visible(&u) => Ok(u),
            _ => Err(ScimFailure::NotFound("User")),
        }
    }

    // ---- Users ----

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

    /// Sorts (if asked), pages and projects matches that are all in hand.
    fn page(&self, mut hits: Vec<Value>, params: &ListParams) -> Value {
        if let Some(by) = &params.sort_by {
            sort(&mut hits, by, params.descending);
        }
        let total = hits.len();
        let page: Vec<Value> = hits
            .into_iter()
            .skip(params.start_index as usize - 1)
            .take(params.count as usize)
            .map(|r| params.projection.apply(r))
            .collect();
        list_response(total, params.start_index, page)
    }

    /// An unfiltered list in id order (stable across pages, as Okta's import needs): one store
    /// page at a time, never holding more than a page and the answer.
    async fn walk_users(&self, tenant: &TenantId, params: &ListParams, base: &str) -> Result<Value, ScimFailure> {
        let skip = params.start_index as usize - 1;
        let (mut seen, mut page) = (0usize, Vec::new());
        let mut cursor = None;
        loop {
            let batch = self.users.list_users(tenant, &UserQuery { status: None, cursor, limit: 1000 }).await?;
            for u in batch.items.iter().filter(|u| visible(u)) {
                if seen >= skip && page.len() < params.count as usize {
                    page.push(params.projection.apply(user_resource(u, base)));
                }
                seen += 1;
            }
            match batch.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(list_response(seen, params.start_index, page))
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

    // ---- Groups ----

    async fn group(&self, tenant: &TenantId, id: &str) -> Result<Group, ScimFailure> {
        let gid = GroupId::parse(id).map_err(|_| ScimFailure::NotFound("Group"))?;
        self.groups.get_group(tenant, &gid).await?.ok_or(ScimFailure::NotFound("Group"))
    }

    async fn group_view(
        &self,
        tenant: &TenantId,
        g: &Group,
        projection: &Projection,
        base: &str,
    ) -> Result<Value, ScimFailure> {
        let members =
            if projection.wants("members") { Some(self.groups.list_members(tenant, &g.id).await?) } else { None };
        Ok(projection.apply(group_resource(g, members.as_deref(), base)))
    }

    pub async fn get_group(
        &self,
        tenant: &TenantId,
        id: &str,
        projection: &Projection,
        base: &str,
    ) -> Result<Resource, ScimFailure> {
        self.config(tenant).await?;
        let g = self.group(tenant, id).await?;
        Ok(Resource { body: self.group_view(tenant, &g, projection, base).await?, version: g.version })
    }

    /// Groups are listed without `members` unless `attributes` names them (a list of big groups
    /// would otherwise read every membership); a filter on members reads them.
    pub async fn list_groups(&self, tenant: &TenantId, params: &ListParams, base: &str) -> Result<Value, ScimFailure> {
        self.config(tenant).await?;
        let groups = self.groups.list_groups(tenant).await?;
        let filter_needs_members =
            params.filter.as_ref().is_some_and(|f| f.to_string().to_lowercase().contains("members"));
        let mut hits = Vec::new();
        for g in &groups {
            let members = if filter_needs_members || params.projection.names("members") {
                Some(self.groups.list_members(tenant, &g.id).await?)
            } else {
                None
            };
            let r = group_resource(g, members.as_deref(), base);
            if params.filter.as_ref().is_none_or(|f| f.matches(&r)) {
                hits.push(r);
            }
        }
        Ok(self.page(hits, params))
    }

    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn create_group(&self, tenant: &TenantId, body: &Value, base: &str) -> Result<Resource, ScimFailure> {
        self.config(tenant).await?;
        let wanted = scim_group::from_body(body)?;
        let now = self.clock.now();
        let group = Group {
            id: GroupId::from_random(self.random.bytes16()),
            display_name: wanted.display_name,
            external_id: wanted.external_id,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let change = self.group_change(&group.id, Action::Created, diff(None, &group));
        let created = self.groups.create_group(tenant, &group, &change).await?;
        tracing::info!(group_id = %created.id, "SCIM group created");
        let changes: Vec<(String, bool)> = wanted.members.into_iter().map(|m| (m, true)).collect();
        self.apply_member_changes(tenant, &created.id, &changes, None).await?;
        let g = self.group(tenant, created.id.as_str()).await?;
        Ok(Resource { body: self.group_view(tenant, &g, &Projection::default(), base).await?, version: g.version })
    }

    pub async fn replace_group(
        &self,
        tenant: &TenantId,
        id: &str,
        body: &Value,
        if_match_header: Option<&str>,
        base: &str,
    ) -> Result<Resource, ScimFailure> {
        self.config(tenant).await?;
        let wanted = scim_group::from_body(body)?;
        let patch = GroupPatch {
            display_name: Some(wanted.display_name),
            external_id: Some(wanted.external_id),
            replace_members: Some(wanted.members),
            member_changes: vec![],
        };
        self.change_group(tenant, id, &patch, if_match_header).await?;
        let g = self.group(tenant, id).await?;
        Ok(Resource { body: self.group_view(tenant, &g, &Projection::default(), base).await?, version: g.version })
    }

    /// `PATCH /Groups/{id}`: a rename and the named member changes; the members not named are
    /// neither read nor written (unless the PATCH replaces the whole list).
    #[instrument(skip_all, fields(tenant = %tenant, group_id = %id))]
    pub async fn patch_group(
        &self,
        tenant: &TenantId,
        id: &str,
        body: &Value,
        if_match_header: Option<&str>,
    ) -> Result<Group, ScimFailure> {
        self.config(tenant).await?;
        let ops = scim_patch::parse_request(body)?;
        let patch = scim_patch::member_changes(&ops, id)?;
        self.change_group(tenant, id, &patch, if_match_header).await?;
        self.group(tenant, id).await
    }

    pub async fn delete_group(
        &self,
        tenant: &TenantId,
        id: &str,
        if_match_header: Option<&str>,
    ) -> Result<(), ScimFailure> {
        self.config(tenant).await?;
        let g = self.group(tenant, id).await?;
        check_if_match(if_match_header, g.version)?;
        // Members leave first, each batch with its membership change, so a consumer of the change
        // log sees who left (SPEC §3). A DELETE that stops half-way leaves the group with fewer
        // members; the client's retry finishes the job.
        let members = self.groups.list_members(tenant, &g.id).await?;
        for chunk in members.chunks(MEMBER_BATCH) {
            let mut remove = chunk.to_vec();
            for _ in 0..=WRITE_ATTEMPTS {
                if remove.is_empty() {
                    break;
                }
                let change = membership_change(self.clock.now(), Actor::Scim, &g.id, &[], &remove);
                match self.groups.change_members(tenant, &g.id, &[], &remove, None, &change).await {
                    Ok(()) => break,
                    // Someone removed one of them meanwhile: remove the ones still there.
                    Err(StoreError::VersionConflict) => {
                        remove = self.groups.which_members(tenant, &g.id, &remove).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let change = self.group_change(&g.id, Action::Deleted, Default::default());
        match self.groups.delete_group(tenant, &g, &change).await {
            Ok(()) | Err(StoreError::VersionConflict) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn group_change(
        &self,
        id: &GroupId,
        action: Action,
        changes: std::collections::BTreeMap<String, crate::domain::change::FieldChange>,
    ) -> NewChange {
        NewChange {
            at: self.clock.now(),
            actor: Actor::Scim,
            entity: EntityKind::Group,
            entity_id: id.as_str().to_owned(),
            action,
            changes,
        }
    }

    async fn change_group(
        &self,
        tenant: &TenantId,
        id: &str,
        patch: &GroupPatch,
        if_match_header: Option<&str>,
    ) -> Result<(), ScimFailure> {
        let mut expected = None;
        for attempt in 0..=WRITE_ATTEMPTS {
            if attempt == WRITE_ATTEMPTS {
                return Err(ScimFailure::Busy);
            }
            let g = self.group(tenant, id).await?;
            check_if_match(if_match_header, g.version)?;
            expected = if_match_header.map(|_| g.version);
            let mut after = g.clone();
            if let Some(name) = &patch.display_name {
                after.display_name = name.trim().to_owned();
            }
            if let Some(x) = &patch.external_id {
                after.external_id = x.clone();
            }
            if after == g {
                break;
            }
            after.updated_at = self.clock.now();
            let change = self.group_change(&g.id, Action::Updated, diff(Some(&g), &after));
            match self.groups.update_group(tenant, &g, &after, &change).await {
                Ok(stored) => {
                    expected = expected.map(|_| stored.version);
                    break;
                }
                Err(StoreError::VersionConflict) if if_match_header.is_some() => {
                    return Err(ScimFailure::PreconditionFailed)
                }
                Err(StoreError::VersionConflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let gid = GroupId::parse(id).map_err(|_| ScimFailure::NotFound("Group"))?;
        let mut changes: Vec<(String, bool)> = Vec::new();
        if let Some(all) = &patch.replace_members {
            // Replacing the whole list is the one change that must read the members.
            let wanted = self.resolve_members(tenant, all).await?;
            for m in self.groups.list_members(tenant, &gid).await? {
                if !wanted.iter().any(|(_, w)| w == &m) {
                    changes.push((m.value().to_owned(), false));
                }
            }
            changes.extend(all.iter().map(|v| (v.clone(), true)));
        }
        changes.extend(patch.member_changes.iter().cloned());
        self.apply_member_changes(tenant, &gid, &changes, expected).await
    }

    /// Each member value as a member: our user id, else a user's `externalId`, else pending.
    async fn resolve_members(
        &self,
        tenant: &TenantId,
        values: &[String],
    ) -> Result<Vec<(String, Member)>, ScimFailure> {
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            let user = match UserId::parse(v) {
                Ok(id) => self.users.get_user(tenant, &id).await?,
                Err(_) => self.users.find_by_external_id(tenant, v).await?,
            };
            let m = match user {
                Some(u) => Member::User(u.id),
                None => Member::Pending(v.clone()),
            };
            out.push((v.clone(), m));
        }
        Ok(out)
    }

    /// Applies `(value, is member)` changes (the last word per value wins) in batches, each
    /// checked against the members' records as they are now, and registers pending members.
    async fn apply_member_changes(
        &self,
        tenant: &TenantId,
        group: &GroupId,
        changes: &[(String, bool)],
        mut expected_version: Option<u64>,
    ) -> Result<(), ScimFailure> {
        let mut last: Vec<(String, bool)> = Vec::new();
        for (v, on) in changes {
            match last.iter_mut().find(|(x, _)| x == v) {
                Some(entry) => entry.1 = *on,
                None => last.push((v.clone(), *on)),
            }
        }
        for chunk in last.chunks(MEMBER_BATCH) {
            let values: Vec<String> = chunk.iter().map(|(v, _)| v.clone()).collect();
            let resolved = self.resolve_members(tenant, &values).await?;
            for attempt in 0..=WRITE_ATTEMPTS {
                if attempt == WRITE_ATTEMPTS {
                    return Err(ScimFailure::Busy);
                }
                // Both forms a value may be stored under (a pending value may since name a user).
                let mut candidates: Vec<Member> = resolved.iter().map(|(_, m)| m.clone()).collect();
                candidates.extend(values.iter().map(|v| Member::Pending(v.clone())));
                candidates.sort();
                candidates.dedup();
                let present = self.groups.which_members(tenant, group, &candidates).await?;
                let (mut add, mut remove) = (Vec::new(), Vec::new());
                for ((_, on), (value, m)) in chunk.iter().zip(&resolved) {
                    if *on {
                        if !present.contains(m) && !add.contains(m) {
                            add.push(m.clone());
                        }
                    } else {
                        for form in [m.clone(), Member::Pending(value.clone())] {
                            if present.contains(&form) && !remove.contains(&form) {
                                remove.push(form);
                            }
                        }
                    }
                }
                if add.is_empty() && remove.is_empty() {
                    break;
                }
                let change = membership_change(self.clock.now(), Actor::Scim, group, &add, &remove);
                match self.groups.change_members(tenant, group, &add, &remove, expected_version, &change).await {
                    Ok(()) => {
                        expected_version = expected_version.map(|v| v + 1);
                        for m in &add {
                            if let Member::Pending(v) = m {
                                let target = match UserId::parse(v) {
                                    Ok(id) => ManagerRef::Id(id),
                                    Err(_) => ManagerRef::External(v.clone()),
                                };
                                self.provisioner
                                    .await_user(tenant, target, Waiting::GroupMember(group.clone()), Actor::Scim)
                                    .await?;
                            }
                        }
                        break;
                    }
                    Err(StoreError::VersionConflict) if expected_version.is_some() => {
                        return Err(ScimFailure::PreconditionFailed)
                    }
                    // A concurrent request changed one of these members (or the group went).
                    Err(StoreError::VersionConflict) => {
                        if self.groups.get_group(tenant, group).await?.is_none() {
                            return Err(ScimFailure::NotFound("Group"));
                        }
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}
