//! The per-tenant status page: plain server-rendered HTML with inline CSS, no scripts, every
//! value escaped. For people who would rather look than read JSON.
use std::fmt::Write;

use chrono::{DateTime, Utc};
use shared::adapters::http::html_escape as escape;
use shared::domain::change::ChangeEvent;
use shared::domain::health::{Health, Level};
use shared::domain::sync_run::SyncRun;
use shared::domain::TenantId;

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "never".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

fn age(seconds: Option<i64>) -> String {
    match seconds {
        None => "—".into(),
        Some(s) if s < 120 => format!("{s} s ago"),
        Some(s) if s < 7200 => format!("{} min ago", s / 60),
        Some(s) if s < 172_800 => format!("{} h ago", s / 3600),
        Some(s) => format!("{} days ago", s / 86_400),
    }
}

fn level(l: Level) -> (&'static str, &'static str) {
    match l {
        Level::Ok => ("ok", "Healthy"),
        Level::Warning => ("warning", "Needs attention"),
        Level::Failing => ("failing", "Failing"),
    }
}

const STYLE: &str = "body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}\
main{max-width:1040px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}\
.sub{color:#5b6475;margin:0 0 16px}.badge{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:600;font-size:13px}\
.ok{background:#dcf5e3;color:#17622f}.warning{background:#fff1cc;color:#7a5200}.failing{background:#fde0df;color:#8e1b16}\
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:12px}\
.card{background:#fff;border:1px solid #e2e5eb;border-radius:8px;padding:12px 14px}.card b{display:block;font-size:20px}\
.card span{color:#5b6475;font-size:13px}table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #e2e5eb;border-radius:8px}\
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #eef0f3;font-size:13.5px;vertical-align:top}th{background:#fafbfc;color:#5b6475;font-weight:600}\
ul.problems{padding:0;list-style:none}ul.problems li{background:#fff;border:1px solid #e2e5eb;border-left-width:4px;border-radius:6px;padding:8px 12px;margin:6px 0}\
li.warning{border-left-color:#e0a800}li.failing{border-left-color:#d93025}code{font-size:12.5px;color:#5b6475}";

pub fn render(tenant: &TenantId, health: &Health, runs: &[SyncRun], changes: &[ChangeEvent]) -> String {
    let t = escape(tenant.as_str());
    let (class, label) = level(health.status);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>okta-bridge · {t}</title><style>{STYLE}</style></head><body><main>\
         <h1>Okta integration · {t} <span class=\"badge {class}\">{label}</span></h1>\
         <p class=\"sub\">Checked {} · provisioning: {}</p>",
        when(Some(health.checked_at)),
        escape(&serde_json::to_value(health.provisioning).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()),
    );
    if health.problems.is_empty() {
        h.push_str("<ul class=\"problems\"><li>Everything looks right.</li></ul>");
    } else {
        h.push_str("<ul class=\"problems\">");
        for p in &health.problems {
            let (c, _) = level(p.level);
            let _ = write!(h, "<li class=\"{c}\">{} <code>{}</code></li>", escape(&p.message), escape(p.code));
        }
        h.push_str("</ul>");
    }
    let hook = &health.hook;
    let token = &health.secrets.okta_api_token;
    let cards = [
        (
            "Event hook",
            if hook.verified { "verified".to_owned() } else { "not verified".to_owned() },
            when(hook.verified_at),
        ),
        ("Last delivery", age(hook.last_delivery_age_seconds), when(hook.last_delivery_at)),
        ("Events, last 24 h", hook.events_24h.to_string(), format!("{} jobs", hook.jobs_24h)),
        (
            "Worker",
            health.worker.last_job_waited_seconds.map_or("—".into(), |s| format!("{s} s queue wait")),
            format!("last job {}", when(health.worker.last_job_at)),
        ),
        (
            "Queue (deployment)",
            health.queue.as_ref().map_or("unknown".into(), |q| q.depth.to_string()),
            health.queue.as_ref().map_or(String::new(), |q| format!("{} in the DLQ", q.dlq_depth)),
        ),
        ("Pending references", health.pending_references.to_string(), "managers and teams waiting".into()),
        (
            "Okta API token",
            token
                .expires_in_days
                .map_or(if token.set { "set".into() } else { "not set".into() }, |d| format!("{d} days left")),
            format!("last used {}", when(token.last_used_at)),
        ),
        ("SCIM tokens", health.secrets.scim_tokens_active.to_string(), "active".into()),
    ];
    h.push_str("<h2>Health</h2><div class=\"grid\">");
    for (title, value, detail) in cards {
        let _ = write!(
            h,
            "<div class=\"card\"><span>{}</span><b>{}</b><span>{}</span></div>",
            escape(title),
            escape(&value),
            escape(&detail)
        );
    }
    h.push_str("</div><h2>Sync runs</h2>");
    if runs.is_empty() {
        h.push_str("<p class=\"sub\">No sync run yet.</p>");
    } else {
        h.push_str(
            "<table><tr><th>Started</th><th>Status</th><th>Seen</th><th>Created</th><th>Updated</th>\
             <th>Unchanged</th><th>Deactivated</th><th>Errors</th><th>Okta calls</th></tr>",
        );
        for r in runs {
            let c = &r.counts;
            let status =
                serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                when(Some(r.started_at)),
                escape(&status),
                if r.dry_run { " (dry run)" } else { "" },
                c.seen,
                c.created,
                c.updated,
                c.unchanged,
                c.deactivated + r.pending_deactivations,
                c.errors,
                c.okta_calls,
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Latest changes</h2>");
    h.push_str(&changes_table(changes));
    h.push_str("</main></body></html>");
    h
}

/// The change feed as a table (this page and the integration page's).
pub fn changes_table(changes: &[ChangeEvent]) -> String {
    let mut h = String::new();
    if changes.is_empty() {
        h.push_str("<p class=\"sub muted\">No change recorded yet.</p>");
        return h;
    }
    h.push_str("<table><tr><th scope=\"col\">#</th><th scope=\"col\">When</th><th scope=\"col\">By</th><th scope=\"col\">What</th><th scope=\"col\">Fields</th></tr>");
    for c in changes {
        let ch = &c.change;
        let name = |v: serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_default();
        let fields: Vec<&str> = ch.changes.keys().map(String::as_str).collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {} <code>{}</code></td><td>{}</td></tr>",
            c.seq,
            when(Some(ch.at)),
            escape(&name(serde_json::to_value(ch.actor).unwrap_or_default())),
            escape(&name(serde_json::to_value(ch.entity).unwrap_or_default())),
            escape(&name(serde_json::to_value(ch.action).unwrap_or_default())),
            escape(&ch.entity_id),
            escape(&fields.join(", ")),
        );
    }
    h.push_str("</table>");
    h
}
