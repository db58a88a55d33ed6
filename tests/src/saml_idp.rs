//! A real SAML 2.0 identity provider for the SAML tests and `make dev`: the Node server in
//! `tests/saml-idp` (installed from the npm registry by `make test`; see its README), started on a
//! free port, steered through its `/control` API (the SPs it knows, its people, and what the next
//! response gets wrong), and a headless "browser" that goes through its login form and reads the
//! auto-posting form it answers with.
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

fn idp_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("saml-idp")
}

pub struct SamlIdp {
    /// `http://127.0.0.1:{port}`; the IdP's entity id is `{base}/metadata`.
    pub base: String,
    http: reqwest::Client,
    _node: tokio::process::Child,
}

/// The HTML form an IdP answers with (HTTP-POST binding): where it posts and its fields.
#[derive(Debug, Clone)]
pub struct HtmlForm {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl HtmlForm {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The form's fields, `application/x-www-form-urlencoded`.
    pub fn encoded(&self) -> String {
        serde_urlencoded::to_string(&self.fields).unwrap_or_default()
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    for quote in ['"', '\''] {
        let needle = format!("{name}={quote}");
        if let Some(start) = tag.find(&needle) {
            let rest = &tag[start + needle.len()..];
            return rest.find(quote).map(|end| unescape(&rest[..end]));
        }
    }
    None
}

/// The first `<form>` of a page: its action and every named `<input>` (textual HTML, as the
/// IdP writes it).
pub fn first_form(html: &str) -> Option<HtmlForm> {
    let start = html.find("<form")?;
    let end = html[start..].find("</form>").map_or(html.len(), |e| start + e);
    let form = &html[start..end];
    let open = &form[..form.find('>')?];
    let action = attribute(open, "action")?;
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find("<input") {
        let tag_end = rest[i..].find('>').map_or(rest.len(), |e| i + e);
        let tag = &rest[i..tag_end];
        if let Some(name) = attribute(tag, "name") {
            fields.push((name, attribute(tag, "value").unwrap_or_default()));
        }
        rest = &rest[tag_end..];
    }
    Some(HtmlForm { action, fields })
}

impl SamlIdp {
    /// Starts the IdP on a free port.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> std::io::Result<Self> {
        if !idp_dir().join("node_modules").exists() {
            return Err(std::io::Error::other(
                "tests/saml-idp/node_modules is missing: `make test` installs it (npm ci --prefix tests/saml-idp)",
            ));
        }
        let mut node = tokio::process::Command::new("node")
            .arg("server.js")
            .current_dir(idp_dir())
            .env("PORT", port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(node.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?).lines();
        // Generous: on a 2-core machine running the whole suite, node can take a while to start.
        let base = tokio::time::timeout(Duration::from_secs(90), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("listening on ") {
                    return Some(url.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| std::io::Error::other("the SAML IdP did not start"))?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self { base, http, _node: node })
    }

    pub fn metadata_url(&self) -> String {
        format!("{}/metadata", self.base)
    }

    pub fn entity_id(&self) -> String {
        self.metadata_url()
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let r = self.http.post(format!("{}/control/{path}", self.base)).json(&body).send().await;
        let r = r.unwrap_or_else(|e| panic!("IdP control {path}: {e}"));
        assert!(r.status().is_success(), "IdP control {path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// Registers an SP, as an Okta admin creating the SAML app would.
    pub async fn register_sp(&self, entity_id: &str, acs_url: &str) {
        self.control("sps", json!({"entity_id": entity_id, "acs_url": acs_url})).await;
    }

    /// The IdP's people: `[{email, firstName, lastName, oktaId}]`.
    pub async fn people(&self, people: Value) {
        self.control("people", people).await;
    }

    /// What the next response gets wrong (see tests/saml-idp/README.md).
    pub async fn next(&self, overrides: Value) {
        self.control("next", overrides).await;
    }

    /// Which certificates the metadata publishes (`["current"]`, `["current", "next"]`).
    pub async fn publish(&self, certs: &[&str]) {
        self.control("publish", json!({"certs": certs})).await;
    }

    /// The last response issued: `{saml_response, relay_state, acs_url, xml}`.
    pub async fn last(&self) -> Value {
        let r = self.http.get(format!("{}/control/last", self.base)).send().await.expect("IdP /control/last");
        r.json().await.expect("JSON")
    }

    /// A person signs in at the IdP URL our `/saml/login` redirected to (through its login
    /// form); returns the form that posts the response to our ACS.
    pub async fn sign_in(&self, redirect: &str, email: &str) -> HtmlForm {
        let page = self.http.get(redirect).send().await.expect("IdP /sso");
        assert!(page.status().is_success(), "IdP /sso: {}", page.status());
        let html = page.text().await.expect("IdP page");
        let login = first_form(&html).expect("the IdP's login form");
        let mut fields = login.fields.clone();
        fields.retain(|(k, _)| k != "email");
        fields.push(("email".into(), email.into()));
        let action = url::Url::parse(redirect).and_then(|u| u.join(&login.action)).expect("form action");
        let answer = self.http.post(action).form(&fields).send().await.expect("IdP login");
        assert!(answer.status().is_success(), "IdP login: {}", answer.status());
        first_form(&answer.text().await.expect("IdP answer")).expect("the auto-posting form")
    }

    /// IdP-initiated: the person clicks the app's tile on the Okta dashboard.
    pub async fn tile(&self, sp_entity_id: &str, email: &str, relay_state: Option<&str>) -> HtmlForm {
        let mut query = vec![("sp", sp_entity_id), ("email", email)];
        if let Some(r) = relay_state {
            query.push(("relay_state", r));
        }
        let r = self.http.get(format!("{}/idp-init", self.base)).query(&query).send().await.expect("IdP tile");
        assert!(r.status().is_success(), "IdP tile: {}", r.status());
        first_form(&r.text().await.expect("IdP answer")).expect("the auto-posting form")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_auto_posting_form() {
        let html = r#"<html><body><form method="post" action="http://127.0.0.1:3000/t/a/saml/acs?x=1&amp;y=2"><input type="hidden" name="SAMLResponse" value="PHg+"/><input type='hidden' name='RelayState' value='/c'><input type="submit" value="Continue"></form></body></html>"#;
        let f = first_form(html).unwrap();
        assert_eq!(f.action, "http://127.0.0.1:3000/t/a/saml/acs?x=1&y=2");
        assert_eq!(f.field("SAMLResponse"), Some("PHg+"));
        assert_eq!(f.field("RelayState"), Some("/c"));
        assert_eq!(f.fields.len(), 2);
    }
}
