//! SAML 2.0 single sign-on rules without I/O (docs/behaviour/sign-in.md, "SAML 2.0"): the IdP's
//! metadata read and our SP metadata written, the AuthnRequest over HTTP-Redirect, and the one
//! place a Response is accepted or refused. XML signatures are checked by Bergshamra
//! (`bergshamra-dsig`); nothing here canonicalises XML by hand.
pub mod metadata;
pub mod request;
pub mod response;
#[cfg(any(test, feature = "fakes"))]
pub mod testing;
mod xml;

pub(crate) use crate::domain::markup::escape;

pub use metadata::{sp_metadata, IdpMetadata, MetadataError};
pub use request::{authn_request, redirect_url, request_id};
pub use response::{decode_post, verify_response, Asserted, Expected, SamlRefusal, SamlSubject, MAX_SKEW};

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
