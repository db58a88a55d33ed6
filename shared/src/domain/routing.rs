//! Which tenant a request is for (docs/behaviour/tenants-and-routing.md): `{tenant}.{BASE_DOMAIN}` or a `/t/{tenant}` path prefix.
use super::ids::TenantId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("the request does not name a tenant")]
    NoTenant,
    #[error("the request names two different tenants")]
    TwoTenants,
    #[error("the tenant in the request is not a valid tenant id")]
    InvalidTenant,
}

/// A request's tenant and its path with any `/t/{tenant}` prefix removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub tenant: TenantId,
    pub path: String,
}

/// Resolves the tenant from the `Host` header and the path.
///
/// `host` may carry a port; comparison with `base_domain` ignores case. A host that is exactly the
/// base domain or unrelated to it names no tenant, so such deployments use the path prefix.
pub fn resolve(host: Option<&str>, path: &str, base_domain: &str) -> Result<Routed, RoutingError> {
    let from_host = host.map(|h| host_tenant(h, base_domain)).transpose()?.flatten();
    let (from_path, rest) = match path_tenant(path) {
        Some((segment, rest)) => (Some(TenantId::parse(segment).map_err(|_| RoutingError::InvalidTenant)?), rest),
        None => (None, path.to_owned()),
    };
    let tenant = match (from_host, from_path) {
        (Some(a), Some(b)) if a != b => return Err(RoutingError::TwoTenants),
        (Some(a), _) => a,
        (None, Some(b)) => b,
        (None, None) => return Err(RoutingError::NoTenant),
    };
    Ok(Routed { tenant, path: rest })
}

fn host_tenant(host: &str, base_domain: &str) -> Result<Option<TenantId>, RoutingError> {
    let host = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
    let base = base_domain.trim_end_matches('.').to_ascii_lowercase();
    if base.is_empty() {
        return Ok(None);
    }
    let Some(prefix) = host.strip_suffix(&base).and_then(|p| p.strip_suffix('.')) else {
        return Ok(None);
    };
    if prefix.contains('.') {
        // `a.b.base` is not a tenant host: refuse rather than guess which label is meant.
        return Err(RoutingError::InvalidTenant);
    }
    TenantId::parse(prefix).map(Some).map_err(|_| RoutingError::InvalidTenant)
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split(']').next().map(|h| &h[1..]).unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

/// `/t/{segment}` or `/t/{segment}/rest` → (segment, `/rest` or `/`).
fn path_tenant(path: &str) -> Option<(&str, String)> {
    let after = path.strip_prefix("/t/")?;
    let (segment, rest) = match after.find('/') {
        Some(i) => (&after[..i], after[i..].to_owned()),
        None => (after, "/".to_owned()),
    };
    Some((segment, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(host: Option<&str>, path: &str) -> (String, String) {
        let r = resolve(host, path, "localhost").unwrap();
        (r.tenant.to_string(), r.path)
    }

    #[test]
    fn from_host() {
        assert_eq!(ok(Some("acme.localhost:3000"), "/scim/v2/Users"), ("acme".into(), "/scim/v2/Users".into()));
        assert_eq!(ok(Some("ACME.LocalHost"), "/x"), ("acme".into(), "/x".into()));
    }

    #[test]
    fn from_path() {
        assert_eq!(ok(Some("127.0.0.1:3000"), "/t/acme/webhooks/okta"), ("acme".into(), "/webhooks/okta".into()));
        assert_eq!(ok(None, "/t/acme"), ("acme".into(), "/".into()));
        assert_eq!(ok(Some("localhost"), "/t/acme/x"), ("acme".into(), "/x".into()));
    }

    #[test]
    fn same_tenant_twice_is_fine() {
        assert_eq!(ok(Some("acme.localhost"), "/t/acme/x"), ("acme".into(), "/x".into()));
    }

    #[test]
    fn refusals() {
        let r = |h: Option<&str>, p: &str| resolve(h, p, "localhost").unwrap_err();
        assert_eq!(r(Some("acme.localhost"), "/t/other/x"), RoutingError::TwoTenants);
        assert_eq!(r(Some("127.0.0.1"), "/webhooks/okta"), RoutingError::NoTenant);
        assert_eq!(r(None, "/t/Bad_Tenant/x"), RoutingError::InvalidTenant);
        assert_eq!(r(Some("a.b.localhost"), "/x"), RoutingError::InvalidTenant);
        assert_eq!(r(Some("evil_.localhost"), "/x"), RoutingError::InvalidTenant);
        assert_eq!(r(None, "/t//x"), RoutingError::InvalidTenant);
    }

    #[test]
    fn ipv6_hosts_have_no_tenant() {
        assert_eq!(resolve(Some("[::1]:3000"), "/x", "localhost").unwrap_err(), RoutingError::NoTenant);
    }
}
