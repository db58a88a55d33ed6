//! A tenant wired to its own Okta simulator, with event hooks pointing at the app.
use harness::okta_sim::{DeliverOptions, HookTarget, OktaSim};
use serde_json::{json, Map, Value};
use shared::domain::TenantId;

use crate::helpers::TestApp;

pub struct World {
    pub app: TestApp,
    pub sim: OktaSim,
    pub tenant: String,
    pub hook_secret: String,
}

pub const SIM_TOKEN: &str = "00sim-api-token-for-tests";

impl World {
    pub async fn new(manager_mode: &str) -> Self {
        let app = TestApp::spawn().await;
        Self::in_app(app, "acme", manager_mode, false).await
    }

    /// A tenant (with its own simulator) in an existing app.
    pub async fn in_app(app: TestApp, tenant: &str, manager_mode: &str, invite: bool) -> Self {
        let sim = OktaSim::start(0, SIM_TOKEN, "0oasimapp").await.expect("simulator starts");
        let config = json!({"okta_domain": sim.base_url, "app_id": "0oasimapp", "provisioning": "event_hooks",
            "manager_mode": manager_mode, "invite_automatically": invite,
            "field_mappings": [{"okta": "costCenter", "field": "cost_center"}]});
        let r = app.admin("PUT", &format!("/admin/tenants/{tenant}"), Some(config)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = app
            .admin(
                "POST",
                &format!("/admin/tenants/{tenant}/secrets/okta_api_token"),
                Some(json!({"value": SIM_TOKEN})),
            )
            .await;
        assert_eq!(r.status, 204);
        let secret = app.admin("POST", &format!("/admin/tenants/{tenant}/event-hook-secret"), None).await.json()
            ["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        let base = app.serve().await;
        let hook_url = format!("{base}/t/{tenant}/webhooks/okta");
        sim.set_hook(HookTarget { url: hook_url, header: "Authorization".into(), secret: secret.clone() });
        Self { app, sim, tenant: tenant.to_owned(), hook_secret: secret }
    }

    pub fn tenant_id(&self) -> TenantId {
        TenantId::parse(&self.tenant).unwrap()
    }

    /// Delivers pending events (plainly) and runs the worker until the queue is empty.
    pub async fn sync(&self) {
        self.sync_with(DeliverOptions::default()).await;
    }

    pub async fn sync_with(&self, opts: DeliverOptions) {
        let statuses = self.sim.deliver(opts).await;
        assert!(statuses.iter().all(|s| *s == 200), "deliveries answered {statuses:?}");
        self.app.drain(true).await;
    }

    pub async fn user_by_okta_id(&self, okta_id: &str) -> Option<Value> {
        let r = self.app.admin("GET", &format!("/admin/tenants/{}/users?okta_id={okta_id}", self.tenant), None).await;
        r.json()["users"].as_array().and_then(|a| a.first().cloned())
    }

    pub async fn all_users(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
            let page =
                self.app.admin("GET", &format!("/admin/tenants/{}/users?limit=200{q}", self.tenant), None).await.json();
            out.extend(page["users"].as_array().cloned().unwrap_or_default());
            match page["next"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }
}

pub fn profile(first: &str, last: &str, email: &str, extra: Value) -> Map<String, Value> {
    let mut p = json!({"firstName": first, "lastName": last, "email": email}).as_object().unwrap().clone();
    if let Value::Object(m) = extra {
        p.extend(m);
    }
    p
}
