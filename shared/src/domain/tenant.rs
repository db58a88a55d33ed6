//! A tenant's integration config (docs/behaviour/tenants-and-routing.md, docs/behaviour/admin-api.md) and its validation.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::TenantId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Provisioning {
    #[default]
    None,
    EventHooks,
    Scim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ManagerMode {
    #[default]
    Individual,
    TeamFirstUser,
    None,
}

/// How the tenant's people sign in (docs/behaviour/sign-in.md): OpenID Connect, or SAML 2.0 (the
/// only sign-in Okta offers on an app integration that also provisions by SCIM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SsoProtocol {
    #[default]
    Oidc,
    Saml,
}

fn default_true() -> bool {
    true
}

/// One tenant-defined mapping from an Okta profile attribute to a custom field (docs/behaviour/field-mapping.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    pub okta: String,
    pub field: String,
}

pub const DEFAULT_AUTH_HEADER: &str = "Authorization";
pub const DEFAULT_BRAKE_PERCENT: u8 = 20;
pub const MAX_FIELD_MAPPINGS: usize = 50;

/// A tenant's stored integration config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantConfig {
    pub tenant: TenantId,
    pub okta_domain: String,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub app_id: Option<String>,
    pub sso_enabled: bool,
    #[serde(default)]
    pub sso_protocol: SsoProtocol,
    /// SAML: where the IdP publishes its metadata (https), or the metadata itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml_idp_metadata_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml_idp_metadata_xml: Option<String>,
    /// SAML: sign-ins started from the IdP (an Okta dashboard tile) are accepted.
    #[serde(default = "default_true")]
    pub saml_allow_idp_initiated: bool,
    pub provisioning: Provisioning,
    pub invite_automatically: bool,
    pub manager_mode: ManagerMode,
    pub jit_provisioning: bool,
    pub deactivation_brake_percent: u8,
    pub event_hook_auth_header: String,
    pub field_mappings: Vec<FieldMapping>,
    /// The Okta profile attribute holding the avatar URL (docs/behaviour/field-mapping.md: configurable, default `avatarUrl`).
    #[serde(default)]
    pub avatar_attribute: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version: every write is conditional on it.
    pub version: u64,
}

impl TenantConfig {
    /// The OIDC issuer: the custom authorization server if set, else the org (docs/behaviour/admin-api.md).
    pub fn effective_issuer(&self) -> &str {
        self.issuer.as_deref().unwrap_or(&self.okta_domain)
    }

    /// Event hooks also enable the nightly sync (docs/behaviour/tenants-and-routing.md).
    pub fn syncs_nightly(&self) -> bool {
        self.provisioning == Provisioning::EventHooks
    }
}

/// The body of `PUT /admin/tenants/{t}`: the whole config (omitted switches take their defaults).
///
/// Read-only fields that `GET` returns are accepted and ignored, so a client may send back what it
/// read; anything else unknown is refused, so a misspelt switch never silently does nothing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfigInput {
    pub okta_domain: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub sso_enabled: bool,
    #[serde(default)]
    pub sso_protocol: SsoProtocol,
    #[serde(default)]
    pub saml_idp_metadata_url: Option<String>,
    #[serde(default)]
    pub saml_idp_metadata_xml: Option<String>,
    #[serde(default)]
    pub saml_allow_idp_initiated: Option<bool>,
    #[serde(default)]
    pub provisioning: Provisioning,
    #[serde(default)]
    pub invite_automatically: bool,
    #[serde(default)]
    pub manager_mode: ManagerMode,
    #[serde(default)]
    pub jit_provisioning: bool,
    #[serde(default)]
    pub deactivation_brake_percent: Option<i64>,
    #[serde(default)]
    pub event_hook_auth_header: Option<String>,
    #[serde(default)]
    pub field_mappings: Vec<FieldMapping>,
    #[serde(default)]
    pub avatar_attribute: Option<String>,
    // Read-only, ignored.
    #[serde(default, rename = "tenant")]
    _tenant: Option<serde_json::Value>,
    #[serde(default, rename = "created_at")]
    _created_at: Option<serde_json::Value>,
    #[serde(default, rename = "updated_at")]
    _updated_at: Option<serde_json::Value>,
    #[serde(default, rename = "version")]
    _version: Option<serde_json::Value>,
    #[serde(default, rename = "secrets")]
    _secrets: Option<serde_json::Value>,
    #[serde(default, rename = "urls")]
    _urls: Option<serde_json::Value>,
}

/// One thing wrong with a config, named by its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// Every problem found, so the admin fixes them in one go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the tenant config is invalid")]
pub struct InvalidConfig(pub Vec<Problem>);

/// What validation needs to know about the deployment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigRules {
    /// `ALLOW_INSECURE_OKTA=1`: plain `http` Okta domains on loopback (local simulator).
    pub allow_insecure_okta: bool,
}

impl TenantConfigInput {
    /// Validates and builds the config to store. `existing` keeps `created_at` and `version`.
    pub fn into_config(
        self,
        tenant: TenantId,
        existing: Option<&TenantConfig>,
        now: DateTime<Utc>,
        rules: ConfigRules,
    ) -> Result<TenantConfig, InvalidConfig> {
        let mut problems = Vec::new();
        let mut problem =
            |field: &str, message: &str| problems.push(Problem { field: field.into(), message: message.into() });

        let okta_domain = match self.okta_domain.as_deref() {
            None => {
                problem("okta_domain", "is required");
                String::new()
            }
            Some(raw) => match okta_url(raw, rules, false) {
                Ok(url) => url,
                Err(msg) => {
                    problem("okta_domain", msg);
                    String::new()
                }
            },
        };
        let issuer = match self.issuer.as_deref() {
            None => None,
            Some(raw) => match okta_url(raw, rules, true) {
                // A custom authorization server lives on the org's own origin
                // (`{okta_domain}/oauth2/{id}`): an issuer elsewhere could sign in as anyone linked.
                Ok(url)
                    if !okta_domain.is_empty()
                        && !url.starts_with(&format!("{okta_domain}/"))
                        && url != okta_domain =>
                {
                    problem(
                        "issuer",
                        "must be on the Okta domain: a custom authorization server, {okta_domain}/oauth2/{id}",
                    );
                    None
                }
                Ok(url) => Some(url),
                Err(msg) => {
                    problem("issuer", msg);
                    None
                }
            },
        };
        for (name, value) in [("client_id", &self.client_id), ("app_id", &self.app_id)] {
            if let Some(v) = value {
                if v.is_empty() || v.len() > 128 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    problem(name, "must be an Okta id: 1-128 letters and digits");
                }
            }
        }
        let brake = self.deactivation_brake_percent.unwrap_or(DEFAULT_BRAKE_PERCENT.into());
        if !(0..=100).contains(&brake) {
            problem("deactivation_brake_percent", "must be between 0 and 100");
        }
        let header = self.event_hook_auth_header.unwrap_or_else(|| DEFAULT_AUTH_HEADER.into());
        if !is_header_name(&header) {
            problem("event_hook_auth_header", "must be an HTTP header name (letters, digits and -)");
        }
        if self.field_mappings.len() > MAX_FIELD_MAPPINGS {
            problem("field_mappings", "at most 50 mappings");
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, m) in self.field_mappings.iter().enumerate() {
            if !is_okta_attribute(&m.okta) {
                problem(&format!("field_mappings[{i}].okta"), "must be an Okta profile attribute name");
            }
            if !is_field_name(&m.field) {
                problem(&format!("field_mappings[{i}].field"), "must match [a-z][a-z0-9_]{0,63}");
            } else if !seen.insert(m.field.as_str()) {
                problem(&format!("field_mappings[{i}].field"), "is mapped twice");
            }
        }
        if self.avatar_attribute.as_deref().is_some_and(|a| !is_okta_attribute(a)) {
            problem("avatar_attribute", "must be an Okta profile attribute name");
        }
        if self.provisioning == Provisioning::EventHooks && self.app_id.is_none() {
            problem("app_id", "is required when provisioning is event_hooks");
        }
        if self.sso_enabled && self.sso_protocol == SsoProtocol::Oidc && self.client_id.is_none() {
            problem("client_id", "is required when sso_enabled is true and sso_protocol is oidc");
        }
        let metadata_url = match self.saml_idp_metadata_url.as_deref() {
            None => None,
            Some(raw) => match okta_url(raw, rules, true) {
                Ok(url) => Some(url),
                Err(msg) => {
                    problem("saml_idp_metadata_url", msg);
                    None
                }
            },
        };
        if let Some(xml) = &self.saml_idp_metadata_xml {
            if let Err(e) = crate::domain::saml::IdpMetadata::parse(xml) {
                problem("saml_idp_metadata_xml", &format!("is not usable IdP metadata: {e}"));
            }
        }
        match (&self.saml_idp_metadata_url, &self.saml_idp_metadata_xml) {
            (Some(_), Some(_)) => {
                problem("saml_idp_metadata_url", "give the IdP metadata's URL or its XML, not both");
            }
            (None, None) if self.sso_enabled && self.sso_protocol == SsoProtocol::Saml => problem(
                "saml_idp_metadata_url",
                "is required (or saml_idp_metadata_xml) when sso_enabled is true and sso_protocol is saml",
            ),
            _ => {}
        }
        if !problems.is_empty() {
            return Err(InvalidConfig(problems));
        }
        Ok(TenantConfig {
            tenant,
            okta_domain,
            issuer,
            client_id: self.client_id,
            app_id: self.app_id,
            sso_enabled: self.sso_enabled,
            sso_protocol: self.sso_protocol,
            saml_idp_metadata_url: metadata_url,
            saml_idp_metadata_xml: self.saml_idp_metadata_xml,
            saml_allow_idp_initiated: self.saml_allow_idp_initiated.unwrap_or(true),
            provisioning: self.provisioning,
            invite_automatically: self.invite_automatically,
            manager_mode: self.manager_mode,
            jit_provisioning: self.jit_provisioning,
            deactivation_brake_percent: brake as u8,
            event_hook_auth_header: header,
            field_mappings: self.field_mappings,
            avatar_attribute: self.avatar_attribute,
            created_at: existing.map_or(now, |e| e.created_at),
            updated_at: now,
            version: existing.map_or(0, |e| e.version),
        })
    }
}

/// An Okta URL: `https://host[:port]`, or `http` on loopback when allowed. Issuers may have a path.
fn okta_url(raw: &str, rules: ConfigRules, path_allowed: bool) -> Result<String, &'static str> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "must be an absolute URL")?;
    let host = url.host_str().ok_or("must have a host")?;
    // Loopback is a real loopback address or `localhost`, never a name that merely starts with 127.
    let ip = match url.host() {
        Some(url::Host::Ipv4(a)) => Some(std::net::IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(std::net::IpAddr::V6(a)),
        _ => None,
    };
    let loopback = host.eq_ignore_ascii_case("localhost") || ip.is_some_and(|i| i.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if rules.allow_insecure_okta && loopback => {}
        "http" if loopback => return Err("plain http is allowed only on loopback with ALLOW_INSECURE_OKTA=1"),
        _ => return Err("must use https"),
    }
    if (loopback && !rules.allow_insecure_okta)
        || ip.is_some_and(|i| !i.is_loopback() && crate::domain::net::is_forbidden(i))
    {
        return Err("must not be a private, loopback or link-local address");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    let path = url.path().trim_end_matches('/');
    if !path.is_empty() && !path_allowed {
        return Err("must be the org URL only, with no path");
    }
    let mut out = format!("{}://{}", url.scheme(), host);
    if let Some(port) = url.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(path);
    Ok(out)
}

fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !["host", "content-length", "content-type", "transfer-encoding", "connection"]
            .contains(&s.to_ascii_lowercase().as_str())
}

fn is_okta_attribute(s: &str) -> bool {
    let mut bytes = s.bytes();
    s.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_field_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    s.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> Result<TenantConfigInput, serde_json::Error> {
        serde_json::from_value(json)
    }

    fn build(json: serde_json::Value, rules: ConfigRules) -> Result<TenantConfig, InvalidConfig> {
        input(json).unwrap().into_config(
            TenantId::parse("acme").unwrap(),
            None,
            DateTime::from_timestamp(0, 0).unwrap(),
            rules,
        )
    }

    #[test]
    fn the_spec_example_is_valid() {
        let c = build(
            serde_json::json!({"okta_domain": "https://acme.okta.com/", "issuer": null,
                "client_id": "0oa1", "app_id": "0oa2", "sso_enabled": true, "provisioning": "event_hooks",
                "invite_automatically": false, "manager_mode": "individual", "jit_provisioning": false,
                "deactivation_brake_percent": 20, "event_hook_auth_header": "Authorization",
                "field_mappings": [{"okta": "costCenter", "field": "cost_center"}]}),
            ConfigRules::default(),
        )
        .unwrap();
        assert_eq!(c.okta_domain, "https://acme.okta.com");
        assert_eq!(c.effective_issuer(), "https://acme.okta.com");
        assert!(c.syncs_nightly());
    }

    #[test]
    fn defaults_fill_omitted_switches() {
        let c = build(serde_json::json!({"okta_domain": "https://a.okta.com"}), ConfigRules::default()).unwrap();
        assert_eq!(c.provisioning, Provisioning::None);
        assert_eq!(c.manager_mode, ManagerMode::Individual);
        assert_eq!(c.deactivation_brake_percent, 20);
        assert_eq!(c.event_hook_auth_header, "Authorization");
        assert!(!c.invite_automatically && !c.jit_provisioning && !c.sso_enabled);
    }

    #[test]
    fn every_problem_is_reported() {
        let err = build(
            serde_json::json!({"okta_domain": "http://acme.okta.com", "issuer": "ftp://x",
                "client_id": "", "deactivation_brake_percent": 101, "event_hook_auth_header": "Bad Header",
                "provisioning": "event_hooks",
                "field_mappings": [{"okta": "1x", "field": "Cost"}, {"okta": "a", "field": "f"}, {"okta": "b", "field": "f"}]}),
            ConfigRules::default(),
        )
        .unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|p| p.field.as_str()).collect();
        for f in [
            "okta_domain",
            "issuer",
            "client_id",
            "deactivation_brake_percent",
            "event_hook_auth_header",
            "field_mappings[0].okta",
            "field_mappings[0].field",
            "field_mappings[2].field",
            "app_id",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn insecure_okta_only_on_loopback_when_allowed() {
        let allow = ConfigRules { allow_insecure_okta: true };
        assert!(build(serde_json::json!({"okta_domain": "http://127.0.0.1:9000"}), allow).is_ok());
        assert!(build(serde_json::json!({"okta_domain": "http://127.0.0.1:9000"}), ConfigRules::default()).is_err());
        assert!(build(serde_json::json!({"okta_domain": "http://evil.example"}), allow).is_err());
        assert!(build(serde_json::json!({"okta_domain": "https://a.okta.com/path"}), allow).is_err());
        assert!(build(serde_json::json!({"okta_domain": "https://u:p@a.okta.com"}), allow).is_err());
        // No prefix games, no private targets, even over https.
        assert!(build(serde_json::json!({"okta_domain": "http://127.attacker.example"}), allow).is_err());
        for private in ["https://10.0.0.5", "https://169.254.169.254", "https://[fd00::1]", "https://127.0.0.1"] {
            assert!(build(serde_json::json!({"okta_domain": private}), ConfigRules::default()).is_err(), "{private}");
        }
    }

    #[test]
    fn unknown_fields_are_refused_but_read_only_ones_pass() {
        assert!(input(serde_json::json!({"okta_domain": "https://a.okta.com", "sso_enabeld": true})).is_err());
        assert!(input(serde_json::json!({"okta_domain": "https://a.okta.com", "version": 3, "tenant": "x",
            "created_at": "2020-01-01T00:00:00Z", "secrets": {}}))
        .is_ok());
    }
}
