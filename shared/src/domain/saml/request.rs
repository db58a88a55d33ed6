//! The SP-initiated AuthnRequest, sent over the HTTP-Redirect binding (SAML bindings §3.4: raw
//! DEFLATE, base64, URL-encoded; unsigned).
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};

use super::{escape, BINDING_POST, NAMEID_EMAIL, NS_ASSERTION, NS_PROTOCOL};

/// A request id from 32 random bytes: an `xs:ID` (starts with a letter; then letters, digits, `-`
/// and `_`), also used as the login's single-use key.
pub fn request_id(bytes: [u8; 32]) -> String {
    format!("id{}", crate::domain::sso::random_token(bytes))
}

/// The AuthnRequest XML for `destination` (the IdP's single sign-on URL), asking for an answer
/// at `acs_url` by HTTP-POST, with an email NameID.
pub fn authn_request(
    id: &str,
    issued_at: DateTime<Utc>,
    sp_entity_id: &str,
    acs_url: &str,
    destination: &str,
) -> String {
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="{NS_PROTOCOL}" xmlns:saml="{NS_ASSERTION}" ID="{id}" Version="2.0" IssueInstant="{at}" Destination="{dest}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="{BINDING_POST}"><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy Format="{NAMEID_EMAIL}" AllowCreate="false"/></samlp:AuthnRequest>"#,
        id = escape(id),
        at = issued_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        dest = escape(destination),
        acs = escape(acs_url),
        issuer = escape(sp_entity_id),
    )
}

/// Where to send the browser: the IdP's URL with `SAMLRequest` (and `RelayState` when given).
pub fn redirect_url(sso_url: &str, request_xml: &str, relay_state: Option<&str>) -> String {
    let deflated = miniz_oxide::deflate::compress_to_vec(request_xml.as_bytes(), 6);
    let mut query = vec![("SAMLRequest", STANDARD.encode(deflated))];
    if let Some(r) = relay_state {
        query.push(("RelayState", r.to_owned()));
    }
    let encoded = serde_urlencoded::to_string(query).unwrap_or_default();
    let sep = if sso_url.contains('?') { '&' } else { '?' };
    format!("{sso_url}{sep}{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_carries_a_deflated_request_that_inflates_back() {
        let at: DateTime<Utc> = "2026-12-04T12:00:00Z".parse().unwrap();
        let id = request_id([7; 32]);
        assert!(id.starts_with("id") && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let xml = authn_request(
            &id,
            at,
            "https://acme.example.com/saml/metadata",
            "https://acme.example.com/saml/acs",
            "https://acme.okta.com/app/x/sso/saml",
        );
        assert!(uppsala::parse(&xml).is_ok(), "{xml}");
        let url = redirect_url("https://acme.okta.com/app/x/sso/saml?from=1", &xml, Some("r"));
        let parsed = url::Url::parse(&url).unwrap();
        let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["from"], "1");
        assert_eq!(q["RelayState"], "r");
        let raw = STANDARD.decode(&q["SAMLRequest"]).unwrap();
        let inflated = miniz_oxide::inflate::decompress_to_vec(&raw).unwrap();
        assert_eq!(String::from_utf8(inflated).unwrap(), xml);
        assert!(xml.contains(r#"IssueInstant="2026-12-04T12:00:00Z""#));
    }
}
