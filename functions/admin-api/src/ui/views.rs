//! The pages beside the integration page: sign-in, a sync run (live progress, a held run's
//! approval, a preview's diff), the people list with invitations, and the change feed.
use std::fmt::Write;

use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use shared::adapters::http::html_escape as esc;
use shared::app::admin::{Caller, UserFilter};
use shared::app::AdminError;
use shared::domain::sync_run::{Candidate, DiffEntry, RunErrorEntry, RunList, RunStatus, RunTrigger, SyncRun};
use shared::domain::tenant::TenantConfigInput;
use shared::domain::user::{User, UserStatus};
use shared::domain::TenantId;

use super::dashboard::run_status;
use super::page::{self, button_form, notice, Field};
use super::{
    html, public_scheme, query_map, read_form, run_id, same_origin, see_other, set_session_cookie, signed_form,
    signed_in, strict_cookie, viewer, Id, Result, UiError, SIGN_IN_COOKIE,
};
use crate::State;
use shared::adapters::http::cookie_value;

// ------------------------------------------------------------------ sign-in

fn sign_in_form(message: Option<(&str, &str)>, tenant: &str, ask_domain: bool, nonce: &str) -> String {
    let mut b = String::new();
    if let Some((kind, text)) = message {
        b.push_str(&notice(kind, text));
    }
    b.push_str(
        "<section aria-labelledby=\"h-sign\"><h2 id=\"h-sign\">Sign in to set up Okta</h2>\
         <p>Use the admin token your platform operator gave you for your organisation. Operators sign in with the \
         operator token and name the tenant.</p><form method=\"post\" action=\"/admin/ui/sign-in\">",
    );
    let _ = write!(b, "<input type=\"hidden\" name=\"sign_in\" value=\"{}\">", esc(nonce));
    b.push_str(&Field::text("token", "Admin token", "").password("adm_…").render());
    b.push_str(
        &Field::text("tenant", "Tenant (operator token only)", tenant)
            .hint("Lowercase letters, digits and dashes, e.g. acme.")
            .render(),
    );
    if ask_domain {
        b.push_str(
            &Field::text("okta_domain", "Okta domain of the new tenant", "")
                .kind("url")
                .placeholder("https://acme.okta.com")
                .hint("Only to create a tenant that does not exist yet (operator token).")
                .render(),
        );
    }
    b.push_str("<div class=\"actions\"><button type=\"submit\">Sign in</button></div></form></section>");
    page::layout("Okta integration", None, &b)
}

/// The sign-in form's answer, with its double-submit cookie (login CSRF: a form posted from
/// another site carries the field but not this `SameSite=Strict` cookie).
fn sign_in_answer(
    status: StatusCode,
    message: Option<(&str, &str)>,
    tenant: &str,
    ask_domain: bool,
    nonce: &str,
) -> Response {
    let mut r = html(status, sign_in_form(message, tenant, ask_domain, nonce));
    r.headers_mut().append(header::SET_COOKIE, strict_cookie(SIGN_IN_COOKIE, nonce, 3600));
    r
}

/// This browser's sign-in nonce, or a new one.
fn nonce_of(s: &State, headers: &HeaderMap) -> String {
    cookie_value(headers, SIGN_IN_COOKIE)
        .filter(|n| n.len() >= 32 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or_else(|| s.admin.nonce())
}

pub async fn sign_in_page(AxState(s): AxState<State>, headers: HeaderMap, uri: Uri) -> Response {
    if signed_in(&s, &headers).await.is_ok() {
        return see_other("/admin/ui/");
    }
    let message = query_map(&uri).contains_key("signed_out").then_some(("ok", "Signed out."));
    sign_in_answer(StatusCode::OK, message, "", false, &nonce_of(&s, &headers))
}

pub async fn sign_in(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let f = read_form(&headers, body).await?;
    let token = f.trimmed("token");
    let tenant = f.trimmed("tenant");
    let nonce = nonce_of(&s, &headers);
    // Login CSRF: the form's nonce must be this browser's cookie, and the form this site's.
    let presented = cookie_value(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let digest = |v: &str| shared::domain::secret::sha256(v.as_bytes());
    if presented.is_empty()
        || !shared::domain::secret::digest_eq(&digest(&presented), &digest(f.get("sign_in")))
        || !same_origin(&headers, &public_scheme(&s))
    {
        tracing::info!("integration page: a sign-in form without this browser's nonce refused");
        let text = "This sign-in form has expired or came from another site. Sign in again here.";
        return Ok(sign_in_answer(StatusCode::FORBIDDEN, Some(("error", text)), "", false, &nonce));
    }
    let refused = |text: &str, ask_domain: bool| {
        sign_in_answer(StatusCode::UNAUTHORIZED, Some(("error", text)), tenant, ask_domain, &nonce)
    };
    if token.is_empty() {
        return Ok(refused("Enter your admin token.", false));
    }
    let mut opened = s.admin.open_ui_session(token, Some(tenant)).await;
    // The operator may create the tenant it names, from here, with its Okta domain (a tenant
    // admin token never gets here for another tenant: it is refused above as not valid for it).
    if matches!(opened, Err(AdminError::TenantNotFound))
        && matches!(s.admin.authenticate(token).await?, Some(Caller::Operator))
    {
        let id = TenantId::parse(tenant).map_err(|e| UiError::BadRequest(e.to_string()))?;
        let Some(domain) = f.opt("okta_domain") else {
            return Ok(refused(
                "There is no such tenant yet. To create it, give its Okta domain and sign in again.",
                true,
            ));
        };
        let input: TenantConfigInput =
            serde_json::from_value(json!({"okta_domain": domain})).map_err(|e| UiError::BadRequest(e.to_string()))?;
        match s.admin.put_tenant(&id, input).await {
            Ok(_) => tracing::info!(tenant = %id, "integration page: tenant created by the operator"),
            Err(AdminError::InvalidConfig(p)) => {
                let text = p.0.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; ");
                return Ok(sign_in_answer(StatusCode::BAD_REQUEST, Some(("error", &text)), tenant, true, &nonce));
            }
            Err(e) => return Err(e.into()),
        }
        opened = s.admin.open_ui_session(token, Some(tenant)).await;
    }
    let session = match opened {
        Ok(Some(session)) => session,
        Ok(None) => return Ok(refused("That token is not valid for this tenant.", false)),
        Err(AdminError::Invalid(m)) => return Ok(refused(&m, false)),
        Err(AdminError::TenantNotFound) => return Ok(refused("There is no such tenant.", false)),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(tenant = %session.tenant, "integration page: signed in");
    let mut r = see_other("/admin/ui/?notice=signed_in");
    set_session_cookie(&mut r, &session);
    r.headers_mut().append(header::SET_COOKIE, strict_cookie(SIGN_IN_COOKIE, "", 0));
    Ok(r)
}

// ------------------------------------------------------------------ sync runs

fn expected(run: &SyncRun) -> u64 {
    if run.active_at_start > 0 {
        run.active_at_start.max(run.counts.seen)
    } else {
        0
    }
}

fn summary(run: &SyncRun) -> String {
    let c = &run.counts;
    match run.status {
        RunStatus::Running if !run.listing_done => format!(
            "Reading Okta: page {}, {} people seen; {} created, {} updated, {} deactivated so far.",
            c.pages, c.seen, c.created, c.updated, c.deactivated
        ),
        RunStatus::Running => {
            format!("Applying: {} of {} deactivations done.", c.applied + c.skipped, run.pending_deactivations)
        }
        _ => format!(
            "{}: {} pages, {} people seen; {} created, {} updated, {} deactivated.",
            run_status(run),
            c.pages,
            c.seen,
            c.created,
            c.updated,
            c.deactivated
        ),
    }
}

/// The live progress of a running run: a progress bar (against the people active when it
/// started; indeterminate on a first sync) and the counts, which the page's script updates. When
/// the run stops, the script goes to `after`: a GET address, so a page that answered a form is
/// never sent again.
pub fn progress_box(run: &SyncRun, after: &str) -> String {
    let c = &run.counts;
    let total = expected(run);
    let value = if total > 0 { format!(" max=\"{total}\" value=\"{}\"", c.seen.min(total)) } else { String::new() };
    let mut h = format!(
        "<div class=\"progress\" data-progress-url=\"/admin/ui/sync/{id}/progress\" data-after=\"{}\">\
         <label for=\"p-{id}\">Progress of run {id}</label> <progress id=\"p-{id}\"{value} data-seen=\"{}\">{} seen</progress>\
         <p data-progress-label aria-live=\"polite\">{}</p>\
         <noscript><p>Reload the page to see how far it has got.</p></noscript><div class=\"counts\">",
        esc(after),
        c.seen,
        c.seen,
        esc(&summary(run)),
        id = esc(&run.id)
    );
    for (key, label, n) in [
        ("pages", "pages read", c.pages),
        ("seen", "people seen", c.seen),
        ("created", "created", c.created),
        ("updated", "updated", c.updated),
        ("deactivated", "deactivated", c.deactivated),
        ("errors", "errors", c.errors),
    ] {
        let _ = write!(h, "<div><b data-count=\"{key}\">{n}</b><span>{label}</span></div>");
    }
    h.push_str("</div></div>");
    h
}

pub async fn start_sync(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, f) = signed_form(&s, &headers, body).await?;
    let dry_run = f.on("dry_run");
    let (run, already) = s.sync.start(&session.tenant, RunTrigger::Admin, dry_run).await?;
    tracing::info!(run = %run.id, dry_run, already, "integration page: sync started");
    Ok(see_other(&format!("/admin/ui/sync/{}{}", run.id, if already { "?already=1" } else { "" })))
}

pub async fn run_progress(AxState(s): AxState<State>, headers: HeaderMap, id: Id) -> Result<Response> {
    let session = match signed_in(&s, &headers).await {
        Ok(session) => session,
        Err(UiError::SignedOut) => {
            return Ok((StatusCode::UNAUTHORIZED, Json(json!({"error": "signed_out"}))).into_response())
        }
        Err(e) => return Err(e),
    };
    let run = s.sync.get(&session.tenant, run_id(&id.0)?).await?;
    let c = &run.counts;
    let status = serde_json::to_value(run.status).unwrap_or_default();
    let mut r = Json(json!({
        "status": status,
        "counts": {"pages": c.pages, "seen": c.seen, "created": c.created, "updated": c.updated,
                   "deactivated": c.deactivated, "errors": c.errors},
        "expected": expected(&run),
        "summary": summary(&run),
    }))
    .into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

pub async fn run_page(AxState(s): AxState<State>, headers: HeaderMap, id: Id, uri: Uri) -> Result<Response> {
    let session = signed_in(&s, &headers).await?;
    let t = &session.tenant;
    let run = s.sync.get(t, run_id(&id.0)?).await?;
    let q = query_map(&uri);
    let config = s.admin.get_tenant(t).await?.config;
    let mut b = String::new();
    if q.contains_key("already") {
        b.push_str(&notice("warning", "A sync was already running, so this is that run (one at a time)."));
    }
    if q.contains_key("approved") {
        b.push_str(&notice(
            "ok",
            "Approved: the run is deactivating the people it held, re-checking each with Okta first.",
        ));
    }
    let _ = write!(
        b,
        "<p>{} started {} by {} · <strong>{}</strong></p>",
        if run.dry_run { "Preview (dry run)" } else { "Sync" },
        page::when(Some(run.started_at)),
        match run.trigger {
            RunTrigger::Admin => "an admin",
            RunTrigger::Schedule => "the nightly schedule",
        },
        run_status(&run)
    );
    if run.status == RunStatus::Running {
        b.push_str(&progress_box(&run, &format!("/admin/ui/sync/{}", run.id)));
    } else {
        let c = &run.counts;
        b.push_str("<div class=\"counts\">");
        for (label, n) in [
            ("pages read", c.pages),
            ("people seen", c.seen),
            ("created", c.created),
            ("updated", c.updated),
            ("unchanged", c.unchanged),
            ("deactivated", c.deactivated),
            ("reactivated", c.reactivated),
            ("errors", c.errors),
            ("Okta calls", c.okta_calls),
        ] {
            let _ = write!(b, "<div><b>{n}</b><span>{label}</span></div>");
        }
        b.push_str("</div>");
    }
    if run.status == RunStatus::Failed {
        let why = run.failure.map(|f| f.message().to_owned()).or(run.error.clone()).unwrap_or_else(|| "unknown".into());
        b.push_str(&notice("error", &format!("The run failed: {why}")));
    }
    if run.status == RunStatus::NeedsApproval {
        let share = (run.pending_deactivations * 100).checked_div(run.active_at_start).unwrap_or(100);
        b.push_str(&notice(
            "warning",
            &format!(
                "Held: this run would deactivate {} of the {} active people ({share} %), more than the brake allows \
                 ({} %). Nobody was deactivated. Check who below, then approve, or fix the assignment in Okta and sync again.",
                run.pending_deactivations, run.active_at_start, config.deactivation_brake_percent
            ),
        ));
        let approve = button_form(
            &format!("/admin/ui/sync/{}/approve", run.id),
            &session.csrf,
            "Approve these deactivations",
            "danger",
            &[],
        );
        let _ = write!(b, "<div class=\"actions\">{approve}</div>");
        let (candidates, _) = s.sync.run_list::<Candidate>(t, &run.id, RunList::Candidates, 0).await?;
        b.push_str("<h2>Who would be deactivated</h2><table><tr><th scope=\"col\">Email</th><th scope=\"col\">Okta id</th></tr>");
        for c in candidates.iter().take(50) {
            let _ = write!(b, "<tr><td>{}</td><td><code>{}</code></td></tr>", esc(&c.email), esc(&c.okta_id));
        }
        b.push_str("</table>");
        if candidates.len() > 50 {
            let _ =
                write!(b, "<p class=\"muted\">And {} more in this first part of the list.</p>", candidates.len() - 50);
        }
        let _ = write!(b, "<div class=\"actions\">{approve}</div>");
    }
    if run.dry_run && run.status != RunStatus::Running {
        let from = q.get("cursor").and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
        let (entries, next) = s.sync.run_list::<DiffEntry>(t, &run.id, RunList::Diff, from).await?;
        b.push_str("<h2>What a sync would change</h2>");
        if entries.is_empty() {
            b.push_str("<p>Nothing: the platform matches Okta.</p>");
        } else {
            b.push_str("<table><tr><th scope=\"col\">Action</th><th scope=\"col\">Email</th><th scope=\"col\">Okta id</th><th scope=\"col\">Fields</th></tr>");
            for e in &entries {
                let action =
                    serde_json::to_value(e.action).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                    esc(&action),
                    esc(e.email.as_deref().unwrap_or("")),
                    esc(&e.okta_id),
                    esc(&e.fields.join(", "))
                );
            }
            b.push_str("</table>");
            if let Some(n) = next {
                let _ = write!(
                    b,
                    "<p class=\"pager\"><a href=\"/admin/ui/sync/{}?cursor={n}\">Next part of the list</a></p>",
                    esc(&run.id)
                );
            }
        }
    }
    if run.counts.errors > 0 {
        let (errors, _) = s.sync.run_list::<RunErrorEntry>(t, &run.id, RunList::Errors, 0).await?;
        b.push_str("<h2>People it could not store</h2><table><tr><th scope=\"col\">Okta login</th><th scope=\"col\">Okta id</th><th scope=\"col\">Why</th></tr>");
        for e in &errors {
            let _ = write!(
                b,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(e.login.as_deref().unwrap_or("")),
                esc(&e.okta_id),
                esc(&e.reason)
            );
        }
        b.push_str("</table>");
    }
    b.push_str("<p><a href=\"/admin/ui/#sync\">Back to the integration page</a></p>");
    let title = format!("{} {}", if run.dry_run { "Preview" } else { "Sync run" }, run.id);
    Ok(html(StatusCode::OK, page::layout(&title, Some(&viewer(&session)), &b)))
}

pub async fn approve(AxState(s): AxState<State>, id: Id, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, _) = signed_form(&s, &headers, body).await?;
    let run = s.sync.approve(&session.tenant, run_id(&id.0)?).await?;
    tracing::info!(run = %run.id, "integration page: held run approved");
    Ok(see_other(&format!("/admin/ui/sync/{}?approved=1", run.id)))
}

// ------------------------------------------------------------------ people

/// Most users a name search reads before it pauses and offers to go on.
const SEARCH_SCAN: usize = 2_000;

pub async fn people(AxState(s): AxState<State>, headers: HeaderMap, uri: Uri) -> Result<Response> {
    let session = signed_in(&s, &headers).await?;
    let t = &session.tenant;
    let q = query_map(&uri);
    let search = q.get("q").map(|v| v.trim().to_owned()).unwrap_or_default();
    let status = match q.get("status").map(String::as_str) {
        Some("active") => Some("active".to_owned()),
        Some("deactivated") => Some("deactivated".to_owned()),
        _ => None,
    };
    let mut cursor = q.get("cursor").cloned().filter(|c| !c.is_empty());
    let mut b = String::new();
    if let Some(id) = q.get("invited") {
        if let Ok(user) = s.admin.get_user(t, id).await {
            b.push_str(&notice("ok", &format!("Invitation sent to {}.", user.email.as_str())));
        }
    }
    // Exact lookups by email or Okta id; anything else is a substring of name or email, scanned
    // in pages (bounded, with a way to go on).
    let (users, next, scanned) = if search.contains('@') || search.starts_with("00u") {
        let by_email = search.contains('@');
        let page = s
            .admin
            .list_users(
                t,
                UserFilter {
                    email: by_email.then(|| search.clone()),
                    okta_id: (!by_email).then(|| search.clone()),
                    status: status.clone(),
                    cursor: cursor.clone(),
                    limit: Some(50),
                },
            )
            .await?;
        (page.items, page.next, None)
    } else {
        let needle = search.to_lowercase();
        let mut found: Vec<User> = Vec::new();
        let mut scanned = 0usize;
        loop {
            let page = s
                .admin
                .list_users(
                    t,
                    UserFilter {
                        email: None,
                        okta_id: None,
                        status: status.clone(),
                        cursor: cursor.clone(),
                        limit: Some(200),
                    },
                )
                .await?;
            scanned += page.items.len();
            found.extend(page.items.into_iter().filter(|u| {
                needle.is_empty()
                    || u.email.as_str().to_lowercase().contains(&needle)
                    || format!("{} {}", u.first_name, u.last_name).to_lowercase().contains(&needle)
            }));
            cursor = page.next;
            if cursor.is_none() || found.len() >= 50 || scanned >= SEARCH_SCAN || needle.is_empty() {
                break;
            }
        }
        (found, cursor, (!needle.is_empty()).then_some(scanned))
    };

    let _ = write!(
        b,
        "<form method=\"get\" action=\"/admin/ui/people\" class=\"search\" role=\"search\">{}{}<div class=\"field\"><button type=\"submit\">Search</button></div></form>",
        Field::text("q", "Search people", &search).hint("A name, part of an email, an exact email, or an Okta id (00u…).").render(),
        page::select(
            "status",
            "Status",
            &[("", "Any"), ("active", "Active"), ("deactivated", "Deactivated")],
            status.as_deref().unwrap_or(""),
            ""
        ),
    );
    if let Some(n) = scanned {
        let _ = write!(
            b,
            "<p class=\"muted\">{} match{} among the {n} people read.</p>",
            users.len(),
            if users.len() == 1 { "" } else { "es" }
        );
    }
    if users.is_empty() {
        b.push_str("<p>No one matches.</p>");
    } else {
        b.push_str("<table><tr><th scope=\"col\">Name</th><th scope=\"col\">Email</th><th scope=\"col\">Team</th><th scope=\"col\">Status</th><th scope=\"col\">Invited</th><th scope=\"col\">Action</th></tr>");
        for u in &users {
            let name = format!("{} {}", u.first_name, u.last_name);
            let action = if u.status == UserStatus::Active {
                let label = if u.invited_at.is_some() {
                    format!("Invite {} again", name.trim())
                } else {
                    format!("Invite {}", name.trim())
                };
                button_form(&format!("/admin/ui/people/{}/invite", u.id), &session.csrf, &label, "secondary", &[])
            } else {
                "—".to_owned()
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
                esc(name.trim()),
                esc(u.email.as_str()),
                esc(u.primary_team.as_deref().unwrap_or("")),
                if u.status == UserStatus::Active { "active" } else { "deactivated" },
                u.invited_at.map_or("not yet".into(), |at| page::when(Some(at))),
            );
        }
        b.push_str("</table>");
    }
    if let Some(next) = next {
        let link = serde_urlencoded::to_string([
            ("q", search.as_str()),
            ("status", status.as_deref().unwrap_or("")),
            ("cursor", next.as_str()),
        ])
        .unwrap_or_default();
        let _ = write!(b, "<p class=\"pager\"><a href=\"/admin/ui/people?{}\">More people</a></p>", esc(&link));
    }
    let _ = write!(
        b,
        "<div class=\"actions\">{}</div><p><a href=\"/admin/ui/\">Back to the integration page</a></p>",
        button_form("/admin/ui/people/invite-all", &session.csrf, "Invite everyone not yet invited", "", &[])
    );
    Ok(html(StatusCode::OK, page::layout("People", Some(&viewer(&session)), &b)))
}

pub async fn invite(AxState(s): AxState<State>, id: Id, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, _) = signed_form(&s, &headers, body).await?;
    let invited = s.invitations.invite(&session.tenant, &id.0).await?;
    let link = serde_urlencoded::to_string([("invited", invited.user.id.as_str())]).unwrap_or_default();
    Ok(see_other(&format!("/admin/ui/people?{link}")))
}

pub async fn invite_all(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, f) = signed_form(&s, &headers, body).await?;
    let done = s.invitations.invite_all_uninvited(&session.tenant, f.opt("cursor")).await?;
    let mut b = notice(
        if done.failed > 0 { "warning" } else { "ok" },
        &format!(
            "Invited {} people; {} had been invited already; {} could not be invited.",
            done.invited, done.already_invited, done.failed
        ),
    );
    if !done.done {
        let cursor = done.cursor.clone().unwrap_or_default();
        let _ = write!(
            b,
            "<p>There are more people to go through.</p><div class=\"actions\">{}</div>",
            button_form("/admin/ui/people/invite-all", &session.csrf, "Continue inviting", "", &[("cursor", &cursor)])
        );
    }
    b.push_str("<p><a href=\"/admin/ui/people\">Back to the people list</a></p>");
    Ok(html(StatusCode::OK, page::layout("Invitations", Some(&viewer(&session)), &b)))
}

// ------------------------------------------------------------------ changes

const CHANGES_PAGE: u32 = 50;

pub async fn changes(AxState(s): AxState<State>, headers: HeaderMap, uri: Uri) -> Result<Response> {
    let session = signed_in(&s, &headers).await?;
    let t = &session.tenant;
    let store = |e: shared::ports::StoreError| crate::ApiError::Admin(e.into());
    let q = query_map(&uri);
    let after = match q.get("after").and_then(|a| a.parse::<u64>().ok()) {
        Some(a) => a,
        None => {
            let latest = s.changes.latest_changes(t, 1).await.map_err(store)?;
            latest.first().map_or(0, |c| c.seq.saturating_sub(u64::from(CHANGES_PAGE)))
        }
    };
    let page = s.changes.list_changes(t, after, CHANGES_PAGE).await.map_err(store)?;
    let list = page.events;
    let mut b = String::from("<p>Every change the integration made, oldest first, numbered in order.</p>");
    b.push_str(&crate::status_page::changes_table(&list));
    b.push_str("<p class=\"pager\">");
    if after > 0 {
        let _ = write!(
            b,
            "<a href=\"/admin/ui/changes?after={}\">Earlier changes</a>",
            after.saturating_sub(u64::from(CHANGES_PAGE))
        );
    }
    if page.more {
        let _ = write!(b, "<a href=\"/admin/ui/changes?after={}\">Later changes</a>", page.next_after);
    }
    b.push_str("</p><p><a href=\"/admin/ui/\">Back to the integration page</a></p>");
    Ok(html(StatusCode::OK, page::layout("Changes", Some(&viewer(&session)), &b)))
}
