//! A stored user as a SCIM User resource (RFC 7643 §4.1, Enterprise User, our extension), its
//! weak ETag and `If-Match` check (RFC 7644 §3.14), and the content-region table (SPEC §9).
use serde_json::{json, Map, Value};

use super::scim_schemas::{ENTERPRISE_SCHEMA, OUR_SCHEMA, USER_SCHEMA};
use super::user::{User, UserStatus};

/// The custom-field keys our SCIM extension's attributes are kept under.
pub const CONTENT_REGION_FIELD: &str = "content_region";
pub const CUSTOM_FIELDS: [(&str, &str); 3] =
    [("customField1", "custom_field_1"), ("customField2", "custom_field_2"), ("customField3", "custom_field_3")];

/// The content region for an ISO 3166-1 alpha-2 country (SPEC §9): GB→GB; ES IT MT→ES;
/// DE BE CH DK RO SI→DE; US CA→US; SE NO→SE; anything else or none → QQ (global).
pub fn content_region(country: Option<&str>) -> &'static str {
    let code = country.map(|c| c.trim().to_ascii_uppercase()).unwrap_or_default();
    match code.as_str() {
        "GB" => "GB",
        "ES" | "IT" | "MT" => "ES",
        "DE" | "BE" | "CH" | "DK" | "RO" | "SI" => "DE",
        "US" | "CA" => "US",
        "SE" | "NO" => "SE",
        _ => "QQ",
    }
}

/// The weak ETag of a record version.
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// Does an `If-Match` header admit this version? `*`, or any listed tag (weak or strong form).
pub fn if_match(header: &str, version: u64) -> bool {
    let want = version.to_string();
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"') == want)
}

fn opt(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

/// The user as SCIM shows it; `base` is the tenant's `.../scim/v2`.
pub fn user_resource(u: &User, base: &str) -> Value {
    let mut ours = Map::new();
    if let Some(region) = u.custom_fields.get(CONTENT_REGION_FIELD) {
        ours.insert("contentRegion".into(), json!(region));
    }
    for (scim, field) in CUSTOM_FIELDS {
        if let Some(v) = u.custom_fields.get(field) {
            ours.insert(scim.into(), json!(v));
        }
    }
    let formatted = format!("{} {}", u.first_name, u.last_name).trim().to_owned();
    let mut resource = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA, OUR_SCHEMA],
        "id": u.id.as_str(),
        "externalId": u.okta_id.as_ref().map(|o| o.as_str().to_owned()),
        "userName": u.email.as_str(),
        "name": {"givenName": u.first_name, "familyName": u.last_name, "formatted": formatted},
        "displayName": formatted,
        "title": opt(&u.title),
        "preferredLanguage": opt(&u.primary_language),
        "active": u.status == UserStatus::Active,
        "emails": [{"value": u.email.as_str(), "type": "work", "primary": true}],
        ENTERPRISE_SCHEMA: {
            "department": opt(&u.primary_team),
            "manager": u.manager_id.as_ref().map(|m| json!({"value": m.as_str()})),
        },
        OUR_SCHEMA: Value::Object(ours),
        "meta": {
            "resourceType": "User",
            "created": u.created_at,
            "lastModified": u.updated_at,
            "location": format!("{base}/Users/{}", u.id),
            "version": etag(u.version),
        },
    });
    // Absent, not null: clients compare what they sent with what they read back.
    if let Value::Object(map) = &mut resource {
        map.retain(|_, v| !v.is_null());
        if let Some(Value::Object(ent)) = map.get_mut(ENTERPRISE_SCHEMA) {
            ent.retain(|_, v| !v.is_null());
        }
    }
    resource
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scim_filter::parse;
    use crate::domain::{Email, OktaUserId, UserId};

    #[test]
    fn the_content_region_table_row_by_row() {
        for (country, region) in [
            ("GB", "GB"),
            ("ES", "ES"),
            ("IT", "ES"),
            ("MT", "ES"),
            ("DE", "DE"),
            ("BE", "DE"),
            ("CH", "DE"),
            ("DK", "DE"),
            ("RO", "DE"),
            ("SI", "DE"),
            ("US", "US"),
            ("CA", "US"),
            ("SE", "SE"),
            ("NO", "SE"),
            ("FR", "QQ"),
            ("JP", "QQ"),
            ("", "QQ"),
            ("gb", "GB"),
            (" se ", "SE"),
            ("GBR", "QQ"),
        ] {
            assert_eq!(content_region(Some(country)), region, "{country:?}");
        }
        assert_eq!(content_region(None), "QQ");
    }

    #[test]
    fn etags_and_if_match() {
        assert_eq!(etag(3), "W/\"3\"");
        for ok in ["W/\"3\"", "\"3\"", "*", "W/\"1\", W/\"3\""] {
            assert!(if_match(ok, 3), "{ok}");
        }
        for no in ["W/\"2\"", "\"33\"", "", "W/3x"] {
            assert!(!if_match(no, 3), "{no}");
        }
    }

    #[test]
    fn a_user_reads_as_a_scim_user_that_filters_find() {
        let mut u = User::new(
            UserId::from_random([7; 16]),
            Email::parse("Ann.Lee@Example.com").unwrap(),
            "Ann".into(),
            "Lee".into(),
            "2026-11-25T10:00:00Z".parse().unwrap(),
        );
        u.okta_id = Some(OktaUserId::parse("00uann").unwrap());
        u.primary_team = Some("Ops".into());
        u.manager_id = Some(UserId::from_random([8; 16]));
        u.custom_fields.insert(CONTENT_REGION_FIELD.into(), "DE".into());
        u.custom_fields.insert("custom_field_2".into(), "blue".into());
        u.version = 4;
        let r = user_resource(&u, "https://acme.example.com/scim/v2");
        assert_eq!(r["userName"], "Ann.Lee@Example.com", "as given; matched case-insensitively");
        assert_eq!(r["externalId"], "00uann");
        assert_eq!(r["meta"]["version"], "W/\"4\"");
        assert_eq!(r["meta"]["location"], format!("https://acme.example.com/scim/v2/Users/{}", u.id));
        assert_eq!(r[OUR_SCHEMA]["contentRegion"], "DE");
        assert_eq!(r[OUR_SCHEMA]["customField2"], "blue");
        assert!(r.get("title").is_none(), "absent, not null");
        for f in [
            r#"userName eq "ANN.LEE@example.com""#,
            r#"externalId eq "00uann""#,
            r#"emails[type eq "work" and value eq "ann.lee@example.com"]"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "ops""#,
            r#"urn:okta-bridge:params:scim:schemas:extension:2.0:User:contentRegion eq "DE""#,
            "active eq true",
        ] {
            assert!(parse(f).unwrap().matches(&r), "{f}");
        }
    }
}
