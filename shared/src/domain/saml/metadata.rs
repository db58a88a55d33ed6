//! The IdP's SAML metadata (its entity id, single sign-on URL and signing certificates) and the
//! metadata we publish as the service provider.
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::xml::{self, XmlError};
use super::{escape, BINDING_POST, BINDING_REDIRECT, NAMEID_EMAIL, NS_DSIG, NS_METADATA};

/// Most bytes of IdP metadata read or stored (Okta's is about 4 KB).
pub const MAX_METADATA_BYTES: usize = 100 * 1024;
/// Most signing certificates taken from one metadata document (Okta publishes one, two during a
/// rollover).
pub const MAX_CERTIFICATES: usize = 4;

/// What okta-bridge needs from the IdP's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// Where the AuthnRequest goes (the HTTP-Redirect binding's `SingleSignOnService`).
    pub sso_url: String,
    /// DER of each signing certificate: any of them may sign (certificate rollover).
    pub certificates: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("the metadata is larger than 100 KB")]
    TooLarge,
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("the metadata is not an EntityDescriptor with an IDPSSODescriptor")]
    NotIdp,
    #[error("the metadata has no entityID")]
    NoEntityId,
    #[error("the metadata has no SingleSignOnService for the HTTP-Redirect binding with an http(s) Location")]
    NoSsoUrl,
    #[error("the metadata has no signing certificate")]
    NoCertificate,
    #[error("a signing certificate in the metadata is not valid base64 DER X.509")]
    BadCertificate,
    #[error("the metadata has more than 4 signing certificates")]
    TooManyCertificates,
}

impl IdpMetadata {
    /// Reads an IdP's metadata: an `EntityDescriptor` (or the first one with an IdP role in an
    /// `EntitiesDescriptor`), its HTTP-Redirect single sign-on URL and every signing certificate.
    pub fn parse(text: &str) -> Result<Self, MetadataError> {
        if text.len() > MAX_METADATA_BYTES {
            return Err(MetadataError::TooLarge);
        }
        let doc = xml::parse(text)?;
        let root = doc.document_element().ok_or(MetadataError::NotIdp)?;
        let entity = if xml::is(&doc, root, NS_METADATA, "EntityDescriptor") {
            root
        } else if xml::is(&doc, root, NS_METADATA, "EntitiesDescriptor") {
            xml::children(&doc, root, NS_METADATA, "EntityDescriptor")
                .into_iter()
                .find(|e| !xml::children(&doc, *e, NS_METADATA, "IDPSSODescriptor").is_empty())
                .ok_or(MetadataError::NotIdp)?
        } else {
            return Err(MetadataError::NotIdp);
        };
        let entity_id = xml::attr(&doc, entity, "entityID").map(str::trim).filter(|s| !s.is_empty());
        let entity_id = entity_id.ok_or(MetadataError::NoEntityId)?.to_owned();
        let idp = xml::children(&doc, entity, NS_METADATA, "IDPSSODescriptor")
            .into_iter()
            .next()
            .ok_or(MetadataError::NotIdp)?;
        let sso_url = xml::children(&doc, idp, NS_METADATA, "SingleSignOnService")
            .into_iter()
            .filter(|s| xml::attr(&doc, *s, "Binding") == Some(BINDING_REDIRECT))
            .filter_map(|s| xml::attr(&doc, s, "Location").map(str::trim))
            .find(|l| url::Url::parse(l).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.has_host()))
            .ok_or(MetadataError::NoSsoUrl)?
            .to_owned();
        let mut certificates = Vec::new();
        for key in xml::children(&doc, idp, NS_METADATA, "KeyDescriptor") {
            if !matches!(xml::attr(&doc, key, "use"), None | Some("signing")) {
                continue;
            }
            for info in xml::children(&doc, key, NS_DSIG, "KeyInfo") {
                for data in xml::children(&doc, info, NS_DSIG, "X509Data") {
                    for cert in xml::children(&doc, data, NS_DSIG, "X509Certificate") {
                        let text = xml::plain_text(&doc, cert, "X509Certificate")?;
                        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                        let der = STANDARD.decode(compact).map_err(|_| MetadataError::BadCertificate)?;
                        bergshamra_keys::loader::load_x509_cert_der(&der).map_err(|_| MetadataError::BadCertificate)?;
                        if !certificates.contains(&der) {
                            certificates.push(der);
                        }
                    }
                }
            }
        }
        if certificates.is_empty() {
            return Err(MetadataError::NoCertificate);
        }
        if certificates.len() > MAX_CERTIFICATES {
            return Err(MetadataError::TooManyCertificates);
        }
        Ok(Self { entity_id, sso_url, certificates })
    }
}

/// Our metadata as the service provider: the entity id, the ACS (HTTP-POST) and that we want
/// signed assertions with an email NameID. AuthnRequests are not signed (Okta does not require it).
pub fn sp_metadata(entity_id: &str, acs_url: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{NS_METADATA}" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:NameIDFormat>{NAMEID_EMAIL}</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{BINDING_POST}" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = escape(entity_id),
        acs = escape(acs_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT_PEM: &str = include_str!("../../../../tests/saml-idp/keys/current.crt");

    fn cert_body(pem: &str) -> String {
        pem.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().join("\n")
    }

    fn metadata(certs: &[&str], binding: &str) -> String {
        let keys: String = certs
            .iter()
            .map(|c| {
                format!(
                    r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{NS_DSIG}"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                    cert_body(c)
                )
            })
            .collect();
        format!(
            r#"<md:EntityDescriptor xmlns:md="{NS_METADATA}" entityID="http://www.okta.com/exk1"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="{binding}" Location="https://acme.okta.com/app/x/exk1/sso/saml"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    #[test]
    fn okta_style_metadata_gives_entity_sso_url_and_certificates() {
        let m = IdpMetadata::parse(&metadata(&[CERT_PEM], BINDING_REDIRECT)).unwrap();
        assert_eq!(m.entity_id, "http://www.okta.com/exk1");
        assert_eq!(m.sso_url, "https://acme.okta.com/app/x/exk1/sso/saml");
        assert_eq!(m.certificates.len(), 1);
        let next = include_str!("../../../../tests/saml-idp/keys/next.crt");
        let two = IdpMetadata::parse(&metadata(&[CERT_PEM, next], BINDING_REDIRECT)).unwrap();
        assert_eq!(two.certificates.len(), 2, "rollover: both certificates are kept");
    }

    #[test]
    fn bad_metadata_is_refused_with_a_reason() {
        assert_eq!(IdpMetadata::parse(&metadata(&[], BINDING_REDIRECT)), Err(MetadataError::NoCertificate));
        assert_eq!(IdpMetadata::parse(&metadata(&[CERT_PEM], BINDING_POST)), Err(MetadataError::NoSsoUrl));
        assert_eq!(
            IdpMetadata::parse(&metadata(&["bm90IGEgY2VydA=="], BINDING_REDIRECT)),
            Err(MetadataError::BadCertificate)
        );
        assert_eq!(IdpMetadata::parse("<x/>"), Err(MetadataError::NotIdp));
        assert_eq!(IdpMetadata::parse("<a"), Err(MetadataError::Xml(XmlError::NotWellFormed)));
        let dtd = format!("<!DOCTYPE x [<!ENTITY e \"e\">]>{}", metadata(&[CERT_PEM], BINDING_REDIRECT));
        assert_eq!(IdpMetadata::parse(&dtd), Err(MetadataError::Xml(XmlError::Dtd)));
        assert_eq!(IdpMetadata::parse(&" ".repeat(MAX_METADATA_BYTES + 1)), Err(MetadataError::TooLarge));
    }

    #[test]
    fn sp_metadata_names_our_entity_and_acs_escaped() {
        let xml = sp_metadata("https://acme.example.com/saml/metadata", "https://acme.example.com/saml/acs?a=1&b=2");
        assert!(xml.contains(r#"entityID="https://acme.example.com/saml/metadata""#));
        assert!(xml.contains("saml/acs?a=1&amp;b=2"));
        assert!(uppsala::parse(&xml).is_ok());
    }
}
