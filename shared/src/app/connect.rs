//! "Connect to Okta" (docs/behaviour/integration-page.md): every check of a tenant's setup that can be made live,
//! each a pass / fail / skipped line with what was found and, when it fails, what to do about it
//! in one sentence; and "Register the event hook in Okta", which creates (or repairs) the hook
//! through Okta's Event Hooks API and has Okta verify it.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::secrets::{SecretService, TenantSecret};
use super::tokens::TokenService;
use crate::domain::api_token::TokenKind;
use crate::domain::okta::{EventHook, EventHookSpec, OktaApp};
use crate::domain::saml::metadata::IdpMetadata;
use crate::domain::setup_urls::SetupUrls;
use crate::domain::tenant::{Provisioning, SsoProtocol, TenantConfig};
use crate::domain::TenantId;
use crate::ports::okta::{OktaError, OktaOrg};
use crate::ports::sso::IdpMetadataSource;
use crate::ports::{Clock, ConfigStore, OidcProvider, OktaDirectory, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not relevant to this tenant's setup, or blocked by an earlier failure (the detail says).
    Skipped,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable: `okta_domain`, `api_token`, `app`, `sso_app`, `sso_discovery`, `client_secret`,
    /// `event_hook_secret`, `event_hook`, `scim_token`.
    pub id: &'static str,
    pub title: &'static str,
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// What to do, in a sentence (failures only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectReport {
    pub checked_at: DateTime<Utc>,
    pub all_passed: bool,
    pub checks: Vec<Check>,
    /// Whether the API token may read event hooks, so "Register the event hook" can work.
    pub can_manage_hooks: bool,
}

/// What "Register the event hook in Okta" did.
#[derive(Debug, Clone, Serialize)]
pub struct HookRegistration {
    pub hook_id: String,
    /// Created now (else an existing hook pointing at us was updated).
    pub created: bool,
    /// `ACTIVE` in Okta (an inactive hook pointing at us is activated).
    pub active: bool,
    pub verified: bool,
    /// Why Okta did not verify it, in Okta's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("tenant not found")]
    TenantNotFound,
    /// Something the admin must set first (the message says what).
    #[error("{0}")]
    NotReady(String),
    /// Okta refused, in words an admin can act on.
    #[error("{0}")]
    Okta(String),
    /// Okta did not answer, or its rate limit is spent: try again later.
    #[error("{0}")]
    OktaDown(String),
    #[error("the tenant's configuration or secrets could not be read")]
    Unavailable(#[source] crate::ports::Cause),
}

impl From<StoreError> for ConnectError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

pub struct ConnectService {
    configs: Arc<dyn ConfigStore>,
    secrets: Arc<SecretService>,
    tokens: Arc<TokenService>,
    okta: Arc<dyn OktaDirectory>,
    oidc: Arc<dyn OidcProvider>,
    saml_metadata: Arc<dyn IdpMetadataSource>,
    clock: Arc<dyn Clock>,
}

/// What a [`ConnectService`] is built from, by name (the composition root fills it).
pub struct ConnectDeps {
    pub configs: Arc<dyn ConfigStore>,
    pub secrets: Arc<SecretService>,
    pub tokens: Arc<TokenService>,
    pub okta: Arc<dyn OktaDirectory>,
    pub oidc: Arc<dyn OidcProvider>,
    pub saml_metadata: Arc<dyn IdpMetadataSource>,
    pub clock: Arc<dyn Clock>,
}

fn pass(id: &'static str, title: &'static str, detail: impl Into<String>) -> Check {
    Check { id, title, outcome: Outcome::Pass, detail: detail.into(), fix: None }
}

fn fail(id: &'static str, title: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check { id, title, outcome: Outcome::Fail, detail: detail.into(), fix: Some(fix.into()) }
}

fn skipped(id: &'static str, title: &'static str, detail: impl Into<String>) -> Check {
    Check { id, title, outcome: Outcome::Skipped, detail: detail.into(), fix: None }
}

const DOMAIN: &str = "The Okta domain answers";
const TOKEN: &str = "The API token is valid and can read users";
const APP: &str = "The app exists and is the right kind";
const SSO_APP: &str = "The app sends people back to this platform";
const DISCOVERY: &str = "Okta describes the sign-in (OIDC discovery or SAML metadata)";
const CLIENT_SECRET: &str = "The client secret is saved";
const HOOK_SECRET: &str = "An event-hook secret is issued";
const HOOK: &str = "An event hook points here, is verified and subscribes to every event";
const SCIM: &str = "A SCIM token is issued";

/// How long Connect to Okta (and the hook's registration) may take in all, so the page answers
/// within the admin function's 29 s: a call still running then counts as "did not answer".
pub const CHECK_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// `call`'s answer if it comes before `deadline`, else Okta "did not answer".
async fn within<T>(
    deadline: tokio::time::Instant,
    call: impl std::future::Future<Output = Result<T, OktaError>>,
) -> Result<T, OktaError> {
    tokio::time::timeout_at(deadline, call)
        .await
        .unwrap_or_else(|_| Err(OktaError::Unavailable("no answer within the time Connect to Okta allows".into())))
}

const ROLE_FIX: &str = "give the admin who created the API token the Read-only Administrator role in Okta \
                        (Security › Administrators), or create the token as such an admin";

/// What Okta's refusal of the token means, and what to do.
fn token_refusal(code: &str, what: &str) -> (String, String) {
    match code {
        "E0000011" => (
            "Okta says the API token is not valid (E0000011): it was revoked, mistyped, or expired after 30 days unused"
                .into(),
            "create a new token in Okta (Security › API › Tokens) and save it under Provisioning".into(),
        ),
        code => (format!("the API token cannot read {what} (Okta answered {code})"), ROLE_FIX.into()),
    }
}

fn okta_words(e: &OktaError) -> String {
    match e {
        OktaError::Unavailable(_) => "Okta did not answer".into(),
        OktaError::RateLimited { retry_after } => {
            format!("Okta's rate limit is spent; try again in {} s", retry_after.as_secs())
        }
        other => other.to_string(),
    }
}

impl ConnectService {
    pub fn new(deps: ConnectDeps) -> Self {
        let ConnectDeps { configs, secrets, tokens, okta, oidc, saml_metadata, clock } = deps;
        Self { configs, secrets, tokens, okta, oidc, saml_metadata, clock }
    }

    async fn config(&self, tenant: &TenantId) -> Result<TenantConfig, ConnectError> {
        self.configs.get_config(tenant).await?.ok_or(ConnectError::TenantNotFound)
    }

    async fn secret(
        &self,
        tenant: &TenantId,
        kind: TenantSecret,
    ) -> Result<Option<crate::domain::Secret>, ConnectError> {
        self.secrets.current(tenant, kind).await.map_err(|e| ConnectError::Unavailable(Box::new(e)))
    }

    /// When a Connect to Okta (or a registration, then its re-check) started now must be done.
    pub fn deadline() -> tokio::time::Instant {
        tokio::time::Instant::now() + CHECK_BUDGET
    }

    /// Every check, in the order of the customer's Okta setup, done by `deadline` (a call still
    /// out then counts as Okta not answering). Never changes anything.
    pub async fn check(
        &self,
        tenant: &TenantId,
        urls: &SetupUrls,
        deadline: tokio::time::Instant,
    ) -> Result<ConnectReport, ConnectError> {
        let config = self.config(tenant).await?;
        let token = self.secret(tenant, TenantSecret::OktaApiToken).await?;
        let mut checks = Vec::new();
        let mut can_manage_hooks = false;
        let org =
            token.map(|api_token| OktaOrg { tenant: tenant.clone(), base_url: config.okta_domain.clone(), api_token });

        // 1–2. The domain, and the token reading users.
        let mut token_ok = false;
        match &org {
            None => {
                checks.push(skipped("okta_domain", DOMAIN, "checked with the API token, which is not saved yet"));
                let needed = config.provisioning == Provisioning::EventHooks;
                checks.push(if needed {
                    fail(
                        "api_token",
                        TOKEN,
                        "no API token is saved",
                        "create one in Okta (Security › API › Tokens) and save it under Provisioning",
                    )
                } else {
                    skipped(
                        "api_token",
                        TOKEN,
                        "no API token is saved; this setup does not need one, but the app checks below do",
                    )
                });
            }
            Some(org) => match within(deadline, self.okta.probe_users(org)).await {
                Ok(()) => {
                    token_ok = true;
                    checks.push(pass("okta_domain", DOMAIN, format!("{} answered", config.okta_domain)));
                    checks.push(pass("api_token", TOKEN, "Okta accepted the token and listed users"));
                }
                Err(OktaError::Unauthorized { code }) => {
                    checks.push(pass("okta_domain", DOMAIN, format!("{} answered", config.okta_domain)));
                    let (detail, fix) = token_refusal(&code, "users");
                    checks.push(fail("api_token", TOKEN, detail, fix));
                }
                Err(e) => {
                    checks.push(fail(
                        "okta_domain",
                        DOMAIN,
                        format!("{} did not answer as Okta: {}", config.okta_domain, okta_words(&e)),
                        "check the Okta domain: your org's address, like https://acme.okta.com (not the -admin one)",
                    ));
                    checks.push(skipped("api_token", TOKEN, "the domain did not answer"));
                }
            },
        }

        // 3. The app.
        let mut app: Option<OktaApp> = None;
        match (&org, config.app_id.as_deref()) {
            // Only event hooks (and the nightly sync) need the app id; elsewhere it lets the
            // page check the app's settings.
            (_, None) if config.provisioning == Provisioning::EventHooks => checks.push(fail(
                "app",
                APP,
                "no app id is saved",
                "copy the app's id (0oa…) from its address in the Okta Admin Console (Applications › your app) and save it",
            )),
            (_, None) => checks.push(skipped(
                "app",
                APP,
                "no app id is saved; save it under Your Okta org to check the app's settings from here",
            )),
            (None, Some(_)) => checks.push(skipped("app", APP, "needs the API token")),
            (Some(_), Some(_)) if !token_ok => checks.push(skipped("app", APP, "needs a working API token")),
            (Some(org), Some(app_id)) => match within(deadline, self.okta.get_app(org, app_id)).await {
                Ok(None) => checks.push(fail(
                    "app",
                    APP,
                    format!("Okta has no app with id {app_id}"),
                    "copy the id (0oa…) from the app's address in the Okta Admin Console (Applications › your app) and save it",
                )),
                Ok(Some(found)) => {
                    let want = match config.sso_protocol {
                        SsoProtocol::Oidc => "OPENID_CONNECT",
                        SsoProtocol::Saml => "SAML_2_0",
                    };
                    let mode = found.sign_on_mode.clone().unwrap_or_default();
                    let label = found.label.clone().unwrap_or_default();
                    if found.status.as_deref() == Some("INACTIVE") {
                        checks.push(fail(
                            "app",
                            APP,
                            format!("“{label}” is inactive"),
                            "activate the app in Okta (Applications › your app › Active)",
                        ));
                    } else if config.sso_enabled && mode != want {
                        checks.push(fail(
                            "app",
                            APP,
                            format!("“{label}” signs in by {mode}, but this platform is set to {want}"),
                            match config.sso_protocol {
                                SsoProtocol::Oidc => "use an OIDC Web Application app, or switch the protocol to SAML 2.0 here",
                                SsoProtocol::Saml => "use a SAML 2.0 app (SCIM needs one), or switch the protocol to OIDC here",
                            },
                        ));
                    } else {
                        checks.push(pass("app", APP, format!("“{label}” ({mode}, active)")));
                    }
                    app = Some(found);
                }
                Err(OktaError::Unauthorized { code }) => {
                    let (detail, fix) = token_refusal(&code, "apps");
                    checks.push(fail("app", APP, detail, fix));
                }
                Err(e) => checks.push(fail("app", APP, okta_words(&e), "try again; if it persists, check Okta's status page")),
            },
        }

        // 4–6. Sign-in.
        if !config.sso_enabled {
            for (id, title) in [("sso_app", SSO_APP), ("sso_discovery", DISCOVERY)] {
                checks.push(skipped(id, title, "single sign-on is off"));
            }
        } else {
            checks.push(self.check_sso_app(&config, app.as_ref(), urls));
            checks.push(self.check_discovery(&config, deadline).await);
            if config.sso_protocol == SsoProtocol::Oidc {
                checks.push(match self.secret(tenant, TenantSecret::OidcClientSecret).await? {
                    Some(_) => pass("client_secret", CLIENT_SECRET, "saved (Okta checks it at the first sign-in)"),
                    None => fail(
                        "client_secret",
                        CLIENT_SECRET,
                        "no client secret is saved",
                        "copy the client secret from the app's General tab in Okta and save it under Sign-in",
                    ),
                });
            }
        }

        // 7–9. Provisioning.
        match config.provisioning {
            Provisioning::EventHooks => {
                let secret = self.secret(tenant, TenantSecret::EventHookSecret).await?;
                checks.push(match secret {
                    Some(_) => pass("event_hook_secret", HOOK_SECRET, "issued (Okta sends it with every delivery)"),
                    None => fail(
                        "event_hook_secret",
                        HOOK_SECRET,
                        "no secret is issued",
                        "press Issue secret under Provisioning, or Register the event hook, which issues one",
                    ),
                });
                match (&org, token_ok) {
                    (Some(org), true) => match within(deadline, self.okta.list_event_hooks(org)).await {
                        Ok(hooks) => {
                            can_manage_hooks = true;
                            checks.push(check_hook(&hooks, &config, urls));
                        }
                        Err(OktaError::Unauthorized { code }) => checks.push(fail(
                            "event_hook",
                            HOOK,
                            format!("the API token may not read event hooks (Okta answered {code})"),
                            "add the hook by hand in Okta (Workflow › Event Hooks) with the URL, header and secret above, \
                             or save a Super Administrator's token to register it from here",
                        )),
                        Err(e) => checks.push(fail("event_hook", HOOK, okta_words(&e), "try again in a minute")),
                    },
                    _ => checks.push(skipped("event_hook", HOOK, "needs a working API token")),
                }
            }
            Provisioning::Scim => {
                let active = self
                    .tokens
                    .active_count(tenant, TokenKind::Scim)
                    .await
                    .map_err(|e| ConnectError::Unavailable(Box::new(e)))?;
                checks.push(if active > 0 {
                    pass("scim_token", SCIM, format!("{active} active"))
                } else {
                    fail(
                        "scim_token",
                        SCIM,
                        "no SCIM token is active",
                        "issue one under Provisioning and paste it into the app's Provisioning › Integration tab in Okta",
                    )
                });
            }
            Provisioning::None => {}
        }
        let all_passed = checks.iter().all(|c| c.outcome != Outcome::Fail);
        Ok(ConnectReport { checked_at: self.clock.now(), all_passed, checks, can_manage_hooks })
    }

    fn check_sso_app(&self, config: &TenantConfig, app: Option<&OktaApp>, urls: &SetupUrls) -> Check {
        let Some(app) = app else { return skipped("sso_app", SSO_APP, "needs the app") };
        match config.sso_protocol {
            SsoProtocol::Oidc => {
                let registered =
                    app.settings.oauth_client.as_ref().map(|o| o.redirect_uris.clone()).unwrap_or_default();
                let client_id = app.credentials.oauth_client.as_ref().and_then(|c| c.client_id.clone());
                if config.client_id.is_some() && client_id.is_some() && config.client_id != client_id {
                    return fail(
                        "sso_app",
                        SSO_APP,
                        format!(
                            "the client id saved here ({}) is not this app's ({})",
                            config.client_id.clone().unwrap_or_default(),
                            client_id.unwrap_or_default()
                        ),
                        "copy the Client ID from the app's General tab in Okta and save it under Sign-in",
                    );
                }
                if urls.oidc_redirect_uris.iter().any(|u| registered.contains(u)) {
                    pass("sso_app", SSO_APP, "the redirect URI is registered on the app")
                } else {
                    fail(
                        "sso_app",
                        SSO_APP,
                        format!("the app's sign-in redirect URIs do not include {}", urls.oidc_redirect_uris[0]),
                        format!(
                            "add {} to Sign-in redirect URIs in the app's General tab in Okta",
                            urls.oidc_redirect_uris[0]
                        ),
                    )
                }
            }
            SsoProtocol::Saml => {
                let sign_on = app.settings.sign_on.clone().unwrap_or_default();
                let acs = sign_on.sso_acs_url.unwrap_or_default();
                let audience = sign_on.audience.unwrap_or_default();
                if !urls.saml.acs_urls.contains(&acs) {
                    fail(
                        "sso_app",
                        SSO_APP,
                        format!("the app's Single sign-on URL is “{acs}”"),
                        format!("set Single sign-on URL to {} in the app's SAML settings", urls.saml.acs_url),
                    )
                } else if audience != urls.saml.entity_id {
                    fail(
                        "sso_app",
                        SSO_APP,
                        format!("the app's Audience URI is “{audience}”"),
                        format!(
                            "set Audience URI (SP Entity ID) to {} in the app's SAML settings",
                            urls.saml.entity_id
                        ),
                    )
                } else {
                    pass("sso_app", SSO_APP, "the ACS URL and audience are ours")
                }
            }
        }
    }

    async fn check_discovery(&self, config: &TenantConfig, deadline: tokio::time::Instant) -> Check {
        match config.sso_protocol {
            SsoProtocol::Oidc => {
                let issuer = config.effective_issuer();
                let checked =
                    tokio::time::timeout_at(deadline, self.oidc.check_issuer(issuer)).await.unwrap_or_else(|_| {
                        Err(crate::ports::sso::OidcError::Discovery(
                            "no answer within the time Connect to Okta allows".into(),
                        ))
                    });
                match checked {
                    Ok(()) => pass("sso_discovery", DISCOVERY, format!("{issuer} published its OpenID configuration and keys")),
                    Err(e) => fail(
                        "sso_discovery",
                        DISCOVERY,
                        e.to_string(),
                        "check the issuer: leave it empty for the org authorization server, or copy the Issuer URI from \
                         Security › API › Authorization Servers",
                    ),
                }
            }
            SsoProtocol::Saml => {
                let parsed = match (&config.saml_idp_metadata_xml, &config.saml_idp_metadata_url) {
                    (Some(xml), _) => IdpMetadata::parse(xml).map_err(|e| e.to_string()),
                    (None, Some(url)) => {
                        match tokio::time::timeout_at(deadline, self.saml_metadata.fetch_metadata(url)).await {
                            Ok(Ok(xml)) => IdpMetadata::parse(&xml).map_err(|e| e.to_string()),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(_) => Err("no answer within the time Connect to Okta allows".into()),
                        }
                    }
                    (None, None) => Err("no IdP metadata URL or XML is saved".into()),
                };
                match parsed {
                    Ok(m) => pass(
                        "sso_discovery",
                        DISCOVERY,
                        format!("IdP {} with {} signing certificate(s)", m.entity_id, m.certificates.len()),
                    ),
                    Err(e) => fail(
                        "sso_discovery",
                        DISCOVERY,
                        e,
                        "copy the Metadata URL from the app's Sign On tab in Okta and save it under Sign-in",
                    ),
                }
            }
        }
    }

    /// Creates the event hook in Okta (or repairs the one pointing here: events, header, secret)
    /// and asks Okta to verify it. Issues an event-hook secret first when none is.
    pub async fn register_hook(
        &self,
        tenant: &TenantId,
        urls: &SetupUrls,
        deadline: tokio::time::Instant,
    ) -> Result<HookRegistration, ConnectError> {
        let config = self.config(tenant).await?;
        if config.provisioning != Provisioning::EventHooks {
            return Err(ConnectError::NotReady("provisioning is not set to event hooks".into()));
        }
        let api_token = self
            .secret(tenant, TenantSecret::OktaApiToken)
            .await?
            .ok_or_else(|| ConnectError::NotReady("save the Okta API token first".into()))?;
        let org = OktaOrg { tenant: tenant.clone(), base_url: config.okta_domain.clone(), api_token };
        let secret = match self.secret(tenant, TenantSecret::EventHookSecret).await? {
            Some(s) => s,
            None => self
                .secrets
                .rotate_event_hook_secret(tenant)
                .await
                .map_err(|e| ConnectError::Unavailable(Box::new(e)))?,
        };
        let spec = EventHookSpec {
            name: format!("Learning platform ({tenant})"),
            uri: urls.event_hook.clone(),
            auth_header: config.event_hook_auth_header.clone(),
            secret,
        };
        let refused = |e: OktaError| {
            match e {
            OktaError::Unauthorized { code } => ConnectError::Okta(format!(
                "Okta refused ({code}): the API token may not manage event hooks; only a Super Administrator's token can"
            )),
            e @ (OktaError::Unavailable(_) | OktaError::RateLimited { .. }) => ConnectError::OktaDown(okta_words(&e)),
            other => ConnectError::Okta(okta_words(&other)),
        }
        };
        let hooks = within(deadline, self.okta.list_event_hooks(&org)).await.map_err(refused)?;
        let existing = hooks.iter().find(|h| urls.event_hooks.iter().any(|u| u == h.uri()));
        let (mut hook, created) = match existing {
            Some(h) => {
                (within(deadline, self.okta.update_event_hook(&org, &h.id, &spec)).await.map_err(refused)?, false)
            }
            None => (within(deadline, self.okta.create_event_hook(&org, &spec)).await.map_err(refused)?, true),
        };
        if !hook.is_active() {
            hook = within(deadline, self.okta.activate_event_hook(&org, &hook.id)).await.map_err(refused)?;
        }
        tracing::info!(hook = %hook.id, created, "event hook registered in Okta; verifying");
        match within(deadline, self.okta.verify_event_hook(&org, &hook.id)).await {
            Ok(v) => Ok(HookRegistration {
                hook_id: v.id.clone(),
                created,
                active: v.is_active(),
                verified: v.is_verified(),
                verify_error: None,
            }),
            Err(e) => Ok(HookRegistration {
                active: hook.is_active(),
                hook_id: hook.id,
                created,
                verified: false,
                verify_error: Some(okta_words(&e)),
            }),
        }
    }
}

/// The hook pointing at this tenant, judged.
fn check_hook(hooks: &[EventHook], config: &TenantConfig, urls: &SetupUrls) -> Check {
    let Some(hook) = hooks.iter().find(|h| urls.event_hooks.iter().any(|u| u == h.uri())) else {
        return fail(
            "event_hook",
            HOOK,
            format!("no event hook in Okta points at {}", urls.event_hook),
            "press Register the event hook in Okta, or add it by hand (Workflow › Event Hooks) with the URL, header and secret above",
        );
    };
    let missing = hook.missing_events();
    let header = hook.channel.config.auth_scheme.as_ref().map(|a| a.key.as_str()).unwrap_or("");
    if !hook.is_active() {
        fail(
            "event_hook",
            HOOK,
            format!("“{}” is inactive", hook.name),
            "activate it in Okta (Workflow › Event Hooks › Actions › Activate)",
        )
    } else if !missing.is_empty() {
        fail(
            "event_hook",
            HOOK,
            format!("“{}” does not subscribe to {}", hook.name, missing.join(", ")),
            "press Register the event hook in Okta to add them, or add them in Okta (Workflow › Event Hooks › Edit)",
        )
    } else if !header.eq_ignore_ascii_case(&config.event_hook_auth_header) {
        fail(
            "event_hook",
            HOOK,
            format!(
                "“{}” sends its secret in the header “{header}”, not “{}”",
                hook.name, config.event_hook_auth_header
            ),
            "press Register the event hook in Okta to fix the header, or edit the hook's Authentication field in Okta",
        )
    } else if !hook.is_verified() {
        fail(
            "event_hook",
            HOOK,
            format!("“{}” is not verified, so Okta sends it nothing", hook.name),
            "press Register the event hook in Okta, or Verify it in Okta (Workflow › Event Hooks › Actions › Verify)",
        )
    } else {
        pass(
            "event_hook",
            HOOK,
            format!("“{}” is active, verified and subscribes to all {} events", hook.name, hook.events.items.len()),
        )
    }
}

#[cfg(test)]
#[cfg(feature = "fakes")]
mod tests {
    use super::*;
    use crate::domain::tenant::ManagerMode;
    use crate::fakes::Fakes;
    use crate::fakes::MemoryOkta;

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    fn urls() -> SetupUrls {
        SetupUrls::new("https://acme.example.com", "https://api.example.com/t/acme")
    }

    fn outcome(report: &ConnectReport, id: &str) -> Outcome {
        report.checks.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no check {id}")).outcome
    }

    #[tokio::test]
    async fn the_hook_check_fails_until_registration_creates_and_verifies_it() {
        let f = Fakes::new();
        let okta = Arc::new(MemoryOkta::new("0oaapp"));
        f.event_hook_tenant(&acme(), "0oaapp", ManagerMode::Individual, 20).await;
        let connect = f.root_with(okta.clone()).connect();
        let report = connect.check(&acme(), &urls(), ConnectService::deadline()).await.unwrap();
        assert_eq!(outcome(&report, "event_hook"), Outcome::Fail);
        assert_eq!(outcome(&report, "event_hook_secret"), Outcome::Fail);
        assert!(!report.all_passed && report.can_manage_hooks);
        assert!(
            report.checks.iter().filter(|c| c.outcome == Outcome::Fail).all(|c| c.fix.is_some()),
            "every failure says what to do"
        );

        let done = connect.register_hook(&acme(), &urls(), ConnectService::deadline()).await.unwrap();
        assert!(done.created && done.verified);
        let hooks = okta.event_hooks();
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].uri(), "https://acme.example.com/webhooks/okta");
        assert!(hooks[0].missing_events().is_empty());
        let report = connect.check(&acme(), &urls(), ConnectService::deadline()).await.unwrap();
        assert_eq!(outcome(&report, "event_hook"), Outcome::Pass);
        assert_eq!(outcome(&report, "event_hook_secret"), Outcome::Pass, "registration issued the secret");
        assert!(report.all_passed, "{:?}", report.checks);

        // Registering again repairs the same hook instead of adding another, and reactivates it.
        okta.deactivate_hook(&hooks[0].id);
        let report = connect.check(&acme(), &urls(), ConnectService::deadline()).await.unwrap();
        assert_eq!(outcome(&report, "event_hook"), Outcome::Fail, "an inactive hook");
        let again = connect.register_hook(&acme(), &urls(), ConnectService::deadline()).await.unwrap();
        assert!(!again.created && again.verified && again.active);
        assert_eq!(okta.event_hooks().len(), 1);
    }

    #[tokio::test]
    async fn a_token_that_may_not_manage_hooks_is_said_plainly() {
        let f = Fakes::new();
        let okta = Arc::new(MemoryOkta::new("0oaapp"));
        okta.allow_hooks(false);
        f.event_hook_tenant(&acme(), "0oaapp", ManagerMode::Individual, 20).await;
        let connect = f.root_with(okta.clone()).connect();
        let report = connect.check(&acme(), &urls(), ConnectService::deadline()).await.unwrap();
        let hook = report.checks.iter().find(|c| c.id == "event_hook").unwrap();
        assert_eq!(hook.outcome, Outcome::Fail);
        assert!(hook.detail.contains("may not read event hooks"), "{hook:?}");
        assert!(!report.can_manage_hooks);
        let refused = connect.register_hook(&acme(), &urls(), ConnectService::deadline()).await.unwrap_err();
        assert!(refused.to_string().contains("Super Administrator"), "{refused}");
    }

    #[tokio::test]
    async fn a_missing_app_fails_with_where_to_find_the_id() {
        let f = Fakes::new();
        let okta = Arc::new(MemoryOkta::new("0oaapp"));
        okta.set_app_exists(false);
        f.event_hook_tenant(&acme(), "0oaapp", ManagerMode::Individual, 20).await;
        let report = f.root_with(okta).connect().check(&acme(), &urls(), ConnectService::deadline()).await.unwrap();
        let app = report.checks.iter().find(|c| c.id == "app").unwrap();
        assert_eq!(app.outcome, Outcome::Fail);
        assert!(app.fix.as_deref().unwrap().contains("0oa"), "{app:?}");
    }
}
