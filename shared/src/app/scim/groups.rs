//! The SCIM `/Groups` endpoints (RFC 7644 §3): get, list, create, replace, patch and delete.
//! Members are written one record each, in batches: a PATCH reads and writes only the members it
//! names, and a member naming no user yet waits as a pending reference.
use serde_json::Value;
use tracing::instrument;

use super::{check_if_match, Resource, ScimFailure, ScimService, WRITE_ATTEMPTS};
use crate::app::provisioning::membership_change;
use crate::domain::change::{diff, Action, Actor, EntityKind, NewChange};
use crate::domain::group::{Group, Member};
use crate::domain::mapping::ManagerRef;
use crate::domain::scim::group::{self as scim_group, group_resource};
use crate::domain::scim::patch::{self as scim_patch, GroupPatch};
use crate::domain::scim::query::{ListParams, Projection};
use crate::domain::team::Waiting;
use crate::domain::{GroupId, TenantId, UserId};
use crate::ports::group_store::MEMBER_BATCH;
use crate::ports::StoreError;

impl ScimService {
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
        // log sees who left (docs/behaviour/data.md). A DELETE that stops half-way leaves the group with fewer
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
    /// Our ids are read in batches (one `BatchGetItem` per 100); only other values are looked
    /// up one by one.
    async fn resolve_members(
        &self,
        tenant: &TenantId,
        values: &[String],
    ) -> Result<Vec<(String, Member)>, ScimFailure> {
        let ids: Vec<UserId> = values.iter().filter_map(|v| UserId::parse(v).ok()).collect();
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(100) {
            found.extend(self.users.get_users(tenant, chunk).await?.into_iter().map(|u| u.id));
        }
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            let user = match UserId::parse(v) {
                Ok(id) => found.contains(&id).then_some(id),
                Err(_) => self.users.find_by_external_id(tenant, v).await?.map(|u| u.id),
            };
            let m = match user {
                Some(id) => Member::User(id),
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
