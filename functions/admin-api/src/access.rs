//! Who may call which admin route (docs/behaviour/admin-api.md). The operator token reaches everything; a tenant
//! admin token reaches only routes under its own `/admin/tenants/{t}`, and of those not the ones
//! that mint admin credentials (issuing or rotating admin tokens), so a leaked tenant token cannot
//! outlive its own revocation.
use axum::http::Method;
use shared::app::admin::Caller;

/// What a route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope<'a> {
    /// No credential: the API description.
    Public,
    /// The integration page (`/admin/ui/...`): its own session cookie, checked by its handlers.
    Ui,
    /// The operator token only (deployment secrets, DLQ redrive, admin-token issuing).
    Operator,
    /// The operator, or an admin token of this tenant (the raw path segment).
    Tenant(&'a str),
}

const TENANTS: &str = "/admin/tenants/";
const UI: &str = "/admin/ui";

/// The scope of a request. Unknown paths under a tenant are that tenant's (they answer 404 after
/// the check); anything else outside the tenants' tree is the operator's.
pub fn scope<'a>(method: &Method, path: &'a str, public: &str) -> Scope<'a> {
    if path == public {
        return Scope::Public;
    }
    if path == UI || path.starts_with(&format!("{UI}/")) {
        return Scope::Ui;
    }
    let Some(rest) = path.strip_prefix(TENANTS) else { return Scope::Operator };
    let mut segments = rest.split('/');
    let tenant = segments.next().unwrap_or("");
    let tail: Vec<&str> = segments.collect();
    let mints_admin_token = match tail.as_slice() {
        ["admin-tokens"] => method == Method::POST,
        ["admin-tokens", _, "rotate"] => true,
        _ => false,
    };
    if mints_admin_token {
        Scope::Operator
    } else {
        Scope::Tenant(tenant)
    }
}

/// May `caller` use a route of `scope`?
pub fn allows(caller: &Caller, scope: &Scope<'_>) -> bool {
    match (caller, scope) {
        (_, Scope::Public) | (_, Scope::Ui) | (Caller::Operator, _) => true,
        (Caller::Tenant { tenant, .. }, Scope::Tenant(raw)) => tenant.as_str() == *raw,
        (Caller::Tenant { .. }, Scope::Operator) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::TenantId;

    const OPENAPI: &str = "/admin/openapi.json";

    fn acme() -> Caller {
        Caller::Tenant { tenant: TenantId::parse("acme").unwrap(), token_id: "adm_1".into() }
    }

    #[test]
    fn a_tenant_token_reaches_its_own_tenant_only() {
        let get = Method::GET;
        let may = |method: &Method, path: &str| allows(&acme(), &scope(method, path, OPENAPI));
        assert!(may(&get, "/admin/tenants/acme"));
        assert!(may(&get, "/admin/tenants/acme/users"));
        assert!(may(&Method::POST, "/admin/tenants/acme/scim-tokens"));
        assert!(may(&get, "/admin/tenants/acme/admin-tokens"));
        assert!(may(&Method::DELETE, "/admin/tenants/acme/admin-tokens/adm_2"));
        assert!(may(&get, OPENAPI));
        assert!(!may(&get, "/admin/tenants/acmex/users"), "a prefix is not the tenant");
        assert!(!may(&get, "/admin/tenants/other"));
        assert!(!may(&get, "/admin/tenants/ACME"));
        assert!(!may(&get, "/admin/tenants//users"));
        assert!(!may(&Method::POST, "/admin/tenants/acme/admin-tokens"), "issuing is the operator's");
        assert!(!may(&Method::POST, "/admin/tenants/acme/admin-tokens/adm_1/rotate"));
        for deployment in
            ["/admin/admin-token/rotate", "/admin/session-key/rotate", "/admin/dlq/redrive", "/admin", "/"]
        {
            assert!(!may(&Method::POST, deployment), "{deployment}");
        }
    }

    #[test]
    fn the_operator_reaches_everything() {
        for path in ["/admin/tenants/acme", "/admin/admin-token/rotate", "/admin/tenants/x/admin-tokens"] {
            assert!(allows(&Caller::Operator, &scope(&Method::POST, path, OPENAPI)));
        }
    }
}
