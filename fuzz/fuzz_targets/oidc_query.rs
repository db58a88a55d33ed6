//! OIDC callback query strings and `return_to` values: parsed or refused, and no `return_to` that
//! is accepted can leave the site.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::app::sso::CallbackQuery;
use shared::domain::sso::safe_return_to;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = serde_urlencoded::from_str::<CallbackQuery>(text);
    if let Some(path) = safe_return_to(Some(text)) {
        assert!(path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'), "{path:?}");
        assert!(!path.chars().any(char::is_control), "{path:?}");
    }
});
