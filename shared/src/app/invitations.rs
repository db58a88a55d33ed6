//! Invitations (docs/behaviour/event-hooks.md): an `invited` event in the change log, which the learning platform turns
//! into an email. One user at a time, or everyone active and not yet invited (launch day), in
//! resumable batches so no request outlives its gateway's time limit.
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::instrument;

use super::admin::AdminError;
use super::telemetry::Telemetry;
use crate::domain::change::{Action, Actor, NewChange};
use crate::domain::metrics::Metric;
use crate::domain::user::{User, UserStatus};
use crate::domain::{TenantId, UserId};
use crate::ports::user_store::UserQuery;
use crate::ports::{Clock, ConfigStore, StoreError, UserReader, UserWriter};

/// A bulk request stops after this many invitations or this long, and says where to go on.
pub const BULK_MAX: usize = 500;
pub const BULK_BUDGET: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Serialize)]
pub struct Invited {
    pub user: User,
    /// True when the user had been invited before (this is a resend).
    pub resent: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BulkInvite {
    pub invited: u64,
    pub already_invited: u64,
    pub failed: u64,
    /// False when the request stopped early: send `cursor` back to go on.
    pub done: bool,
    pub cursor: Option<String>,
}

pub struct InvitationService {
    configs: Arc<dyn ConfigStore>,
    users: Arc<dyn UserReader>,
    writer: Arc<dyn UserWriter>,
    telemetry: Arc<Telemetry>,
    clock: Arc<dyn Clock>,
}

impl InvitationService {
    pub fn new(
        configs: Arc<dyn ConfigStore>,
        users: Arc<dyn UserReader>,
        writer: Arc<dyn UserWriter>,
        telemetry: Arc<Telemetry>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { configs, users, writer, telemetry, clock }
    }

    async fn tenant_exists(&self, tenant: &TenantId) -> Result<(), AdminError> {
        self.configs.get_config(tenant).await?.map(|_| ()).ok_or(AdminError::TenantNotFound)
    }

    /// Records the invitation on the user, conditional on the version read.
    async fn write(&self, tenant: &TenantId, before: &User) -> Result<User, StoreError> {
        let now = self.clock.now();
        let mut after = before.clone();
        after.invited_at = Some(now);
        after.updated_at = now;
        let change = NewChange::user(now, Actor::Admin, Action::Invited, before.id.as_str(), before, &after);
        let stored = self.writer.update_user(tenant, before, &after, &[change]).await?;
        self.telemetry.count(tenant, Metric::InvitationsSent, 1);
        Ok(stored)
    }

    /// Invites (or re-invites) one active user.
    #[instrument(skip_all, fields(tenant = %tenant, user_id = %id))]
    pub async fn invite(&self, tenant: &TenantId, id: &str) -> Result<Invited, AdminError> {
        self.tenant_exists(tenant).await?;
        let id = UserId::parse(id).map_err(|_| AdminError::UserNotFound)?;
        for _ in 0..3 {
            let user = self.users.get_user(tenant, &id).await?.ok_or(AdminError::UserNotFound)?;
            if user.status != UserStatus::Active {
                return Err(AdminError::InvalidState(
                    "a deactivated user cannot be invited; reactivate them in Okta".into(),
                ));
            }
            let resent = user.invited_at.is_some();
            match self.write(tenant, &user).await {
                Ok(user) => {
                    tracing::info!(resent, "user invited");
                    return Ok(Invited { user, resent });
                }
                Err(StoreError::VersionConflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AdminError::Conflict)
    }

    /// Invites every active user not yet invited, from `cursor`, until done or the request's
    /// budget is spent. Safe to repeat: invited users are skipped.
    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn invite_all_uninvited(
        &self,
        tenant: &TenantId,
        cursor: Option<String>,
    ) -> Result<BulkInvite, AdminError> {
        self.tenant_exists(tenant).await?;
        let started = Instant::now();
        let mut out = BulkInvite::default();
        let mut cursor = cursor;
        loop {
            let page = self
                .users
                .list_users(tenant, &UserQuery { status: Some(UserStatus::Active), cursor: cursor.clone(), limit: 100 })
                .await?;
            for user in &page.items {
                if user.invited_at.is_some() {
                    out.already_invited += 1;
                    continue;
                }
                match self.write(tenant, user).await {
                    Ok(_) => out.invited += 1,
                    // Changed under us: the next pass (or Okta's next write) will see it again.
                    Err(StoreError::VersionConflict) => out.failed += 1,
                    Err(e) => return Err(e.into()),
                }
            }
            cursor = page.next;
            if cursor.is_none() {
                out.done = out.failed == 0;
                break;
            }
            if out.invited as usize >= BULK_MAX || started.elapsed() >= BULK_BUDGET {
                break;
            }
        }
        out.cursor = cursor;
        tracing::info!(invited = out.invited, done = out.done, "bulk invitation pass");
        Ok(out)
    }
}

#[cfg(test)]
#[cfg(feature = "fakes")]
mod tests {
    use super::*;
    use crate::domain::change::Action;
    use crate::fakes::Fakes;
    use crate::ports::ChangeLog;

    async fn setup(f: &Fakes, n: usize) -> (InvitationService, TenantId, Vec<User>) {
        let t = TenantId::parse("acme").unwrap();
        let input = serde_json::from_value(serde_json::json!({"okta_domain": "https://a.okta.com"})).unwrap();
        f.admin().put_tenant(&t, input).await.unwrap();
        let mut users = Vec::new();
        for i in 0..n {
            let mut u = User::new(
                UserId::from_random([i as u8; 16]),
                crate::domain::Email::parse(&format!("u{i}@x.example")).unwrap(),
                "U".into(),
                format!("{i}"),
                f.clock.now(),
            );
            if i == 0 {
                u.invited_at = Some(f.clock.now());
            }
            users.push(f.store.create_user(&t, &u, &[]).await.unwrap());
        }
        let svc =
            InvitationService::new(f.store.clone(), f.store.clone(), f.store.clone(), f.telemetry(), f.clock.clone());
        (svc, t, users)
    }

    #[tokio::test]
    async fn one_user_invited_then_resent_and_logged_each_time() {
        let f = Fakes::new();
        let (svc, t, users) = setup(&f, 2).await;
        let first = svc.invite(&t, users[1].id.as_str()).await.unwrap();
        assert!(!first.resent && first.user.invited_at.is_some());
        assert!(svc.invite(&t, users[1].id.as_str()).await.unwrap().resent);
        let log = f.store.list_changes(&t, 0, 100).await.unwrap();
        assert_eq!(log.events.iter().filter(|c| c.change.action == Action::Invited).count(), 2);
        assert!(matches!(svc.invite(&t, "usr_nope").await, Err(AdminError::UserNotFound)));
        let other = TenantId::parse("other").unwrap();
        assert!(matches!(svc.invite(&other, users[1].id.as_str()).await, Err(AdminError::TenantNotFound)));
        assert_eq!(f.metrics.get(&t, Metric::InvitationsSent), 2);
    }

    #[tokio::test]
    async fn bulk_invites_only_the_uninvited_and_is_safe_to_repeat() {
        let f = Fakes::new();
        let (svc, t, _) = setup(&f, 5).await;
        let r = svc.invite_all_uninvited(&t, None).await.unwrap();
        assert_eq!((r.invited, r.already_invited, r.done, r.cursor.is_none()), (4, 1, true, true));
        let again = svc.invite_all_uninvited(&t, None).await.unwrap();
        assert_eq!((again.invited, again.already_invited), (0, 5));
    }
}
