//! Outbound HTTP safety (no SSRF): every call to a URL a tenant configured (the Okta org, the
//! OIDC issuer and the endpoints its discovery document names) goes only to public addresses over
//! https. Checked when the URL is used, not only when it was saved: the URL's own host if it is an
//! address, and every address its name resolves to (a resolver that drops private, loopback and
//! link-local answers, so a name that points inside the network reaches nothing). Bodies are read
//! up to a cap.
//!
//! `ALLOW_INSECURE_OKTA=1` (make dev and the tests, with a local Okta simulator and OpenID
//! provider) allows plain http and the loopback range only, never other private ranges, and is
//! ignored inside Lambda.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub use crate::domain::net::is_forbidden;

/// Most bytes read from one answer of Okta's API (a page of 500 users with their profiles is well
/// under this).
pub const MAX_OKTA_BODY: usize = 16 * 1024 * 1024;
/// Most bytes read from one answer of an identity provider (discovery, keys, tokens, userinfo).
pub const MAX_OIDC_BODY: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("the URL is not valid")]
    InvalidUrl,
    #[error("only https is allowed")]
    NotHttps,
    #[error("the URL points at a private, loopback or link-local address")]
    ForbiddenAddress,
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
}

/// What outbound calls may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Plain http and loopback addresses (a local simulator): only outside Lambda.
    pub allow_loopback: bool,
}

impl OutboundPolicy {
    /// From `ALLOW_INSECURE_OKTA`, honoured only where no Lambda runtime is present.
    pub fn from_settings(allow_insecure_okta: bool) -> Self {
        let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
            || std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
        if allow_insecure_okta && in_lambda {
            tracing::warn!("ALLOW_INSECURE_OKTA is ignored inside Lambda");
        }
        Self { allow_loopback: allow_insecure_okta && !in_lambda }
    }

    fn allows(&self, ip: IpAddr) -> bool {
        !is_forbidden(ip) || (self.allow_loopback && ip.is_loopback())
    }

    /// Checks a URL before it is used: https (http only to loopback when allowed), and a literal
    /// address host must be public. Names are checked when they resolve ([`SafeResolver`]).
    pub fn check_url(&self, raw: &str) -> Result<url::Url, OutboundError> {
        let url = url::Url::parse(raw).map_err(|_| OutboundError::InvalidUrl)?;
        let host = url.host().ok_or(OutboundError::InvalidUrl)?;
        let loopback_name = matches!(&host, url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost"));
        let ip = match host {
            url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
            url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
            url::Host::Domain(_) => None,
        };
        match url.scheme() {
            "https" => {}
            "http" if self.allow_loopback && (loopback_name || ip.is_some_and(|i| i.is_loopback())) => {}
            _ => return Err(OutboundError::NotHttps),
        }
        if let Some(ip) = ip {
            if !self.allows(ip) {
                return Err(OutboundError::ForbiddenAddress);
            }
        }
        if loopback_name && !self.allow_loopback {
            return Err(OutboundError::ForbiddenAddress);
        }
        Ok(url)
    }

    /// A DNS resolver for reqwest that keeps only the addresses this policy allows.
    pub fn resolver(&self) -> Arc<SafeResolver> {
        Arc::new(SafeResolver { policy: *self })
    }
}

/// Resolves names with the system resolver, then drops every address the policy forbids; a name
/// with no address left fails to connect.
#[derive(Debug, Clone)]
pub struct SafeResolver {
    policy: OutboundPolicy,
}

impl Resolve for SafeResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(std::io::Error::other(format!(
                    "{host} resolves only to private, loopback or link-local addresses"
                ))) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Reads a response body, refusing more than `max` bytes (whatever `Content-Length` claims).
pub async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, ReadError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(ReadError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| ReadError::Http(e.without_url()))? {
        if body.len() + chunk.len() > max {
            return Err(ReadError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the answer could not be read")]
    Http(#[source] reqwest::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_at_use() {
        let strict = OutboundPolicy { allow_loopback: false };
        let local = OutboundPolicy { allow_loopback: true };
        assert!(strict.check_url("https://acme.okta.com/api/v1/users").is_ok());
        assert_eq!(strict.check_url("http://acme.okta.com").unwrap_err(), OutboundError::NotHttps);
        for bad in ["https://169.254.169.254/latest", "https://10.0.0.5", "https://[::1]:8443", "https://localhost"] {
            assert_eq!(strict.check_url(bad).unwrap_err(), OutboundError::ForbiddenAddress, "{bad}");
        }
        // Local development: loopback only, never other private ranges; no prefix games.
        assert!(local.check_url("http://127.0.0.1:9010/api/v1/users").is_ok());
        assert!(local.check_url("http://localhost:9010").is_ok());
        assert_eq!(local.check_url("http://127.attacker.example").unwrap_err(), OutboundError::NotHttps);
        assert_eq!(local.check_url("http://10.0.0.5").unwrap_err(), OutboundError::NotHttps);
        assert_eq!(local.check_url("https://10.0.0.5").unwrap_err(), OutboundError::ForbiddenAddress);
    }

    #[tokio::test]
    async fn names_that_resolve_inside_are_dropped() {
        let strict = OutboundPolicy { allow_loopback: false }.resolver();
        let name: Name = "localhost".parse().unwrap();
        assert!(strict.resolve(name).await.is_err(), "localhost resolves to loopback only");
        let local = OutboundPolicy { allow_loopback: true }.resolver();
        let name: Name = "localhost".parse().unwrap();
        assert!(local.resolve(name).await.is_ok());
    }
}
