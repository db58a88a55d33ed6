//! HTTP helpers shared by the HTTP functions: bounded bodies, tenant resolution, request spans.
//! Each function maps the errors here to its own protocol's format, once.
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use http::request::Parts;
use http::HeaderMap;

use crate::domain::routing::{self, RoutingError};
use crate::domain::TenantId;

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body could not be read")]
    Unreadable,
}

/// Reads the whole body, refusing more than `limit` bytes (declared or actual).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let declared =
        headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if err.is::<http_body_util::LengthLimitError>() {
                return BodyError::TooLarge { limit };
            }
            source = err.source();
        }
        BodyError::Unreadable
    })
}

/// Middleware: one EMF line per tenant per request, written once the response is ready.
pub async fn flush_metrics(
    axum::extract::State(metrics): axum::extract::State<std::sync::Arc<crate::adapters::emf::EmfMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let response = next.run(req).await;
    metrics.flush();
    response
}

/// The tenant a request is for, from `Host` and the original path (docs/behaviour/tenants-and-routing.md).
pub fn tenant_of(parts: &Parts, base_domain: &str) -> Result<TenantId, RoutingError> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map(|u| u.0.path().to_owned())
        .unwrap_or_else(|| parts.uri.path().to_owned());
    let routed = routing::resolve(host, &path, base_domain)?;
    tracing::Span::current().record("tenant", routed.tenant.as_str());
    Ok(routed.tenant)
}

/// Where the product's public URLs live, from configuration: the HTTP API's origin and the domain
/// whose subdomains name tenants.
#[derive(Debug, Clone, Default)]
pub struct PublicUrls {
    /// `https://api.example.com` (`PUBLIC_API_URL`).
    pub api_url: String,
    /// `example.com` (`BASE_DOMAIN`; empty: path prefixes only).
    pub base_domain: String,
}

impl PublicUrls {
    /// The tenant's site as the browser or client sees it, built from configuration only, never
    /// from the request's `Host` or `X-Forwarded-*` headers (which a caller controls):
    /// `{api}/t/{tenant}` when the request came in under that prefix, else
    /// `{scheme}://{tenant}.{BASE_DOMAIN}[:port]` with the API's scheme and port.
    pub fn tenant_base(&self, original_path: &str, tenant: &TenantId) -> String {
        let prefix = format!("/t/{tenant}");
        let prefixed = original_path == prefix || original_path.starts_with(&format!("{prefix}/"));
        if prefixed || self.base_domain.is_empty() {
            return format!("{}{prefix}", self.api_url);
        }
        let (scheme, port) = match url::Url::parse(&self.api_url) {
            Ok(u) => (u.scheme().to_owned(), u.port().map(|p| format!(":{p}")).unwrap_or_default()),
            Err(_) => ("https".to_owned(), String::new()),
        };
        format!("{scheme}://{tenant}.{}{port}", self.base_domain)
    }

    /// Everything the tenant's admin pastes into Okta.
    pub fn setup_urls(&self, tenant: &TenantId) -> crate::domain::setup_urls::SetupUrls {
        crate::domain::setup_urls::SetupUrls::new(
            &self.tenant_base("/", tenant),
            &self.tenant_base(&format!("/t/{tenant}/"), tenant),
        )
    }
}

/// The path the request arrived with (before a nested router stripped a prefix).
pub fn original_path(req: &Request) -> String {
    req.extensions()
        .get::<axum::extract::OriginalUri>()
        .map(|u| u.0.path().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned())
}

/// Serves `routes` both as they are (tenant from `Host`) and under `/t/{tenant}`.
pub fn with_tenant_prefix<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    Router::new().merge(routes.clone()).nest("/t/{tenant}", routes)
}

/// A span per request: method, route, and the tenant once resolved. No query strings (they can
/// carry personal data), no headers (they carry secrets).
pub async fn request_span(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        route = %route,
        tenant = tracing::field::Empty,
        caller = tracing::field::Empty
    );
    async move {
        let mut response = next.run(req).await;
        tracing::info!(status = response.status().as_u16(), "handled");
        security_headers(&mut response);
        response
    }
    .instrument(span)
    .await
}

/// The content security policy of every HTML answer: nothing loads but the page's own inline
/// style; no script, no frames around it, forms post only to this site.
pub const HTML_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                            form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Headers every answer carries (HSTS, nosniff, no referrer), and every HTML answer too (CSP with
/// `frame-ancestors 'none'`, `X-Frame-Options: DENY`).
pub fn security_headers(response: &mut Response) {
    use http::header::{HeaderValue, CONTENT_TYPE};
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/html"));
    let h = response.headers_mut();
    h.insert("strict-transport-security", HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if !h.contains_key("referrer-policy") {
        h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    }
    if html {
        // A page with its own (stricter or script-bearing) policy keeps it.
        if !h.contains_key("content-security-policy") {
            h.insert("content-security-policy", HeaderValue::from_static(HTML_CSP));
        }
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    }
}

/// The value of the cookie named `wanted`, if the request carries it.
pub fn cookie_value(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(
        |c| {
            let (name, value) = c.trim().split_once('=')?;
            (name == wanted).then(|| value.to_owned())
        },
    )
}

/// The bearer token of an `Authorization` header, if it is one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty())
}

/// Escapes text for HTML element content and attribute values (every page we render).
pub use crate::domain::markup::escape as html_escape;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_leaves_nothing_that_could_break_out() {
        assert_eq!(html_escape("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let headers = HeaderMap::new();
        assert!(read_body(&headers, Body::from(vec![b'x'; 10]), 10).await.is_ok());
        assert!(matches!(
            read_body(&headers, Body::from(vec![b'x'; 11]), 10).await,
            Err(BodyError::TooLarge { limit: 10 })
        ));
        let mut declared = HeaderMap::new();
        declared.insert(http::header::CONTENT_LENGTH, "999".parse().unwrap());
        assert!(matches!(read_body(&declared, Body::empty(), 10).await, Err(BodyError::TooLarge { .. })));
    }

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(http::header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(http::header::AUTHORIZATION, "bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(http::header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert(http::header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
