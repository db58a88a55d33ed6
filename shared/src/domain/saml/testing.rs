//! Okta-shaped signed SAML responses for tests (signed by Bergshamra with the test IdP's keys in
//! `tests/saml-idp/keys`), and the metadata that trusts them. The end-to-end tests use a real IdP;
//! these let the use-case and rule tests run in milliseconds.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use chrono::{DateTime, Duration, SecondsFormat, Utc};

use super::{escape, IdpMetadata, NAMEID_EMAIL, NS_ASSERTION, NS_PROTOCOL, STATUS_SUCCESS};

pub const IDP_ENTITY: &str = "http://www.okta.com/exkTEST";
pub const IDP_SSO_URL: &str = "https://acme.okta.com/app/acme_learn/exkTEST/sso/saml";

/// A test signing key: `Current` is published, `Next` is the rollover certificate, `Attacker` is
/// never trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKey {
    Current,
    Next,
    Attacker,
}

impl TestKey {
    pub fn certificate_pem(self) -> &'static str {
        match self {
            Self::Current => include_str!("../../../../tests/saml-idp/keys/current.crt"),
            Self::Next => include_str!("../../../../tests/saml-idp/keys/next.crt"),
            Self::Attacker => include_str!("../../../../tests/saml-idp/keys/attacker.crt"),
        }
    }
    fn private_pem(self) -> &'static str {
        match self {
            Self::Current => include_str!("../../../../tests/saml-idp/keys/current.key"),
            Self::Next => include_str!("../../../../tests/saml-idp/keys/next.key"),
            Self::Attacker => include_str!("../../../../tests/saml-idp/keys/attacker.key"),
        }
    }
    pub fn certificate_b64(self) -> String {
        self.certificate_pem().lines().filter(|l| !l.starts_with("-----")).collect()
    }
}

/// IdP metadata XML publishing `keys`' certificates.
pub fn idp_metadata_xml(keys: &[TestKey]) -> String {
    let descriptors: String = keys
        .iter()
        .map(|k| format!(r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#, k.certificate_b64()))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY}"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{descriptors}<md:NameIDFormat>{NAMEID_EMAIL}</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{IDP_SSO_URL}"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SSO_URL}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

pub fn idp_metadata(keys: &[TestKey]) -> IdpMetadata {
    IdpMetadata::parse(&idp_metadata_xml(keys)).unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    Assertion,
    Response,
    Both,
    None,
}

/// One response, Okta's shape by default; every field can be set wrong for a refusal test.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub response_id: String,
    pub assertion_id: String,
    pub issuer: String,
    pub audience: String,
    pub destination: String,
    pub recipient: String,
    pub in_response_to: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub lifetime: Duration,
    pub name_id: String,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub okta_id: Option<String>,
    pub status: String,
    pub signed: Signed,
    pub key: TestKey,
}

impl TestResponse {
    pub fn new(acs_url: &str, sp_entity_id: &str, email: &str, now: DateTime<Utc>) -> Self {
        Self {
            response_id: format!("id{}", uuid::Uuid::new_v4().simple()),
            assertion_id: format!("id{}", uuid::Uuid::new_v4().simple()),
            issuer: IDP_ENTITY.into(),
            audience: sp_entity_id.into(),
            destination: acs_url.into(),
            recipient: acs_url.into(),
            in_response_to: None,
            issued_at: now,
            lifetime: Duration::minutes(5),
            name_id: email.into(),
            email: Some(email.into()),
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            okta_id: None,
            status: STATUS_SUCCESS.into(),
            signed: Signed::Assertion,
            key: TestKey::Current,
        }
    }

    fn assertion_xml(&self, with_signature: bool) -> String {
        let t = |d: DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::Millis, true);
        let until = t(self.issued_at + self.lifetime);
        let irt = self.in_response_to.as_ref().map(|i| format!(r#" InResponseTo="{}""#, escape(i))).unwrap_or_default();
        let attr = |name: &str, value: &Option<String>| {
            value.as_ref().map(|v| format!(r#"<saml2:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"><saml2:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">{}</saml2:AttributeValue></saml2:Attribute>"#, escape(v))).unwrap_or_default()
        };
        let signature = if with_signature { signature_template(&self.assertion_id) } else { String::new() };
        format!(
            r#"<saml2:Assertion xmlns:saml2="{NS_ASSERTION}" ID="{id}" IssueInstant="{at}" Version="2.0"><saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>{signature}<saml2:Subject><saml2:NameID Format="{NAMEID_EMAIL}">{name_id}</saml2:NameID><saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml2:SubjectConfirmationData{irt} NotOnOrAfter="{until}" Recipient="{recipient}"/></saml2:SubjectConfirmation></saml2:Subject><saml2:Conditions NotBefore="{at}" NotOnOrAfter="{until}"><saml2:AudienceRestriction><saml2:Audience>{audience}</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions><saml2:AuthnStatement AuthnInstant="{at}"><saml2:AuthnContext><saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement><saml2:AttributeStatement>{email}{first}{last}{okta}</saml2:AttributeStatement></saml2:Assertion>"#,
            id = self.assertion_id,
            at = t(self.issued_at),
            issuer = escape(&self.issuer),
            name_id = escape(&self.name_id),
            recipient = escape(&self.recipient),
            audience = escape(&self.audience),
            email = attr("email", &self.email),
            first = attr("firstName", &Some(self.first_name.clone())),
            last = attr("lastName", &Some(self.last_name.clone())),
            okta = attr("oktaUserId", &self.okta_id),
        )
    }

    fn response_xml(&self, assertion: &str, with_signature: bool) -> String {
        let irt = self.in_response_to.as_ref().map(|i| format!(r#" InResponseTo="{}""#, escape(i))).unwrap_or_default();
        let signature = if with_signature { signature_template(&self.response_id) } else { String::new() };
        let assertion = if self.status == STATUS_SUCCESS { assertion } else { "" };
        format!(
            r#"<saml2p:Response xmlns:saml2p="{NS_PROTOCOL}" Destination="{dest}" ID="{id}"{irt} IssueInstant="{at}" Version="2.0"><saml2:Issuer xmlns:saml2="{NS_ASSERTION}" Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>{signature}<saml2p:Status><saml2p:StatusCode Value="{status}"/></saml2p:Status>{assertion}</saml2p:Response>"#,
            dest = escape(&self.destination),
            id = self.response_id,
            at = self.issued_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            issuer = escape(&self.issuer),
            status = escape(&self.status),
        )
    }

    /// The signed XML.
    pub fn xml(&self) -> String {
        let sign_assertion = matches!(self.signed, Signed::Assertion | Signed::Both);
        let sign_response = matches!(self.signed, Signed::Response | Signed::Both);
        let mut assertion = self.assertion_xml(sign_assertion);
        if sign_assertion {
            assertion = sign(self.key, &assertion);
        }
        let response = self.response_xml(&assertion, sign_response);
        if sign_response {
            sign(self.key, &response)
        } else {
            response
        }
    }

    /// What the browser posts: base64 of the XML.
    pub fn posted(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.xml())
    }
}

fn signature_template(id: &str) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"##
    )
}

/// Signs the first empty signature template of `xml` with `key` (a fragment signs as a document).
pub fn sign(key: TestKey, xml: &str) -> String {
    let mut keys = bergshamra_keys::manager::KeysManager::new();
    keys.add_key(bergshamra_keys::loader::load_rsa_private_pem(key.private_pem().as_bytes()).unwrap());
    let context = bergshamra_dsig::DsigContext::new_permissive(keys);
    bergshamra_dsig::sign::sign(&context, xml).unwrap()
}
