//! Accepting a SAML Response (docs/behaviour/sign-in.md, "What an assertion must be"): one place,
//! every rule, each refusal named. The signature is checked by Bergshamra against the tenant's IdP
//! certificates only (never a key the document carries), and the assertion read is the very node
//! the signature covers: everything below is read from that one parsed document by node, never
//! looked up again by id.
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bergshamra_dsig::{DsigContext, VerifyResult};
use bergshamra_keys::manager::KeysManager;
use chrono::{DateTime, Duration, Utc};
use uppsala::{Document, NodeId};

use super::metadata::IdpMetadata;
use super::xml::{self, XmlError};
use super::{CM_BEARER, NAMEID_EMAIL, NS_ASSERTION, NS_DSIG, NS_PROTOCOL, STATUS_SUCCESS};

/// Clock skew allowed on every time bound.
pub const MAX_SKEW: Duration = Duration::minutes(2);
/// Most bytes of a posted `SAMLResponse` (base64) read; Okta's are a few KB.
pub const MAX_POSTED_BYTES: usize = 512 * 1024;
/// An IdP-initiated assertion (no request to answer) must have been issued this recently.
pub const IDP_INITIATED_MAX_AGE: Duration = Duration::minutes(5);

/// Signature and digest algorithms accepted (RSA and ECDSA with SHA-2; never SHA-1 or MD5).
const SIGNATURE_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
const DIGEST_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// Why a response was refused. Logged by name; the person sees one plain page for all of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlRefusal {
    #[error("the SAMLResponse is missing, too large or not base64")]
    NotDecodable,
    #[error("the response declares a DTD or entities")]
    Dtd,
    #[error("the response is not well-formed XML")]
    NotWellFormed,
    #[error("the response is not a SAML 2.0 Response: {0}")]
    Malformed(&'static str),
    #[error("the IdP did not sign the person in (status {0})")]
    NotSuccess(String),
    #[error("the response holds an encrypted assertion, which is not supported")]
    Encrypted,
    #[error("the response must hold exactly one assertion")]
    AssertionCount,
    #[error("nothing in the response is signed")]
    Unsigned,
    #[error("a signature does not verify with the IdP's certificates")]
    BadSignature,
    #[error("no valid signature covers the assertion (signature wrapping)")]
    NotCovered,
    #[error("the signature uses an algorithm that is not accepted (SHA-1 or weaker)")]
    WeakAlgorithm,
    #[error("the Issuer is not the IdP's entity id")]
    Issuer,
    #[error("the Audience is not our entity id")]
    Audience,
    #[error("the Destination is not our ACS URL")]
    Destination,
    #[error("no bearer SubjectConfirmation names our ACS URL as its Recipient")]
    Recipient,
    #[error("the assertion is not valid yet")]
    NotYetValid,
    #[error("the assertion has expired")]
    Expired,
    #[error("the response answers another request")]
    InResponseTo,
    #[error("{0} must hold plain text only")]
    NotPlainText(&'static str),
    #[error("the assertion names no person (NameID)")]
    NoSubject,
}

impl From<XmlError> for SamlRefusal {
    fn from(e: XmlError) -> Self {
        match e {
            XmlError::Dtd => Self::Dtd,
            XmlError::NotWellFormed => Self::NotWellFormed,
            XmlError::NotPlainText(what) => Self::NotPlainText(what),
        }
    }
}

/// What a response must match.
pub struct Expected<'a> {
    pub idp: &'a IdpMetadata,
    /// Our entity id (the Audience).
    pub sp_entity_id: &'a str,
    /// Our ACS URLs (the tenant's host form and its `/t/{tenant}` form): Destination and Recipient.
    pub acs_urls: &'a [String],
    pub now: DateTime<Utc>,
}

/// The person the IdP asserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlSubject {
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// The `email` attribute, else the NameID when its format is email.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The `oktaUserId` attribute, when the app sends it.
    pub okta_id: Option<String>,
}

/// An accepted assertion. The caller still checks `in_response_to` against the browser's
/// request and claims `assertion_id` once (both need a store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asserted {
    pub assertion_id: String,
    pub in_response_to: Option<String>,
    pub issued_at: DateTime<Utc>,
    /// Until when the assertion could be replayed: its replay guard must last this long.
    pub expires_at: DateTime<Utc>,
    pub subject: SamlSubject,
}

/// The posted `SAMLResponse` (base64 of the XML, whitespace allowed) as text.
pub fn decode_post(posted: &str) -> Result<String, SamlRefusal> {
    if posted.is_empty() || posted.len() > MAX_POSTED_BYTES {
        return Err(SamlRefusal::NotDecodable);
    }
    let compact: String = posted.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let raw = STANDARD.decode(compact).map_err(|_| SamlRefusal::NotDecodable)?;
    String::from_utf8(raw).map_err(|_| SamlRefusal::NotDecodable)
}

fn time(doc: &Document<'_>, node: NodeId, name: &str) -> Result<Option<DateTime<Utc>>, SamlRefusal> {
    match xml::attr(doc, node, name) {
        None => Ok(None),
        Some(raw) => DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| SamlRefusal::Malformed("a time is not an xs:dateTime")),
    }
}

fn one(
    doc: &Document<'_>,
    node: NodeId,
    ns: &str,
    local: &str,
    what: &'static str,
) -> Result<Option<NodeId>, SamlRefusal> {
    xml::only_child(doc, node, ns, local).map_err(|()| SamlRefusal::Malformed(what))
}

/// Checks a response against every rule; returns the assertion it carries.
pub fn verify_response(text: &str, expect: &Expected<'_>) -> Result<Asserted, SamlRefusal> {
    let doc = xml::parse(text)?;
    let response = doc.document_element().ok_or(SamlRefusal::Malformed("no root element"))?;
    if !xml::is(&doc, response, NS_PROTOCOL, "Response") {
        return Err(SamlRefusal::Malformed("the root is not samlp:Response"));
    }
    if xml::attr(&doc, response, "Version") != Some("2.0") {
        return Err(SamlRefusal::Malformed("Version is not 2.0"));
    }
    let status = one(&doc, response, NS_PROTOCOL, "Status", "several Status elements")?
        .ok_or(SamlRefusal::Malformed("no Status"))?;
    let code = one(&doc, status, NS_PROTOCOL, "StatusCode", "several StatusCode elements")?
        .and_then(|c| xml::attr(&doc, c, "Value"))
        .ok_or(SamlRefusal::Malformed("no StatusCode"))?;
    if code != STATUS_SUCCESS {
        let short: String =
            code.rsplit(':').next().unwrap_or("").chars().filter(char::is_ascii_alphanumeric).take(64).collect();
        return Err(SamlRefusal::NotSuccess(short));
    }
    if !xml::all(&doc, NS_ASSERTION, "EncryptedAssertion").is_empty() {
        return Err(SamlRefusal::Encrypted);
    }
    // Exactly one assertion in the whole document, a child of the Response: a second one hidden
    // anywhere (in an Extensions, an Object, a wrapper) is the shape of signature wrapping.
    let assertions = xml::all(&doc, NS_ASSERTION, "Assertion");
    let [assertion] = assertions[..] else { return Err(SamlRefusal::AssertionCount) };
    if doc.parent(assertion) != Some(response) {
        return Err(SamlRefusal::AssertionCount);
    }
    check_signature(&doc, response, assertion, expect)?;

    // Destination (required of a signed response sent by HTTP-POST) is our ACS.
    let destination = xml::attr(&doc, response, "Destination").ok_or(SamlRefusal::Destination)?;
    if !expect.acs_urls.iter().any(|a| a == destination) {
        return Err(SamlRefusal::Destination);
    }
    if let Some(issuer) = one(&doc, response, NS_ASSERTION, "Issuer", "several Issuer elements")? {
        if xml::plain_text(&doc, issuer, "Issuer")? != expect.idp.entity_id {
            return Err(SamlRefusal::Issuer);
        }
    }
    let issuer = one(&doc, assertion, NS_ASSERTION, "Issuer", "several Issuer elements")?.ok_or(SamlRefusal::Issuer)?;
    if xml::plain_text(&doc, issuer, "Issuer")? != expect.idp.entity_id {
        return Err(SamlRefusal::Issuer);
    }
    let assertion_id = xml::attr(&doc, assertion, "ID").filter(|s| !s.is_empty() && s.len() <= 256);
    let assertion_id = assertion_id.ok_or(SamlRefusal::Malformed("the assertion has no ID"))?.to_owned();
    let issued_at = time(&doc, assertion, "IssueInstant")?.ok_or(SamlRefusal::Malformed("no IssueInstant"))?;
    let now = expect.now;
    if issued_at > now + MAX_SKEW {
        return Err(SamlRefusal::NotYetValid);
    }

    // Conditions: the time window and an audience restriction naming us.
    let conditions = one(&doc, assertion, NS_ASSERTION, "Conditions", "several Conditions")?
        .ok_or(SamlRefusal::Malformed("no Conditions"))?;
    if time(&doc, conditions, "NotBefore")?.is_some_and(|t| t > now + MAX_SKEW) {
        return Err(SamlRefusal::NotYetValid);
    }
    let not_on_or_after = time(&doc, conditions, "NotOnOrAfter")?.ok_or(SamlRefusal::Malformed("no NotOnOrAfter"))?;
    if not_on_or_after + MAX_SKEW <= now {
        return Err(SamlRefusal::Expired);
    }
    let restrictions = xml::children(&doc, conditions, NS_ASSERTION, "AudienceRestriction");
    if restrictions.is_empty() {
        return Err(SamlRefusal::Audience);
    }
    for restriction in restrictions {
        let mut named = false;
        for audience in xml::children(&doc, restriction, NS_ASSERTION, "Audience") {
            named |= xml::plain_text(&doc, audience, "Audience")? == expect.sp_entity_id;
        }
        if !named {
            return Err(SamlRefusal::Audience);
        }
    }

    // Subject: the NameID, and a bearer confirmation for our ACS that has not expired.
    let subject = one(&doc, assertion, NS_ASSERTION, "Subject", "several Subjects")?.ok_or(SamlRefusal::NoSubject)?;
    let name_id = one(&doc, subject, NS_ASSERTION, "NameID", "several NameIDs")?.ok_or(SamlRefusal::NoSubject)?;
    let name_id_format = xml::attr(&doc, name_id, "Format").map(str::to_owned);
    let name_id_value = xml::plain_text(&doc, name_id, "NameID")?;
    if name_id_value.is_empty() || name_id_value.len() > 256 {
        return Err(SamlRefusal::NoSubject);
    }
    let response_irt = xml::attr(&doc, response, "InResponseTo").map(str::to_owned);
    let mut confirmed_irt: Option<Option<String>> = None;
    for confirmation in xml::children(&doc, subject, NS_ASSERTION, "SubjectConfirmation") {
        if xml::attr(&doc, confirmation, "Method") != Some(CM_BEARER) {
            continue;
        }
        for data in xml::children(&doc, confirmation, NS_ASSERTION, "SubjectConfirmationData") {
            let recipient_ok =
                xml::attr(&doc, data, "Recipient").is_some_and(|r| expect.acs_urls.iter().any(|a| a == r));
            let fresh = time(&doc, data, "NotOnOrAfter")?.is_some_and(|t| t + MAX_SKEW > now);
            let started = time(&doc, data, "NotBefore")?.is_none_or(|t| t <= now + MAX_SKEW);
            if recipient_ok && fresh && started {
                confirmed_irt = Some(xml::attr(&doc, data, "InResponseTo").map(str::to_owned));
                break;
            }
        }
        if confirmed_irt.is_some() {
            break;
        }
    }
    let Some(data_irt) = confirmed_irt else { return Err(SamlRefusal::Recipient) };
    let in_response_to = match (response_irt, data_irt) {
        (Some(a), Some(b)) if a != b => return Err(SamlRefusal::InResponseTo),
        (a, b) => a.or(b),
    };
    if in_response_to.is_none() && issued_at + IDP_INITIATED_MAX_AGE + MAX_SKEW < now {
        // Unsolicited: no request binds it, so only a fresh one is taken.
        return Err(SamlRefusal::Expired);
    }

    let mut attributes = Attributes::default();
    for statement in xml::children(&doc, assertion, NS_ASSERTION, "AttributeStatement") {
        for attribute in xml::children(&doc, statement, NS_ASSERTION, "Attribute") {
            let Some(name) = xml::attr(&doc, attribute, "Name") else { continue };
            let slot = match name {
                "email" | "Email" | "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress" => {
                    &mut attributes.email
                }
                "firstName" | "FirstName" | "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname" => {
                    &mut attributes.first
                }
                "lastName" | "LastName" | "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname" => {
                    &mut attributes.last
                }
                "oktaUserId" | "okta_id" | "oktaId" => &mut attributes.okta_id,
                _ => continue,
            };
            if let Some(value) = xml::children(&doc, attribute, NS_ASSERTION, "AttributeValue").into_iter().next() {
                let text = xml::plain_text(&doc, value, "AttributeValue")?;
                if !text.is_empty() && text.len() <= 256 {
                    *slot = Some(text);
                }
            }
        }
    }
    let email = attributes.email.or_else(|| {
        (name_id_format.as_deref() == Some(NAMEID_EMAIL) || name_id_value.contains('@')).then(|| name_id_value.clone())
    });
    Ok(Asserted {
        assertion_id,
        in_response_to,
        issued_at,
        expires_at: not_on_or_after + MAX_SKEW,
        subject: SamlSubject {
            name_id: name_id_value,
            name_id_format,
            email,
            first_name: attributes.first,
            last_name: attributes.last,
            okta_id: attributes.okta_id,
        },
    })
}

#[derive(Default)]
struct Attributes {
    email: Option<String>,
    first: Option<String>,
    last: Option<String>,
    okta_id: Option<String>,
}

/// Every signature in the document must verify with one of the IdP's certificates (Bergshamra,
/// keys from the metadata only, its XSW position checks on), use SHA-2, be enveloped in the
/// element its one reference names, and one of them must cover the assertion: the assertion
/// itself, or the Response that holds it.
fn check_signature(
    doc: &Document<'_>,
    response: NodeId,
    assertion: NodeId,
    expect: &Expected<'_>,
) -> Result<(), SamlRefusal> {
    let signatures = xml::all(doc, NS_DSIG, "Signature");
    if signatures.is_empty() {
        return Err(SamlRefusal::Unsigned);
    }
    for signature in &signatures {
        let parent = doc.parent(*signature);
        if parent != Some(response) && parent != Some(assertion) {
            return Err(SamlRefusal::NotCovered);
        }
        let signed_info = xml::children(doc, *signature, NS_DSIG, "SignedInfo");
        let [signed_info] = signed_info[..] else { return Err(SamlRefusal::BadSignature) };
        let method = xml::children(doc, signed_info, NS_DSIG, "SignatureMethod")
            .first()
            .and_then(|m| xml::attr(doc, *m, "Algorithm"));
        if !method.is_some_and(|m| SIGNATURE_METHODS.contains(&m)) {
            return Err(SamlRefusal::WeakAlgorithm);
        }
        let references = xml::children(doc, signed_info, NS_DSIG, "Reference");
        let [reference] = references[..] else { return Err(SamlRefusal::NotCovered) };
        let digest = xml::children(doc, reference, NS_DSIG, "DigestMethod")
            .first()
            .and_then(|m| xml::attr(doc, *m, "Algorithm"));
        if !digest.is_some_and(|d| DIGEST_METHODS.contains(&d)) {
            return Err(SamlRefusal::WeakAlgorithm);
        }
    }
    let mut keys = KeysManager::new();
    for der in &expect.idp.certificates {
        let key = bergshamra_keys::loader::load_x509_cert_der(der).map_err(|_| SamlRefusal::BadSignature)?;
        keys.add_key(key);
    }
    // Secure defaults: only the manager's keys, XSW position checks, every reference digested.
    let context = DsigContext::new(keys);
    let results = bergshamra_dsig::verify::verify_all_document(&context, doc).map_err(|_| SamlRefusal::BadSignature)?;
    let mut covered = false;
    for (result, signature) in results.iter().zip(&signatures) {
        let VerifyResult::Valid { references, signature_node, .. } = result else {
            return Err(SamlRefusal::BadSignature);
        };
        if signature_node != signature {
            return Err(SamlRefusal::BadSignature);
        }
        // Enveloped: the one reference is the element the signature sits in.
        let target = references.first().and_then(|r| r.resolved_node);
        if references.len() != 1 || target != doc.parent(*signature) {
            return Err(SamlRefusal::NotCovered);
        }
        covered |= target == Some(assertion) || target == Some(response);
    }
    if !covered {
        return Err(SamlRefusal::NotCovered);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::saml::testing::{idp_metadata, Signed, TestKey, TestResponse};

    const SP: &str = "https://acme.example.com/saml/metadata";
    const ACS: &str = "https://acme.example.com/saml/acs";

    fn now() -> DateTime<Utc> {
        "2026-12-04T12:00:00Z".parse().unwrap()
    }

    fn response() -> TestResponse {
        let mut r = TestResponse::new(ACS, SP, "ann@acme.example", now());
        r.okta_id = Some("00uann".into());
        r
    }

    fn check_with(xml: &str, keys: &[TestKey], at: DateTime<Utc>) -> Result<Asserted, SamlRefusal> {
        let idp = idp_metadata(keys);
        let acs = vec![ACS.to_owned(), "https://api.example.com/t/acme/saml/acs".to_owned()];
        verify_response(xml, &Expected { idp: &idp, sp_entity_id: SP, acs_urls: &acs, now: at })
    }

    fn check(xml: &str) -> Result<Asserted, SamlRefusal> {
        check_with(xml, &[TestKey::Current], now())
    }

    #[test]
    fn an_okta_shaped_response_is_accepted_signed_on_the_assertion_the_response_or_both() {
        for signed in [Signed::Assertion, Signed::Response, Signed::Both] {
            let mut r = response();
            r.signed = signed;
            r.in_response_to = Some("idREQ".into());
            let ok = check(&r.xml()).unwrap_or_else(|e| panic!("{signed:?}: {e}"));
            assert_eq!(ok.assertion_id, r.assertion_id);
            assert_eq!(ok.in_response_to.as_deref(), Some("idREQ"));
            assert_eq!(ok.subject.email.as_deref(), Some("ann@acme.example"));
            assert_eq!(ok.subject.okta_id.as_deref(), Some("00uann"));
            assert_eq!(ok.subject.first_name.as_deref(), Some("Ann"));
            assert_eq!(ok.expires_at, now() + Duration::minutes(5) + MAX_SKEW);
        }
        let posted = response().posted();
        assert!(check(&decode_post(&posted).unwrap()).is_ok());
    }

    #[test]
    fn two_certificates_are_trusted_during_a_rollover_and_an_unknown_key_never() {
        let mut r = response();
        r.key = TestKey::Next;
        assert_eq!(check(&r.xml()), Err(SamlRefusal::BadSignature), "next is not published yet");
        assert!(check_with(&r.xml(), &[TestKey::Current, TestKey::Next], now()).is_ok());
        r.key = TestKey::Attacker;
        assert_eq!(check_with(&r.xml(), &[TestKey::Current, TestKey::Next], now()), Err(SamlRefusal::BadSignature));
    }

    #[test]
    fn unsigned_or_tampered_responses_are_refused() {
        let mut r = response();
        r.signed = Signed::None;
        assert_eq!(check(&r.xml()), Err(SamlRefusal::Unsigned));
        let signed = response().xml();
        let tampered = signed.replace("ann@acme.example</saml2:NameID>", "boss@acme.example</saml2:NameID>");
        assert_ne!(signed, tampered);
        assert_eq!(check(&tampered), Err(SamlRefusal::BadSignature));
        // A signature an attacker made with their own key and certificate in KeyInfo.
        let mut forged = response();
        forged.key = TestKey::Attacker;
        assert_eq!(check(&forged.xml()), Err(SamlRefusal::BadSignature));
    }

    #[test]
    fn each_field_must_name_us_and_the_idp() {
        type Wrong = fn(&mut TestResponse);
        let cases: Vec<(Wrong, SamlRefusal)> = vec![
            (|r| r.issuer = "http://www.okta.com/exkOTHER".into(), SamlRefusal::Issuer),
            (|r| r.audience = "https://other.example.com/saml/metadata".into(), SamlRefusal::Audience),
            (|r| r.destination = "https://evil.example.com/saml/acs".into(), SamlRefusal::Destination),
            (|r| r.recipient = "https://evil.example.com/saml/acs".into(), SamlRefusal::Recipient),
            (|r| r.issued_at = now() + Duration::minutes(10), SamlRefusal::NotYetValid),
            (
                |r| {
                    r.issued_at = now() - Duration::minutes(10);
                    r.lifetime = Duration::minutes(5)
                },
                SamlRefusal::Expired,
            ),
            (
                |r| r.status = "urn:oasis:names:tc:SAML:2.0:status:Requester".into(),
                SamlRefusal::NotSuccess("Requester".into()),
            ),
        ];
        for (wrong, refusal) in cases {
            for signed in [Signed::Assertion, Signed::Both] {
                let mut r = response();
                r.signed = signed;
                r.in_response_to = Some("idREQ".into());
                wrong(&mut r);
                assert_eq!(check(&r.xml()), Err(refusal.clone()), "{refusal:?} {signed:?}");
            }
        }
        // The other form of our ACS (the /t/{tenant} one) is ours too.
        let mut r = response();
        r.destination = "https://api.example.com/t/acme/saml/acs".into();
        r.recipient = r.destination.clone();
        assert!(check(&r.xml()).is_ok());
    }

    #[test]
    fn time_bounds_allow_two_minutes_of_skew_only() {
        let xml = response().xml();
        assert!(check_with(&xml, &[TestKey::Current], now() - Duration::seconds(119)).is_ok());
        assert_eq!(check_with(&xml, &[TestKey::Current], now() - Duration::minutes(3)), Err(SamlRefusal::NotYetValid));
        assert!(check_with(&xml, &[TestKey::Current], now() + Duration::minutes(6)).is_ok());
        assert_eq!(check_with(&xml, &[TestKey::Current], now() + Duration::minutes(7)), Err(SamlRefusal::Expired));
        // Unsolicited (IdP-initiated) assertions are taken only while fresh, whatever their lifetime.
        let mut long = response();
        long.lifetime = Duration::hours(1);
        assert_eq!(
            check_with(&long.xml(), &[TestKey::Current], now() + Duration::minutes(8)),
            Err(SamlRefusal::Expired)
        );
        long.in_response_to = Some("idREQ".into());
        assert!(check_with(&long.xml(), &[TestKey::Current], now() + Duration::minutes(8)).is_ok());
    }

    #[test]
    fn a_dtd_or_entity_is_refused_before_parsing() {
        let xml = response().xml();
        let with_dtd = format!("<!DOCTYPE r [<!ENTITY x \"boss@acme.example\">]>{xml}");
        assert_eq!(check(&with_dtd), Err(SamlRefusal::Dtd));
        assert_eq!(check("<!doctype r SYSTEM \"http://evil/x.dtd\"><r/>"), Err(SamlRefusal::Dtd));
        assert_eq!(check("<saml2p:Response"), Err(SamlRefusal::NotWellFormed));
    }

    #[test]
    fn a_comment_inside_the_name_id_is_refused_not_read_around() {
        // The IdP signed `ann@acme.example.evil.test`; the comment leaves the signature valid
        // (exclusive c14n drops comments), and a reader stopping at it would see Ann's address.
        let mut r = response();
        r.name_id = "ann@acme.example.evil.test".into();
        r.email = None;
        let xml = r.xml().replace("ann@acme.example.evil.test<", "ann@acme.example<!---->.evil.test<");
        assert_eq!(check(&xml), Err(SamlRefusal::NotPlainText("NameID")));
        let mut a = response();
        a.email = Some("ann@acme.example.evil.test".into());
        let xml = a.xml().replace("ann@acme.example.evil.test<", "ann@acme.example<!---->.evil.test<");
        assert_eq!(check(&xml), Err(SamlRefusal::NotPlainText("AttributeValue")));
    }

    fn evil_assertion(id: &str) -> String {
        let mut evil = response();
        evil.assertion_id = id.into();
        evil.name_id = "boss@acme.example".into();
        evil.email = Some("boss@acme.example".into());
        evil.signed = Signed::None;
        let xml = evil.xml();
        let start = xml.find("<saml2:Assertion").unwrap();
        let end = xml.find("</saml2:Assertion>").unwrap() + "</saml2:Assertion>".len();
        xml[start..end].to_owned()
    }

    fn signed_assertion(xml: &str) -> (usize, usize) {
        let start = xml.find("<saml2:Assertion").unwrap();
        (start, xml.find("</saml2:Assertion>").unwrap() + "</saml2:Assertion>".len())
    }

    #[test]
    fn the_classic_signature_wrapping_shapes_are_refused() {
        let r = response();
        let xml = r.xml();
        let (start, end) = signed_assertion(&xml);
        let original = &xml[start..end];
        let evil = evil_assertion("idEVIL");
        // 1. An unsigned assertion before the signed one.
        let shape1 = format!("{}{evil}{}", &xml[..start], &xml[start..]);
        // 2. After it.
        let shape2 = format!("{}{evil}{}", &xml[..end], &xml[end..]);
        // 3. The signed assertion hidden inside the evil one (in its Subject's place of an extension).
        let nested = evil.replacen("<saml2:Subject>", &format!("{original}<saml2:Subject>"), 1);
        let shape3 = format!("{}{nested}{}", &xml[..start], &xml[end..]);
        // 4. The signed assertion moved into the Response's Extensions; the evil one in its place.
        let shape4 = format!("{}<saml2p:Extensions>{original}</saml2p:Extensions>{evil}{}", &xml[..start], &xml[end..]);
        // 5. The evil assertion takes the signed one's ID and its signature (digest mismatch).
        let sig_start = original.find("<ds:Signature").unwrap();
        let sig_end = original.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
        let stolen = evil_assertion(&r.assertion_id).replacen(
            "</saml2:Issuer>",
            &format!("</saml2:Issuer>{}", &original[sig_start..sig_end]),
            1,
        );
        let shape5 = format!("{}{stolen}{}", &xml[..start], &xml[end..]);
        // 6. The evil assertion carries the original signature, which still names the original
        //    assertion, now kept inside the signature's Object.
        let carried = evil_assertion("idEVIL").replacen(
            "</saml2:Issuer>",
            &format!(
                "</saml2:Issuer>{}<ds:Object xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{original}</ds:Object></ds:Signature>",
                &original[sig_start..sig_end - "</ds:Signature>".len()]
            ),
            1,
        );
        let shape6 = format!("{}{carried}{}", &xml[..start], &xml[end..]);
        for (n, shape) in [shape1, shape2, shape3, shape4, shape5, shape6].iter().enumerate() {
            let got = check(shape);
            assert!(
                matches!(got, Err(SamlRefusal::AssertionCount | SamlRefusal::BadSignature | SamlRefusal::NotCovered)),
                "shape {}: {got:?}",
                n + 1
            );
        }
        // A response signed at the Response level, its signed content swapped for an evil
        // assertion: the digest no longer matches.
        let mut whole = response();
        whole.signed = Signed::Response;
        let xml = whole.xml();
        let (start, end) = signed_assertion(&xml);
        let swapped = format!("{}{}{}", &xml[..start], evil_assertion(&whole.assertion_id), &xml[end..]);
        assert_eq!(check(&swapped), Err(SamlRefusal::BadSignature));
        // Signed Response wrapped in a new unsigned Response whose assertion is evil.
        let wrapped = format!(
            r#"<saml2p:Response xmlns:saml2p="{NS_PROTOCOL}" Destination="{ACS}" ID="idW" Version="2.0" IssueInstant="2026-12-04T12:00:00Z"><saml2p:Status><saml2p:StatusCode Value="{STATUS_SUCCESS}"/></saml2p:Status><saml2p:Extensions>{xml}</saml2p:Extensions>{}</saml2p:Response>"#,
            evil_assertion("idEVIL")
        );
        assert!(check(&wrapped).is_err());
    }

    #[test]
    fn in_response_to_must_agree_and_encrypted_assertions_are_refused() {
        let mut r = response();
        r.in_response_to = Some("idREQ".into());
        let xml = r.xml().replacen(r#"InResponseTo="idREQ""#, r#"InResponseTo="idOTHER""#, 1);
        assert_eq!(check(&xml), Err(SamlRefusal::InResponseTo));
        let enc = response().xml().replace(
            "<saml2:Assertion ",
            "<saml2:EncryptedAssertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\"/><saml2:Assertion ",
        );
        assert_eq!(check(&enc), Err(SamlRefusal::Encrypted));
        assert_eq!(decode_post("%%%"), Err(SamlRefusal::NotDecodable));
        assert_eq!(decode_post(&"A".repeat(MAX_POSTED_BYTES + 4)), Err(SamlRefusal::NotDecodable));
    }
}
