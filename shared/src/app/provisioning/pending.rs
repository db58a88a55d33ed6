//! Pending references: a manager, team manager, approver or group member that names no
//! stored user yet is recorded, and resolved the moment that user is written; the registration
//! looks once more for its target so that a concurrent write cannot miss it.
use super::{membership_change, ProvisionError, Provisioner};
use crate::domain::change::{diff, Action, Actor, EntityKind};
use crate::domain::group::Member;
use crate::domain::mapping::{FieldWarning, ManagerRef};
use crate::domain::team::Waiting;
use crate::domain::tenant::TenantConfig;
use crate::domain::user::User;
use crate::domain::{GroupId, TenantId, UserId};

/// Pending references to register once the user they belong to is stored.
pub(super) type PendingList = Vec<(ManagerRef, Waiting)>;

impl Provisioner {
    /// Records pending references, then looks once more for their targets: a manager created
    /// concurrently may have checked for waiters just before this registration, and would never
    /// see it. Either that manager's check sees the record, or this look sees the manager.
    pub(super) async fn register(
        &self,
        tenant: &TenantId,
        pending: PendingList,
        actor: Actor,
    ) -> Result<(), ProvisionError> {
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

    /// Registers the user's own pending references, then resolves those waiting for this user.
    pub(super) async fn after_write(
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

    /// Resolves every pending reference that names `user` (by Okta id or email).
    pub(super) async fn resolve_waiting(
        &self,
        config: &TenantConfig,
        user: &User,
        actor: Actor,
    ) -> Result<(), ProvisionError> {
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
