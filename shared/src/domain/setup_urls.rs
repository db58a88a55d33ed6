//! The URLs a tenant's admin pastes into Okta (docs/behaviour/admin-api.md, docs/behaviour/integration-page.md):
//! built from configuration, never from a request's `Host`, and the same ones the functions
//! check what Okta sends against.
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SamlUrls {
    pub entity_id: String,
    pub acs_url: String,
    /// Every ACS URL we accept (the tenant's host, and the `/t/{tenant}` form when it differs).
    pub acs_urls: Vec<String>,
    pub metadata_url: String,
    pub sign_in: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupUrls {
    pub base: String,
    pub event_hook: String,
    pub scim_base: String,
    pub sign_in: String,
    pub oidc_redirect_uris: Vec<String>,
    pub post_logout_redirect_uri: String,
    pub saml: SamlUrls,
    /// Every event-hook URL the receiver answers for this tenant (canonical first).
    #[serde(skip)]
    pub event_hooks: Vec<String>,
}

impl SetupUrls {
    /// From the tenant's canonical base (`https://acme.example.com`) and its `/t/{tenant}` form
    /// (`https://api.example.com/t/acme`; the same when tenants have no host of their own).
    pub fn new(base: &str, prefixed: &str) -> Self {
        let both = |path: &str| {
            let mut v = vec![format!("{base}{path}")];
            if prefixed != base {
                v.push(format!("{prefixed}{path}"));
            }
            v
        };
        Self {
            base: base.to_owned(),
            event_hook: format!("{base}/webhooks/okta"),
            scim_base: format!("{base}/scim/v2"),
            sign_in: format!("{base}/okta/login"),
            oidc_redirect_uris: both("/okta/auth_callback"),
            post_logout_redirect_uri: format!("{base}/"),
            saml: SamlUrls {
                entity_id: format!("{base}/saml/metadata"),
                acs_url: format!("{base}/saml/acs"),
                acs_urls: both("/saml/acs"),
                metadata_url: format!("{base}/saml/metadata"),
                sign_in: format!("{base}/saml/login"),
            },
            event_hooks: both("/webhooks/okta"),
        }
    }
}
