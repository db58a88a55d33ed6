//! The integration page's building blocks: the layout every page shares (header, navigation,
//! the CSP-friendly stylesheet and script), and the small pieces each section is made of (fields
//! with their labels and errors, values to copy, notices). Every value is escaped here.
use std::fmt::Write;

use shared::adapters::http::html_escape as esc;

/// The page's own policy: its stylesheet and script only, nothing inline, nothing framed.
pub const UI_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                          connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub const CSS: &str = include_str!("assets/app.css");
pub const JS: &str = include_str!("assets/app.js");

/// Who is looking at the page, for the header and every form.
pub struct Viewer<'a> {
    pub tenant: &'a str,
    pub csrf: &'a str,
    /// "a tenant admin token (adm_…)" or "the operator token".
    pub signed_in_as: String,
}

pub const NAV: [(&str, &str); 9] = [
    ("/admin/ui/#health", "Health"),
    ("/admin/ui/#org", "1. Okta org"),
    ("/admin/ui/#sign-in", "2. Sign-in"),
    ("/admin/ui/#provisioning", "3. Provisioning"),
    ("/admin/ui/#connect", "4. Connect to Okta"),
    ("/admin/ui/#switches", "5. Switches"),
    ("/admin/ui/#sync", "6. Sync users"),
    ("/admin/ui/people", "People"),
    ("/admin/ui/changes", "Changes"),
];

/// A whole page: `title` in the `<title>` and the `<h1>`, `body` inside `<main>`.
pub fn layout(title: &str, viewer: Option<&Viewer<'_>>, body: &str) -> String {
    let mut h = String::with_capacity(body.len() + 2048);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Okta integration</title><link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"/admin/ui/assets/app.css\">\
         <script src=\"/admin/ui/assets/app.js\" defer></script></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a>",
        esc(title)
    );
    h.push_str("<header class=\"top\"><p class=\"crumbs\">Settings › Integrations › <strong>Okta</strong></p>");
    if let Some(v) = viewer {
        let _ = write!(
            h,
            "<div class=\"who\"><span>Tenant <strong>{}</strong> · signed in with {}</span>\
             <form method=\"post\" action=\"/admin/ui/sign-out\">{}<button type=\"submit\" class=\"secondary\">Sign out</button></form></div>",
            esc(v.tenant),
            esc(&v.signed_in_as),
            csrf_field(v.csrf)
        );
    }
    h.push_str("</header>");
    if viewer.is_some() {
        h.push_str("<nav aria-label=\"Sections\"><ul>");
        for (href, label) in NAV {
            let _ = write!(h, "<li><a href=\"{href}\">{label}</a></li>");
        }
        h.push_str("</ul></nav>");
    }
    let _ = write!(h, "<main id=\"main\" tabindex=\"-1\"><h1>{}</h1>{body}</main></body></html>", esc(title));
    h
}

pub fn csrf_field(token: &str) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(token))
}

/// A notice at the top of a section or page: `kind` is `ok`, `warning` or `error`.
pub fn notice(kind: &str, text: &str) -> String {
    let role = if kind == "error" { "alert" } else { "status" };
    format!("<div class=\"notice {kind}\" role=\"{role}\">{}</div>", esc(text))
}

/// A value the admin pastes into Okta: a read-only field (selectable without script) and a
/// Copy button the script wires up.
pub fn copy_value(id: &str, label: &str, value: &str) -> String {
    format!(
        "<div class=\"copy\"><label for=\"{id}\">{}</label><div class=\"copyrow\">\
         <input id=\"{id}\" type=\"text\" readonly value=\"{}\">\
         <button type=\"button\" class=\"secondary\" data-copy=\"{id}\" aria-label=\"Copy {}\">Copy</button></div></div>",
        esc(label),
        esc(value),
        esc(label)
    )
}

/// A secret shown this once, with what to do with it.
pub fn shown_once(id: &str, label: &str, value: &str, what_next: &str) -> String {
    format!(
        "<div class=\"once\" role=\"status\"><p><strong>{}</strong> — shown this once; it cannot be read again. {}</p>{}</div>",
        esc(label),
        esc(what_next),
        copy_value(id, label, value)
    )
}

/// A text field with its label, hint and error (`aria-describedby` ties them together).
pub struct Field<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    pub hint: &'a str,
    pub error: Option<&'a str>,
    pub kind: &'a str,
    pub placeholder: &'a str,
}

impl<'a> Field<'a> {
    pub fn text(name: &'a str, label: &'a str, value: &'a str) -> Self {
        Self { name, label, value, hint: "", error: None, kind: "text", placeholder: "" }
    }
    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = hint;
        self
    }
    pub fn error(mut self, error: Option<&'a str>) -> Self {
        self.error = error;
        self
    }
    pub fn password(mut self, placeholder: &'a str) -> Self {
        self.kind = "password";
        self.placeholder = placeholder;
        self
    }
    pub fn placeholder(mut self, placeholder: &'a str) -> Self {
        self.placeholder = placeholder;
        self
    }
    pub fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }

    pub fn render(&self) -> String {
        let id = format!("f-{}", self.name);
        let mut described = Vec::new();
        let mut after = String::new();
        if !self.hint.is_empty() {
            described.push(format!("{id}-hint"));
            let _ = write!(after, "<p class=\"hint\" id=\"{id}-hint\">{}</p>", esc(self.hint));
        }
        if let Some(e) = self.error {
            described.push(format!("{id}-error"));
            let _ = write!(after, "<p class=\"field-error\" id=\"{id}-error\">{}</p>", esc(e));
        }
        let described =
            if described.is_empty() { String::new() } else { format!(" aria-describedby=\"{}\"", described.join(" ")) };
        let invalid = if self.error.is_some() { " aria-invalid=\"true\"" } else { "" };
        let autocomplete = if self.kind == "password" { " autocomplete=\"off\"" } else { "" };
        format!(
            "<div class=\"field\"><label for=\"{id}\">{}</label><input id=\"{id}\" name=\"{}\" type=\"{}\" value=\"{}\" placeholder=\"{}\"{described}{invalid}{autocomplete}>{after}</div>",
            esc(self.label),
            esc(self.name),
            esc(self.kind),
            esc(self.value),
            esc(self.placeholder)
        )
    }
}

/// A multi-line field with its label, hint (trusted markup: a literal of ours) and error.
pub fn textarea(name: &str, label: &str, value: &str, hint: &str, error: Option<&str>) -> String {
    let id = format!("f-{name}");
    let mut described = vec![format!("{id}-hint")];
    if error.is_some() {
        described.push(format!("{id}-error"));
    }
    format!(
        "<div class=\"field\"><label for=\"{id}\">{}</label><textarea id=\"{id}\" name=\"{}\" aria-describedby=\"{}\"{}>{}</textarea>\
         <p class=\"hint\" id=\"{id}-hint\">{hint}</p>{}</div>",
        esc(label),
        esc(name),
        described.join(" "),
        if error.is_some() { " aria-invalid=\"true\"" } else { "" },
        esc(value),
        error.map(|e| format!("<p class=\"field-error\" id=\"{id}-error\">{}</p>", esc(e))).unwrap_or_default()
    )
}

pub fn checkbox(name: &str, label: &str, checked: bool, hint: &str) -> String {
    let id = format!("f-{name}");
    let hint_html =
        if hint.is_empty() { String::new() } else { format!("<p class=\"hint\" id=\"{id}-hint\">{}</p>", esc(hint)) };
    let described = if hint.is_empty() { String::new() } else { format!(" aria-describedby=\"{id}-hint\"") };
    format!(
        "<div class=\"field check\"><input id=\"{id}\" name=\"{}\" type=\"checkbox\" value=\"on\"{}{described}>\
         <label for=\"{id}\">{}</label>{hint_html}</div>",
        esc(name),
        if checked { " checked" } else { "" },
        esc(label)
    )
}

/// A group of radio buttons in a `fieldset` with its legend.
pub fn radios(name: &str, legend: &str, options: &[(&str, &str)], selected: &str) -> String {
    let mut h = format!("<fieldset class=\"radios\"><legend>{}</legend>", esc(legend));
    for (value, label) in options {
        let id = format!("f-{name}-{value}");
        let _ = write!(
            h,
            "<div class=\"radio\"><input type=\"radio\" id=\"{id}\" name=\"{}\" value=\"{}\"{}><label for=\"{id}\">{}</label></div>",
            esc(name),
            esc(value),
            if *value == selected { " checked" } else { "" },
            esc(label)
        );
    }
    h.push_str("</fieldset>");
    h
}

pub fn select(name: &str, label: &str, options: &[(&str, &str)], selected: &str, hint: &str) -> String {
    let id = format!("f-{name}");
    let mut h = format!("<div class=\"field\"><label for=\"{id}\">{}</label>", esc(label));
    let described = if hint.is_empty() { String::new() } else { format!(" aria-describedby=\"{id}-hint\"") };
    let _ = write!(h, "<select id=\"{id}\" name=\"{}\"{described}>", esc(name));
    for (value, text) in options {
        let _ = write!(
            h,
            "<option value=\"{}\"{}>{}</option>",
            esc(value),
            if *value == selected { " selected" } else { "" },
            esc(text)
        );
    }
    h.push_str("</select>");
    if !hint.is_empty() {
        let _ = write!(h, "<p class=\"hint\" id=\"{id}-hint\">{}</p>", esc(hint));
    }
    h.push_str("</div>");
    h
}

/// A form that is one button (rotate, revoke, invite, approve ...).
pub fn button_form(action: &str, csrf: &str, label: &str, class: &str, hidden: &[(&str, &str)]) -> String {
    let mut fields = csrf_field(csrf);
    for (k, v) in hidden {
        let _ = write!(fields, "<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(k), esc(v));
    }
    format!(
        "<form method=\"post\" action=\"{}\" class=\"inline\">{fields}<button type=\"submit\" class=\"{class}\">{}</button></form>",
        esc(action),
        esc(label)
    )
}

pub fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(|| "never".to_owned(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}
