//! Converging a stored user to Okta's truth: the one state machine behind the worker, the nightly
//! sync and just-in-time sign-in (SPEC §5–7). It decides with [`plan`], maps with
//! [`map_profile`], places the user in a team and under a manager, writes conditionally with
//! change-log entries, and resolves pending references the moment their target appears.
use std::sync::Arc;

use serde::Serialize;
use tracing::instrument;

use crate::domain::change::{diff, Action, Actor, EntityKind, NewChange};
use crate::domain::convergence::{plan, Plan, Truth};
use crate::domain::mapping::{map_profile, Field, FieldWarning, ManagerRef, Mapped, MappingRules};
use crate::domain::team::{team_key, Team, Waiting};
use crate::domain::tenant::{ManagerMode, TenantConfig};
use crate::domain::user::{User, UserStatus};
use crate::domain::{Email, OktaUserId, TenantId, UserId};
use crate::ports::{Clock, PendingStore, Random, StoreError, TeamStore, UniqueField, UserReader, UserWriter};

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
            other => Self::Store(other),
        }
    }
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
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

/// Pending references to register once the user they belong to is stored.
type PendingList = Vec<(ManagerRef, Waiting)>;

impl Provisioner {
    pub fn new(
        users: Arc<dyn UserReader>,
        writer: Arc<dyn UserWriter>,
        teams: Arc<dyn TeamStore>,
        pending: Arc<dyn PendingStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self { users, writer, teams, pending, clock, random }
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
    #[instrument(skip_all, fields(tenant = %config.tenant, okta_user = %okta_id))]
    pub async fn converge(
        &self,
        config: &TenantConfig,
        okta_id: &OktaUserId,
        truth: &Truth,
        actor: Actor,
        mode: Mode,
    ) -> Result<Outcome, ProvisionError> {
        let tenant = &config.tenant;
        let email = match truth {
            Truth::Present { user, .. } => user.attr("email").and_then(|e| Email::parse(&e).ok()),
            Truth::Gone => None,
        };
        let existing = self.find(tenant, okta_id, email.as_ref()).await?;
        match plan(truth, existing.as_ref()) {
            Plan::Nothing => Ok(Outcome::Unchanged),
            Plan::Stale => {
                tracing::info!("older Okta state ignored");
                Ok(Outcome::Stale)
            }
            Plan::Deactivate(_) if mode == Mode::DryRun => Ok(Outcome::Deactivated),
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
                Ok(Outcome::Deactivated)
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
                match existing {
                    None => self.create(config, okta_id, okta, &mapped, actor, mode).await,
                    Some(before) => self.update(config, okta_id, okta, &mapped, before, actor, mode).await,
                }
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
        after.status_reason = Some(crate::domain::user::StatusReason::Unassigned);
        after.updated_at = self.clock.now();
        let c = self.change(actor, EntityKind::User, user.id.as_str(), Action::Deactivated, diff(Some(user), &after));
        self.writer.update_user(&config.tenant, user, &after, &[c]).await?;
        tracing::info!(user_id = %user.id, "user deactivated: no longer assigned in Okta");
        Ok(Outcome::Deactivated)
    }

    async fn create(
        &self,
        config: &TenantConfig,
        okta_id: &OktaUserId,
        okta: &crate::domain::okta::OktaUser,
        mapped: &Mapped,
        actor: Actor,
        mode: Mode,
    ) -> Result<Outcome, ProvisionError> {
        let email = mapped
            .email
            .clone()
            .ok_or_else(|| ProvisionError::Invalid("the Okta profile has no valid email address".into()))?;
        let now = self.clock.now();
        let mut user = User::new(UserId::from_random(self.random.bytes16()), email, String::new(), String::new(), now);
        user.okta_id = Some(okta_id.clone());
        mapped.apply_to(&mut user);
        user.okta_last_updated = Some(okta.last_updated);
        if mode == Mode::DryRun {
            return Ok(Outcome::Created);
        }
        let mut pending = PendingList::new();
        self.place(config, &mut user, mapped, actor, &mut pending, mode).await?;
        if config.invite_automatically {
            user.invited_at = Some(now);
        }
        let mut changes =
            vec![self.change(actor, EntityKind::User, user.id.as_str(), Action::Created, diff(None, &user))];
        if config.invite_automatically {
            changes.push(self.change(actor, EntityKind::User, user.id.as_str(), Action::Invited, Default::default()));
        }
        let stored = self.writer.create_user(&config.tenant, &user, &changes).await?;
        tracing::info!(user_id = %stored.id, "user created");
        self.after_write(config, &stored, pending, actor, true).await?;
        Ok(Outcome::Created)
    }

    #[allow(clippy::too_many_arguments)]
    async fn update(
        &self,
        config: &TenantConfig,
        okta_id: &OktaUserId,
        okta: &crate::domain::okta::OktaUser,
        mapped: &Mapped,
        before: User,
        actor: Actor,
        mode: Mode,
    ) -> Result<Outcome, ProvisionError> {
        let mut after = before.clone();
        mapped.apply_to(&mut after);
        after.okta_id = Some(okta_id.clone());
        let reactivating = before.status == UserStatus::Deactivated;
        after.status = UserStatus::Active;
        after.status_reason = None;
        after.okta_last_updated = Some(okta.last_updated);
        let mut pending = PendingList::new();
        self.place(config, &mut after, mapped, actor, &mut pending, mode).await?;
        let invite = reactivating && config.invite_automatically && before.invited_at.is_none();
        if invite {
            after.invited_at = Some(self.clock.now());
        }
        let changed = diff(Some(&before), &after);
        if changed.is_empty() {
            if mode == Mode::Apply {
                self.register(&config.tenant, pending, actor).await?;
            }
            return Ok(Outcome::Unchanged);
        }
        if mode == Mode::DryRun {
            return Ok(if reactivating { Outcome::Reactivated } else { Outcome::Updated });
        }
        after.updated_at = self.clock.now();
        let action = if reactivating { Action::Reactivated } else { Action::Updated };
        let mut changes = vec![self.change(actor, EntityKind::User, before.id.as_str(), action, changed)];
        if invite {
            changes.push(self.change(actor, EntityKind::User, before.id.as_str(), Action::Invited, Default::default()));
        }
        let stored = self.writer.update_user(&config.tenant, &before, &after, &changes).await?;
        let identity_changed = !before.email.same_address(&stored.email) || before.okta_id != stored.okta_id;
        self.after_write(config, &stored, pending, actor, identity_changed || reactivating).await?;
        tracing::info!(user_id = %stored.id, ?action, "user written");
        Ok(if reactivating { Outcome::Reactivated } else { Outcome::Updated })
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
        }
        self.pending.remove_pending(tenant, reference, waiting).await?;
        Ok(())
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
            ManagerMode::Individual => match &mapped.manager {
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
            },
            ManagerMode::TeamFirstUser => match team {
                Some(team) if team.manager_id.as_ref() != Some(&user.id) => {
                    user.manager_id = team.manager_id.clone();
                    user.pending_manager = team.pending_manager.clone();
                    if let Some(target) = team.pending_manager.as_deref().and_then(ManagerRef::from_key) {
                        pending.push((target, Waiting::UserManager(user.id.clone())));
                    }
                }
                _ => {
                    user.manager_id = None;
                    user.pending_manager = None;
                }
            },
        }
        Ok(())
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

    /// Resolves every pending reference that names `user` (by Okta id or email).
    async fn resolve_waiting(&self, config: &TenantConfig, user: &User, actor: Actor) -> Result<(), ProvisionError> {
        let tenant = &config.tenant;
        let mut references = vec![ManagerRef::Email(user.email.clone()).key()];
        if let Some(okta) = &user.okta_id {
            references.push(ManagerRef::OktaId(okta.clone()).key());
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
