//! The Okta Management API over HTTPS (docs/okta-wire.md §2–3): `SSWS` auth, bounded retries with
//! jitter on 5xx and timeouts, rate-limit headers tracked per org, `429` turned into "retry after"
//! (from `X-Rate-Limit-Reset` against the response's own `Date`), no redirects followed, and
//! `Link: rel="next"` paging that never leaves the org's origin (the token goes nowhere else).
use crate::locks::Locked;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::domain::okta::{AppUser, EventHook, EventHookSpec, OktaApp, OktaUser};
use crate::domain::OktaUserId;
use crate::ports::okta::{AppUserPage, OktaError, OktaOrg, RateLimit};
use crate::ports::OktaDirectory;

#[derive(Debug, Clone, Copy)]
pub struct OktaHttpOptions {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for 5xx, timeouts and connection errors.
    pub retries: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A 429 whose reset is at most this far away is waited out inline; a longer one is returned
    /// as `RateLimited` so the caller can reschedule the work instead of holding a Lambda.
    pub max_inline_wait: Duration,
    /// What the calls may reach (no SSRF): public https only, unless local development.
    pub outbound: super::outbound::OutboundPolicy,
}

impl Default for OktaHttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            retries: 3,
            backoff_base: Duration::from_millis(300),
            backoff_cap: Duration::from_secs(5),
            max_inline_wait: Duration::from_secs(2),
            outbound: Default::default(),
        }
    }
}

pub struct OktaHttp {
    client: reqwest::Client,
    options: OktaHttpOptions,
    rate: Mutex<HashMap<String, RateLimit>>,
    calls: std::sync::atomic::AtomicU64,
    metrics: Option<std::sync::Arc<dyn crate::ports::Metrics>>,
    /// What "now" is when a 429 carries a reset time but no `Date` header.
    clock: std::sync::Arc<dyn crate::ports::Clock>,
}

enum Fetched<T> {
    Found(T, HeaderMap),
    NotFound,
}

impl OktaHttp {
    #[allow(clippy::expect_used, reason = "fails only if the TLS backend cannot start: a broken build, not a request")]
    pub fn new(options: OktaHttpOptions) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(options.outbound.resolver())
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("okta-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a TLS backend is available");
        Self {
            client,
            options,
            rate: Mutex::new(HashMap::new()),
            calls: Default::default(),
            metrics: None,
            clock: std::sync::Arc::new(super::system::SystemClock),
        }
    }

    /// Reads the time from `clock` (the deployment's, or a test's).
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn crate::ports::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Counts every request (`OktaCalls`) and every 429 (`OktaRateLimited`) per tenant.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<dyn crate::ports::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count(&self, org: &OktaOrg, metric: crate::domain::metrics::Metric) {
        if let Some(m) = &self.metrics {
            m.add(&org.tenant, metric, 1);
        }
    }

    /// HTTP requests sent so far (retries included).
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.options.backoff_base.saturating_mul(2u32.saturating_pow(attempt)).min(self.options.backoff_cap);
        // Full jitter between half and all of the exponential delay.
        let mut b = [0u8; 2];
        // Jitter only: without the OS source, the midpoint will do.
        if getrandom::fill(&mut b).is_err() {
            b = [0, 0x80];
        }
        let frac = 0.5 + f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) / 2.0;
        exp.mul_f64(frac)
    }

    async fn get_json<T: DeserializeOwned>(&self, org: &OktaOrg, url: &str) -> Result<Fetched<T>, OktaError> {
        self.call_json(org, reqwest::Method::GET, url, None).await
    }

    /// One Management API call. A `GET` is retried on 5xx, timeouts and connection errors; a
    /// write (`POST`, `PUT`) only when the connection was never made, so Okta never sees it twice.
    async fn call_json<T: DeserializeOwned>(
        &self,
        org: &OktaOrg,
        method: reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Fetched<T>, OktaError> {
        // Checked at use, not only when the tenant's config was saved.
        self.options.outbound.check_url(url).map_err(|e| OktaError::Protocol(format!("refused URL: {e}")))?;
        let idempotent = method == reqwest::Method::GET;
        let retries = if idempotent { self.options.retries } else { 0 };
        let mut attempt = 0;
        loop {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.count(org, crate::domain::metrics::Metric::OktaCalls);
            let mut request = self
                .client
                .request(method.clone(), url)
                .header(AUTHORIZATION, format!("SSWS {}", org.api_token.expose()))
                .header(ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = request.send().await;
            let response = match sent {
                Ok(r) => r,
                Err(e) if e.is_connect() && !idempotent && attempt < self.options.retries => {
                    tracing::warn!(attempt, error = %e.without_url(), "Okta unreachable; retrying the write");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) if (e.is_timeout() || e.is_connect() || e.is_request()) && attempt < retries => {
                    tracing::warn!(attempt, error = %e.without_url(), "Okta call failed; retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(OktaError::Unavailable(Box::new(e.without_url()))),
            };
            let status = response.status();
            let headers = response.headers().clone();
            self.record_rate_limit(&org.base_url, &headers);
            match status {
                s if s.is_success() => {
                    let body = match super::outbound::read_capped(response, super::outbound::MAX_OKTA_BODY).await {
                        Ok(body) => body,
                        Err(super::outbound::ReadError::Http(e)) => return Err(OktaError::Unavailable(Box::new(e))),
                        Err(e) => return Err(OktaError::Protocol(e.to_string())),
                    };
                    let value = serde_json::from_slice(&body)
                        .map_err(|e| OktaError::Protocol(format!("invalid JSON from Okta: {e}")))?;
                    return Ok(Fetched::Found(value, headers));
                }
                StatusCode::BAD_REQUEST | StatusCode::CONFLICT => {
                    let (code, summary) = error_code_and_summary(response).await;
                    return Err(OktaError::Rejected {
                        status: status.as_u16(),
                        code: code.unwrap_or_default(),
                        summary: summary.unwrap_or_else(|| "no reason given".into()),
                    });
                }
                StatusCode::NOT_FOUND => {
                    let code = error_code(response).await;
                    return match code.as_deref() {
                        Some("E0000007") | Some("E0000048") => Ok(Fetched::NotFound),
                        other => {
                            Err(OktaError::Protocol(format!("404 {}", other.unwrap_or("without an Okta error code"))))
                        }
                    };
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    self.count(org, crate::domain::metrics::Metric::OktaRateLimited);
                    let wait = retry_after(&headers, self.clock.now());
                    // A 429 was not acted on, so even a write may be sent again.
                    if wait <= self.options.max_inline_wait && attempt < self.options.retries {
                        tracing::info!(
                            wait_ms = wait.as_millis() as u64,
                            "Okta rate limit reached; waiting for the reset"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(OktaError::RateLimited { retry_after: wait });
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    let code = error_code(response).await.unwrap_or_else(|| status.as_u16().to_string());
                    return Err(OktaError::Unauthorized { code });
                }
                s if s.is_server_error() && attempt < retries => {
                    tracing::warn!(attempt, status = s.as_u16(), "Okta server error; retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                s if s.is_server_error() => {
                    return Err(OktaError::Unavailable(
                        format!("Okta answered {} after {} attempts", s.as_u16(), attempt + 1).into(),
                    ));
                }
                s if s.is_redirection() => {
                    return Err(OktaError::Protocol(format!("redirect {} not followed", s.as_u16())))
                }
                s => {
                    let code = error_code(response).await;
                    return Err(OktaError::Protocol(format!("{} {}", s.as_u16(), code.unwrap_or_default())));
                }
            }
        }
    }

    fn record_rate_limit(&self, base_url: &str, headers: &HeaderMap) {
        let num =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
        if let (Some(limit), Some(remaining), Some(reset)) =
            (num("x-rate-limit-limit"), num("x-rate-limit-remaining"), num("x-rate-limit-reset"))
        {
            self.rate.locked().insert(
                base_url.to_owned(),
                RateLimit { limit: limit.max(0) as u64, remaining: remaining.max(0) as u64, reset },
            );
        }
    }
}

async fn error_code(response: reqwest::Response) -> Option<String> {
    error_code_and_summary(response).await.0
}

/// Okta's `errorCode` and `errorSummary`, from a body read to at most 64 KiB.
async fn error_code_and_summary(response: reqwest::Response) -> (Option<String>, Option<String>) {
    let Ok(body) = super::outbound::read_capped(response, 64 * 1024).await else { return (None, None) };
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&body) else { return (None, None) };
    let text = |k: &str| body.get(k).and_then(|c| c.as_str()).map(|s| s.chars().take(300).collect::<String>());
    (text("errorCode"), text("errorSummary"))
}

/// How long to wait after a 429: `X-Rate-Limit-Reset − Date + 1 s`, at least 1 s (Okta's SDKs).
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Duration {
    let reset =
        headers.get("x-rate-limit-reset").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let date = headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .map(|d| d.with_timezone(&Utc));
    match (reset, date) {
        (Some(reset), Some(date)) => {
            let ms = (reset * 1000 - date.timestamp_millis() + 1000).max(1000);
            Duration::from_millis(ms as u64)
        }
        (Some(reset), None) => Duration::from_millis(((reset - now.timestamp()) * 1000 + 1000).max(1000) as u64),
        _ => Duration::from_secs(60),
    }
}

/// The `rel="next"` URL of `Link` headers, separate or comma-joined.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers.get_all("link").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

fn same_origin(base: &str, url: &str) -> bool {
    match (url::Url::parse(base), url::Url::parse(url)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20")
}

#[async_trait]
impl OktaDirectory for OktaHttp {
    async fn get_user(&self, org: &OktaOrg, id_or_login: &str) -> Result<Option<OktaUser>, OktaError> {
        let url = format!("{}/api/v1/users/{}", org.base_url, encode(id_or_login));
        Ok(match self.get_json(org, &url).await? {
            Fetched::Found(user, _) => Some(user),
            Fetched::NotFound => None,
        })
    }

    async fn get_app(&self, org: &OktaOrg, app_id: &str) -> Result<Option<OktaApp>, OktaError> {
        let url = format!("{}/api/v1/apps/{}", org.base_url, encode(app_id));
        Ok(match self.get_json(org, &url).await? {
            Fetched::Found(app, _) => Some(app),
            Fetched::NotFound => None,
        })
    }

    async fn get_app_user(&self, org: &OktaOrg, app_id: &str, user: &OktaUserId) -> Result<Option<AppUser>, OktaError> {
        let url = format!("{}/api/v1/apps/{}/users/{}", org.base_url, encode(app_id), encode(user.as_str()));
        Ok(match self.get_json(org, &url).await? {
            Fetched::Found(app_user, _) => Some(app_user),
            Fetched::NotFound => None,
        })
    }

    async fn list_app_users(
        &self,
        org: &OktaOrg,
        app_id: &str,
        next: Option<&str>,
        limit: u32,
    ) -> Result<AppUserPage, OktaError> {
        let url = match next {
            Some(n) if same_origin(&org.base_url, n) => n.to_owned(),
            Some(_) => return Err(OktaError::Protocol("the next-page link leaves the Okta org".into())),
            None => format!(
                "{}/api/v1/apps/{}/users?expand=user&limit={}",
                org.base_url,
                encode(app_id),
                limit.clamp(1, 500)
            ),
        };
        match self.get_json::<Vec<AppUser>>(org, &url).await? {
            Fetched::Found(users, headers) => {
                let next = next_link(&headers);
                if let Some(n) = &next {
                    if !same_origin(&org.base_url, n) {
                        return Err(OktaError::Protocol("the next-page link leaves the Okta org".into()));
                    }
                }
                Ok(AppUserPage { users, next })
            }
            Fetched::NotFound => Err(OktaError::AppNotFound),
        }
    }

    fn rate_limit(&self, base_url: &str) -> Option<RateLimit> {
        self.rate.locked().get(base_url).copied()
    }

    async fn probe_users(&self, org: &OktaOrg) -> Result<(), OktaError> {
        let url = format!("{}/api/v1/users?limit=1", org.base_url);
        match self.get_json::<serde_json::Value>(org, &url).await? {
            Fetched::Found(..) => Ok(()),
            Fetched::NotFound => Err(OktaError::Protocol("the users API answered 404".into())),
        }
    }

    async fn list_event_hooks(&self, org: &OktaOrg) -> Result<Vec<EventHook>, OktaError> {
        let url = format!("{}/api/v1/eventHooks", org.base_url);
        match self.get_json(org, &url).await? {
            Fetched::Found(hooks, _) => Ok(hooks),
            Fetched::NotFound => Err(OktaError::Protocol("the event hooks API answered 404".into())),
        }
    }

    async fn create_event_hook(&self, org: &OktaOrg, spec: &EventHookSpec) -> Result<EventHook, OktaError> {
        let url = format!("{}/api/v1/eventHooks", org.base_url);
        found(self.call_json(org, reqwest::Method::POST, &url, Some(&spec.to_okta())).await?, "event hook")
    }

    async fn update_event_hook(&self, org: &OktaOrg, id: &str, spec: &EventHookSpec) -> Result<EventHook, OktaError> {
        let url = format!("{}/api/v1/eventHooks/{}", org.base_url, encode(id));
        found(self.call_json(org, reqwest::Method::PUT, &url, Some(&spec.to_okta())).await?, "event hook")
    }

    async fn activate_event_hook(&self, org: &OktaOrg, id: &str) -> Result<EventHook, OktaError> {
        let url = format!("{}/api/v1/eventHooks/{}/lifecycle/activate", org.base_url, encode(id));
        found(self.call_json(org, reqwest::Method::POST, &url, None).await?, "event hook")
    }

    async fn verify_event_hook(&self, org: &OktaOrg, id: &str) -> Result<EventHook, OktaError> {
        let url = format!("{}/api/v1/eventHooks/{}/lifecycle/verify", org.base_url, encode(id));
        found(self.call_json(org, reqwest::Method::POST, &url, None).await?, "event hook")
    }
}

fn found<T>(fetched: Fetched<T>, what: &str) -> Result<T, OktaError> {
    match fetched {
        Fetched::Found(v, _) => Ok(v),
        Fetched::NotFound => Err(OktaError::Rejected {
            status: 404,
            code: "E0000007".into(),
            summary: format!("Okta has no such {what}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn links_separate_or_joined() {
        let h = headers(&[
            ("link", r#"<https://a.okta.com/api/v1/apps/x/users?limit=500>; rel="self""#),
            ("link", r#"<https://a.okta.com/api/v1/apps/x/users?after=00u2&limit=500>; rel="next""#),
        ]);
        assert_eq!(next_link(&h).as_deref(), Some("https://a.okta.com/api/v1/apps/x/users?after=00u2&limit=500"));
        let joined = headers(&[("link", r#"<https://a/s>; rel="self", <https://a/n?after=1>; rel="next""#)]);
        assert_eq!(next_link(&joined).as_deref(), Some("https://a/n?after=1"));
        assert_eq!(next_link(&headers(&[("link", r#"<https://a/s>; rel="self""#)])), None);
    }

    #[test]
    fn retry_after_uses_the_response_date() {
        let h = headers(&[("x-rate-limit-reset", "1795636810"), ("date", "Wed, 25 Nov 2026 20:00:00 GMT")]);
        // 20:00:00 GMT on that day is epoch 1795636800: reset is 10 s later, plus 1 s.
        let now = DateTime::from_timestamp(1_795_636_805, 0).unwrap();
        assert_eq!(retry_after(&h, now), Duration::from_secs(11), "the response's date, not ours");
        let past = headers(&[("x-rate-limit-reset", "1795636700"), ("date", "Wed, 25 Nov 2026 20:00:00 GMT")]);
        assert_eq!(retry_after(&past, now), Duration::from_secs(1));
        assert_eq!(retry_after(&HeaderMap::new(), now), Duration::from_secs(60));
        let no_date = headers(&[("x-rate-limit-reset", "1795636810")]);
        assert_eq!(retry_after(&no_date, now), Duration::from_secs(6), "without a date: our clock");
    }

    #[test]
    fn origins() {
        assert!(same_origin("https://a.okta.com", "https://a.okta.com/api/v1/x?after=1"));
        assert!(!same_origin("https://a.okta.com", "https://evil.example/api"));
        assert!(!same_origin("https://a.okta.com", "http://a.okta.com/api"));
        assert_eq!(encode("a b/c?d"), "a%20b%2Fc%3Fd");
    }
}
