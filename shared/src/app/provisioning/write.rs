//! One user write: what it makes of the user (`Target`: the mapped fields, identity keys and
//! lifecycle), and the conditional create or update with its change-log entries, team, manager
//! and approver placement, and pending references.
use chrono::{DateTime, Utc};

use super::pending::PendingList;
use super::{Mode, Outcome, ProvisionError, Provisioner};
use crate::domain::change::{diff, Action, Actor, EntityKind};
use crate::domain::mapping::Mapped;
use crate::domain::scim::user::ScimUser;
use crate::domain::tenant::TenantConfig;
use crate::domain::user::{StatusReason, User, UserStatus};
use crate::domain::{Email, OktaUserId, UserId};

/// What one create or update wrote: the user as stored (as it was, in a dry run) and the fields.
pub(super) struct Written {
    pub(super) outcome: Outcome,
    pub(super) user: Option<User>,
    pub(super) fields: Vec<String>,
}

/// What a write makes of the user besides the mapped fields: its identity keys and lifecycle.
pub(super) struct Target<'a> {
    pub(super) mapped: &'a Mapped,
    pub(super) okta_id: Option<OktaUserId>,
    pub(super) okta_last_updated: Option<DateTime<Utc>>,
    /// `Some` sets the SCIM `externalId` (to a value or none).
    pub(super) external_id: Option<Option<String>>,
    /// `Some` sets the SCIM `userName` (none: it is the email).
    pub(super) user_name: Option<Option<String>>,
    /// `None` keeps the user's lifecycle as it is.
    pub(super) status: Option<UserStatus>,
    pub(super) reason: Option<StatusReason>,
    /// `Some` sets the approvers (SCIM extension).
    pub(super) approvers: Option<&'a [Email]>,
    /// `Some` keeps the SCIM client's attributes as written.
    pub(super) scim_attributes: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// The Okta org an `okta_id` set here belongs to (the tenant's `okta_domain`).
    pub(super) okta_org: Option<String>,
}

impl<'a> Target<'a> {
    pub(super) fn from_okta(okta_id: &OktaUserId, okta: &crate::domain::okta::OktaUser, mapped: &'a Mapped) -> Self {
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

    pub(super) fn from_scim(desired: &'a ScimUser, okta_id: Option<OktaUserId>) -> Self {
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

impl Provisioner {
    pub(super) async fn create(
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

    pub(super) async fn update(
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
}
