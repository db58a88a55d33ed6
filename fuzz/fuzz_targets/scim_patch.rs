//! SCIM PATCH bodies: any JSON is parsed or refused with a scimType; what parses applies to a user
//! (then maps back to a user or is refused) and to a group, never panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::domain::scim::{group as scim_group, patch as scim_patch, user as scim_user};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = scim_user::from_resource(&body);
    let _ = scim_group::from_body(&body);
    let Ok(ops) = scim_patch::parse_request(&body) else { return };
    let mut user = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "usr_1",
        "userName": "ann@x.co", "active": true, "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"value": "ann@x.co", "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops", "manager": {"value": "usr_2"}},
        "urn:okta-bridge:params:scim:schemas:extension:2.0:User": {"approvers": ["b@x.co"], "contentRegion": "DE"}});
    if scim_patch::apply(&mut user, &ops).is_ok() {
        let _ = scim_user::from_resource(&user);
    }
    let _ = scim_patch::member_changes(&ops, "grp_1");
});
