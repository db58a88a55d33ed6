//! The OpenID Connect client, on the `openidconnect` crate (no token cryptography here): discovery
//! and JWKS cached per issuer and refreshed once when an ID token names an unknown key, the code
//! exchanged with the client secret by the auth method the issuer advertises, the ID token verified
//! (signature, `iss`, `aud`, `exp`, `nonce`) at the caller's clock, then `/userinfo`.
use crate::locks::Locked;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType, CoreUserInfoClaims,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use super::outbound::{read_capped, OutboundPolicy, MAX_OIDC_BODY};
use crate::domain::sso::{LoginState, SignedIn};
use crate::domain::OktaUserId;
use crate::ports::sso::{IdpMetadataSource, MetadataFetchError, OidcClient, OidcError, OidcProvider};
use crate::ports::{error_chain, Clock};

/// Discovery (with the JWKS it points to) is reused for this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);

/// The one discovery field beyond the core set that we need: RP-initiated logout's endpoint.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
struct LogoutMetadata {
    end_session_endpoint: Option<String>,
}

impl openidconnect::AdditionalProviderMetadata for LogoutMetadata {}

type Metadata = openidconnect::ProviderMetadata<
    LogoutMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

struct Cached {
    metadata: Metadata,
    fetched: Instant,
}

pub struct OidcHttp {
    http: reqwest::Client,
    policy: OutboundPolicy,
    cache: Mutex<HashMap<String, std::sync::Arc<Cached>>>,
}

impl Default for OidcHttp {
    fn default() -> Self {
        Self::new(OutboundPolicy::default())
    }
}

/// One HTTP exchange for `openidconnect`, through our client: the URL checked at use, the answer
/// read up to [`MAX_OIDC_BODY`].
async fn capped_call(
    http: reqwest::Client,
    policy: OutboundPolicy,
    home: Option<(String, u16)>,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, std::io::Error> {
    let (parts, body) = request.into_parts();
    let url = policy.check_url(&parts.uri.to_string()).map_err(std::io::Error::other)?;
    if home.is_none() || host_port(url.as_str()) != home {
        return Err(std::io::Error::other("a request to a host other than the issuer's host was refused"));
    }
    let response = http
        .request(parts.method, url)
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| std::io::Error::other(e.without_url()))?;
    let mut builder = http::Response::builder().status(response.status());
    for (k, v) in response.headers() {
        builder = builder.header(k, v);
    }
    let body = read_capped(response, MAX_OIDC_BODY).await.map_err(std::io::Error::other)?;
    builder.body(body).map_err(std::io::Error::other)
}

/// Every endpoint a discovery document names must be on the issuer's own host (and pass the
/// outbound rules): a document cannot send our secrets, codes or key fetches anywhere else.
fn host_port(u: &str) -> Option<(String, u16)> {
    let u = url::Url::parse(u).ok()?;
    Some((u.host_str()?.to_ascii_lowercase(), u.port_or_known_default()?))
}

fn check_endpoints(issuer: &str, metadata: &Metadata, policy: OutboundPolicy) -> Result<(), OidcError> {
    let host_of = host_port;
    let home = host_of(issuer);
    let mut endpoints = vec![
        ("jwks_uri", metadata.jwks_uri().url().to_string()),
        ("authorization_endpoint", metadata.authorization_endpoint().url().to_string()),
    ];
    if let Some(t) = metadata.token_endpoint() {
        endpoints.push(("token_endpoint", t.url().to_string()));
    }
    if let Some(u) = metadata.userinfo_endpoint() {
        endpoints.push(("userinfo_endpoint", u.url().to_string()));
    }
    if let Some(e) = &metadata.additional_metadata().end_session_endpoint {
        endpoints.push(("end_session_endpoint", e.clone()));
    }
    for (name, endpoint) in endpoints {
        policy.check_url(&endpoint).map_err(|e| OidcError::Discovery(format!("{name}: {e}")))?;
        if host_of(&endpoint) != home {
            return Err(OidcError::Discovery(format!("{name} is not on the issuer's host")));
        }
    }
    Ok(())
}

impl OidcHttp {
    /// The HTTP client `openidconnect` uses for `issuer`: every request checked at use, to the
    /// issuer's own host only, its answer capped.
    fn call(
        &self,
        issuer: &str,
    ) -> impl Fn(
        openidconnect::HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, std::io::Error>> + Send>,
    > + '_ {
        let home = host_port(issuer);
        move |request| Box::pin(capped_call(self.http.clone(), self.policy, home.clone(), request))
    }

    #[allow(clippy::expect_used, reason = "fails only if the TLS backend cannot start: a broken build, not a request")]
    pub fn new(policy: OutboundPolicy) -> Self {
        let http = reqwest::Client::builder()
            // OAuth endpoints must not redirect (SSRF and code leakage).
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(policy.resolver())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .user_agent(concat!("okta-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a TLS backend is available");
        Self { http, policy, cache: Mutex::new(HashMap::new()) }
    }

    /// Most bytes of SAML IdP metadata read.
    const MAX_METADATA: usize = crate::domain::saml::metadata::MAX_METADATA_BYTES;

    async fn discover(&self, issuer: &str, fresh: bool) -> Result<std::sync::Arc<Cached>, OidcError> {
        if !fresh {
            if let Some(hit) = self.cache.locked().get(issuer) {
                if hit.fetched.elapsed() < METADATA_TTL {
                    return Ok(hit.clone());
                }
            }
        }
        self.policy.check_url(issuer).map_err(|e| OidcError::Discovery(format!("issuer: {e}")))?;
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| OidcError::Discovery(e.to_string()))?;
        // Checks that the document's issuer is exactly ours, and fetches the JWKS (itself checked
        // at use by the capped client).
        let metadata = Metadata::discover_async(url, &self.call(issuer))
            .await
            .map_err(|e| OidcError::Discovery(error_chain(&e)))?;
        check_endpoints(issuer, &metadata, self.policy)?;
        let cached = std::sync::Arc::new(Cached { metadata, fetched: Instant::now() });
        self.cache.locked().insert(issuer.to_owned(), cached.clone());
        Ok(cached)
    }

    fn client(
        metadata: &Metadata,
        client: &OidcClient,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        // client_secret_basic unless the issuer says it only takes client_secret_post.
        let methods = metadata.token_endpoint_auth_methods_supported();
        let post_only = methods.is_some_and(|m| {
            !m.contains(&CoreClientAuthMethod::ClientSecretBasic) && m.contains(&CoreClientAuthMethod::ClientSecretPost)
        });
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| OidcError::Discovery(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(client.client_id.clone()),
            Some(ClientSecret::new(client.client_secret.expose().to_owned())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(if post_only { AuthType::RequestBody } else { AuthType::BasicAuth }))
    }
}

#[async_trait]
impl OidcProvider for OidcHttp {
    async fn check_issuer(&self, issuer: &str) -> Result<(), OidcError> {
        self.discover(issuer, true).await.map(|_| ())
    }

    async fn authorize_url(&self, client: &OidcClient, login: &LoginState) -> Result<String, OidcError> {
        let cached = self.discover(&client.issuer, false).await?;
        let oidc = Self::client(&cached.metadata, client, &login.redirect_uri)?;
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(login.pkce_verifier.clone()));
        let (state, nonce) = (login.state.clone(), login.nonce.clone());
        let (url, _, _) = oidc
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url.to_string())
    }

    async fn sign_in(
        &self,
        client: &OidcClient,
        login: &LoginState,
        code: &str,
        clock: &dyn Clock,
    ) -> Result<(SignedIn, String), OidcError> {
        let cached = self.discover(&client.issuer, false).await?;
        let oidc = Self::client(&cached.metadata, client, &login.redirect_uri)?;
        let token = oidc
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Discovery(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&self.call(&client.issuer))
            .await
            .map_err(|e| OidcError::Exchange(error_chain(&e)))?;
        let id_token = token.id_token().ok_or_else(|| OidcError::InvalidIdToken("no ID token".into()))?;
        let nonce = Nonce::new(login.nonce.clone());
        let verified = {
            let verifier = oidc.id_token_verifier().set_time_fn(|| clock.now());
            id_token.claims(&verifier, &nonce).cloned()
        };
        let claims = match verified {
            Ok(c) => c,
            // Keys rotate: an unknown `kid` is worth one fresh look at the issuer's keys.
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self.discover(&client.issuer, true).await?;
                let oidc = Self::client(&fresh.metadata, client, &login.redirect_uri)?;
                let verifier = oidc.id_token_verifier().set_time_fn(|| clock.now());
                id_token.claims(&verifier, &nonce).map_err(|e| OidcError::InvalidIdToken(error_chain(&e)))?.clone()
            }
            Err(e) => return Err(OidcError::InvalidIdToken(error_chain(&e))),
        };
        let okta_id = OktaUserId::parse(claims.subject().as_str())
            .map_err(|_| OidcError::InvalidIdToken("the subject is not an Okta user id".into()))?;
        let info: CoreUserInfoClaims = oidc
            .user_info(token.access_token().clone(), Some(claims.subject().clone()))
            .map_err(|e| OidcError::UserInfo(e.to_string()))?
            .request_async(&self.call(&client.issuer))
            .await
            .map_err(|e| OidcError::UserInfo(error_chain(&e)))?;
        let any = |c: Option<&openidconnect::LocalizedClaim<openidconnect::EndUserGivenName>>| {
            c.and_then(|c| c.get(None)).map(|n| n.as_str().to_owned())
        };
        let family = info.family_name().and_then(|c| c.get(None)).map(|n| n.as_str().to_owned());
        let signed_in = SignedIn {
            okta_id,
            email: info.email().or(claims.email()).map(|e| e.as_str().to_owned()),
            email_verified: info.email_verified().or(claims.email_verified()).unwrap_or(false),
            given_name: any(info.given_name()),
            family_name: family,
            locale: info.locale().map(|l| l.as_str().to_owned()),
            updated_at: info.updated_at(),
        };
        Ok((signed_in, id_token.to_string()))
    }

    async fn end_session_url(
        &self,
        client: &OidcClient,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: &str,
    ) -> Result<Option<String>, OidcError> {
        let cached = self.discover(&client.issuer, false).await?;
        let Some(endpoint) = &cached.metadata.additional_metadata().end_session_endpoint else { return Ok(None) };
        let mut url = reqwest::Url::parse(endpoint).map_err(|e| OidcError::Discovery(e.to_string()))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(hint) = id_token_hint {
                q.append_pair("id_token_hint", hint);
            }
            q.append_pair("client_id", &client.client_id);
            q.append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
        }
        Ok(Some(url.to_string()))
    }
}

/// SAML IdP metadata, fetched by the same client: the URL checked at use (https, public
/// addresses; loopback only for local runs), no redirects, the body capped at 100 KB.
#[async_trait]
impl IdpMetadataSource for OidcHttp {
    async fn fetch_metadata(&self, url: &str) -> Result<String, MetadataFetchError> {
        let checked = self.policy.check_url(url).map_err(|e| MetadataFetchError::NotAllowed(e.to_string()))?;
        let response = self
            .http
            .get(checked)
            .header("Accept", "application/samlmetadata+xml, application/xml, text/xml")
            .send()
            .await
            .map_err(|e| MetadataFetchError::Unreachable(error_chain(&e.without_url())))?;
        if !response.status().is_success() {
            return Err(MetadataFetchError::Unreachable(format!("HTTP {}", response.status().as_u16())));
        }
        let body = read_capped(response, Self::MAX_METADATA)
            .await
            .map_err(|e| MetadataFetchError::Unreachable(error_chain(&e)))?;
        String::from_utf8(body).map_err(|_| MetadataFetchError::Unreachable("the answer is not UTF-8".into()))
    }
}
