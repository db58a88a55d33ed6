//! What the sign-in pages say: one HTML page shape for people (a title, one or two sentences, no
//! internals) and the copy for each way a sign-in can end without a session.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use shared::adapters::http::html_escape as escape;
use shared::app::sso::SsoError;
use shared::domain::sso::Refusal;

/// An HTML page for people: a title, one or two sentences, no internals.
pub fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>{t}</title><style>body{{font:16px/1.5 system-ui,sans-serif;\
         margin:0;background:#f5f6f8;color:#1d2330}}main{{max-width:560px;margin:12vh auto;background:#fff;\
         border:1px solid #e2e5eb;border-radius:10px;padding:28px 32px}}h1{{font-size:22px;margin:0 0 10px}}\
         </style></head><body><main><h1>{t}</h1><p>{m}</p></main></body></html>",
        t = escape(title),
        m = escape(message)
    );
    let mut r = (status, Html(html)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub const NOT_FOUND: (&str, &str) = ("Not found", "This sign-in address is not known. Check the link you followed.");
pub const BAD_ADDRESS: (&str, &str) = ("Bad request", "This sign-in address is not valid.");

/// The status, title and message of the page for a sign-in that ended with `e`.
pub fn for_sso_error(e: &SsoError) -> (StatusCode, &'static str, String) {
    use StatusCode as S;
    let again = "Go back to the learning platform and choose “Sign in with Okta” again.";
    match e {
        SsoError::NotEnabled => {
            (S::NOT_FOUND, "Not found", "Signing in with Okta is not enabled for this organisation.".into())
        }
        SsoError::NotConfigured => (
            S::SERVICE_UNAVAILABLE,
            "Sign-in unavailable",
            "Signing in with Okta is not fully set up for this organisation yet. Ask your administrator.".into(),
        ),
        SsoError::UnsafeReturnTo => {
            (S::BAD_REQUEST, "Bad request", "The page to return to after signing in must be on this site.".into())
        }
        SsoError::MissingState | SsoError::StaleState => {
            (S::BAD_REQUEST, "Sign-in expired", format!("This sign-in has expired or was already used. {again}"))
        }
        SsoError::OtherBrowser => (
            S::BAD_REQUEST,
            "Sign-in started elsewhere",
            format!(
                "This sign-in was started in another browser (or this browser blocked its cookie), so \
                 it cannot finish here. {again}"
            ),
        ),
        SsoError::Provider(code) if code == "access_denied" => (
            S::FORBIDDEN,
            "Access denied",
            "Okta did not allow this sign-in: you may not be assigned to the learning platform, or you \
             cancelled. Ask your administrator if you should have access."
                .into(),
        ),
        SsoError::Provider(code) => {
            (S::BAD_REQUEST, "Sign-in failed", format!("Okta could not sign you in (error: {code}). {again}"))
        }
        SsoError::Verification(_) => (
            S::UNAUTHORIZED,
            "Sign-in failed",
            format!("Okta's answer could not be verified, so you were not signed in. {again}"),
        ),
        SsoError::ProviderUnavailable(_) => (
            S::BAD_GATEWAY,
            "Okta unavailable",
            "Okta could not be reached to sign you in. Try again in a few minutes.".into(),
        ),
        SsoError::Refused(why) => (
            S::FORBIDDEN,
            "Access denied",
            match why {
                Refusal::UnknownUser => "Your account must exist in the learning platform before you can \
                                         sign in. Ask your administrator to add you."
                    .into(),
                Refusal::Deactivated => "Your learning platform account is deactivated. Ask your administrator.".into(),
                Refusal::EmailLinkedElsewhere => "Your email address belongs to an account that is linked \
                                                  to another Okta user. Ask your administrator."
                    .into(),
                Refusal::EmailNotVerified => "Your email address is not verified in Okta, so it cannot be \
                                              linked to your learning platform account. Ask your \
                                              administrator."
                    .into(),
                Refusal::LinkedToAnotherOrg => "Your learning platform account was linked through another \
                                                Okta organisation. It can sign in once this organisation's \
                                                provisioning (the next sync, or SCIM) confirms it. Ask your \
                                                administrator."
                    .into(),
                Refusal::OktaIdMissing => "Okta did not say which Okta user you are, and your learning \
                                           platform account is not linked yet. Ask your administrator to \
                                           add the oktaUserId attribute statement to the Okta app."
                    .into(),
            },
        ),
        SsoError::OtherProtocol(_) => (
            S::NOT_FOUND,
            "Not found",
            "This organisation signs in another way. Go back to the learning platform and sign in from there.".into(),
        ),
        SsoError::Saml(_) => (
            S::UNAUTHORIZED,
            "Sign-in failed",
            format!("Okta's answer could not be verified, so you were not signed in. {again}"),
        ),
        SsoError::IdpInitiatedOff => (
            S::FORBIDDEN,
            "Start from the learning platform",
            "Signing in from the Okta dashboard is turned off for this organisation. Open the learning \
             platform and choose “Sign in with Okta” there."
                .into(),
        ),
        SsoError::IdpMetadata(_) => (
            S::BAD_GATEWAY,
            "Okta unavailable",
            "Okta's sign-in settings could not be read. Try again in a few minutes; if it keeps \
             happening, ask your administrator to check the SAML metadata URL."
                .into(),
        ),
        SsoError::Unavailable(_) => (
            S::SERVICE_UNAVAILABLE,
            "Sign-in unavailable",
            "Something went wrong on our side. Try again in a few minutes.".into(),
        ),
    }
}
