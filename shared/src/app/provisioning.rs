//! Converging a stored user to Okta's truth: the one state machine behind the worker, the nightly
//! sync and just-in-time sign-in (SPEC §5–7). It decides with [`plan`], maps with
//! [`map_profile`], places the user in a team and under a manager, writes conditionally with
//! change-log entries, and resolves pending references the moment their target appears.
use std::sync::Arc;

use serde::Serialize;
use tracing::instrument;

use chrono::{DateTime, Utc};

use crate::domain::change::{diff, Action, Actor, EntityKind, FieldChange, NewChange};
use crate::domain::convergence::{plan, Plan, Truth};
use crate::domain::group::Member;
use crate::domain::mapping::{map_profile, Field, FieldWarning, ManagerRef, Mapped, MappingRules};
use crate::domain::scim_user::ScimUser;
use crate::domain::team::{team_key, Team, Waiting};
use crate::domain::tenant::{ManagerMode, TenantConfig};
use crate::domain::user::{Approver, StatusReason, User, UserStatus};
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
    /// Profile values the mapping skipped with a warning (SPEC §6).
    pub warnings: usize,
}

/// What one create or update wrote: the user as stored (as it was, in a dry run) and the fields.
struct Written {
    outcome: Outcome,
    user: Option<User>,
    fields: Vec<String>,
}

/// Whether to write, or only to say what would be written (a dry run: no user, team, change-log
/// or pending-reference write happens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    DryRun,
}

/// How far up a manager chain to look for a cycle.
const MAX_CHAIN: usize = 64;

pub struct Provisioner {
    users: Arc<dyn UserReader>,
    writer: Arc<dyn UserWriter>,
    teams: Arc<dyn TeamStore>,
    pending: Arc<dyn PendingStore>,
    groups: Arc<dyn GroupStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

/// What a write makes of the user besides the mapped fields: its identity keys and lifecycle.
struct Target<'a> {
    mapped: &'a Mapped,
    okta_id: Option<OktaUserId>,
    okta_last_updated: Option<DateTime<Utc>>,
    /// `Some` sets the SCIM `externalId` (to a value or none).
    external_id: Option<Option<String>>,
    /// `Some` sets the SCIM `userName` (none: it is the email).
    user_name: Option<Option<String>>,
    /// `None` keeps the user's lifecycle as it is.
    status: Option<UserStatus>,
    reason: Option<StatusReason>,
    /// `Some` sets the approvers (SCIM extension).
    approvers: Option<&'a [Email]>,
    /// `Some` keeps the SCIM client's attributes as written.
    scim_attributes: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// The Okta org an `okta_id` set here belongs to (the tenant's `okta_domain`).
    okta_org: Option<String>,
}

impl<'a> Target<'a> {
    fn from_okta(okta_id: &OktaUserId, okta: &crate::domain::okta::OktaUser, mapped: &'a Mapped) -> Self {
        Self {
            mapped,
            okta_id: Some(okta_id.clone()),
            okta_last_updated: Some(okta.last_updated),
            external_id: None,
            user_name: None,
            status: Some(UserStatus::Active),
            reason: None,
            approvers: None,
            scim_attributes: None,
            okta_org: None,
        }
    }

    fn from_scim(desired: &'a ScimUser, okta_id: Option<OktaUserId>) -> Self {
        let (status, reason) = match desired.active {
            Some(true) => (Some(UserStatus::Active), None),
            Some(false) => (Some(UserStatus::Deactivated), Some(StatusReason::ScimInactive)),
            None => (None, None),
        };
        Self {
            mapped: &desired.mapped,
            okta_id,
            okta_last_updated: None,
            external_id: Some(desired.external_id.clone()),
            user_name: Some(desired.user_name.clone()),
            status,
            reason,
            approvers: Some(&desired.approvers),
            scim_attributes: Some(&desired.attributes),
            okta_org: None,
        }
    }

    /// Sets identity and lifecycle on `user`: a deactivated user keeps the reason it has, unless
    /// the write names a new one.
    fn stamp(&self, user: &mut User) {
        self.mapped.apply_to(user);
        if let Some(okta) = &self.okta_id {
            user.okta_id = Some(okta.clone());
            if self.okta_org.is_some() {
                user.okta_org = self.okta_org.clone();
            }
        }
        if let Some(at) = self.okta_last_updated {
            user.okta_last_updated = Some(at);
        }
        if let Some(x) = &self.external_id {
            user.external_id = x.clone();
        }
        if let Some(n) = &self.user_name {
            user.user_name = n.clone();
        }
        if let Some(a) = self.scim_attributes {
            user.scim_attributes = Some(a.clone());
        }
        let Some(status) = self.status else { return };
        let keep_reason = user.status == UserStatus::Deactivated
            && status == UserStatus::Deactivated
            && user.status_reason != Some(StatusReason::ScimDeleted);
        user.status = status;
        if !keep_reason {
            user.status_reason = self.reason;
        }
    }
}

/// Pending references to register once the user they belong to is stored.
type PendingList = Vec<(ManagerRef, Waiting)>;

impl Provisioner {
    pub fn new(
        users: Arc<dyn UserReader>,
        writer: Arc<dyn UserWriter>,
        teams: Arc<dyn TeamStore>,
        pending: Arc<dyn PendingStore>,
        groups: Arc<dyn GroupStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
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

    /// Creates, or brings `existing` to, what a SCIM client sent (SPEC §9): the same mapping,
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

    /// SCIM `DELETE`: deactivated as `scim_deleted`, kept with its history (SPEC §3, §9).
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

    async fn create(
        &self,
        config: &TenantConfig,
        target: &Target<'_>,
        actor: Actor,
        mode: Mode,
    ) -> Result<Written, ProvisionError> {
        let mapped = target.mapped;
        let email = mapped
            .email
            .clone()
            .ok_or_else(|| ProvisionError::Invalid("the profile has no valid email address".into()))?;
        let now = self.clock.now();
        let mut user = User::new(UserId::from_random(self.random.bytes16()), email, String::new(), String::new(), now);
        target.stamp(&mut user);
        if mode == Mode::DryRun {
            return Ok(Written { outcome: Outcome::Created, user: None, fields: Vec::new() });
        }
        let mut pending = PendingList::new();
        self.place(config, &mut user, mapped, actor, &mut pending, mode).await?;
        if let Some(approvers) = target.approvers {
            self.place_approvers(&config.tenant, &mut user, approvers, &mut pending).await?;
        }
        let invite = config.invite_automatically && user.status == UserStatus::Active;
        if invite {
            user.invited_at = Some(now);
        }
        let mut changes =
            vec![self.change(actor, EntityKind::User, user.id.as_str(), Action::Created, diff(None, &user))];
        if invite {
            changes.push(self.change(actor, EntityKind::User, user.id.as_str(), Action::Invited, Default::default()));
        }
        let stored = self.writer.create_user(&config.tenant, &user, &changes).await?;
        tracing::info!(user_id = %stored.id, "user created");
        self.after_write(config, &stored, pending, actor, true).await?;
        Ok(Written { outcome: Outcome::Created, user: Some(stored), fields: Vec::new() })
    }

    async fn update(
        &self,
        config: &TenantConfig,
        target: &Target<'_>,
        before: User,
        actor: Actor,
        mode: Mode,
    ) -> Result<Written, ProvisionError> {
        let mapped = target.mapped;
        let mut after = before.clone();
        target.stamp(&mut after);
        let reactivating = before.status == UserStatus::Deactivated && after.status == UserStatus::Active;
        let deactivating = before.status == UserStatus::Active && after.status == UserStatus::Deactivated;
        let mut pending = PendingList::new();
        self.place(config, &mut after, mapped, actor, &mut pending, mode).await?;
        if let Some(approvers) = target.approvers {
            self.place_approvers(&config.tenant, &mut after, approvers, &mut pending).await?;
        }
        let invite = reactivating && config.invite_automatically && before.invited_at.is_none();
        if invite {
            after.invited_at = Some(self.clock.now());
        }
        let changed = diff(Some(&before), &after);
        if changed.is_empty() {
            if mode == Mode::Apply {
                self.register(&config.tenant, pending, actor).await?;
            }
            return Ok(Written { outcome: Outcome::Unchanged, user: Some(before), fields: Vec::new() });
        }
        let fields: Vec<String> = changed.keys().cloned().collect();
        let (action, outcome) = if reactivating {
            (Action::Reactivated, Outcome::Reactivated)
        } else if deactivating {
            (Action::Deactivated, Outcome::Deactivated)
        } else {
            (Action::Updated, Outcome::Updated)
        };
        if mode == Mode::DryRun {
            return Ok(Written { outcome, user: Some(before), fields });
        }
        after.updated_at = self.clock.now();
        let mut changes = vec![self.change(actor, EntityKind::User, before.id.as_str(), action, changed)];
        if invite {
            changes.push(self.change(actor, EntityKind::User, before.id.as_str(), Action::Invited, Default::default()));
        }
        let stored = self.writer.update_user(&config.tenant, &before, &after, &changes).await?;
        let identity_changed = !before.email.same_address(&stored.email)
            || before.okta_id != stored.okta_id
            || before.external_id != stored.external_id;
        self.after_write(config, &stored, pending, actor, identity_changed || reactivating).await?;
        tracing::info!(user_id = %stored.id, ?action, "user written");
        Ok(Written { outcome, user: Some(stored), fields })
    }

    /// Resolves each approver's email to a user, or leaves it pending until one exists.
    async fn place_approvers(
        &self,
        tenant: &TenantId,
        user: &mut User,
        emails: &[Email],
        pending: &mut PendingList,
    ) -> Result<(), ProvisionError> {
        let mut approvers = Vec::with_capacity(emails.len());
        for email in emails {
            let found = self.users.find_by_email(tenant, email).await?;
            if found.as_ref().is_some_and(|f| f.id == user.id) || email.same_address(&user.email) {
                user.warnings.push(FieldWarning {
                    field: "approvers".into(),
                    message: "a user cannot approve for themselves".into(),
                });
                continue;
            }
            if found.is_none() {
                pending.push((ManagerRef::Email(email.clone()), Waiting::UserApprover(user.id.clone())));
            }
            approvers.push(Approver { email: email.clone(), user_id: found.map(|f| f.id) });
        }
        user.approvers = approvers;
        Ok(())
    }

    /// Records pending references, then looks once more for their targets: a manager created
    /// concurrently may have checked for waiters just before this registration, and would never
    /// see it. Either that manager's check sees the record, or this look sees the manager.
    async fn register(&self, tenant: &TenantId, pending: PendingList, actor: Actor) -> Result<(), ProvisionError> {
        for (target, waiting) in pending {
            let reference = target.key();
            self.pending.add_pending(tenant, &reference, &waiting).await?;
            if let Some(manager) = self.lookup(tenant, &target).await? {
                self.resolve_one(tenant, &reference, &waiting, &manager, actor).await?;
            }
        }
        Ok(())
    }

    async fn resolve_one(
        &self,
        tenant: &TenantId,
        reference: &str,
        waiting: &Waiting,
        manager: &User,
        actor: Actor,
    ) -> Result<(), ProvisionError> {
        match waiting {
            Waiting::UserManager(id) => self.resolve_user_manager(tenant, id, reference, manager, actor).await?,
            Waiting::TeamManager(key) => self.resolve_team_manager(tenant, key, reference, manager, actor).await?,
            Waiting::UserApprover(id) => self.resolve_approver(tenant, id, manager, actor).await?,
            Waiting::GroupMember(group) => self.resolve_member(tenant, group, reference, manager, actor).await?,
        }
        self.pending.remove_pending(tenant, reference, waiting).await?;
        Ok(())
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

    /// Registers the user's own pending references, then resolves those waiting for this user.
    async fn after_write(
        &self,
        config: &TenantConfig,
        user: &User,
        pending: PendingList,
        actor: Actor,
        resolve: bool,
    ) -> Result<(), ProvisionError> {
        self.register(&config.tenant, pending, actor).await?;
        if resolve {
            self.resolve_waiting(config, user, actor).await?;
        }
        Ok(())
    }

    async fn lookup(&self, tenant: &TenantId, reference: &ManagerRef) -> Result<Option<User>, ProvisionError> {
        Ok(match reference {
            ManagerRef::OktaId(id) => self.users.find_by_okta_id(tenant, id).await?,
            ManagerRef::Email(e) => self.users.find_by_email(tenant, e).await?,
            ManagerRef::Id(id) => self.users.get_user(tenant, id).await?,
            ManagerRef::External(x) => self.users.find_by_external_id(tenant, x).await?,
        })
    }

    /// Would `user` reporting to `manager` close a loop?
    async fn would_cycle(&self, tenant: &TenantId, user: &UserId, manager: &User) -> Result<bool, ProvisionError> {
        let mut current = manager.clone();
        for _ in 0..MAX_CHAIN {
            if &current.id == user {
                return Ok(true);
            }
            match &current.manager_id {
                Some(next) if next == user => return Ok(true),
                Some(next) => match self.users.get_user(tenant, next).await? {
                    Some(u) => current = u,
                    None => return Ok(false),
                },
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// Sets the user's team and manager per the tenant's manager mode (SPEC §7).
    async fn place(
        &self,
        config: &TenantConfig,
        user: &mut User,
        mapped: &Mapped,
        actor: Actor,
        pending: &mut PendingList,
        mode: Mode,
    ) -> Result<(), ProvisionError> {
        let team = match user.primary_team.clone() {
            Some(name) => Some(self.ensure_team(config, &name, user, mapped, actor, mode).await?),
            None => None,
        };
        match config.manager_mode {
            ManagerMode::None => {}
            ManagerMode::Individual => self.place_own_manager(config, user, &mapped.manager, pending).await?,
            ManagerMode::TeamFirstUser => {
                let team = match team {
                    Some(team) if mode == Mode::Apply => {
                        Some(self.follow_first_user(config, team, user, &mapped.manager, actor).await?)
                    }
                    other => other,
                };
                match (&mapped.manager, team) {
                    // A member's own manager from Okta is their override, whatever the team's.
                    (Field::Set(_), _) => self.place_own_manager(config, user, &mapped.manager, pending).await?,
                    (_, Some(team)) if team.manager_id.as_ref() != Some(&user.id) => {
                        let inherited = match &team.manager_id {
                            Some(id) => self.users.get_user(&config.tenant, id).await?,
                            None => None,
                        };
                        match inherited {
                            Some(m) if self.would_cycle(&config.tenant, &user.id, &m).await? => {
                                user.manager_id = None;
                                user.pending_manager = None;
                                user.warnings.push(FieldWarning {
                                    field: "manager".into(),
                                    message: "the team's manager refused: it would make a management cycle".into(),
                                });
                            }
                            _ => {
                                user.manager_id = team.manager_id.clone();
                                user.pending_manager = team.pending_manager.clone();
                                if let Some(target) = team.pending_manager.as_deref().and_then(ManagerRef::from_key) {
                                    pending.push((target, Waiting::UserManager(user.id.clone())));
                                }
                            }
                        }
                    }
                    _ => {
                        user.manager_id = None;
                        user.pending_manager = None;
                    }
                }
            }
        }
        Ok(())
    }

    /// The user's own manager from the identity provider (an override in `team_first_user`
    /// mode): resolved, refused with a warning (themselves, a cycle), or pending.
    async fn place_own_manager(
        &self,
        config: &TenantConfig,
        user: &mut User,
        manager: &Field<ManagerRef>,
        pending: &mut PendingList,
    ) -> Result<(), ProvisionError> {
        match manager {
            Field::Keep => {}
            Field::Clear => {
                user.manager_id = None;
                user.pending_manager = None;
            }
            Field::Set(reference) => match self.lookup(&config.tenant, reference).await? {
                Some(m) if m.id == user.id => {
                    user.warnings.push(FieldWarning {
                        field: "manager".into(),
                        message: "a user cannot manage themselves".into(),
                    });
                }
                Some(m) if self.would_cycle(&config.tenant, &user.id, &m).await? => {
                    user.warnings.push(FieldWarning {
                        field: "manager".into(),
                        message: "refused: it would make a management cycle".into(),
                    });
                }
                Some(m) => {
                    user.manager_id = Some(m.id);
                    user.pending_manager = None;
                }
                None => {
                    user.manager_id = None;
                    user.pending_manager = Some(reference.key());
                    pending.push((reference.clone(), Waiting::UserManager(user.id.clone())));
                }
            },
        }
        Ok(())
    }

    /// `team_first_user`: when the team's first user's manager changes in Okta, the team's manager
    /// follows (members without an override of their own get the new one at their next
    /// convergence: a hook, or the nightly sync at the latest). Returns the team as it is now.
    async fn follow_first_user(
        &self,
        config: &TenantConfig,
        team: Team,
        user: &User,
        manager: &Field<ManagerRef>,
        actor: Actor,
    ) -> Result<Team, ProvisionError> {
        if team.first_user.as_ref() != Some(&user.id) || matches!(manager, Field::Keep) {
            return Ok(team);
        }
        let (manager_id, pending_manager, target) = match manager {
            Field::Set(reference) => match self.lookup(&config.tenant, reference).await? {
                // The first user cannot manage their own team through themselves: no team manager.
                Some(m) if m.id == user.id => (None, None, None),
                Some(m) => (Some(m.id), None, None),
                None => (None, Some(reference.key()), Some(reference.clone())),
            },
            _ => (None, None, None),
        };
        if team.manager_id == manager_id && team.pending_manager == pending_manager {
            return Ok(team);
        }
        let mut after = team.clone();
        after.manager_id = manager_id;
        after.pending_manager = pending_manager;
        after.updated_at = self.clock.now();
        let c = self.change(actor, EntityKind::Team, &team.key, Action::Updated, diff(Some(&team), &after));
        let stored = match self.teams.update_team(&config.tenant, &team, &after, &c).await {
            Ok(stored) => stored,
            // Someone else changed the team: the next convergence of this user tries again.
            Err(StoreError::VersionConflict) => return Ok(team),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(team = %team.key, "team manager follows its first user's manager");
        if let Some(target) = target {
            self.register(&config.tenant, vec![(target, Waiting::TeamManager(team.key.clone()))], actor).await?;
            return self.teams.get_team(&config.tenant, &team.key).await?.ok_or(ProvisionError::Conflict);
        }
        Ok(stored)
    }

    /// The team named by the department, created on first use. In `team_first_user` mode the
    /// creating user's manager becomes the team's manager.
    async fn ensure_team(
        &self,
        config: &TenantConfig,
        name: &str,
        user: &User,
        mapped: &Mapped,
        actor: Actor,
        mode: Mode,
    ) -> Result<Team, ProvisionError> {
        let key = team_key(name);
        if let Some(team) = self.teams.get_team(&config.tenant, &key).await? {
            return Ok(team);
        }
        if mode == Mode::DryRun {
            return Ok(Team::new(name, self.clock.now()));
        }
        let mut team = Team::new(name, self.clock.now());
        let mut pending_target = None;
        if config.manager_mode == ManagerMode::TeamFirstUser {
            team.first_user = Some(user.id.clone());
            if let Field::Set(reference) = &mapped.manager {
                match self.lookup(&config.tenant, reference).await? {
                    Some(m) if m.id != user.id => team.manager_id = Some(m.id),
                    Some(_) => {}
                    None => {
                        team.pending_manager = Some(reference.key());
                        pending_target = Some(reference.clone());
                    }
                }
            }
        }
        let c = self.change(actor, EntityKind::Team, &key, Action::Created, diff(None, &team));
        match self.teams.create_team(&config.tenant, &team, &c).await {
            Ok(created) => {
                if let Some(target) = pending_target {
                    self.register(&config.tenant, vec![(target, Waiting::TeamManager(key.clone()))], actor).await?;
                    // Registration may have resolved it already: read the team as it is now.
                    return self.teams.get_team(&config.tenant, &key).await?.ok_or(ProvisionError::Conflict);
                }
                tracing::info!(team = %key, "team created");
                Ok(created)
            }
            Err(StoreError::AlreadyExists) => {
                self.teams.get_team(&config.tenant, &key).await?.ok_or(ProvisionError::Conflict)
            }
            Err(e) => Err(e.into()),
        }
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

    /// Resolves every pending reference that names `user` (by Okta id or email).
    async fn resolve_waiting(&self, config: &TenantConfig, user: &User, actor: Actor) -> Result<(), ProvisionError> {
        let tenant = &config.tenant;
        let mut references = vec![ManagerRef::Email(user.email.clone()).key()];
        if let Some(okta) = &user.okta_id {
            references.push(ManagerRef::OktaId(okta.clone()).key());
        }
        if let Some(x) = &user.external_id {
            references.push(ManagerRef::External(x.clone()).key());
        }
        for reference in references {
            for waiting in self.pending.pending_for(tenant, &reference).await? {
                self.resolve_one(tenant, &reference, &waiting, user, actor).await?;
            }
        }
        Ok(())
    }

    async fn resolve_user_manager(
        &self,
        tenant: &TenantId,
        id: &UserId,
        reference: &str,
        manager: &User,
        actor: Actor,
    ) -> Result<(), ProvisionError> {
        retry_conflicts(move || {
            Box::pin(async move {
                let Some(before) = self.users.get_user(tenant, id).await? else { return Ok(()) };
                if before.pending_manager.as_deref() != Some(reference) {
                    return Ok(());
                }
                let mut after = before.clone();
                after.pending_manager = None;
                if before.id == manager.id || self.would_cycle(tenant, &before.id, manager).await? {
                    after.warnings.push(FieldWarning {
                        field: "manager".into(),
                        message: "refused: it would make a management cycle".into(),
                    });
                } else {
                    after.manager_id = Some(manager.id.clone());
                }
                after.updated_at = self.clock.now();
                let c = self.change(
                    actor,
                    EntityKind::User,
                    before.id.as_str(),
                    Action::Updated,
                    diff(Some(&before), &after),
                );
                self.writer.update_user(tenant, &before, &after, &[c]).await?;
                tracing::info!(user_id = %before.id, manager_id = %manager.id, "pending manager resolved");
                Ok(())
            })
        })
        .await
    }

    async fn resolve_team_manager(
        &self,
        tenant: &TenantId,
        key: &str,
        reference: &str,
        manager: &User,
        actor: Actor,
    ) -> Result<(), ProvisionError> {
        retry_conflicts(move || {
            Box::pin(async move {
                let Some(before) = self.teams.get_team(tenant, key).await? else { return Ok(()) };
                if before.pending_manager.as_deref() != Some(reference) {
                    return Ok(());
                }
                let mut after = before.clone();
                after.pending_manager = None;
                after.manager_id = Some(manager.id.clone());
                after.updated_at = self.clock.now();
                let c = self.change(actor, EntityKind::Team, key, Action::Updated, diff(Some(&before), &after));
                self.teams.update_team(tenant, &before, &after, &c).await?;
                Ok(())
            })
        })
        .await
    }
}

impl Provisioner {
    async fn resolve_approver(
        &self,
        tenant: &TenantId,
        id: &UserId,
        approver: &User,
        actor: Actor,
    ) -> Result<(), ProvisionError> {
        retry_conflicts(move || {
            Box::pin(async move {
                let Some(before) = self.users.get_user(tenant, id).await? else { return Ok(()) };
                let mut after = before.clone();
                for a in after.approvers.iter_mut().filter(|a| a.user_id.is_none()) {
                    if a.email.same_address(&approver.email) && approver.id != before.id {
                        a.user_id = Some(approver.id.clone());
                    }
                }
                if after.approvers == before.approvers {
                    return Ok(());
                }
                after.updated_at = self.clock.now();
                let c = self.change(actor, EntityKind::User, id.as_str(), Action::Updated, diff(Some(&before), &after));
                self.writer.update_user(tenant, &before, &after, &[c]).await?;
                tracing::info!(user_id = %id, approver_id = %approver.id, "pending approver resolved");
                Ok(())
            })
        })
        .await
    }

    /// A group member that named no user now names `user`: the pending record becomes theirs.
    async fn resolve_member(
        &self,
        tenant: &TenantId,
        group: &GroupId,
        reference: &str,
        user: &User,
        actor: Actor,
    ) -> Result<(), ProvisionError> {
        let Some((_, value)) = reference.split_once(':') else { return Ok(()) };
        let placeholder = Member::Pending(value.to_owned());
        let real = Member::User(user.id.clone());
        retry_conflicts(move || {
            let (placeholder, real) = (placeholder.clone(), real.clone());
            Box::pin(async move {
                let now = self.groups.which_members(tenant, group, &[placeholder.clone(), real.clone()]).await?;
                if !now.contains(&placeholder) {
                    return Ok(());
                }
                let add: Vec<Member> = if now.contains(&real) { vec![] } else { vec![real.clone()] };
                let c = membership_change(self.clock.now(), actor, group, &add, std::slice::from_ref(&placeholder));
                match self.groups.change_members(tenant, group, &add, &[placeholder], None, &c).await {
                    Ok(()) => {
                        tracing::info!(group_id = %group, user_id = %user.id, "pending group member resolved");
                        Ok(())
                    }
                    Err(e) => Err(e.into()),
                }
            })
        })
        .await
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

type Attempt<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ProvisionError>> + Send + 'a>>;

/// Re-runs a read-modify-write while another writer got there first (at most 5 times).
async fn retry_conflicts<'a>(mut attempt: impl FnMut() -> Attempt<'a>) -> Result<(), ProvisionError> {
    for _ in 0..5 {
        match attempt().await {
            Err(ProvisionError::Conflict) => continue,
            other => return other,
        }
    }
    Err(ProvisionError::Conflict)
}
