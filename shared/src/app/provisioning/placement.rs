//! Placing a user (docs/behaviour/managers-and-teams.md): their team, created on first use, and their manager per the
//! tenant's manager mode (their own, or the team's in `team_first_user`, which follows the team's
//! first user), refused when it would make a management cycle; and their approvers. A reference
//! naming no stored user yet is left pending.
use super::pending::PendingList;
use super::{Mode, ProvisionError, Provisioner};
use crate::domain::change::{diff, Action, Actor, EntityKind};
use crate::domain::mapping::{Field, FieldWarning, ManagerRef, Mapped};
use crate::domain::team::{team_key, Team, Waiting};
use crate::domain::tenant::{ManagerMode, TenantConfig};
use crate::domain::user::{Approver, User};
use crate::domain::{Email, TenantId, UserId};
use crate::ports::StoreError;

/// How far up a manager chain to look for a cycle.
const MAX_CHAIN: usize = 64;

impl Provisioner {
    /// Resolves each approver's email to a user, or leaves it pending until one exists.
    pub(super) async fn place_approvers(
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

    /// Would `user` reporting to `manager` close a loop?
    pub(super) async fn would_cycle(
        &self,
        tenant: &TenantId,
        user: &UserId,
        manager: &User,
    ) -> Result<bool, ProvisionError> {
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

    /// Sets the user's team and manager per the tenant's manager mode (docs/behaviour/managers-and-teams.md).
    pub(super) async fn place(
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
}
