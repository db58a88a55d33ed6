//! The HTTP edge every HTTP function is served through, assembled once: the routes (also under
//! `/t/{tenant}` where tenants are named by path), a request span with security headers, the
//! metrics flush after each request, and the edge's own refusals (no route, wrong method) in the
//! function's protocol. Body limits and tenant extraction are [`super::http::read_body`] and
//! [`super::http::tenant_of`], called by the handlers that need them.
use std::sync::Arc;

use axum::http::Method;
use axum::middleware;
use axum::response::Response;
use axum::Router;

use super::emf::EmfMetrics;
use super::http::{flush_metrics, request_span, with_tenant_prefix};

/// How a protocol answers what the edge refuses before any handler runs.
pub trait EdgeRefusals {
    /// No route has this path.
    fn no_route() -> Response;
    /// The path exists, but not with this method.
    fn method_not_allowed(method: &Method) -> Response;
}

/// Where a function's tenants come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantRouting {
    /// From `Host` or a `/t/{tenant}` prefix (the public functions).
    HostOrPrefix,
    /// The routes name the tenant themselves (the admin API's `/admin/tenants/{t}`).
    InRoutes,
}

/// Serves `routes` with `state` through the edge; `R` answers its refusals.
pub fn serve<S, R>(routes: Router<S>, tenants: TenantRouting, metrics: Arc<EmfMetrics>, state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
    R: EdgeRefusals + 'static,
{
    serve_guarded::<S, R>(routes, tenants, metrics, state, |r| r)
}

/// As [`serve`], with `guard` (a credential check) in front of everything the function answers,
/// its refusals included, and inside the request span: the admin API, where nothing is said
/// without a valid token.
pub fn serve_guarded<S, R>(
    routes: Router<S>,
    tenants: TenantRouting,
    metrics: Arc<EmfMetrics>,
    state: S,
    guard: impl FnOnce(Router<S>) -> Router<S>,
) -> Router
where
    S: Clone + Send + Sync + 'static,
    R: EdgeRefusals + 'static,
{
    let routes = match tenants {
        TenantRouting::HostOrPrefix => with_tenant_prefix(routes),
        TenantRouting::InRoutes => routes,
    };
    let answered = routes
        .fallback(|| async { R::no_route() })
        .method_not_allowed_fallback(|method: Method| async move { R::method_not_allowed(&method) });
    guard(answered)
        .layer(middleware::from_fn_with_state(metrics, flush_metrics))
        .layer(middleware::from_fn(request_span))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::adapters::system::SystemClock;

    struct Teapot;

    impl EdgeRefusals for Teapot {
        fn no_route() -> Response {
            (StatusCode::NOT_FOUND, "teapot: no route").into_response()
        }
        fn method_not_allowed(method: &Method) -> Response {
            (StatusCode::METHOD_NOT_ALLOWED, format!("teapot: no {method}")).into_response()
        }
    }

    async fn call(app: &Router, method: Method, path: &str) -> (StatusCode, String, bool) {
        let req = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let hsts = resp.headers().contains_key("strict-transport-security");
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned(), hsts)
    }

    #[tokio::test]
    async fn refusals_speak_the_protocol_and_every_answer_has_the_security_headers() {
        let metrics = Arc::new(EmfMetrics::with_sink(Arc::new(SystemClock), Box::new(|_| {})));
        let routes: Router<()> = Router::new().route("/pot", get(|| async { "tea" }));
        let app = serve::<_, Teapot>(routes, TenantRouting::HostOrPrefix, metrics, ());
        assert_eq!(call(&app, Method::GET, "/pot").await, (StatusCode::OK, "tea".into(), true));
        assert_eq!(call(&app, Method::GET, "/t/acme/pot").await, (StatusCode::OK, "tea".into(), true));
        assert_eq!(call(&app, Method::GET, "/kettle").await, (StatusCode::NOT_FOUND, "teapot: no route".into(), true));
        assert_eq!(
            call(&app, Method::DELETE, "/t/acme/pot").await,
            (StatusCode::METHOD_NOT_ALLOWED, "teapot: no DELETE".into(), true)
        );
    }
}
