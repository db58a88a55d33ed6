//! The SAML ACS's parser (docs/behaviour/sign-in.md): whatever a browser posts goes through
//! `decode_post` and `verify_response` (XML parsing, DTD refusal, signature verification by
//! Bergshamra, every rule), and an admin's metadata XML through `IdpMetadata::parse`. None may
//! panic, loop or blow up, and nothing unsigned is ever accepted.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shared::domain::saml::{decode_post, verify_response, Expected, IdpMetadata};

const CERT: &str = include_str!("../../tests/saml-idp/keys/current.crt");

fn idp() -> &'static IdpMetadata {
    static IDP: OnceLock<IdpMetadata> = OnceLock::new();
    IDP.get_or_init(|| {
        let body: String = CERT.lines().filter(|l| !l.starts_with("-----")).collect();
        let xml = format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://www.okta.com/exkTEST"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://acme.okta.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        );
        IdpMetadata::parse(&xml).expect("the fuzz target's metadata parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = IdpMetadata::parse(text);
    let decoded = decode_post(text).ok();
    let acs = vec!["https://acme.example.com/saml/acs".to_owned()];
    let now = "2026-12-04T12:00:00Z".parse().expect("a time");
    let expected = Expected { idp: idp(), sp_entity_id: "https://acme.example.com/saml/metadata", acs_urls: &acs, now };
    for xml in [Some(text), decoded.as_deref()].into_iter().flatten() {
        if let Ok(asserted) = verify_response(xml, &expected) {
            // Only a document the test IdP's key signed can get here; its subject is plain text.
            assert!(!asserted.subject.name_id.is_empty());
        }
    }
});
