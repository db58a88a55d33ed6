//! SCIM filters: any text parses or is refused, never panics; what parses prints back to the same
//! tree, evaluates against a user, and yields a key lookup or none.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::domain::scim::filter::{parse, parse_patch_path};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let user = serde_json::json!({"id": "usr_1", "userName": "ann@x.co", "active": true, "name": {"givenName": "Ann"},
        "emails": [{"value": "ann@x.co", "type": "work", "primary": true}], "meta": {"version": "W/\"1\""},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}});
    if let Ok(filter) = parse(text) {
        let _ = filter.matches(&user);
        let _ = filter.key_lookup(&["username", "emails.value", "externalid", "id"]);
        let printed = filter.to_string();
        assert_eq!(parse(&printed).as_ref(), Ok(&filter), "{printed}");
    }
    let _ = parse_patch_path(text);
});
