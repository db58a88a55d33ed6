//! Typed settings from the environment, read once at cold start. Every missing or invalid variable
//! is named in one error, so a misconfigured deployment fails fast and clearly.
//!
//! Local endpoints are not settings: the AWS SDK reads `AWS_ENDPOINT_URL` itself.
use chrono::Duration;

use crate::app::secrets::SecretNames;

#[derive(Debug, Clone)]
pub struct Settings {
    pub table_name: String,
    pub user_fetch_queue_url: Option<String>,
    pub user_fetch_dlq_url: Option<String>,
    pub sync_queue_url: Option<String>,
    pub sync_dlq_url: Option<String>,
    pub secret_names: SecretNames,
    /// `{tenant}.{BASE_DOMAIN}` names a tenant; empty means path prefixes only.
    pub base_domain: String,
    /// The HTTP API's public origin (`PUBLIC_API_URL`, e.g. `https://api.example.com`): every URL
    /// the product hands out or redirects to is built from it and `base_domain`, never from a
    /// request's `Host` or `X-Forwarded-*` headers.
    pub public_api_url: Option<String>,
    pub allow_insecure_okta: bool,
    pub secrets_cache_ttl: Duration,
    /// How long the edge trusts a tenant config it read (`CONFIG_CACHE_TTL_SECONDS`, default 30).
    pub config_cache_ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {}", .0.join("; "))]
pub struct SettingsError(pub Vec<String>);

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// The common settings; a function's own (its queues, the public URL) are read, and checked,
    /// where it takes them: [`Settings::require`], [`Settings::public_urls`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut missing = Vec::new();
        let mut required = |name: &str| {
            get(name).unwrap_or_else(|| {
                missing.push(format!("{name} is not set"));
                String::new()
            })
        };
        let table_name = required("TABLE_NAME");
        let prefix = required("SECRETS_PREFIX");
        let user_fetch_queue_url = get("USER_FETCH_QUEUE_URL");
        let user_fetch_dlq_url = get("USER_FETCH_DLQ_URL");
        let sync_queue_url = get("SYNC_QUEUE_URL");
        let sync_dlq_url = get("SYNC_DLQ_URL");
        let public_api_url = match get("PUBLIC_API_URL") {
            Some(u) => match url::Url::parse(&u) {
                Ok(p) if matches!(p.scheme(), "https" | "http") && p.host_str().is_some() && p.path() == "/" => {
                    Some(u.trim_end_matches('/').to_owned())
                }
                _ => {
                    missing.push("PUBLIC_API_URL must be an origin like https://api.example.com (no path)".into());
                    None
                }
            },
            None => None,
        };
        let ttl = match get("SECRETS_CACHE_TTL_SECONDS").map(|v| v.parse::<i64>()) {
            None => Duration::minutes(5),
            Some(Ok(s)) if (0..=3600).contains(&s) => Duration::seconds(s),
            Some(_) => {
                missing.push("SECRETS_CACHE_TTL_SECONDS must be 0-3600".into());
                Duration::zero()
            }
        };
        let config_ttl = match get("CONFIG_CACHE_TTL_SECONDS").map(|v| v.parse::<i64>()) {
            None => crate::app::config_cache::CONFIG_TTL,
            Some(Ok(s)) if (0..=300).contains(&s) => Duration::seconds(s),
            Some(_) => {
                missing.push("CONFIG_CACHE_TTL_SECONDS must be 0-300".into());
                Duration::zero()
            }
        };
        if !missing.is_empty() {
            return Err(SettingsError(missing));
        }
        Ok(Self {
            table_name,
            user_fetch_queue_url,
            user_fetch_dlq_url,
            sync_queue_url,
            sync_dlq_url,
            secret_names: SecretNames {
                admin_token: get("ADMIN_TOKEN_SECRET_ID").unwrap_or_else(|| format!("{prefix}/admin-token")),
                session_key: get("SESSION_KEY_SECRET_ID").unwrap_or_else(|| format!("{prefix}/session-key")),
                prefix,
            },
            base_domain: get("BASE_DOMAIN").unwrap_or_default(),
            public_api_url,
            allow_insecure_okta: get("ALLOW_INSECURE_OKTA").as_deref() == Some("1"),
            secrets_cache_ttl: ttl,
            config_cache_ttl: config_ttl,
        })
    }

    /// A setting a function cannot run without, or an error naming its variable.
    pub fn require(value: &Option<String>, variable: &str) -> Result<String, SettingsError> {
        value.clone().ok_or_else(|| SettingsError(vec![format!("{variable} is not set")]))
    }

    /// The public URLs (a function that hands out or redirects to URLs needs `PUBLIC_API_URL`).
    pub fn public_urls(&self) -> Result<crate::adapters::http::PublicUrls, SettingsError> {
        Ok(crate::adapters::http::PublicUrls {
            api_url: Self::require(&self.public_api_url, "PUBLIC_API_URL")?,
            base_domain: self.base_domain.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_missing_variable() {
        let err = Settings::from_lookup(|_| None).unwrap_err();
        let text = err.to_string();
        for v in ["TABLE_NAME", "SECRETS_PREFIX"] {
            assert!(text.contains(v), "{text}");
        }
        let base = |k: &str| match k {
            "TABLE_NAME" | "SECRETS_PREFIX" => Some("x".to_owned()),
            _ => None,
        };
        let s = Settings::from_lookup(base).unwrap();
        let err = Settings::require(&s.user_fetch_queue_url, "USER_FETCH_QUEUE_URL").unwrap_err();
        assert!(err.to_string().contains("USER_FETCH_QUEUE_URL is not set"), "{err}");
        assert!(s.public_urls().unwrap_err().to_string().contains("PUBLIC_API_URL"));
    }

    #[test]
    fn defaults() {
        let s = Settings::from_lookup(|k| match k {
            "TABLE_NAME" => Some("t".into()),
            "SECRETS_PREFIX" => Some("okta-bridge/dev".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.secret_names.admin_token, "okta-bridge/dev/admin-token");
        assert_eq!(s.secrets_cache_ttl, Duration::minutes(5));
        assert!(!s.allow_insecure_okta);
    }
}
