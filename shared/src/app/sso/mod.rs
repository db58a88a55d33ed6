//! Okta single sign-on (docs/behaviour/sign-in.md), by OpenID Connect ([`oidc`]) or SAML 2.0
//! ([`saml`]). Once either has established who signed in, one path goes on for both
//! ([`SsoService::establish`]): link by Okta id then email, provision just in time, refuse the
//! deactivated, open the server-side session. And reading and ending sessions.
mod oidc;
mod saml;

use std::sync::Arc;

pub use saml::SamlEndpoints;

use chrono::DateTime;
use serde_json::{json, Map, Value};

use super::provisioning::{Mode, ProvisionError, Provisioner};
use super::secrets::SecretService;
use crate::domain::change::{Action, Actor, NewChange};
use crate::domain::convergence::Truth;
use crate::domain::okta::OktaUser;
use crate::domain::saml::SamlRefusal;
use crate::domain::sso::SESSION_TTL;
use crate::domain::sso::{link, random_token, Link, Refusal, Session, SessionRecord, SignedIn};
use crate::domain::tenant::{SsoProtocol, TenantConfig};
use crate::domain::user::User;
use crate::domain::{Email, TenantId};
use crate::ports::sso::OidcError;
use crate::ports::{
    Cause, Clock, ConfigStore, IdpMetadataSource, LoginStateStore, OidcProvider, Random, StoreError, UserReader,
    UserWriter,
};

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("single sign-on is not enabled for this organisation")]
    NotEnabled,
    #[error("single sign-on is not fully configured for this organisation")]
    NotConfigured,
    #[error("the address to return to is not on this site")]
    UnsafeReturnTo,
    #[error("the sign-in link is missing its state")]
    MissingState,
    /// Unknown, used (a replayed callback) or expired state.
    #[error("this sign-in has expired or was already used")]
    StaleState,
    /// The callback came to a browser that did not start the login (no or another login cookie).
    #[error("this sign-in was started in another browser")]
    OtherBrowser,
    /// Okta sent the browser back with `error=...`.
    #[error("Okta did not sign you in ({0})")]
    Provider(String),
    #[error("the sign-in could not be verified")]
    Verification(#[source] OidcError),
    #[error("the identity provider is unavailable")]
    ProviderUnavailable(#[source] OidcError),
    #[error("sign-in refused")]
    Refused(Refusal),
    /// The tenant signs in with the other protocol (the handler sends the browser there).
    #[error("this organisation signs in with {0:?}")]
    OtherProtocol(SsoProtocol),
    /// The SAML response broke a rule (docs/behaviour/sign-in.md).
    #[error("the SAML response was refused")]
    Saml(#[source] SamlRefusal),
    /// An unsolicited (IdP-initiated) SAML response, and the tenant does not allow them.
    #[error("sign-in from the Okta dashboard is turned off for this organisation")]
    IdpInitiatedOff,
    /// The IdP's metadata is missing or unusable.
    #[error("the identity provider's metadata is not usable")]
    IdpMetadata(#[source] Cause),
    #[error("a dependency is unavailable")]
    Unavailable(#[source] Cause),
}

impl From<StoreError> for SsoError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

/// The callback's query, as Okta sends it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A started login: where to send the browser, and the cookie that binds the login to it.
#[derive(Debug, Clone)]
pub struct StartedLogin {
    pub url: String,
    pub cookie_name: String,
    pub cookie_value: String,
    /// The answer comes back by a cross-site POST (SAML's ACS): the cookie must be
    /// `SameSite=None; Secure` to come with it.
    pub cross_site: bool,
}

/// A finished sign-in: the cookie value and where to send the browser.
pub struct SignInDone {
    pub cookie: String,
    pub max_age_seconds: i64,
    pub return_to: String,
    pub session: Session,
    /// The login cookie of the SP-initiated SAML request this answered (to clear), if any.
    pub finished_login_cookie: Option<String>,
}

pub struct SsoService {
    configs: Arc<dyn ConfigStore>,
    users: Arc<dyn UserReader>,
    writer: Arc<dyn UserWriter>,
    provisioner: Arc<Provisioner>,
    logins: Arc<dyn LoginStateStore>,
    secrets: Arc<SecretService>,
    oidc: Arc<dyn OidcProvider>,
    saml_metadata: Arc<dyn IdpMetadataSource>,
    /// IdP metadata fetched by URL, by URL (docs/behaviour/sign-in.md: cached an hour).
    metadata_cache: saml::MetadataCache,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

/// What a [`SsoService`] is built from, by name (the composition root, `app::root`, fills it).
pub struct SsoDeps {
    pub configs: Arc<dyn ConfigStore>,
    pub users: Arc<dyn UserReader>,
    pub writer: Arc<dyn UserWriter>,
    pub provisioner: Arc<Provisioner>,
    pub logins: Arc<dyn LoginStateStore>,
    pub secrets: Arc<SecretService>,
    pub oidc: Arc<dyn OidcProvider>,
    pub saml_metadata: Arc<dyn IdpMetadataSource>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
}

impl SsoService {
    pub fn new(deps: SsoDeps) -> Self {
        let SsoDeps { configs, users, writer, provisioner, logins, secrets, oidc, saml_metadata, clock, random } = deps;
        let metadata_cache = saml::MetadataCache::default();
        Self {
            configs,
            users,
            writer,
            provisioner,
            logins,
            secrets,
            oidc,
            saml_metadata,
            metadata_cache,
            clock,
            random,
        }
    }

    async fn config(&self, tenant: &TenantId) -> Result<TenantConfig, SsoError> {
        let config = self.configs.get_config(tenant).await?.ok_or(SsoError::NotEnabled)?;
        if !config.sso_enabled {
            return Err(SsoError::NotEnabled);
        }
        Ok(config)
    }

    /// The one path after either protocol has established `who`: linked (or provisioned, or
    /// refused) and a server-side session opened. `id_token` is kept for OIDC's logout hint.
    async fn establish(
        &self,
        config: &TenantConfig,
        who: &SignedIn,
        id_token: Option<String>,
        return_to: String,
    ) -> Result<SignInDone, SsoError> {
        let tenant = &config.tenant;
        let user = self.linked_user(config, who).await?;
        let now = self.clock.now();
        let session = Session {
            tenant: tenant.clone(),
            user_id: user.id.clone(),
            okta_id: who.okta_id.clone(),
            sid: random_token(self.random.bytes32()),
            issued_at: now,
            expires_at: now + SESSION_TTL,
        };
        // The session lives server-side, so logout ends it everywhere; the ID token stays here.
        self.logins
            .put_session(&SessionRecord {
                tenant: tenant.clone(),
                sid: session.sid.clone(),
                user_id: user.id.clone(),
                id_token,
                created_at: now,
                expires_at: session.expires_at,
            })
            .await?;
        let keys = self.secrets.session_keys().await.map_err(|e| SsoError::Unavailable(Box::new(e)))?;
        let key = keys.first().ok_or_else(|| SsoError::Unavailable("no session signing key".into()))?;
        tracing::info!(user_id = %user.id, "signed in");
        Ok(SignInDone {
            cookie: session.seal(key),
            max_age_seconds: SESSION_TTL.num_seconds(),
            return_to,
            session,
            finished_login_cookie: None,
        })
    }

    /// The signed-in user of a cookie (`GET /okta/me`), under the same checks as [`Self::session`].
    pub async fn me(&self, tenant: &TenantId, cookie: &str) -> Option<(Session, User)> {
        let session = self.session(tenant, cookie).await?;
        let user = self.users.get_user(tenant, &session.user_id).await.ok()??;
        Some((session, user))
    }

    /// The signed cookie's session, its signature and expiry checked (nothing else).
    async fn open_cookie(&self, tenant: &TenantId, cookie: &str) -> Option<Session> {
        let keys = self.secrets.session_keys().await.ok()?;
        Session::open(cookie, &keys, self.clock.now()).filter(|s| s.tenant == *tenant)
    }

    /// The session a cookie carries, if it is still good: signed and unexpired, not ended by a
    /// logout, single sign-on still on for the tenant, and the user still active (a deactivated
    /// user's sessions stop working at once).
    pub async fn session(&self, tenant: &TenantId, cookie: &str) -> Option<Session> {
        let session = self.open_cookie(tenant, cookie).await?;
        let now = self.clock.now();
        let record = match self.logins.get_session(tenant, &session.sid, now).await {
            Ok(Some(r)) if r.user_id == session.user_id => r,
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "session store unavailable; the session is not accepted");
                return None;
            }
        };
        if self.config(tenant).await.is_err() {
            return None;
        }
        match self.users.get_user(tenant, &record.user_id).await {
            Ok(Some(u)) if u.status == crate::domain::user::UserStatus::Active => Some(session),
            _ => None,
        }
    }

    /// Logout: ends the cookie's server-side session (whatever else holds), then says where to
    /// send the browser.
    pub async fn end_session(
        &self,
        tenant: &TenantId,
        cookie: Option<&str>,
        post_logout: &str,
    ) -> Result<String, SsoError> {
        let session = match cookie {
            Some(c) => self.open_cookie(tenant, c).await,
            None => None,
        };
        let mut hint = None;
        if let Some(s) = &session {
            hint = self.logins.get_session(tenant, &s.sid, self.clock.now()).await?.and_then(|r| r.id_token);
            self.logins.delete_session(tenant, &s.sid).await?;
            tracing::info!(user_id = %s.user_id, "signed out: session ended");
        }
        self.logout_redirect(tenant, hint.as_deref(), post_logout).await
    }

    /// Where to send the browser after clearing the session: the issuer's end-session endpoint
    /// when it has one (and SSO is configured), else `post_logout`.
    async fn logout_redirect(
        &self,
        tenant: &TenantId,
        hint: Option<&str>,
        post_logout: &str,
    ) -> Result<String, SsoError> {
        let Ok(config) = self.config(tenant).await else { return Ok(post_logout.to_owned()) };
        let Ok(client) = self.client(&config).await else { return Ok(post_logout.to_owned()) };
        match self.oidc.end_session_url(&client, hint, post_logout).await {
            Ok(Some(url)) => Ok(url),
            Ok(None) => Ok(post_logout.to_owned()),
            Err(e) => {
                tracing::warn!(error = %e, "end-session endpoint unavailable; logging out locally only");
                Ok(post_logout.to_owned())
            }
        }
    }

    async fn linked_user(&self, config: &TenantConfig, who: &SignedIn) -> Result<User, SsoError> {
        let tenant = &config.tenant;
        for _ in 0..3 {
            let by_okta = self.users.find_by_okta_id(tenant, &who.okta_id).await?;
            let by_email = match (&by_okta, who.email.as_deref().map(Email::parse)) {
                (None, Some(Ok(email))) => self.users.find_by_email(tenant, &email).await?,
                _ => None,
            };
            match link(by_okta, by_email, who, config.jit_provisioning, &config.okta_domain) {
                Link::Existing(user) => return Ok(user),
                Link::ByEmail(user) => match self.store_okta_id(config, &user, who).await {
                    Ok(user) => {
                        // Hooks or a sync may have named them as a manager by Okta id already.
                        match self.provisioner.resolve_references(config, &user, Actor::Sso).await {
                            Ok(()) => {}
                            Err(ProvisionError::Store(e)) => return Err(e.into()),
                            Err(e) => tracing::warn!(error = %e, "pending references not resolved at sign-in"),
                        }
                        return Ok(user);
                    }
                    Err(StoreError::VersionConflict | StoreError::Duplicate(_)) => continue,
                    Err(e) => return Err(e.into()),
                },
                Link::Provision => {
                    self.provision(config, who).await?;
                    continue;
                }
                Link::Refuse(why) => {
                    tracing::info!(?why, "sign-in refused");
                    return Err(SsoError::Refused(why));
                }
            }
        }
        Err(SsoError::Unavailable("the user kept changing during sign-in".into()))
    }

    /// Links a user found by verified email to the Okta account that signed in.
    async fn store_okta_id(&self, config: &TenantConfig, before: &User, who: &SignedIn) -> Result<User, StoreError> {
        let tenant = &config.tenant;
        let now = self.clock.now();
        let mut after = before.clone();
        after.okta_id = Some(who.okta_id.clone());
        after.okta_org = Some(config.okta_domain.clone());
        after.updated_at = now;
        let change = NewChange::user(now, Actor::Sso, Action::Updated, before.id.as_str(), before, &after);
        let stored = self.writer.update_user(tenant, before, &after, &[change]).await?;
        tracing::info!(user_id = %stored.id, "Okta id linked by verified email at sign-in");
        Ok(stored)
    }

    /// Just-in-time provisioning through the provisioning state machine, from the claims.
    async fn provision(&self, config: &TenantConfig, who: &SignedIn) -> Result<(), SsoError> {
        let mut profile = Map::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                profile.insert(k.into(), Value::String(v.clone()));
            }
        };
        put("email", &who.email);
        put("login", &who.email);
        put("firstName", &who.given_name);
        put("lastName", &who.family_name);
        put("locale", &who.locale);
        // The claims' time, or none: any later read of Okta's real profile must win over these.
        let last_updated = who.updated_at.unwrap_or(DateTime::UNIX_EPOCH);
        let user: OktaUser = serde_json::from_value(json!({
            "id": who.okta_id.as_str(), "status": "ACTIVE", "lastUpdated": last_updated, "profile": profile,
        }))
        .map_err(|e| SsoError::Unavailable(Box::new(e)))?;
        let truth = Truth::Present { user, assigned: true };
        match self.provisioner.converge(config, &who.okta_id, &truth, Actor::Sso, Mode::Apply).await {
            Ok(outcome) => {
                tracing::info!(?outcome, "user provisioned just in time at sign-in");
                Ok(())
            }
            Err(ProvisionError::Conflict) => Ok(()),
            Err(ProvisionError::Store(e)) => Err(e.into()),
            Err(e) => Err(SsoError::Unavailable(Box::new(e))),
        }
    }
}
