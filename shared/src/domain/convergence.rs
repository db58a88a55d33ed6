//! The one state machine that turns Okta's truth into what the learning platform stores (docs/behaviour/event-hooks.md).
//! The worker, the nightly sync and SSO's just-in-time path all decide through [`plan`], so a user
//! changed by a hook and then seen by the sync is written once, the same way.
use super::okta::{OktaLifecycle, OktaUser};
use super::user::{StatusReason, User, UserStatus};

/// What Okta says about one user right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    /// `GET /api/v1/users/{id}` answered 404: deleted in Okta.
    Gone,
    Present {
        user: OktaUser,
        assigned: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Nothing to store (for example an unassigned user who was never provisioned).
    Nothing,
    /// The stored state came from a newer Okta state than this one: an older state never wins.
    Stale,
    Deactivate(StatusReason),
    /// Create, update or reactivate from the Okta profile.
    Upsert,
}

pub fn plan(truth: &Truth, existing: Option<&User>) -> Plan {
    let okta = match truth {
        Truth::Gone => return deactivate(existing, StatusReason::DeletedInOkta),
        Truth::Present { user, .. } => user,
    };
    if let Some(stored) = existing.and_then(|u| u.okta_last_updated) {
        if stored > okta.last_updated {
            return Plan::Stale;
        }
    }
    match (okta.lifecycle(), truth) {
        (OktaLifecycle::Deprovisioned, _) => deactivate(existing, StatusReason::DeactivatedInOkta),
        (OktaLifecycle::Suspended, _) => deactivate(existing, StatusReason::SuspendedInOkta),
        (OktaLifecycle::Active, Truth::Present { assigned: false, .. }) => {
            deactivate(existing, StatusReason::Unassigned)
        }
        _ => Plan::Upsert,
    }
}

fn deactivate(existing: Option<&User>, reason: StatusReason) -> Plan {
    match existing {
        None => Plan::Nothing,
        Some(u) if u.status == UserStatus::Deactivated && u.status_reason == Some(reason) => Plan::Nothing,
        Some(_) => Plan::Deactivate(reason),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::{Email, UserId};

    fn okta(status: &str, at: i64) -> OktaUser {
        OktaUser {
            id: "00u1".into(),
            status: status.into(),
            last_updated: DateTime::from_timestamp(at, 0).unwrap(),
            profile: Default::default(),
        }
    }

    fn stored(status: UserStatus, reason: Option<StatusReason>, at: Option<i64>) -> User {
        let mut u = User::new(
            UserId::from_random([1; 16]),
            Email::parse("a@b.co").unwrap(),
            "A".into(),
            "B".into(),
            Utc::now(),
        );
        u.status = status;
        u.status_reason = reason;
        u.okta_last_updated = at.map(|t| DateTime::from_timestamp(t, 0).unwrap());
        u
    }

    fn present(status: &str, at: i64, assigned: bool) -> Truth {
        Truth::Present { user: okta(status, at), assigned }
    }

    #[test]
    fn every_row_of_the_spec_table() {
        let active = stored(UserStatus::Active, None, Some(10));
        // assigned → create or reactivate
        assert_eq!(plan(&present("ACTIVE", 10, true), None), Plan::Upsert);
        assert_eq!(plan(&present("PROVISIONED", 10, true), None), Plan::Upsert);
        let off = stored(UserStatus::Deactivated, Some(StatusReason::Unassigned), Some(10));
        assert_eq!(plan(&present("ACTIVE", 10, true), Some(&off)), Plan::Upsert);
        // unassigned → deactivate; never provisioned → nothing
        assert_eq!(plan(&present("ACTIVE", 10, false), Some(&active)), Plan::Deactivate(StatusReason::Unassigned));
        assert_eq!(plan(&present("ACTIVE", 10, false), None), Plan::Nothing);
        // deactivated / suspended in Okta, whatever the assignment
        assert_eq!(
            plan(&present("DEPROVISIONED", 11, true), Some(&active)),
            Plan::Deactivate(StatusReason::DeactivatedInOkta)
        );
        assert_eq!(
            plan(&present("SUSPENDED", 11, true), Some(&active)),
            Plan::Deactivate(StatusReason::SuspendedInOkta)
        );
        // deleted
        assert_eq!(plan(&Truth::Gone, Some(&active)), Plan::Deactivate(StatusReason::DeletedInOkta));
        assert_eq!(plan(&Truth::Gone, None), Plan::Nothing);
        // already in that state
        let deleted = stored(UserStatus::Deactivated, Some(StatusReason::DeletedInOkta), Some(10));
        assert_eq!(plan(&Truth::Gone, Some(&deleted)), Plan::Nothing);
        // a different reason is a change
        let deprov = stored(UserStatus::Deactivated, Some(StatusReason::DeactivatedInOkta), Some(10));
        assert_eq!(plan(&Truth::Gone, Some(&deprov)), Plan::Deactivate(StatusReason::DeletedInOkta));
    }

    #[test]
    fn an_older_okta_state_never_overwrites_a_newer_one() {
        let newer = stored(UserStatus::Deactivated, Some(StatusReason::DeactivatedInOkta), Some(20));
        assert_eq!(plan(&present("ACTIVE", 19, true), Some(&newer)), Plan::Stale);
        assert_eq!(
            plan(&present("ACTIVE", 20, true), Some(&newer)),
            Plan::Upsert,
            "the same state may be applied again"
        );
    }
}
