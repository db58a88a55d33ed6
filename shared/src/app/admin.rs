//! Admin use cases (docs/behaviour/admin-api.md, config part): who is calling, tenant config, secrets, SCIM and
//! tenant admin tokens, users.
use std::sync::Arc;

use serde::Serialize;
use tracing::instrument;

use super::secrets::{SecretError, SecretService, SecretStates, TenantSecret};
use super::tokens::{TokenError, TokenService};
use crate::domain::admin_session::{AdminSession, OpenedBy};
use crate::domain::api_token::{TokenInfo, TokenKind};
use crate::domain::sso::random_token;
use crate::domain::tenant::{ConfigRules, InvalidConfig, TenantConfig, TenantConfigInput};
use crate::domain::user::{User, UserStatus};
use crate::domain::{Email, OktaUserId, Secret, TenantId, UserId};
use crate::ports::user_store::UserQuery;
use crate::ports::{Cause, Clock, ConfigStore, LoginStateStore, Page, Random, StoreError, UserReader};

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("tenant not found")]
    TenantNotFound,
    #[error("user not found")]
    UserNotFound,
    #[error("token not found")]
    TokenNotFound,
    #[error("{0}")]
    TooManyTokens(String),
    #[error(transparent)]
    InvalidConfig(#[from] InvalidConfig),
    #[error("{0}")]
    Invalid(String),
    /// The request is valid but the record's state does not allow it.
    #[error("{0}")]
    InvalidState(String),
    #[error("the tenant config changed while it was being written; read it again and retry")]
    Conflict,
    #[error("a dependency is unavailable")]
    Unavailable(#[source] Cause),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict | StoreError::AlreadyExists => Self::Conflict,
            StoreError::InvalidCursor => Self::Invalid("cursor is not valid".into()),
            other => Self::Unavailable(Box::new(other)),
        }
    }
}

impl From<SecretError> for AdminError {
    fn from(e: SecretError) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

impl From<TokenError> for AdminError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::UnknownToken => Self::TokenNotFound,
            TokenError::TooMany => Self::TooManyTokens(e.to_string()),
            TokenError::Conflict => Self::Conflict,
            TokenError::Store(e) => e.into(),
            other => Self::Unavailable(Box::new(other)),
        }
    }
}

/// Who is calling the admin API (docs/behaviour/admin-api.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The deployment's operator token: every tenant, deployment secrets, DLQ redrive.
    Operator,
    /// A tenant admin token: that tenant's routes only.
    Tenant { tenant: TenantId, token_id: String },
}

/// Whether each secret is set (never values), and how many tokens are active.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SecretsStatus {
    #[serde(flatten)]
    pub secrets: SecretStates,
    pub scim_tokens_active: usize,
    pub admin_tokens_active: usize,
}

/// A tenant as the admin API shows it: the config, plus which secrets are set (never values).
#[derive(Debug, Clone, Serialize)]
pub struct TenantView {
    #[serde(flatten)]
    pub config: TenantConfig,
    pub secrets: SecretsStatus,
}

/// Filters of `GET /admin/tenants/{t}/users`.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub email: Option<String>,
    pub okta_id: Option<String>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

pub struct AdminService {
    configs: Arc<dyn ConfigStore>,
    users: Arc<dyn UserReader>,
    secrets: Arc<SecretService>,
    tokens: Arc<TokenService>,
    logins: Arc<dyn LoginStateStore>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    rules: ConfigRules,
}

/// How long an integration-page session lasts (it ends sooner at sign-out or on revocation).
pub const UI_SESSION_HOURS: i64 = 8;

/// What a [`AdminService`] is built from, by name (the composition root, `app::root`, fills it).
pub struct AdminDeps {
    pub configs: Arc<dyn ConfigStore>,
    pub users: Arc<dyn UserReader>,
    pub secrets: Arc<SecretService>,
    pub tokens: Arc<TokenService>,
    pub logins: Arc<dyn LoginStateStore>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub rules: ConfigRules,
}

impl AdminService {
    pub fn new(deps: AdminDeps) -> Self {
        let AdminDeps { configs, users, secrets, tokens, logins, clock, random, rules } = deps;
        Self { configs, users, secrets, tokens, logins, clock, random, rules }
    }

    /// Who presented this bearer token: a tenant admin token (by its record) or the operator
    /// token (the deployment secret), each compared in constant time; `None` for anything else.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<Caller>, AdminError> {
        if presented.starts_with(TokenKind::Admin.value_prefix()) {
            if let Some(v) = self.tokens.verify(TokenKind::Admin, presented).await? {
                return Ok(Some(Caller::Tenant { tenant: v.tenant, token_id: v.id }));
            }
        }
        Ok(self.secrets.verify_admin_token(presented).await?.then_some(Caller::Operator))
    }

    /// Opens an integration-page session for `tenant` with an admin credential: a tenant admin
    /// token (its own tenant only; `tenant` may be omitted) or the operator token (which must
    /// name the tenant). `None` when the credential is not valid for that tenant.
    pub async fn open_ui_session(
        &self,
        presented: &str,
        tenant: Option<&str>,
    ) -> Result<Option<AdminSession>, AdminError> {
        let named = match tenant.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => Some(TenantId::parse(t).map_err(|e| AdminError::Invalid(e.to_string()))?),
            None => None,
        };
        let (tenant, opened_by) = match self.authenticate(presented.trim()).await? {
            None => return Ok(None),
            Some(Caller::Tenant { tenant, token_id }) => {
                if named.as_ref().is_some_and(|n| *n != tenant) {
                    return Ok(None);
                }
                (tenant, OpenedBy::TenantToken { token_id })
            }
            Some(Caller::Operator) => {
                let tenant = named.ok_or_else(|| {
                    AdminError::Invalid("with the operator token, name the tenant to sign in to".into())
                })?;
                (
                    tenant,
                    OpenedBy::Operator { token_digest: crate::domain::secret::sha256_hex(presented.trim().as_bytes()) },
                )
            }
        };
        self.config(&tenant).await?;
        let now = self.clock.now();
        let sid = random_token(self.random.bytes32());
        let session = AdminSession {
            tenant,
            sid: String::new(),
            opened_by,
            csrf: String::new(),
            created_at: now,
            expires_at: now + chrono::Duration::hours(UI_SESSION_HOURS),
        }
        .with_sid(&sid);
        self.logins.put_admin_session(&session).await?;
        Ok(Some(session))
    }

    /// The session a cookie names, if it is open and the credential that opened it still holds.
    pub async fn ui_session(&self, cookie: &str) -> Result<Option<AdminSession>, AdminError> {
        let Some((tenant, sid)) = AdminSession::parse_cookie(cookie) else { return Ok(None) };
        let Some(session) = self.logins.get_admin_session(&tenant, &sid, self.clock.now()).await? else {
            return Ok(None);
        };
        let holds = match &session.opened_by {
            OpenedBy::TenantToken { token_id } => {
                let tokens = self.tokens.list(&tenant, TokenKind::Admin).await?;
                tokens.iter().any(|t| &t.id == token_id && t.active)
            }
            OpenedBy::Operator { token_digest } => self.secrets.admin_token_digest_accepted(token_digest).await?,
        };
        if !holds {
            self.logins.delete_admin_session(&tenant, &sid).await?;
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// A random value (256 bits, base64url) for the sign-in form's CSRF cookie.
    pub fn nonce(&self) -> String {
        random_token(self.random.bytes32())
    }

    /// Ends a session (sign-out).
    pub async fn close_ui_session(&self, session: &AdminSession) -> Result<(), AdminError> {
        Ok(self.logins.delete_admin_session(&session.tenant, &session.sid).await?)
    }

    async fn secrets_status(&self, tenant: &TenantId) -> Result<SecretsStatus, AdminError> {
        let (secrets, scim, admin) = tokio::join!(
            self.secrets.status(tenant),
            self.tokens.active_count(tenant, TokenKind::Scim),
            self.tokens.active_count(tenant, TokenKind::Admin),
        );
        Ok(SecretsStatus { secrets: secrets?, scim_tokens_active: scim?, admin_tokens_active: admin? })
    }

    async fn config(&self, tenant: &TenantId) -> Result<TenantConfig, AdminError> {
        self.configs.get_config(tenant).await?.ok_or(AdminError::TenantNotFound)
    }

    pub async fn get_tenant(&self, tenant: &TenantId) -> Result<TenantView, AdminError> {
        let config = self.config(tenant).await?;
        let secrets = self.secrets_status(tenant).await?;
        Ok(TenantView { config, secrets })
    }

    /// Creates or replaces a tenant's config. Returns the view and whether it was created.
    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn put_tenant(
        &self,
        tenant: &TenantId,
        input: TenantConfigInput,
    ) -> Result<(TenantView, bool), AdminError> {
        let existing = self.configs.get_config(tenant).await?;
        let config = input.into_config(tenant.clone(), existing.as_ref(), self.clock.now(), self.rules)?;
        let stored = self.configs.put_config(&config).await?;
        tracing::info!(version = stored.version, "tenant config written");
        let secrets = self.secrets_status(tenant).await?;
        Ok((TenantView { config: stored, secrets }, existing.is_none()))
    }

    pub async fn set_secret(&self, tenant: &TenantId, name: &str, value: Secret) -> Result<(), AdminError> {
        let kind = TenantSecret::settable(name)
            .ok_or_else(|| AdminError::Invalid("secret must be okta_api_token or oidc_client_secret".into()))?;
        if value.expose().trim().is_empty() || value.expose().len() > 4096 {
            return Err(AdminError::Invalid("value must be a non-empty string of at most 4096 bytes".into()));
        }
        self.config(tenant).await?;
        Ok(self.secrets.set(tenant, kind, value).await?)
    }

    pub async fn rotate_event_hook_secret(&self, tenant: &TenantId) -> Result<Secret, AdminError> {
        self.config(tenant).await?;
        Ok(self.secrets.rotate_event_hook_secret(tenant).await?)
    }

    pub async fn revoke_previous_event_hook_secret(&self, tenant: &TenantId) -> Result<(), AdminError> {
        self.config(tenant).await?;
        Ok(self.secrets.revoke_previous(tenant, TenantSecret::EventHookSecret).await?)
    }

    /// Issues a SCIM or tenant admin token of an existing tenant: its id and value (shown once).
    pub async fn issue_token(&self, tenant: &TenantId, kind: TokenKind) -> Result<(String, Secret), AdminError> {
        self.config(tenant).await?;
        Ok(self.tokens.issue(tenant, kind).await?)
    }

    pub async fn list_tokens(&self, tenant: &TenantId, kind: TokenKind) -> Result<Vec<TokenInfo>, AdminError> {
        self.config(tenant).await?;
        Ok(self.tokens.list(tenant, kind).await?)
    }

    pub async fn revoke_token(&self, tenant: &TenantId, kind: TokenKind, id: &str) -> Result<(), AdminError> {
        self.config(tenant).await?;
        Ok(self.tokens.revoke(tenant, kind, id).await?)
    }

    /// A new token for an active one, which keeps working until the returned time.
    pub async fn rotate_token(
        &self,
        tenant: &TenantId,
        kind: TokenKind,
        id: &str,
    ) -> Result<(String, Secret, chrono::DateTime<chrono::Utc>), AdminError> {
        self.config(tenant).await?;
        Ok(self.tokens.rotate(tenant, kind, id).await?)
    }

    /// Deployment secrets: the admin token (returned once) and the session signing key (never
    /// shown). The previous value keeps working for the overlap; `revoke_previous_*` ends it now.
    pub async fn rotate_admin_token(&self) -> Result<(Secret, Option<chrono::DateTime<chrono::Utc>>), AdminError> {
        Ok(self.secrets.rotate_admin_token().await?)
    }

    pub async fn rotate_session_key(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, AdminError> {
        Ok(self.secrets.rotate_session_key().await?)
    }

    pub async fn revoke_previous_admin_token(&self) -> Result<(), AdminError> {
        Ok(self.secrets.revoke_previous_deployment(true).await?)
    }

    pub async fn revoke_previous_session_key(&self) -> Result<(), AdminError> {
        Ok(self.secrets.revoke_previous_deployment(false).await?)
    }

    pub async fn get_user(&self, tenant: &TenantId, id: &str) -> Result<User, AdminError> {
        self.config(tenant).await?;
        let id = UserId::parse(id).map_err(|_| AdminError::UserNotFound)?;
        self.users.get_user(tenant, &id).await?.ok_or(AdminError::UserNotFound)
    }

    /// Lists users: by email or Okta id (a key lookup, at most one), else by status or all, paged.
    pub async fn list_users(&self, tenant: &TenantId, filter: UserFilter) -> Result<Page<User>, AdminError> {
        self.config(tenant).await?;
        let status = filter
            .status
            .as_deref()
            .map(|s| {
                UserStatus::parse(s).ok_or_else(|| AdminError::Invalid("status must be active or deactivated".into()))
            })
            .transpose()?;
        let limit = filter.limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(AdminError::Invalid(format!("limit must be between 1 and {MAX_PAGE}")));
        }
        let single = if let Some(email) = filter.email.as_deref() {
            let email = Email::parse(email).map_err(|_| AdminError::Invalid("email is not a valid address".into()))?;
            Some(self.users.find_by_email(tenant, &email).await?)
        } else if let Some(okta_id) = filter.okta_id.as_deref() {
            let okta_id =
                OktaUserId::parse(okta_id).map_err(|_| AdminError::Invalid("okta_id is not a valid Okta id".into()))?;
            Some(self.users.find_by_okta_id(tenant, &okta_id).await?)
        } else {
            None
        };
        if let Some(found) = single {
            let items = found.into_iter().filter(|u| status.is_none_or(|s| u.status == s)).collect();
            return Ok(Page { items, next: None });
        }
        Ok(self.users.list_users(tenant, &UserQuery { status, cursor: filter.cursor, limit }).await?)
    }
}

#[cfg(test)]
#[cfg(feature = "fakes")]
mod tests {
    use super::*;
    use crate::fakes::Fakes;

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    fn input(json: serde_json::Value) -> TenantConfigInput {
        serde_json::from_value(json).unwrap()
    }

    #[tokio::test]
    async fn integration_page_sessions_follow_the_credential_that_opened_them() {
        let f = Fakes::new();
        let admin = f.admin();
        admin.put_tenant(&acme(), input(serde_json::json!({"okta_domain": "https://acme.okta.com"}))).await.unwrap();
        let other = TenantId::parse("other").unwrap();
        admin.put_tenant(&other, input(serde_json::json!({"okta_domain": "https://other.okta.com"}))).await.unwrap();
        let (id, token) = admin.issue_token(&acme(), TokenKind::Admin).await.unwrap();
        assert!(admin.open_ui_session(token.expose(), Some("other")).await.unwrap().is_none(), "its own tenant only");
        assert!(admin.open_ui_session("obadm_nope", None).await.unwrap().is_none());
        let session = admin.open_ui_session(token.expose(), None).await.unwrap().unwrap();
        assert_eq!(session.tenant, acme());
        assert!(session.csrf_matches(&session.csrf.clone()) && !session.csrf_matches("forged"));
        let cookie = session.cookie_value();
        assert_eq!(admin.ui_session(&cookie).await.unwrap().as_ref(), Some(&session));
        // Revoking the token ends the session; so does signing out.
        admin.revoke_token(&acme(), TokenKind::Admin, &id).await.unwrap();
        assert_eq!(admin.ui_session(&cookie).await.unwrap(), None);
        let (_, token) = admin.issue_token(&acme(), TokenKind::Admin).await.unwrap();
        let session = admin.open_ui_session(token.expose(), Some("acme")).await.unwrap().unwrap();
        admin.close_ui_session(&session).await.unwrap();
        assert_eq!(admin.ui_session(&session.cookie_value()).await.unwrap(), None);
        // A cookie naming another tenant with this sid finds nothing.
        let session = admin.open_ui_session(token.expose(), None).await.unwrap().unwrap();
        assert_eq!(admin.ui_session(&format!("other.{}", session.sid)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn put_then_get_tenant() {
        let f = Fakes::new();
        let admin = f.admin();
        assert!(matches!(admin.get_tenant(&acme()).await, Err(AdminError::TenantNotFound)));
        let (view, created) = admin
            .put_tenant(&acme(), input(serde_json::json!({"okta_domain": "https://acme.okta.com"})))
            .await
            .unwrap();
        assert!(created);
        assert_eq!(view.config.version, 1);
        let (view, created) = admin
            .put_tenant(&acme(), input(serde_json::json!({"okta_domain": "https://acme2.okta.com"})))
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(view.config.version, 2);
        assert_eq!(admin.get_tenant(&acme()).await.unwrap().config.okta_domain, "https://acme2.okta.com");
    }

    #[tokio::test]
    async fn secrets_need_an_existing_tenant_and_a_known_name() {
        let f = Fakes::new();
        let admin = f.admin();
        assert!(matches!(
            admin.set_secret(&acme(), "okta_api_token", Secret::new("x")).await,
            Err(AdminError::TenantNotFound)
        ));
        admin.put_tenant(&acme(), input(serde_json::json!({"okta_domain": "https://acme.okta.com"}))).await.unwrap();
        assert!(matches!(
            admin.set_secret(&acme(), "admin_token", Secret::new("x")).await,
            Err(AdminError::Invalid(_))
        ));
        assert!(matches!(
            admin.set_secret(&acme(), "okta_api_token", Secret::new("  ")).await,
            Err(AdminError::Invalid(_))
        ));
        admin.set_secret(&acme(), "okta_api_token", Secret::new("00abc")).await.unwrap();
        assert!(admin.get_tenant(&acme()).await.unwrap().secrets.secrets.okta_api_token.set);
    }

    #[tokio::test]
    async fn user_filters_are_validated() {
        let f = Fakes::new();
        let admin = f.admin();
        admin.put_tenant(&acme(), input(serde_json::json!({"okta_domain": "https://acme.okta.com"}))).await.unwrap();
        let bad = |filter: UserFilter| async { admin.list_users(&acme(), filter).await };
        assert!(matches!(
            bad(UserFilter { status: Some("gone".into()), ..Default::default() }).await,
            Err(AdminError::Invalid(_))
        ));
        assert!(matches!(bad(UserFilter { limit: Some(0), ..Default::default() }).await, Err(AdminError::Invalid(_))));
        assert!(matches!(
            bad(UserFilter { email: Some("nope".into()), ..Default::default() }).await,
            Err(AdminError::Invalid(_))
        ));
        assert!(matches!(
            bad(UserFilter { cursor: Some("!!".into()), ..Default::default() }).await,
            Err(AdminError::Invalid(_))
        ));
        assert_eq!(bad(UserFilter::default()).await.unwrap().items.len(), 0);
        assert!(matches!(admin.get_user(&acme(), "not-an-id").await, Err(AdminError::UserNotFound)));
    }
}
