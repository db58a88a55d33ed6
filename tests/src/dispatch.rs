//! API Gateway's routing, locally: the HTTP API routes of `template.yaml` decide which function's
//! router gets a request, exactly as the deployed HTTP API would.
use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tower::ServiceExt;

use crate::template::{Route, Template, TemplateError};

#[derive(Clone)]
pub struct Routers {
    pub admin: Arc<Router>,
    pub webhook: Arc<Router>,
    pub scim: Arc<Router>,
    pub sign_in: Arc<Router>,
}

impl Routers {
    /// The function's router, and its logical id as a label for the AWS calls it makes.
    fn for_function(&self, logical_id: &str) -> Option<(&'static str, &Arc<Router>)> {
        match logical_id {
            "AdminApiFunction" => Some(("AdminApiFunction", &self.admin)),
            "WebhookReceiverFunction" => Some(("WebhookReceiverFunction", &self.webhook)),
            "ScimHandlerFunction" => Some(("ScimHandlerFunction", &self.scim)),
            "SignInFunction" => Some(("SignInFunction", &self.sign_in)),
            _ => None,
        }
    }
}

/// How specific a route pattern's match is (API Gateway prefers literal segments), or `None`.
pub fn match_route(pattern: &str, path: &str) -> Option<usize> {
    let pat: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut literal = 0;
    for (i, p) in pat.iter().enumerate() {
        if p.starts_with('{') && p.ends_with("+}") {
            return (segs.len() > i && !segs[i].is_empty()).then_some(literal);
        }
        let seg = segs.get(i)?;
        if p.starts_with('{') && p.ends_with('}') {
            if seg.is_empty() {
                return None;
            }
        } else if p != seg {
            return None;
        } else {
            literal += 1;
        }
    }
    (pat.len() == segs.len()).then_some(literal)
}

#[derive(Clone)]
pub struct Dispatcher {
    routes: Arc<Vec<Route>>,
    routers: Routers,
}

impl Dispatcher {
    pub fn new(template: &Template, routers: Routers) -> Result<Self, TemplateError> {
        let routes = template.routes()?;
        for r in &routes {
            if routers.for_function(&r.function).is_none() {
                return Err(TemplateError::Shape(format!("no local router for {}", r.function)));
            }
        }
        Ok(Self { routes: Arc::new(routes), routers })
    }

    /// The function a request goes to, as API Gateway would choose it.
    pub fn function_for(&self, method: &str, path: &str) -> Option<&str> {
        self.routes
            .iter()
            .filter(|r| r.method == "ANY" || r.method == method)
            .filter_map(|r| match_route(&r.path, path).map(|score| (score, r)))
            .max_by_key(|(score, r)| (*score, r.method != "ANY"))
            .map(|(_, r)| r.function.as_str())
    }

    pub async fn handle(&self, req: Request) -> Response {
        let target =
            self.function_for(req.method().as_str(), req.uri().path()).and_then(|f| self.routers.for_function(f));
        match target {
            Some((function, router)) => {
                match shared::adapters::aws_calls::as_function(function, Router::clone(router).oneshot(req)).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                }
            }
            // What API Gateway answers for a path no route matches.
            None => (StatusCode::NOT_FOUND, Json(serde_json::json!({"message": "Not Found"}))).into_response(),
        }
    }

    pub fn into_router(self) -> Router {
        Router::new().fallback(move |req: Request| {
            let d = self.clone();
            async move { d.handle(req).await }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(match_route("/webhooks/okta", "/webhooks/okta"), Some(2));
        assert_eq!(match_route("/t/{tenant}/webhooks/okta", "/t/acme/webhooks/okta"), Some(3));
        assert_eq!(match_route("/admin/{proxy+}", "/admin/tenants/x"), Some(1));
        assert_eq!(match_route("/admin/{proxy+}", "/admin"), None);
        assert_eq!(match_route("/scim/v2", "/scim/v2/Users"), None);
        assert_eq!(match_route("/{locale}/okta/auth_callback", "/en/okta/auth_callback"), Some(2));
        assert_eq!(match_route("/webhooks/okta", "/webhooks/okta/x"), None);
    }
}
