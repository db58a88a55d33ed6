//! `manager_mode = team_first_user` (docs/behaviour/managers-and-teams.md) on the in-memory ports, through the worker's use
//! case: the team's manager is its first user's manager and follows it when it changes in Okta;
//! members without a manager of their own get the team's; a member's own manager is an override
//! that is honoured; a cycle through the team's manager is refused with a warning.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed test
use std::sync::Arc;

use serde_json::{json, Map, Value};
use shared::app::user_fetch::UserFetchService;
use shared::domain::job::UserFetchJob;
use shared::domain::team::team_key;
use shared::domain::tenant::ManagerMode;
use shared::domain::user::User;
use shared::domain::{OktaUserId, TenantId};
use shared::fakes::{Fakes, MemoryOkta};
use shared::ports::{TeamStore, UserReader};

struct Org {
    f: Fakes,
    tenant: TenantId,
    okta: Arc<MemoryOkta>,
    fetch: UserFetchService,
}

fn profile(name: &str, extra: Value) -> Map<String, Value> {
    let mut p =
        json!({"firstName": name, "lastName": "Test", "email": format!("{}@teams.example", name.to_lowercase())})
            .as_object()
            .cloned()
            .unwrap_or_default();
    p.extend(extra.as_object().cloned().unwrap_or_default());
    p
}

impl Org {
    async fn new() -> Self {
        let f = Fakes::new();
        let tenant = TenantId::parse("teams").unwrap();
        f.event_hook_tenant(&tenant, "0oateams", ManagerMode::TeamFirstUser, 20).await;
        let okta = Arc::new(MemoryOkta::new("0oateams"));
        let fetch = f.user_fetch_service(okta.clone());
        Self { f, tenant, okta, fetch }
    }

    /// Creates and assigns an Okta user, and runs their hook job.
    async fn join(&self, id: &str, p: Map<String, Value>) -> User {
        self.okta.create_user(id, p);
        self.okta.assign(id);
        self.hook(id).await
    }

    async fn hook(&self, id: &str) -> User {
        let job = UserFetchJob {
            tenant: self.tenant.clone(),
            okta_user_id: OktaUserId::parse(id).unwrap(),
            cause: "test".into(),
            event_uuid: format!("e-{id}"),
            published: None,
        };
        self.fetch.process(&job).await.unwrap();
        self.user(id).await
    }

    async fn user(&self, id: &str) -> User {
        self.f.store.find_by_okta_id(&self.tenant, &OktaUserId::parse(id).unwrap()).await.unwrap().unwrap()
    }
}

#[tokio::test]
async fn the_team_manager_follows_the_first_user_and_overrides_are_honoured() {
    let o = Org::new().await;
    let boss = o.join("00uboss0000000000001", profile("Bea", json!({}))).await;
    let boss2 = o.join("00uboss0000000000002", profile("Bo", json!({}))).await;
    let ray = o.join("00uray00000000000001", profile("Ray", json!({}))).await;
    // Fay creates the team Sales: her manager is the team's.
    let fay =
        o.join("00ufay00000000000001", profile("Fay", json!({"department": "Sales", "managerId": boss.okta_id}))).await;
    assert_eq!(fay.manager_id.as_ref(), Some(&boss.id));
    let team = o.f.store.get_team(&o.tenant, &team_key("Sales")).await.unwrap().unwrap();
    assert_eq!((team.manager_id.as_ref(), team.first_user.as_ref()), (Some(&boss.id), Some(&fay.id)));
    // Sam has no manager of his own: the team's. Rey has one: an override, honoured.
    let sam = o.join("00usam00000000000001", profile("Sam", json!({"department": "sales"}))).await;
    assert_eq!(sam.manager_id.as_ref(), Some(&boss.id));
    let rey =
        o.join("00urey00000000000001", profile("Rey", json!({"department": "Sales", "managerId": ray.okta_id}))).await;
    assert_eq!(rey.manager_id.as_ref(), Some(&ray.id), "a member's own manager overrides the team's");

    // Fay's manager changes in Okta: the team's manager follows; Sam gets it at his next convergence.
    o.okta.update_profile("00ufay00000000000001", json!({"managerId": boss2.okta_id}).as_object().cloned().unwrap());
    let fay = o.hook("00ufay00000000000001").await;
    assert_eq!(fay.manager_id.as_ref(), Some(&boss2.id));
    let team = o.f.store.get_team(&o.tenant, &team_key("Sales")).await.unwrap().unwrap();
    assert_eq!(team.manager_id.as_ref(), Some(&boss2.id), "the team's manager follows its first user's");
    let sam = o.hook("00usam00000000000001").await;
    assert_eq!(sam.manager_id.as_ref(), Some(&boss2.id));
    let rey = o.hook("00urey00000000000001").await;
    assert_eq!(rey.manager_id.as_ref(), Some(&ray.id), "the override stays");

    // Bea now reports to Sam; then Fay's manager becomes Bea again, so the team's manager is Bea.
    // Sam inheriting Bea would close a loop (Sam → Bea → Sam): refused with a warning.
    o.okta.update_profile("00uboss0000000000001", json!({"managerId": sam.okta_id}).as_object().cloned().unwrap());
    let bea = o.hook("00uboss0000000000001").await;
    assert_eq!(bea.manager_id.as_ref(), Some(&sam.id));
    o.okta.update_profile("00ufay00000000000001", json!({"managerId": boss.okta_id}).as_object().cloned().unwrap());
    o.hook("00ufay00000000000001").await;
    let team = o.f.store.get_team(&o.tenant, &team_key("Sales")).await.unwrap().unwrap();
    assert_eq!(team.manager_id.as_ref(), Some(&boss.id));
    let sam = o.hook("00usam00000000000001").await;
    assert_eq!(sam.manager_id, None, "{sam:?}");
    assert!(sam.warnings.iter().any(|w| w.message.contains("cycle")), "{:?}", sam.warnings);
}

/// A link made through another Okta org is re-confirmed by this org's own provisioning: a hook
/// job (read with this org's API token) stamps the user's Okta org, so sign-in trusts it again.
#[tokio::test]
async fn this_orgs_provisioning_confirms_a_link_made_through_another_org() {
    use shared::ports::UserWriter;
    let o = Org::new().await;
    let ann = o.join("00uann00000000000001", profile("Ann", json!({}))).await;
    assert_eq!(ann.okta_org.as_deref(), Some("https://teams.okta.com"));
    let mut moved = ann.clone();
    moved.okta_org = Some("https://old.okta.com".into());
    o.f.store.update_user(&o.tenant, &ann, &moved, &[]).await.unwrap();
    let again = o.hook("00uann00000000000001").await;
    assert_eq!(again.okta_org.as_deref(), Some("https://teams.okta.com"));
}
