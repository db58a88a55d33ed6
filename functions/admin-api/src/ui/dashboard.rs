//! The integration page itself: health, then the setup sections in the order the customer's Okta
//! setup goes (org, sign-in, provisioning, Connect to Okta, switches), then "Sync users", people
//! and recent changes.
use std::fmt::Write;

use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::Value;
use shared::adapters::http::html_escape as esc;
use shared::app::connect::{ConnectReport, HookRegistration, Outcome};
use shared::domain::admin_session::AdminSession;
use shared::domain::api_token::{TokenInfo, TokenKind};
use shared::domain::health::Level;
use shared::domain::okta::HANDLED_EVENT_TYPES;
use shared::domain::setup_urls::SetupUrls;
use shared::domain::sync_run::{RunStatus, SyncRun};
use shared::domain::tenant::Problem;

use super::page::{self, button_form, checkbox, copy_value, csrf_field, notice, radios, select, Field};
use super::{html, query_map, signed_in, viewer, Result};
use crate::State;

/// A secret to show this once, in its section.
pub struct Once {
    pub section: &'static str,
    pub label: &'static str,
    pub value: String,
    pub next: &'static str,
}

/// What a form's answer adds to the page.
pub struct Extras {
    pub status: StatusCode,
    pub notice: Option<(&'static str, String)>,
    pub once: Option<Once>,
    pub report: Option<ConnectReport>,
    pub registration: Option<HookRegistration>,
    /// The section whose form was refused, and why (field by field).
    pub problems: Option<(&'static str, Vec<Problem>)>,
    /// What was submitted (never secrets), to show again beside the problems.
    pub values: Option<Value>,
}

impl Default for Extras {
    fn default() -> Self {
        Self {
            status: StatusCode::OK,
            notice: None,
            once: None,
            report: None,
            registration: None,
            problems: None,
            values: None,
        }
    }
}

/// Notices a redirect may ask for by code (never text from the query).
fn notice_for(code: &str) -> Option<&'static str> {
    Some(match code {
        "org" => "Saved your Okta org.",
        "sso" => "Saved the sign-in settings.",
        "provisioning" => "Saved the provisioning method.",
        "switches" => "Saved the switches.",
        "revoked" => "The SCIM token is revoked: Okta's requests with it are refused from now on.",
        "previous_secret" => "The previous event hook secret no longer works; only the current one does.",
        "signed_in" => "Signed in.",
        _ => return None,
    })
}

pub async fn show(AxState(s): AxState<State>, headers: HeaderMap, uri: Uri) -> Result<Response> {
    let session = signed_in(&s, &headers).await?;
    let mut extras = Extras::default();
    if let Some(text) = query_map(&uri).get("notice").and_then(|c| notice_for(c)) {
        extras.notice = Some(("ok", text.to_owned()));
    }
    render(&s, &session, extras).await
}

/// The page, with what a form's answer adds.
pub async fn render(s: &State, session: &AdminSession, extras: Extras) -> Result<Response> {
    let t = &session.tenant;
    let (view, health, runs, scim_tokens, latest) = tokio::join!(
        s.admin.get_tenant(t),
        s.health.health(t),
        s.sync.list(t, 5),
        s.admin.list_tokens(t, TokenKind::Scim),
        s.changes.latest_changes(t, 10),
    );
    let view = view?;
    let health = health?;
    let runs = runs?;
    let scim_tokens = scim_tokens?;
    let mut latest = latest.map_err(|e| crate::ApiError::Admin(e.into()))?;
    latest.sort_by_key(|c| std::cmp::Reverse(c.seq));
    let urls = s.urls.setup_urls(t);
    let mut values = serde_json::to_value(&view.config).unwrap_or_default();
    if let (Some(Value::Object(submitted)), Some(map)) = (&extras.values, values.as_object_mut()) {
        for (k, v) in submitted {
            map.insert(k.clone(), v.clone());
        }
    }
    let ctx = Ctx { session, extras: &extras, values: &values, urls: &urls, secrets: &view.secrets.secrets };

    let mut b = String::new();
    if let Some((kind, text)) = &extras.notice {
        b.push_str(&notice(kind, text));
    }
    b.push_str(
        "<p class=\"lead\">Connect this learning platform to your Okta org: people sign in with Okta, and \
                joiners, movers and leavers reach the platform within minutes. Work down the page; \
                <strong>Connect to Okta</strong> checks each step live.</p>",
    );

    // Health at a glance.
    let (class, label) = match health.status {
        Level::Ok => ("ok", "Healthy"),
        Level::Warning => ("warning", "Needs attention"),
        Level::Failing => ("failing", "Failing"),
    };
    let _ = write!(
        b,
        "<section id=\"health\" aria-labelledby=\"h-health\"><h2 id=\"h-health\">Health <span class=\"badge {class}\">{label}</span></h2>"
    );
    if health.problems.is_empty() {
        b.push_str("<p>Everything looks right.</p>");
    } else {
        b.push_str("<ul class=\"problems\">");
        for p in &health.problems {
            let _ = write!(b, "<li>{}</li>", esc(&p.message));
        }
        b.push_str("</ul>");
    }
    let last_sync = health.last_sync.as_ref().map(|l| page::when(Some(l.started_at))).unwrap_or_else(|| "never".into());
    let _ = write!(
        b,
        "<p class=\"muted\">Event hook {} · last delivery {} · last sync {} · {} people waiting for a manager or team</p></section>",
        if health.hook.verified { "verified" } else { "not verified" },
        esc(&page::when(health.hook.last_delivery_at)),
        esc(&last_sync),
        health.pending_references
    );

    b.push_str(&org_section(&ctx));
    b.push_str(&sign_in_section(&ctx));
    b.push_str(&provisioning_section(&ctx, &scim_tokens));
    b.push_str(&connect_section(&ctx));
    b.push_str(&switches_section(&ctx));
    b.push_str(&sync_section(&ctx, &runs));

    let _ = write!(
        b,
        "<section id=\"people\" aria-labelledby=\"h-people\"><h2 id=\"h-people\">People</h2>\
         <p>Who Okta has given this platform, their status, and invitations. <a href=\"/admin/ui/people\">Open the people list</a></p>\
         <div class=\"actions\">{}</div></section>",
        button_form("/admin/ui/people/invite-all", &session.csrf, "Invite everyone not yet invited", "secondary", &[])
    );
    let _ = write!(
        b,
        "<section id=\"changes\" aria-labelledby=\"h-changes\"><h2 id=\"h-changes\">Recent changes</h2>{}\
         <p><a href=\"/admin/ui/changes\">All changes</a></p></section>",
        crate::status_page::changes_table(&latest)
    );
    Ok(html(extras.status, page::layout("Okta", Some(&viewer(session)), &b)))
}

/// The id of the control a problem's field names (`field_mappings[2].okta` → the textarea; a
/// radio group → its first radio).
fn control_id(field: &str) -> String {
    let base = field.split(['[', '.']).next().unwrap_or(field);
    match base {
        "provisioning" => "f-provisioning-scim".into(),
        "sso_protocol" => "f-sso_protocol-oidc".into(),
        other => format!("f-{other}"),
    }
}

struct Ctx<'a> {
    session: &'a AdminSession,
    extras: &'a Extras,
    values: &'a Value,
    urls: &'a SetupUrls,
    secrets: &'a shared::app::secrets::SecretStates,
}

impl Ctx<'_> {
    fn text(&self, name: &str) -> String {
        match self.values.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    }
    fn flag(&self, name: &str) -> bool {
        self.values.get(name).and_then(Value::as_bool).unwrap_or(false)
    }
    /// The problem with a field, when this section's form was refused.
    fn error(&self, section: &str, field: &str) -> Option<&str> {
        let (s, problems) = self.extras.problems.as_ref()?;
        // `field_mappings[2].field` is the field_mappings control's problem.
        let of = |p: &&Problem| {
            p.field == field || p.field.starts_with(&format!("{field}[")) || p.field.starts_with(&format!("{field}."))
        };
        (*s == section).then(|| problems.iter().find(of).map(|p| p.message.as_str())).flatten()
    }
    /// The section's refusal summary and its secret shown once.
    fn head(&self, section: &str) -> String {
        let mut h = String::new();
        if let Some((s, problems)) = &self.extras.problems {
            if *s == section {
                let lead = if section == "connect" {
                    "That did not work:".to_owned()
                } else {
                    format!(
                        "Nothing was saved: fix {} and save again.",
                        if problems.len() == 1 { "this" } else { "these" }
                    )
                };
                let _ = write!(h, "<div class=\"notice error\" role=\"alert\"><p>{lead}</p><ul>");
                for p in problems {
                    if section == "connect" {
                        let _ = write!(h, "<li>{}</li>", esc(&p.message));
                    } else {
                        let _ = write!(
                            h,
                            "<li><a href=\"#{}\">{}</a>: {}</li>",
                            esc(&control_id(&p.field)),
                            esc(&p.field),
                            esc(&p.message)
                        );
                    }
                }
                h.push_str("</ul></div>");
            }
        }
        if let Some(once) = &self.extras.once {
            if once.section == section {
                h.push_str(&page::shown_once(&format!("once-{section}"), once.label, &once.value, once.next));
            }
        }
        h
    }
    fn secret_placeholder(&self, set: bool) -> &'static str {
        if set {
            "saved — leave empty to keep it"
        } else {
            "not saved yet"
        }
    }
}

fn org_section(c: &Ctx<'_>) -> String {
    let domain = c.text("okta_domain");
    let app_id = c.text("app_id");
    let mut h = String::from("<section id=\"org\" aria-labelledby=\"h-org\"><h2 id=\"h-org\">1. Your Okta org</h2>");
    h.push_str(&c.head("org"));
    let _ = write!(
        h,
        "<form method=\"post\" action=\"/admin/ui/org#org\">{}{}{}{}<div class=\"actions\"><button type=\"submit\">Save</button></div></form></section>",
        csrf_field(&c.session.csrf),
        Field::text("okta_domain", "Okta domain", &domain)
            .kind("url")
            .placeholder("https://acme.okta.com")
            .hint("Your org's address, as in the Okta Admin Console's address bar without -admin.")
            .error(c.error("org", "okta_domain"))
            .render(),
        Field::text("app_id", "App ID", &app_id)
            .placeholder("0oa…")
            .hint("Applications › your app: the id after /instance/ in the address bar.")
            .error(c.error("org", "app_id"))
            .render(),
        Field::text("okta_api_token", "Okta API token", "")
            .password(c.secret_placeholder(c.secrets.okta_api_token.set))
            .hint("Security › API › Tokens › Create token, as an admin with the Read-only Administrator role (a Super \
                   Administrator's token can also register the event hook for you). Stored encrypted; never shown again.")
            .error(c.error("org", "okta_api_token"))
            .render(),
    );
    h
}

fn sign_in_section(c: &Ctx<'_>) -> String {
    let u = c.urls;
    let protocol = c.text("sso_protocol");
    let mut h = String::from(
        "<section id=\"sign-in\" aria-labelledby=\"h-sign-in\"><h2 id=\"h-sign-in\">2. Sign-in with Okta</h2>",
    );
    h.push_str(&c.head("sso"));
    let _ = write!(h, "<form method=\"post\" action=\"/admin/ui/sso#sign-in\">{}", csrf_field(&c.session.csrf));
    h.push_str(&checkbox("sso_enabled", "People sign in with Okta", c.flag("sso_enabled"), ""));
    h.push_str(&radios(
        "sso_protocol",
        "Protocol",
        &[
            ("oidc", "OpenID Connect (an OIDC Web Application in Okta)"),
            ("saml", "SAML 2.0 (needed to provision by SCIM)"),
        ],
        if protocol.is_empty() { "oidc" } else { &protocol },
    ));
    h.push_str(
        "<h3>With OpenID Connect</h3><ol class=\"steps\"><li>In Okta: Applications › Create App Integration › \
                OIDC – OpenID Connect › Web Application.</li><li>Paste these into the app's General tab:</li></ol>",
    );
    for (i, uri) in u.oidc_redirect_uris.iter().enumerate() {
        let label = if i == 0 { "Sign-in redirect URI" } else { "Sign-in redirect URI (path form, add it too)" };
        h.push_str(&copy_value(&format!("c-redirect-{i}"), label, uri));
    }
    h.push_str(&copy_value("c-logout", "Sign-out redirect URI", &u.post_logout_redirect_uri));
    h.push_str(&copy_value("c-initiate", "Initiate login URI", &u.sign_in));
    h.push_str("<ol class=\"steps\" start=\"3\"><li>Copy the app's Client ID and Client secret here:</li></ol>");
    h.push_str(
        &Field::text("client_id", "Client ID", &c.text("client_id")).error(c.error("sso", "client_id")).render(),
    );
    h.push_str(
        &Field::text("oidc_client_secret", "Client secret", "")
            .password(c.secret_placeholder(c.secrets.oidc_client_secret.set))
            .error(c.error("sso", "oidc_client_secret"))
            .render(),
    );
    h.push_str(
        &Field::text("issuer", "Issuer (optional)", &c.text("issuer"))
            .kind("url")
            .hint("Leave empty for the org authorization server; for a custom one, its Issuer URI (Security › API › Authorization Servers).")
            .error(c.error("sso", "issuer"))
            .render(),
    );
    h.push_str(
        "<h3>With SAML 2.0</h3><ol class=\"steps\"><li>In Okta: Applications › Create App Integration › SAML 2.0.</li>\
                <li>Paste these into SAML Settings:</li></ol>",
    );
    h.push_str(&copy_value("c-acs", "Single sign-on URL (ACS)", &u.saml.acs_url));
    h.push_str(&copy_value("c-audience", "Audience URI (SP Entity ID)", &u.saml.entity_id));
    h.push_str(&copy_value("c-sp-metadata", "Our SAML metadata", &u.saml.metadata_url));
    h.push_str(
        "<ol class=\"steps\" start=\"3\"><li>Name ID format: EmailAddress; Application username: Email.</li>\
                <li>Attribute statements: <code>email</code> = user.email, <code>firstName</code> = user.firstName, \
                <code>lastName</code> = user.lastName, <code>oktaUserId</code> = user.getInternalProperty(\"id\").</li>\
                <li>From the app's Sign On tab, copy the Metadata URL here:</li></ol>",
    );
    h.push_str(
        &Field::text("saml_idp_metadata_url", "IdP metadata URL", &c.text("saml_idp_metadata_url"))
            .kind("url")
            .error(c.error("sso", "saml_idp_metadata_url"))
            .render(),
    );
    h.push_str(&page::textarea(
        "saml_idp_metadata_xml",
        "Or the IdP metadata XML",
        &c.text("saml_idp_metadata_xml"),
        "Only when Okta's metadata URL cannot be reached from here: paste the XML from that URL instead (give one, not both).",
        c.error("sso", "saml_idp_metadata_xml"),
    ));
    let idp_initiated = c.values.get("saml_allow_idp_initiated").and_then(Value::as_bool).unwrap_or(true);
    h.push_str(&checkbox(
        "saml_allow_idp_initiated",
        "Allow sign-in from the Okta dashboard tile (IdP-initiated)",
        idp_initiated,
        "",
    ));
    h.push_str("<div class=\"actions\"><button type=\"submit\">Save sign-in</button></div></form></section>");
    h
}

fn provisioning_section(c: &Ctx<'_>, scim_tokens: &[TokenInfo]) -> String {
    let u = c.urls;
    let csrf = &c.session.csrf;
    let provisioning = c.text("provisioning");
    let mut h = String::from(
        "<section id=\"provisioning\" aria-labelledby=\"h-provisioning\"><h2 id=\"h-provisioning\">3. Provisioning: who is on the platform</h2>",
    );
    h.push_str(&c.head("provisioning"));
    let _ = write!(h, "<form method=\"post\" action=\"/admin/ui/provisioning#provisioning\">{}", csrf_field(csrf));
    h.push_str(&radios(
        "provisioning",
        "How Okta tells the platform about joiners, movers and leavers",
        &[
            ("scim", "SCIM 2.0 (recommended; with SAML sign-in)"),
            ("event_hooks", "Event hooks and a nightly sync (with OIDC sign-in)"),
            ("none", "None: sign-in only"),
        ],
        if provisioning.is_empty() { "none" } else { &provisioning },
    ));
    h.push_str(
        &Field::text("event_hook_auth_header", "Event hook header name", &c.text("event_hook_auth_header"))
            .hint("The header Okta sends the secret in (Authorization unless you chose another).")
            .error(c.error("provisioning", "event_hook_auth_header"))
            .render(),
    );
    h.push_str("<div class=\"actions\"><button type=\"submit\">Save provisioning</button></div></form>");

    // SCIM.
    h.push_str("<h3>SCIM 2.0</h3><ol class=\"steps\"><li>In the SAML app's General tab: App Settings › Enable SCIM provisioning.</li>\
                <li>Provisioning › Integration: SCIM connector base URL below; Unique identifier field for users: \
                <code>userName</code>; Supported provisioning actions: Push New Users, Push Profile Updates, Push Groups; \
                Authentication Mode: HTTP Header, with a token issued here.</li>\
                <li>Provisioning › To App: enable Create Users, Update User Attributes and Deactivate Users.</li></ol>");
    h.push_str(&copy_value("c-scim", "SCIM connector base URL", &u.scim_base));
    h.push_str(&c.head("scim"));
    let active: Vec<&TokenInfo> = scim_tokens.iter().filter(|t| t.active).collect();
    if active.is_empty() {
        h.push_str("<p class=\"muted\">No SCIM token is active.</p>");
    } else {
        h.push_str("<table><caption class=\"muted\">Active SCIM tokens</caption><tr><th scope=\"col\">Token</th><th scope=\"col\">Issued</th><th scope=\"col\">Expires</th><th scope=\"col\">Actions</th></tr>");
        for t in active {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
                esc(&t.id),
                page::when(Some(t.created_at)),
                t.expires_at.map_or("—".into(), |e| page::when(Some(e))),
                button_form(
                    &format!("/admin/ui/scim-tokens/{}/rotate#provisioning", t.id),
                    csrf,
                    &format!("Rotate {}", t.id),
                    "secondary",
                    &[]
                ),
                button_form(
                    &format!("/admin/ui/scim-tokens/{}/revoke", t.id),
                    csrf,
                    &format!("Revoke {}", t.id),
                    "danger",
                    &[]
                ),
            );
        }
        h.push_str("</table>");
    }
    let _ = write!(
        h,
        "<div class=\"actions\">{}</div>",
        button_form("/admin/ui/scim-tokens#provisioning", csrf, "Issue a SCIM token", "secondary", &[])
    );

    // Event hooks.
    h.push_str("<h3>Event hooks</h3><ol class=\"steps\"><li>In Okta: Workflow › Event Hooks › Create Event Hook, with the \
                URL, header and secret below and every event listed; then Verify. Or press <strong>Register the event hook \
                in Okta</strong>, which does all of it with a Super Administrator's API token.</li></ol>");
    h.push_str(&copy_value("c-hook", "Event hook URL", &u.event_hook));
    let header = c.text("event_hook_auth_header");
    h.push_str(&copy_value(
        "c-hook-header",
        "Authentication field (header name)",
        if header.is_empty() { "Authorization" } else { &header },
    ));
    h.push_str(&copy_value("c-hook-events", "Events to subscribe to", &HANDLED_EVENT_TYPES.join(", ")));
    h.push_str(&c.head("hook"));
    let secret = &c.secrets.event_hook_secret;
    let (previous, end_previous) = match secret.previous_valid_until {
        Some(until) => (
            format!(" The previous one still works until {}.", page::when(Some(until))),
            button_form(
                "/admin/ui/event-hook-secret/previous#provisioning",
                csrf,
                "End the previous secret now",
                "danger",
                &[],
            ),
        ),
        None => (String::new(), String::new()),
    };
    let _ = write!(
        h,
        "<p>Authentication secret: {}.{previous}</p><div class=\"actions\">{}{end_previous}{}</div></section>",
        if secret.set { format!("issued {}", page::when(secret.set_at)) } else { "not issued yet".into() },
        button_form(
            "/admin/ui/event-hook-secret#provisioning",
            csrf,
            if secret.set { "Rotate the secret" } else { "Issue the secret" },
            "secondary",
            &[]
        ),
        button_form("/admin/ui/event-hook/register#connect", csrf, "Register the event hook in Okta", "", &[]),
    );
    h
}

fn connect_section(c: &Ctx<'_>) -> String {
    let mut h = String::from(
        "<section id=\"connect\" aria-labelledby=\"h-connect\"><h2 id=\"h-connect\">4. Connect to Okta</h2>\
         <p>Checks everything that can be checked from here, live, and says what to fix. It changes nothing.</p>",
    );
    h.push_str(&c.head("connect"));
    if let Some(r) = &c.extras.registration {
        let text = match (r.verified && r.active, &r.verify_error) {
            (true, _) => format!(
                "Event hook {} {} in Okta and verified: Okta now sends every event.",
                r.hook_id,
                if r.created { "created" } else { "updated" }
            ),
            (false, Some(e)) => format!("Event hook {} saved in Okta, but Okta could not verify it: {e}", r.hook_id),
            (false, None) => format!("Event hook {} saved in Okta, but it is not verified yet.", r.hook_id),
        };
        h.push_str(&notice(if r.verified && r.active { "ok" } else { "error" }, &text));
    }
    if let Some(report) = &c.extras.report {
        let failed = report.checks.iter().filter(|x| x.outcome == Outcome::Fail).count();
        h.push_str(&notice(
            if report.all_passed { "ok" } else { "error" },
            &if report.all_passed {
                "Every check passed.".to_owned()
            } else {
                format!("{failed} check{} failed: see what to fix below.", if failed == 1 { "" } else { "s" })
            },
        ));
        h.push_str("<ul class=\"checks\" id=\"checks\">");
        for check in &report.checks {
            let (class, verdict) = match check.outcome {
                Outcome::Pass => ("pass", "Pass"),
                Outcome::Fail => ("fail", "Fail"),
                Outcome::Skipped => ("skipped", "Skipped"),
            };
            let _ = write!(
                h,
                "<li class=\"{class}\" data-check=\"{}\"><span class=\"verdict\">{verdict}</span> <strong>{}</strong>: {}",
                check.id,
                esc(check.title),
                esc(&check.detail)
            );
            if let Some(fix) = &check.fix {
                let _ = write!(h, "<p class=\"fix\">To fix: {}.</p>", esc(fix));
            }
            h.push_str("</li>");
        }
        h.push_str("</ul>");
        let _ = write!(h, "<p class=\"muted\">Checked {}.</p>", page::when(Some(report.checked_at)));
    }
    let _ = write!(
        h,
        "<div class=\"actions\">{}</div></section>",
        button_form("/admin/ui/connect#connect", &c.session.csrf, "Connect to Okta", "", &[])
    );
    h
}

fn switches_section(c: &Ctx<'_>) -> String {
    let mappings = match c.values.get("field_mappings") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|m| Some(format!("{} = {}", m.get("okta")?.as_str()?, m.get("field")?.as_str()?)))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::String(raw)) => raw.clone(),
        _ => String::new(),
    };
    let manager = c.text("manager_mode");
    let mut h =
        String::from("<section id=\"switches\" aria-labelledby=\"h-switches\"><h2 id=\"h-switches\">5. Switches</h2>");
    h.push_str(&c.head("switches"));
    let _ = write!(h, "<form method=\"post\" action=\"/admin/ui/switches#switches\">{}", csrf_field(&c.session.csrf));
    h.push_str(&checkbox(
        "invite_automatically",
        "Invite people as soon as they are created",
        c.flag("invite_automatically"),
        "",
    ));
    h.push_str(&checkbox(
        "jit_provisioning",
        "Create people at their first sign-in (just in time)",
        c.flag("jit_provisioning"),
        "Without it, only people Okta provisioned can sign in.",
    ));
    h.push_str(&select(
        "manager_mode",
        "Managers",
        &[
            ("individual", "Each person's manager, from Okta's managerId"),
            ("team_first_user", "The first person of each team manages it"),
            ("none", "Do not set managers"),
        ],
        if manager.is_empty() { "individual" } else { &manager },
        "",
    ));
    h.push_str(
        &Field::text("deactivation_brake_percent", "Deactivation brake (%)", &c.text("deactivation_brake_percent"))
            .kind("number")
            .hint("A sync that would deactivate more than this share of active people waits for your approval.")
            .error(c.error("switches", "deactivation_brake_percent"))
            .render(),
    );
    h.push_str(&page::textarea(
        "field_mappings",
        "Field mappings",
        &mappings,
        "One per line: <code>oktaAttribute = field</code>, e.g. <code>costCenter = cost_center</code>.",
        c.error("switches", "field_mappings"),
    ));
    h.push_str("<div class=\"actions\"><button type=\"submit\">Save switches</button></div></form></section>");
    h
}

pub fn run_status(run: &SyncRun) -> &'static str {
    match run.status {
        RunStatus::Running => "running",
        RunStatus::NeedsApproval => "waiting for approval",
        RunStatus::Completed => "completed",
        RunStatus::Failed => "failed",
    }
}

fn sync_section(c: &Ctx<'_>, runs: &[SyncRun]) -> String {
    let csrf = &c.session.csrf;
    let mut h = String::from(
        "<section id=\"sync\" aria-labelledby=\"h-sync\"><h2 id=\"h-sync\">6. Sync users</h2>\
         <p>Reads everyone assigned to the app in Okta and brings the platform in line: creates, updates, deactivates. \
         It also runs every night at 03:00 GMT. A preview shows what it would change and changes nothing.</p>",
    );
    let _ = write!(
        h,
        "<div class=\"actions\">{}{}</div>",
        button_form("/admin/ui/sync", csrf, "Sync users", "", &[]),
        button_form("/admin/ui/sync", csrf, "Preview (dry run)", "secondary", &[("dry_run", "on")]),
    );
    if let Some(running) = runs.iter().find(|r| r.status == RunStatus::Running) {
        h.push_str(&super::views::progress_box(running, &format!("/admin/ui/?run={}#sync", running.id)));
    }
    if runs.is_empty() {
        h.push_str("<p class=\"muted\">No sync has run yet.</p>");
    } else {
        h.push_str("<table><caption class=\"muted\">Last runs</caption><tr><th scope=\"col\">Started</th><th scope=\"col\">Run</th><th scope=\"col\">Status</th>\
                    <th scope=\"col\">Seen</th><th scope=\"col\">Created</th><th scope=\"col\">Updated</th><th scope=\"col\">Deactivated</th><th scope=\"col\">Errors</th></tr>");
        for r in runs {
            let _ = write!(
                h,
                "<tr><td>{}</td><td><a href=\"/admin/ui/sync/{}\">{}{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                page::when(Some(r.started_at)),
                esc(&r.id),
                if r.dry_run { "Preview " } else { "Sync " },
                esc(&r.id),
                run_status(r),
                r.counts.seen,
                r.counts.created,
                r.counts.updated,
                r.counts.deactivated + if r.status == RunStatus::NeedsApproval { r.pending_deactivations } else { 0 },
                r.counts.errors,
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
    h
}
