//! An identity provider in memory: it signs in whoever a test says a code belongs to, and checks
//! what a real provider would (the client, the login's PKCE verifier, a code used once).
use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::sso::{LoginState, SignedIn};
use crate::locks::Locked;
use crate::ports::sso::{IdpMetadataSource, MetadataFetchError, OidcClient, OidcError};
use crate::ports::{Clock, OidcProvider};

#[derive(Default)]
pub struct MemoryOidc {
    /// code → who it signs in (once).
    codes: Mutex<HashMap<String, SignedIn>>,
    /// state → PKCE verifier, as the authorization request carried its challenge.
    started: Mutex<HashMap<String, String>>,
    /// SAML IdP metadata by URL.
    metadata: Mutex<HashMap<String, String>>,
}

impl MemoryOidc {
    /// The provider will answer `code` with `who` (once).
    pub fn will_sign_in(&self, code: &str, who: SignedIn) {
        self.codes.locked().insert(code.to_owned(), who);
    }

    /// Serves `xml` as the SAML IdP metadata at `url` (`None`: the URL answers nothing).
    pub fn publish_metadata(&self, url: &str, xml: Option<&str>) {
        match xml {
            Some(x) => self.metadata.locked().insert(url.to_owned(), x.to_owned()),
            None => self.metadata.locked().remove(url),
        };
    }
}

#[async_trait]
impl IdpMetadataSource for MemoryOidc {
    async fn fetch_metadata(&self, url: &str) -> Result<String, MetadataFetchError> {
        self.metadata.locked().get(url).cloned().ok_or_else(|| MetadataFetchError::Unreachable("404".into()))
    }
}

#[async_trait]
impl OidcProvider for MemoryOidc {
    /// Any https issuer describes itself here; anything else does not.
    async fn check_issuer(&self, issuer: &str) -> Result<(), OidcError> {
        if issuer.starts_with("https://") {
            Ok(())
        } else {
            Err(OidcError::Discovery(format!("{issuer} is not an https issuer")))
        }
    }

    async fn authorize_url(&self, client: &OidcClient, login: &LoginState) -> Result<String, OidcError> {
        self.started.locked().insert(login.state.clone(), login.pkce_verifier.clone());
        Ok(format!("{}/v1/authorize?client_id={}&state={}", client.issuer, client.client_id, login.state))
    }

    async fn sign_in(
        &self,
        _client: &OidcClient,
        login: &LoginState,
        code: &str,
        _clock: &dyn Clock,
    ) -> Result<(SignedIn, String), OidcError> {
        let verifier = self.started.locked().get(&login.state).cloned();
        if verifier.as_deref() != Some(login.pkce_verifier.as_str()) {
            return Err(OidcError::Exchange("PKCE verification failed".into()));
        }
        let who = self.codes.locked().remove(code).ok_or_else(|| OidcError::Exchange("invalid_grant".into()))?;
        Ok((who, format!("id-token-for-{}", login.state)))
    }

    async fn end_session_url(
        &self,
        client: &OidcClient,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: &str,
    ) -> Result<Option<String>, OidcError> {
        Ok(id_token_hint
            .map(|_| format!("{}/v1/logout?post_logout_redirect_uri={post_logout_redirect_uri}", client.issuer)))
    }
}
