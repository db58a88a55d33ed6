//! Okta's Management API as HTTP handlers: users, the app, its assignments (`expand=user`, `Link`
//! paging), `SSWS` auth, rate-limit headers, Okta's error objects.
use super::*;

/// The Okta API routes the simulator answers.
pub(super) fn routes() -> Router<OktaSim> {
    Router::new()
        .route("/api/v1/users/{id}", get(api_get_user))
        .route("/api/v1/apps/{app}", get(api_get_app))
        .route("/api/v1/apps/{app}/users", get(api_list_app_users))
        .route("/api/v1/apps/{app}/users/{id}", get(api_get_app_user))
}

fn authorised(org: &Org, headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("SSWS {}", org.token))
}

pub(super) async fn delay_of(headers: &HeaderMap) {
    if let Some(ms) = headers.get("x-sim-delay-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

type Sim = State<OktaSim>;

/// An Okta 404 with the rate-limit headers of the request.
fn not_found(headers: HeaderMap, what: &str) -> Response {
    let mut r = okta_error(StatusCode::NOT_FOUND, "E0000007", &format!("Not found: Resource not found: {what}"));
    r.headers_mut().extend(headers);
    r
}

impl OktaSim {
    /// Authenticates and admits one API request, then reads what it needs from the org.
    pub(super) fn admitted<T>(
        &self,
        headers: &HeaderMap,
        read: impl FnOnce(&Org) -> T,
    ) -> Result<(HeaderMap, T), Box<Response>> {
        let mut org = self.org.lock().expect("lock");
        if !authorised(&org, headers) {
            return Err(Box::new(okta_error(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided")));
        }
        let reply_headers = org.admit()?;
        Ok((reply_headers, read(&org)))
    }
}

async fn api_get_user(State(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let (reply_headers, body) = match sim.admitted(&headers, |org| org.find(&id).cloned()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    delay_of(&reply_headers).await;
    match body {
        Some(user) => (reply_headers, Json(user)).into_response(),
        None => not_found(reply_headers, &format!("{id} (User)")),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    after: Option<String>,
    expand: Option<String>,
}

async fn api_get_app(State(sim): Sim, headers: HeaderMap, Path(app): Path<String>) -> Response {
    let shown = sim.app();
    let found = sim.admitted(&headers, |org| (app == org.app_id).then_some(shown));
    found_or_404(found, &format!("{app} (AppInstance)")).await
}

/// One resource read through [`OktaSim::admitted`]: `200` with it, or Okta's `404 E0000007`.
async fn found_or_404(found: Result<(HeaderMap, Option<Value>), Box<Response>>, what: &str) -> Response {
    let (reply_headers, body) = match found {
        Ok(x) => x,
        Err(r) => return *r,
    };
    delay_of(&reply_headers).await;
    match body {
        Some(v) => (reply_headers, Json(v)).into_response(),
        None => not_found(reply_headers, what),
    }
}

async fn api_get_app_user(
    State(sim): Sim,
    headers: HeaderMap,
    Path((app, id)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> Response {
    let expand = q.expand.as_deref() == Some("user");
    let found = sim.admitted(&headers, |org| {
        (app == org.app_id && org.assigned.contains(&id))
            .then(|| org.users.get(&id).map(|u| org.app_user(u, expand)))
            .flatten()
    });
    found_or_404(found, &format!("{id} (AppUser)")).await
}

async fn api_list_app_users(
    State(sim): Sim,
    headers: HeaderMap,
    Path(app): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let expand = q.expand.as_deref() == Some("user");
    let listed = sim.admitted(&headers, |org| {
        (app == org.app_id).then(|| {
            let from = q.after.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let ids: Vec<&String> = org.assigned.range::<str, _>((from, Bound::Unbounded)).take(limit + 1).collect();
            let page: Vec<Value> =
                ids.iter().take(limit).filter_map(|id| org.users.get(*id).map(|u| org.app_user(u, expand))).collect();
            (page, (ids.len() > limit).then(|| ids[limit - 1].clone()))
        })
    });
    let (mut reply_headers, (page, next)) = match listed {
        Ok((h, Some(found))) => (h, found),
        Ok((h, None)) => return not_found(h, &format!("{app} (AppInstance)")),
        Err(r) => return *r,
    };
    delay_of(&reply_headers).await;
    tokio::time::sleep(sim.with(|o| o.page_delay)).await;
    let base = format!("{}/api/v1/apps/{app}/users", sim.base_url);
    let expand = q.expand.as_deref().map(|e| format!("&expand={e}")).unwrap_or_default();
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    reply_headers.append(
        "link",
        HeaderValue::from_str(&format!("<{base}?limit={limit}{expand}>; rel=\"self\"")).expect("ascii"),
    );
    if let Some(after) = next {
        reply_headers.append(
            "link",
            HeaderValue::from_str(&format!("<{base}?after={after}&limit={limit}{expand}>; rel=\"next\""))
                .expect("ascii"),
        );
    }
    (reply_headers, Json(page)).into_response()
}
