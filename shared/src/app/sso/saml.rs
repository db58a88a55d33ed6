//! Sign-in by SAML 2.0 (docs/behaviour/sign-in.md, "SAML 2.0"): our SP metadata, the
//! SP-initiated AuthnRequest (request id single-use, ten minutes, bound to the browser), and the
//! ACS, which accepts a response only by every rule of `domain::saml`, answers only a request this
//! browser started (or, when the tenant allows it, an unsolicited one from the Okta dashboard),
//! and accepts each assertion once. The identity then goes down the path OIDC uses.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::instrument;

use super::{SignInDone, SsoError, SsoService, StartedLogin};
use crate::domain::saml::{self, decode_post, verify_response, Expected, IdpMetadata, SamlSubject};
use crate::domain::secret::sha256_hex;
use crate::domain::sso::{login_cookie_name, random_token, safe_return_to, LoginState, Refusal, SignedIn, LOGIN_TTL};
use crate::domain::tenant::{SsoProtocol, TenantConfig};
use crate::domain::{Email, OktaUserId, TenantId};
use crate::locks::Locked;
use crate::ports::StoreError;

/// Metadata fetched by URL is reused this long, and kept this much longer when a refetch fails
/// (an IdP's metadata endpoint being down must not stop sign-in).
const METADATA_TTL: Duration = Duration::from_secs(3600);
const METADATA_STALE_GRACE: Duration = Duration::from_secs(24 * 3600);
/// A signature no cached certificate verifies refetches metadata older than this once (the IdP
/// may have rolled its certificate over), and no more often: a flood of forged posts costs at
/// most one fetch a minute.
const METADATA_REFRESH_AFTER: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(super) struct MetadataCache(Mutex<HashMap<String, (Instant, IdpMetadata)>>);

/// Our SAML endpoints for a tenant, built by the caller from configuration (never from the
/// request): the entity id (= the metadata URL) and the ACS URLs (the tenant's own host form
/// first, then its `/t/{tenant}` form when that differs). The first ACS is the one we ask for.
#[derive(Debug, Clone)]
pub struct SamlEndpoints {
    pub entity_id: String,
    pub acs_urls: Vec<String>,
}

impl SamlEndpoints {
    fn acs(&self) -> &str {
        self.acs_urls.first().map_or("", String::as_str)
    }
}

impl SsoService {
    async fn saml_config(&self, tenant: &TenantId) -> Result<TenantConfig, SsoError> {
        let config = self.config(tenant).await?;
        if config.sso_protocol != SsoProtocol::Saml {
            return Err(SsoError::OtherProtocol(config.sso_protocol));
        }
        Ok(config)
    }

    /// The IdP's metadata: the stored XML, or the document at the URL (cached).
    async fn idp_metadata(&self, config: &TenantConfig) -> Result<IdpMetadata, SsoError> {
        self.idp_metadata_fresher_than(config, METADATA_TTL).await
    }

    /// The metadata, refetched when the cached copy is older than `max_age`.
    async fn idp_metadata_fresher_than(
        &self,
        config: &TenantConfig,
        max_age: Duration,
    ) -> Result<IdpMetadata, SsoError> {
        if let Some(xml) = &config.saml_idp_metadata_xml {
            return IdpMetadata::parse(xml).map_err(|e| SsoError::IdpMetadata(Box::new(e)));
        }
        let url = config.saml_idp_metadata_url.as_deref().ok_or(SsoError::NotConfigured)?;
        let cached = self.metadata_cache.0.locked().get(url).cloned();
        if let Some((at, metadata)) = &cached {
            if at.elapsed() < max_age {
                return Ok(metadata.clone());
            }
        }
        let fetched = match self.saml_metadata.fetch_metadata(url).await {
            Ok(xml) => IdpMetadata::parse(&xml).map_err(|e| SsoError::IdpMetadata(Box::new(e))),
            Err(e) => Err(SsoError::IdpMetadata(Box::new(e))),
        };
        match (fetched, cached) {
            (Ok(metadata), _) => {
                self.metadata_cache.0.locked().insert(url.to_owned(), (Instant::now(), metadata.clone()));
                Ok(metadata)
            }
            (Err(e), Some((at, metadata))) if at.elapsed() < METADATA_TTL + METADATA_STALE_GRACE => {
                tracing::warn!(error = %crate::ports::error_chain(&e), "IdP metadata refetch failed; using the cached copy");
                Ok(metadata)
            }
            (Err(e), _) => Err(e),
        }
    }

    /// Whether the tenant signs in by SAML now (SSO on, protocol `saml`): the error otherwise.
    pub async fn saml_enabled(&self, tenant: &TenantId) -> Result<(), SsoError> {
        self.saml_config(tenant).await.map(|_| ())
    }

    /// `GET /saml/metadata`: our SP metadata, for any tenant that exists (an admin pastes it into
    /// Okta before switching sign-in on).
    pub async fn saml_sp_metadata(&self, tenant: &TenantId, endpoints: &SamlEndpoints) -> Result<String, SsoError> {
        self.configs.get_config(tenant).await?.ok_or(SsoError::NotEnabled)?;
        Ok(saml::sp_metadata(&endpoints.entity_id, endpoints.acs()))
    }

    /// `GET /saml/login`: a single-use AuthnRequest id bound to this browser, and the IdP's URL
    /// carrying the request.
    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn saml_start(
        &self,
        tenant: &TenantId,
        return_to: Option<&str>,
        endpoints: &SamlEndpoints,
    ) -> Result<StartedLogin, SsoError> {
        let config = self.saml_config(tenant).await?;
        let return_to = safe_return_to(return_to).ok_or(SsoError::UnsafeReturnTo)?;
        let idp = self.idp_metadata(&config).await?;
        let now = self.clock.now();
        let id = saml::request_id(self.random.bytes32());
        let binding = random_token(self.random.bytes32());
        let login = LoginState {
            tenant: tenant.clone(),
            state: id.clone(),
            nonce: String::new(),
            pkce_verifier: String::new(),
            redirect_uri: endpoints.acs().to_owned(),
            return_to,
            browser_binding: sha256_hex(binding.as_bytes()),
            created_at: now,
            expires_at: now + LOGIN_TTL,
        };
        self.logins.put_login(&login).await?;
        let request = saml::authn_request(&id, now, &endpoints.entity_id, endpoints.acs(), &idp.sso_url);
        tracing::info!("SAML login started");
        Ok(StartedLogin {
            url: saml::redirect_url(&idp.sso_url, &request, None),
            cookie_name: login_cookie_name(&id),
            cookie_value: binding,
            cross_site: true,
        })
    }

    /// `POST /saml/acs`: the response checked by every rule, then the request it answers taken
    /// (once, by the browser that started it) or, unsolicited, allowed by the tenant; the
    /// assertion claimed once; then the shared sign-in path. `cookie` reads the browser's cookies
    /// by name (the login cookie's name comes from the request id the response answers).
    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn saml_acs(
        &self,
        tenant: &TenantId,
        posted: &str,
        relay_state: Option<&str>,
        cookie: &(dyn Fn(&str) -> Option<String> + Send + Sync),
        endpoints: &SamlEndpoints,
    ) -> Result<SignInDone, SsoError> {
        let config = self.saml_config(tenant).await?;
        let idp = self.idp_metadata(&config).await?;
        let now = self.clock.now();
        let text = decode_post(posted).map_err(SsoError::Saml)?;
        let expected = Expected { idp: &idp, sp_entity_id: &endpoints.entity_id, acs_urls: &endpoints.acs_urls, now };
        let mut verified = verify_response(&text, &expected);
        if verified == Err(saml::SamlRefusal::BadSignature) && config.saml_idp_metadata_url.is_some() {
            // Perhaps a certificate rollover the cached metadata does not know yet.
            let fresh = self.idp_metadata_fresher_than(&config, METADATA_REFRESH_AFTER).await?;
            if fresh != idp {
                tracing::info!("IdP metadata changed; checking the signature again");
                let expected = Expected { idp: &fresh, ..expected };
                verified = verify_response(&text, &expected);
            }
        }
        let asserted = verified.map_err(|refusal| {
            tracing::warn!(refusal = %refusal, "SAML response refused");
            SsoError::Saml(refusal)
        })?;
        let return_to = match &asserted.in_response_to {
            Some(request_id) => {
                let binding = cookie(&login_cookie_name(request_id)).map(|b| sha256_hex(b.as_bytes()));
                let binding = binding.unwrap_or_else(|| "absent".to_owned());
                match self.logins.take_login(tenant, request_id, &binding, now).await {
                    Ok(Some(login)) => login.return_to,
                    Ok(None) => {
                        tracing::warn!("SAML response to an unknown, used or expired request: refused");
                        return Err(SsoError::StaleState);
                    }
                    Err(StoreError::VersionConflict) => {
                        tracing::warn!("SAML response came to a browser that did not start the login: refused");
                        return Err(SsoError::OtherBrowser);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            None if !config.saml_allow_idp_initiated => {
                tracing::info!("unsolicited SAML response and IdP-initiated sign-in is off: refused");
                return Err(SsoError::IdpInitiatedOff);
            }
            None => safe_return_to(relay_state).unwrap_or_else(|| "/".to_owned()),
        };
        // Each assertion once, whichever way it came (the IdP-initiated replay guard too).
        let digest = sha256_hex(asserted.assertion_id.as_bytes());
        if !self.logins.claim_assertion(tenant, &digest, asserted.expires_at, now).await? {
            tracing::warn!("SAML assertion replayed: refused");
            return Err(SsoError::StaleState);
        }
        let who = self.saml_identity(&config, &asserted.subject).await?;
        let mut done = self.establish(&config, &who, None, return_to).await?;
        done.finished_login_cookie = asserted.in_response_to.as_deref().map(login_cookie_name);
        Ok(done)
    }

    /// Who the assertion names, as the shared path takes it. The email is the IdP's signed word
    /// (the tenant's own Okta org), so it counts as verified. Without the `oktaUserId` attribute,
    /// only a person already linked by a sync, SCIM or an earlier sign-in can be found.
    async fn saml_identity(&self, config: &TenantConfig, subject: &SamlSubject) -> Result<SignedIn, SsoError> {
        let okta_id = match subject.okta_id.as_deref().map(OktaUserId::parse) {
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => return Err(SsoError::Saml(saml::SamlRefusal::Malformed("oktaUserId is not an Okta id"))),
            None => None,
        };
        let okta_id = match okta_id {
            Some(id) => id,
            None => {
                let email = subject.email.as_deref().map(Email::parse);
                let Some(Ok(email)) = email else { return Err(SsoError::Refused(Refusal::OktaIdMissing)) };
                let found = self.users.find_by_email(&config.tenant, &email).await?;
                found.and_then(|u| u.okta_id).ok_or(SsoError::Refused(Refusal::OktaIdMissing))?
            }
        };
        Ok(SignedIn {
            okta_id,
            email: subject.email.clone(),
            email_verified: subject.email.is_some(),
            given_name: subject.first_name.clone(),
            family_name: subject.last_name.clone(),
            locale: None,
            updated_at: None,
        })
    }
}
