//! Converging a stored user to Okta's truth: the one state machine behind the worker, the nightly
//! sync and just-in-time sign-in (docs/behaviour/event-hooks.md). It decides with [`plan`], maps with
//! [`map_profile`], places the user in a team and under a manager, writes conditionally with
//! change-log entries, and resolves pending references the moment their target appears.
//!
//! This module holds the [`Provisioner`], what it answers, its public entry points and the lookups
//! they share; the user write is in `write`, team, manager and approver placement in `placement`,
//! and pending references in `pending`.
mod pending;
mod placement;
mod write;

use std::sync::Arc;

use serde::Serialize;
use tracing::instrument;

use chrono::{DateTime, Utc};

use self::write::Target;
use crate::domain::change::{diff, Action, Actor, EntityKind, FieldChange, NewChange};
use crate::domain::convergence::{plan, Plan, Truth};
use crate::domain::group::Member;
use crate::domain::mapping::{map_profile, ManagerRef, MappingRules};
use crate::domain::scim::user::ScimUser;
use crate::domain::team::Waiting;
use crate::domain::tenant::TenantConfig;
use crate::domain::user::{StatusReason, User, UserStatus};
use crate::domain::{Email, GroupId, OktaUserId, TenantId, UserId};
use crate::ports::{
    Clock, GroupStore, PendingStore, Random, StoreError, TeamStore, UniqueField, UserReader, UserWriter,
};

/// What converging did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Reactivated,
    Deactivated,
    /// Already equal to Okta's truth: nothing written.
    Unchanged,
    /// The stored state came from a newer Okta state.
    Stale,
}

impl Outcome {
    /// The user metric this outcome counts towards, if it wrote anything.
    pub fn metric(self) -> Option<crate::domain::metrics::Metric> {
        use crate::domain::metrics::Metric;
        match self {
            Self::Created => Some(Metric::UsersCreated),
            Self::Updated => Some(Metric::UsersUpdated),
            Self::Reactivated => Some(Metric::UsersReactivated),
            Self::Deactivated => Some(Metric::UsersDeactivated),
            Self::Unchanged | Self::Stale => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// Another writer changed the user in between: read Okta and the store again, then retry.
    #[error("the user changed while it was being written")]
    Conflict,
    /// Okta's data cannot be stored (for example no valid email for a new user).
    #[error("{0}")]
    Invalid(String),
    /// The email belongs to another user linked to a different Okta user.
    #[error("the email address belongs to another user of this tenant")]
    EmailTaken,
    /// The SCIM `userName` is another user's (their userName or, without one, their email).
    #[error("the userName belongs to another user of this tenant")]
    UserNameTaken,
    /// The SCIM `externalId` belongs to another user of the tenant.
    #[error("the externalId belongs to another user of this tenant")]
    ExternalIdTaken,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ProvisionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict | StoreError::AlreadyExists | StoreError::Duplicate(UniqueField::OktaId) => {
                Self::Conflict
            }
            StoreError::Duplicate(UniqueField::Email) => Self::EmailTaken,
            StoreError::Duplicate(UniqueField::ExternalId) => Self::ExternalIdTaken,
            StoreError::Duplicate(UniqueField::UserName) => Self::UserNameTaken,
            other => Self::Store(other),
        }
    }
}

/// What [`Provisioner::converge_detailed`] did or, in a dry run, would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converged {
    pub outcome: Outcome,
    /// The stored user it concerns (none for a user a dry run would create).
    pub user_id: Option<UserId>,
    /// The fields an update changes (or would change).
    pub fields: Vec<String>,
    /// Profile values the mapping skipped with a warning (docs/behaviour/field-mapping.md).
    pub warnings: usize,
}

/// Whether to write, or only to say what would be written (a dry run: no user, team, change-log
/// or pending-reference write happens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    DryRun,
}

pub struct Provisioner {
    users: Arc<dyn UserReader>,
    writer: Arc<dyn UserWriter>,
    teams: Arc<dyn TeamStore>,
    pending: Arc<dyn PendingStore>,
    groups: Arc<dyn GroupStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

/// What a [`Provisioner`] is built from, by name (the composition root, `app::root`, fills it).
pub struct ProvisionerDeps {
    pub users: Arc<dyn UserReader>,
    pub writer: Arc<dyn UserWriter>,
    pub teams: Arc<dyn TeamStore>,
    pub pending: Arc<dyn PendingStore>,
    pub groups: Arc<dyn GroupStore>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
}

impl Provisioner {
    pub fn new(deps: ProvisionerDeps) -> Self {
        let ProvisionerDeps { users, writer, teams, pending, groups, clock, random } = deps;
        Self { users, writer, teams, pending, groups, clock, random }
    }

    fn change(
        &self,
        actor: Actor,
        entity: EntityKind,
        id: &str,
        action: Action,
        changes: std::collections::BTreeMap<String, crate::domain::change::FieldChange>,
    ) -> NewChange {
        NewChange { at: self.clock.now(), actor, entity, entity_id: id.to_owned(), action, changes }
    }

    /// The stored user for an Okta user: by Okta id, else by email when that user is not linked
    /// to another Okta user (then the Okta id gets stored).
    async fn find(
        &self,
        tenant: &TenantId,
        okta_id: &OktaUserId,
        email: Option<&Email>,
    ) -> Result<Option<User>, ProvisionError> {
        if let Some(u) = self.users.find_by_okta_id(tenant, okta_id).await? {
            return Ok(Some(u));
        }
        match email {
            Some(e) => Ok(self.users.find_by_email(tenant, e).await?.filter(|u| u.okta_id.is_none())),
            None => Ok(None),
        }
    }

    /// Brings the stored user to `truth`. A `Conflict` means: fetch the truth again and retry.
    pub async fn converge(
        &self,
        config: &TenantConfig,
        okta_id: &OktaUserId,
        truth: &Truth,
        actor: Actor,
        mode: Mode,
    ) -> Result<Outcome, ProvisionError> {
        Ok(self.converge_detailed(config, okta_id, truth, actor, mode).await?.outcome)
    }

    /// [`Provisioner::converge`], saying also which user and which fields (what a dry run's diff
    /// shows) and how many field warnings the mapping recorded.
    #[instrument(skip_all, fields(tenant = %config.tenant, okta_user = %okta_id))]
    #[allow(clippy::expect_used, reason = "the plan deactivates only a stored user")]
    pub async fn converge_detailed(
        &self,
        config: &TenantConfig,
        okta_id: &OktaUserId,
        truth: &Truth,
        actor: Actor,
        mode: Mode,
    ) -> Result<Converged, ProvisionError> {
        let tenant = &config.tenant;
        let email = match truth {
            Truth::Present { user, .. } => user.attr("email").and_then(|e| Email::parse(&e).ok()),
            Truth::Gone => None,
        };
        let existing = self.find(tenant, okta_id, email.as_ref()).await?;
        let user_id = existing.as_ref().map(|u| u.id.clone());
        let done = |outcome| Converged { outcome, user_id: user_id.clone(), fields: Vec::new(), warnings: 0 };
        match plan(truth, existing.as_ref()) {
            Plan::Nothing => Ok(done(Outcome::Unchanged)),
            Plan::Stale => {
                tracing::info!("older Okta state ignored");
                Ok(done(Outcome::Stale))
            }
            Plan::Deactivate(_) if mode == Mode::DryRun => Ok(done(Outcome::Deactivated)),
            Plan::Deactivate(reason) => {
                let before = existing.expect("plan deactivates only stored users");
                let mut after = before.clone();
                after.status = UserStatus::Deactivated;
                after.status_reason = Some(reason);
                if let Truth::Present { user, .. } = truth {
                    after.okta_last_updated = Some(user.last_updated);
                }
                after.updated_at = self.clock.now();
                let c = self.change(
                    actor,
                    EntityKind::User,
                    before.id.as_str(),
                    Action::Deactivated,
                    diff(Some(&before), &after),
                );
                self.writer.update_user(tenant, &before, &after, &[c]).await?;
                tracing::info!(user_id = %before.id, reason = ?reason, "user deactivated");
                Ok(done(Outcome::Deactivated))
            }
            Plan::Upsert => {
                let Truth::Present { user: okta, .. } = truth else { unreachable!("upsert needs a present user") };
                let rules = MappingRules {
                    avatar_attribute: config.avatar_attribute.as_deref(),
                    custom: &config.field_mappings,
                };
                let mapped = map_profile(okta, &rules);
                if !mapped.warnings.is_empty() {
                    let fields: Vec<&str> = mapped.warnings.iter().map(|w| w.field.as_str()).collect();
                    tracing::warn!(?fields, "Okta profile fields skipped");
                }
                let target =
                    Target { okta_org: Some(config.okta_domain.clone()), ..Target::from_okta(okta_id, okta, &mapped) };
                let written = match existing {
                    None => self.create(config, &target, actor, mode).await,
                    Some(before) => self.update(config, &target, before, actor, mode).await,
                };
                let written = match written {
                    // Another writer (a hook job racing the sync) stored this Okta user first: the
                    // email is theirs because the user is; read again rather than fail the user.
                    Err(ProvisionError::EmailTaken) if self.users.find_by_okta_id(tenant, okta_id).await?.is_some() => {
                        return Err(ProvisionError::Conflict)
                    }
                    other => other?,
                };
                Ok(Converged {
                    outcome: written.outcome,
                    user_id: written.user.map(|u| u.id).or(user_id),
                    fields: written.fields,
                    warnings: mapped.warnings.len(),
                })
            }
        }
    }

    /// Deactivates a stored user Okta no longer lists for the app (the sync's "not seen").
    pub async fn deactivate_unassigned(
        &self,
        config: &TenantConfig,
        user: &User,
        actor: Actor,
    ) -> Result<Outcome, ProvisionError> {
        if user.status == UserStatus::Deactivated {
            return Ok(Outcome::Unchanged);
        }
        let mut after = user.clone();
        after.status = UserStatus::Deactivated;
        after.status_reason = Some(StatusReason::Unassigned);
        after.updated_at = self.clock.now();
        let c = self.change(actor, EntityKind::User, user.id.as_str(), Action::Deactivated, diff(Some(user), &after));
        self.writer.update_user(&config.tenant, user, &after, &[c]).await?;
        tracing::info!(user_id = %user.id, "user deactivated: no longer assigned in Okta");
        Ok(Outcome::Deactivated)
    }

    /// Creates, or brings `existing` to, what a SCIM client sent (docs/behaviour/scim.md): the same mapping,
    /// team, manager, pending-reference and change-log path as Okta's truth. A user the client
    /// deleted comes back as the same user. Returns the user as stored.
    #[instrument(skip_all, fields(tenant = %config.tenant))]
    pub async fn apply_scim(
        &self,
        config: &TenantConfig,
        existing: Option<User>,
        desired: &ScimUser,
    ) -> Result<(Outcome, User), ProvisionError> {
        let okta_id = desired.external_id.as_deref().and_then(OktaUserId::parse_okta_shaped);
        let okta_id = match &existing {
            // Keep an Okta link made by SSO or hooks (the same id again confirms it for this org);
            // link one only if the id is free.
            Some(u) if u.okta_id.is_some() => okta_id.filter(|id| u.okta_id.as_ref() == Some(id)),
            _ => match okta_id {
                Some(id) if self.users.find_by_okta_id(&config.tenant, &id).await?.is_none() => Some(id),
                _ => None,
            },
        };
        let target = Target { okta_org: Some(config.okta_domain.clone()), ..Target::from_scim(desired, okta_id) };
        let written = match existing {
            None => self.create(config, &target, Actor::Scim, Mode::Apply).await?,
            Some(before) => self.update(config, &target, before, Actor::Scim, Mode::Apply).await?,
        };
        let stored = written.user.ok_or_else(|| ProvisionError::Invalid("an applied write returned no user".into()))?;
        Ok((written.outcome, stored))
    }

    /// SCIM `DELETE`: deactivated as `scim_deleted`, kept with its history (docs/behaviour/data.md, docs/behaviour/scim.md).
    pub async fn scim_delete(&self, config: &TenantConfig, user: &User) -> Result<User, ProvisionError> {
        let mut after = user.clone();
        after.status = UserStatus::Deactivated;
        after.status_reason = Some(StatusReason::ScimDeleted);
        after.updated_at = self.clock.now();
        let c = self.change(Actor::Scim, EntityKind::User, user.id.as_str(), Action::Deleted, diff(Some(user), &after));
        let stored = self.writer.update_user(&config.tenant, user, &after, &[c]).await?;
        tracing::info!(user_id = %user.id, "user deleted by SCIM (kept deactivated)");
        Ok(stored)
    }

    /// Registers a reference that waits for a user who does not exist yet (a group member naming
    /// no user), and resolves it at once if they appeared meanwhile.
    pub async fn await_user(
        &self,
        tenant: &TenantId,
        target: ManagerRef,
        waiting: Waiting,
        actor: Actor,
    ) -> Result<(), ProvisionError> {
        self.register(tenant, vec![(target, waiting)], actor).await
    }

    async fn lookup(&self, tenant: &TenantId, reference: &ManagerRef) -> Result<Option<User>, ProvisionError> {
        Ok(match reference {
            ManagerRef::OktaId(id) => self.users.find_by_okta_id(tenant, id).await?,
            ManagerRef::Email(e) => self.users.find_by_email(tenant, e).await?,
            ManagerRef::Id(id) => self.users.get_user(tenant, id).await?,
            ManagerRef::External(x) => self.users.find_by_external_id(tenant, x).await?,
        })
    }

    /// Resolves the pending references waiting for `user` after another path gave them a new
    /// identity key (single sign-on linking an Okta id by verified email).
    pub async fn resolve_references(
        &self,
        config: &TenantConfig,
        user: &User,
        actor: Actor,
    ) -> Result<(), ProvisionError> {
        self.resolve_waiting(config, user, actor).await
    }
}

/// The change-log entry of a membership change: each member's key, `false` → `true` when added.
pub fn membership_change(
    at: DateTime<Utc>,
    actor: Actor,
    group: &GroupId,
    added: &[Member],
    removed: &[Member],
) -> NewChange {
    let mut changes = std::collections::BTreeMap::new();
    for (list, now) in [(added, true), (removed, false)] {
        for m in list {
            changes.insert(m.value().to_owned(), FieldChange { before: (!now).into(), after: now.into() });
        }
    }
    NewChange {
        at,
        actor,
        entity: EntityKind::Membership,
        entity_id: group.as_str().to_owned(),
        action: Action::Updated,
        changes,
    }
}
