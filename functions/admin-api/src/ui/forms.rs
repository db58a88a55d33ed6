//! The setup forms: each section's fields merged into the tenant's whole config and saved through
//! the same use case (and validation, and messages) as `PUT /admin/tenants/{t}`; secrets through
//! the same calls as the API's secret routes; Connect to Okta and the hook's registration.
use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use shared::app::AdminError;
use shared::domain::admin_session::AdminSession;
use shared::domain::api_token::TokenKind;
use shared::domain::tenant::{Problem, TenantConfigInput};
use shared::domain::Secret;

use super::dashboard::{render, Extras, Once};
use super::{see_other, signed_form, Id, Result, UiError};
use crate::State;

fn problem(field: &str, message: impl Into<String>) -> Problem {
    Problem { field: field.to_owned(), message: message.into() }
}

/// Saves `changes` over the tenant's config, then sets the secrets given (only once the config is
/// valid, so a refused form changes nothing). Refusals come back as the section's problems,
/// beside the values submitted.
async fn save(
    s: &State,
    session: &AdminSession,
    section: &'static str,
    changes: Value,
    mut problems: Vec<Problem>,
    secrets: &[(&str, Option<String>)],
) -> Result<Response> {
    let t = &session.tenant;
    let current = s.admin.get_tenant(t).await?;
    let mut merged = serde_json::to_value(&current.config).unwrap_or_default();
    if let (Some(map), Value::Object(changes)) = (merged.as_object_mut(), &changes) {
        for (k, v) in changes {
            map.insert(k.clone(), v.clone());
        }
    }
    // A secret the store would refuse is a problem of its field, found before anything is saved.
    for (name, value) in secrets {
        if value.as_ref().is_some_and(|v| v.len() > 4096) {
            problems.push(problem(name, "must be at most 4096 bytes"));
        }
    }
    if problems.is_empty() {
        match serde_json::from_value::<TenantConfigInput>(merged.clone()) {
            Err(e) => problems.push(problem("config", e.to_string())),
            Ok(input) => match s.admin.put_tenant(t, input).await {
                Ok(_) => {
                    for (name, value) in secrets {
                        if let Some(v) = value {
                            s.admin.set_secret(t, name, Secret::new(v.clone())).await?;
                        }
                    }
                    tracing::info!(section, "integration page: settings saved");
                    return Ok(see_other(&format!("/admin/ui/?notice={section}#{}", anchor(section))));
                }
                Err(AdminError::InvalidConfig(invalid)) => problems.extend(invalid.0),
                Err(e) => return Err(e.into()),
            },
        }
    }
    let extras = Extras {
        status: StatusCode::BAD_REQUEST,
        problems: Some((section, problems)),
        values: Some(changes),
        ..Extras::default()
    };
    render(s, session, extras).await
}

fn anchor(section: &str) -> &str {
    match section {
        "sso" => "sign-in",
        other => other,
    }
}

pub async fn save_org(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, f) = signed_form(&s, &headers, body).await?;
    let changes = json!({"okta_domain": f.trimmed("okta_domain"), "app_id": f.opt("app_id")});
    let token = f.opt("okta_api_token");
    save(&s, &session, "org", changes, Vec::new(), &[("okta_api_token", token)]).await
}

pub async fn save_sso(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, f) = signed_form(&s, &headers, body).await?;
    let changes = json!({
        "sso_enabled": f.on("sso_enabled"),
        "sso_protocol": if f.get("sso_protocol") == "saml" { "saml" } else { "oidc" },
        "client_id": f.opt("client_id"),
        "issuer": f.opt("issuer"),
        "saml_idp_metadata_url": f.opt("saml_idp_metadata_url"),
        "saml_idp_metadata_xml": f.opt("saml_idp_metadata_xml"),
        "saml_allow_idp_initiated": f.on("saml_allow_idp_initiated"),
    });
    let secret = f.opt("oidc_client_secret");
    save(&s, &session, "sso", changes, Vec::new(), &[("oidc_client_secret", secret)]).await
}

pub async fn save_provisioning(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, f) = signed_form(&s, &headers, body).await?;
    let mut problems = Vec::new();
    let provisioning = match f.get("provisioning") {
        p @ ("scim" | "event_hooks" | "none") => p,
        _ => {
            problems.push(problem("provisioning", "choose SCIM, event hooks or none"));
            "none"
        }
    };
    let header = f.opt("event_hook_auth_header").unwrap_or_else(|| "Authorization".into());
    let changes = json!({"provisioning": provisioning, "event_hook_auth_header": header});
    save(&s, &session, "provisioning", changes, problems, &[]).await
}

/// `oktaAttribute = field` lines, or the line that is not one.
fn parse_mappings(raw: &str) -> std::result::Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (i, line) in raw.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((okta, field)) = line.split_once('=') else {
            return Err(format!("line {}: write it as oktaAttribute = field", i + 1));
        };
        out.push(json!({"okta": okta.trim(), "field": field.trim()}));
    }
    Ok(out)
}

pub async fn save_switches(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, f) = signed_form(&s, &headers, body).await?;
    let mut problems = Vec::new();
    let brake = match f.trimmed("deactivation_brake_percent").parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => {
            problems.push(problem("deactivation_brake_percent", "must be a whole number from 0 to 100"));
            json!(f.trimmed("deactivation_brake_percent"))
        }
    };
    let mappings = match parse_mappings(f.get("field_mappings")) {
        Ok(m) => json!(m),
        Err(e) => {
            problems.push(problem("field_mappings", e));
            json!(f.get("field_mappings"))
        }
    };
    let manager = match f.get("manager_mode") {
        m @ ("individual" | "team_first_user" | "none") => m,
        _ => "individual",
    };
    let changes = json!({
        "invite_automatically": f.on("invite_automatically"),
        "jit_provisioning": f.on("jit_provisioning"),
        "manager_mode": manager,
        "deactivation_brake_percent": brake,
        "field_mappings": mappings,
    });
    save(&s, &session, "switches", changes, problems, &[]).await
}

/// A page showing a new secret once (never in a URL, never cached).
async fn show_once(s: &State, session: &AdminSession, once: Once, text: String) -> Result<Response> {
    let extras = Extras { once: Some(once), notice: Some(("ok", text)), ..Extras::default() };
    render(s, session, extras).await
}

pub async fn issue_event_hook_secret(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, _) = signed_form(&s, &headers, body).await?;
    let secret = s.admin.rotate_event_hook_secret(&session.tenant).await?;
    let once = Once {
        section: "hook",
        label: "Event hook secret",
        value: secret.expose().to_owned(),
        next: "Paste it as the Authentication secret of the event hook in Okta (a previous secret keeps working for a while), or press Register the event hook in Okta.",
    };
    show_once(&s, &session, once, "Issued a new event hook secret.".into()).await
}

/// Ends the rotated-out event-hook secret now (once Okta has the new one), not at its overlap's end.
pub async fn end_previous_event_hook_secret(
    AxState(s): AxState<State>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (session, _) = signed_form(&s, &headers, body).await?;
    s.admin.revoke_previous_event_hook_secret(&session.tenant).await?;
    Ok(see_other("/admin/ui/?notice=previous_secret#provisioning"))
}

pub async fn issue_scim_token(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, _) = signed_form(&s, &headers, body).await?;
    let (id, token) = s.admin.issue_token(&session.tenant, TokenKind::Scim).await?;
    let once = Once {
        section: "scim",
        label: "SCIM token",
        value: token.expose().to_owned(),
        next: "Paste it as the Bearer token in the app's Provisioning › Integration tab in Okta, then Test Connector Configuration.",
    };
    show_once(&s, &session, once, format!("Issued SCIM token {id}.")).await
}

pub async fn rotate_scim_token(AxState(s): AxState<State>, id: Id, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, _) = signed_form(&s, &headers, body).await?;
    let (new_id, token, until) = s.admin.rotate_token(&session.tenant, TokenKind::Scim, &id.0).await?;
    let once = Once {
        section: "scim",
        label: "SCIM token",
        value: token.expose().to_owned(),
        next: "Paste it into Okta now: the old token stops working when its overlap ends.",
    };
    let text = format!("Token {new_id} replaces {}; the old one works until {}.", id.0, super::page::when(Some(until)));
    show_once(&s, &session, once, text).await
}

pub async fn revoke_scim_token(AxState(s): AxState<State>, id: Id, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, _) = signed_form(&s, &headers, body).await?;
    s.admin.revoke_token(&session.tenant, TokenKind::Scim, &id.0).await?;
    Ok(see_other("/admin/ui/?notice=revoked#provisioning"))
}

pub async fn connect(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, _) = signed_form(&s, &headers, body).await?;
    let deadline = shared::app::connect::ConnectService::deadline();
    let report = s.connect.check(&session.tenant, &s.urls.setup_urls(&session.tenant), deadline).await?;
    let failed = report.checks.iter().filter(|c| c.outcome == shared::app::connect::Outcome::Fail).count();
    tracing::info!(failed, "integration page: Connect to Okta");
    render(&s, &session, Extras { report: Some(report), ..Extras::default() }).await
}

pub async fn register_hook(AxState(s): AxState<State>, headers: HeaderMap, body: Body) -> Result<Response> {
    let (session, _) = signed_form(&s, &headers, body).await?;
    let urls = s.urls.setup_urls(&session.tenant);
    // One budget for the registration and the re-check after it: the page answers within 29 s.
    let deadline = shared::app::connect::ConnectService::deadline();
    let registration = match s.connect.register_hook(&session.tenant, &urls, deadline).await {
        Ok(r) => r,
        Err(
            e @ (shared::app::connect::ConnectError::NotReady(_)
            | shared::app::connect::ConnectError::Okta(_)
            | shared::app::connect::ConnectError::OktaDown(_)),
        ) => {
            let down = matches!(e, shared::app::connect::ConnectError::OktaDown(_));
            let extras = Extras {
                status: if down { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::BAD_REQUEST },
                problems: Some(("connect", vec![problem("event hook", e.to_string())])),
                ..Extras::default()
            };
            return render(&s, &session, extras).await;
        }
        Err(e) => return Err(UiError::from(e)),
    };
    tracing::info!(hook = %registration.hook_id, verified = registration.verified, "integration page: event hook registered");
    // The report after registering says whether everything now holds.
    let report = s.connect.check(&session.tenant, &urls, deadline).await?;
    render(&s, &session, Extras { registration: Some(registration), report: Some(report), ..Extras::default() }).await
}

#[cfg(test)]
mod tests {
    use super::super::Form;
    use super::*;

    #[test]
    fn mappings_are_lines_of_attribute_equals_field() {
        let parsed = parse_mappings("costCenter = cost_center\n\n division=division ").unwrap();
        assert_eq!(
            parsed,
            vec![
                json!({"okta": "costCenter", "field": "cost_center"}),
                json!({"okta": "division", "field": "division"})
            ]
        );
        assert_eq!(parse_mappings("a\nb = c").unwrap_err(), "line 1: write it as oktaAttribute = field");
    }

    #[test]
    fn forms_read_checkboxes_by_presence() {
        let f = Form([("a".to_owned(), "on".to_owned())].into_iter().collect());
        assert!(f.on("a"));
        assert!(!f.on("b"));
        assert_eq!(f.opt("b"), None);
    }
}
