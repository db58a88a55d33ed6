//! Sign-in by OpenID Connect (docs/behaviour/sign-in.md): the authorization-code flow with PKCE,
//! `state` and `nonce` single-use and bound to the browser; the identity then goes down the one
//! path both protocols share ([`SsoService::establish`]).
use tracing::instrument;

use super::{CallbackQuery, SignInDone, SsoError, SsoService, StartedLogin};
use crate::app::secrets::TenantSecret;
use crate::domain::secret::sha256_hex;
use crate::domain::sso::{login_cookie_name, random_token, safe_return_to, LoginState, LOGIN_TTL};
use crate::domain::tenant::{SsoProtocol, TenantConfig};
use crate::domain::TenantId;
use crate::ports::sso::{OidcClient, OidcError};
use crate::ports::StoreError;

impl SsoService {
    pub(super) async fn client(&self, config: &TenantConfig) -> Result<OidcClient, SsoError> {
        let client_id = config.client_id.clone().ok_or(SsoError::NotConfigured)?;
        let secret = self
            .secrets
            .current(&config.tenant, TenantSecret::OidcClientSecret)
            .await
            .map_err(|e| SsoError::Unavailable(Box::new(e)))?
            .ok_or(SsoError::NotConfigured)?;
        Ok(OidcClient { issuer: config.effective_issuer().to_owned(), client_id, client_secret: secret })
    }

    /// `/okta/login`: remembers a single-use login, bound to the browser by a random value the
    /// caller sets as the login cookie, and returns the authorization URL.
    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn start(
        &self,
        tenant: &TenantId,
        return_to: Option<&str>,
        redirect_uri: &str,
    ) -> Result<StartedLogin, SsoError> {
        let config = self.config(tenant).await?;
        if config.sso_protocol != SsoProtocol::Oidc {
            return Err(SsoError::OtherProtocol(config.sso_protocol));
        }
        let return_to = safe_return_to(return_to).ok_or(SsoError::UnsafeReturnTo)?;
        let client = self.client(&config).await?;
        let now = self.clock.now();
        let login = LoginState {
            tenant: tenant.clone(),
            state: random_token(self.random.bytes32()),
            nonce: random_token(self.random.bytes32()),
            pkce_verifier: random_token(self.random.bytes32()),
            redirect_uri: redirect_uri.to_owned(),
            return_to,
            browser_binding: String::new(),
            created_at: now,
            expires_at: now + LOGIN_TTL,
        };
        let binding = random_token(self.random.bytes32());
        let login = LoginState { browser_binding: sha256_hex(binding.as_bytes()), ..login };
        let url = self.oidc.authorize_url(&client, &login).await.map_err(SsoError::ProviderUnavailable)?;
        self.logins.put_login(&login).await?;
        tracing::info!("login started");
        Ok(StartedLogin { url, cookie_name: login_cookie_name(&login.state), cookie_value: binding, cross_site: false })
    }

    /// The callback: state taken (once), code exchanged, ID token verified, user linked, session.
    #[instrument(skip_all, fields(tenant = %tenant))]
    /// `binding` is the value of the login cookie named [`login_cookie_name`] of the state, as the
    /// callback's browser sent it: checked before the login is taken.
    pub async fn finish(
        &self,
        tenant: &TenantId,
        query: &CallbackQuery,
        binding: Option<&str>,
    ) -> Result<SignInDone, SsoError> {
        let config = self.config(tenant).await?;
        let state = query.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 512);
        let binding = binding.map(|b| sha256_hex(b.as_bytes()));
        if let Some(error) = &query.error {
            // Consume the state so the login cannot be finished later (only its own browser can).
            if let (Some(state), Some(binding)) = (state, binding.as_deref()) {
                let _ = self.logins.take_login(tenant, state, binding, self.clock.now()).await;
            }
            let error: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
            tracing::info!(error = %error, "Okta returned an error to the callback");
            return Err(SsoError::Provider(error));
        }
        let state = state.ok_or(SsoError::MissingState)?;
        // Without a login cookie nothing can match, but the answer still tells a used or unknown
        // state (a replay) from another browser's login.
        let binding = binding.unwrap_or_else(|| "absent".to_owned());
        let login = match self.logins.take_login(tenant, state, &binding, self.clock.now()).await {
            Ok(Some(login)) => login,
            Ok(None) => return Err(SsoError::StaleState),
            Err(StoreError::VersionConflict) => {
                tracing::warn!("a callback came to a browser that did not start the login: refused");
                return Err(SsoError::OtherBrowser);
            }
            Err(e) => return Err(e.into()),
        };
        let code = query.code.as_deref().filter(|c| !c.is_empty() && c.len() <= 2048).ok_or(SsoError::StaleState)?;
        let client = self.client(&config).await?;
        let (who, id_token) =
            self.oidc.sign_in(&client, &login, code, self.clock.as_ref()).await.map_err(|e| match e {
                OidcError::Discovery(_) => SsoError::ProviderUnavailable(e),
                other => SsoError::Verification(other),
            })?;
        self.establish(&config, &who, Some(id_token), login.return_to).await
    }
}
