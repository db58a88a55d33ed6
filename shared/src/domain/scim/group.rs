//! A group as a SCIM Group resource (RFC 7643 §4.2), and a POST/PUT body read into what we store.
use serde_json::{json, Value};

use super::filter::member;
use super::schemas::{ScimInvalid, GROUP_SCHEMA};
use super::user::etag;
use crate::domain::group::{Group, Member, MAX_NAME};

/// The group as SCIM shows it; `members` is `None` when they were not asked for.
pub fn group_resource(g: &Group, members: Option<&[Member]>, base: &str) -> Value {
    let mut r = json!({
        "schemas": [GROUP_SCHEMA],
        "id": g.id.as_str(),
        "displayName": g.display_name,
        "meta": {
            "resourceType": "Group",
            "created": g.created_at,
            "lastModified": g.updated_at,
            "location": format!("{base}/Groups/{}", g.id),
            "version": etag(g.version),
        },
    });
    if let Some(x) = &g.external_id {
        r["externalId"] = json!(x);
    }
    if let Some(members) = members {
        r["members"] = members
            .iter()
            .map(|m| match m {
                Member::User(id) => json!({"value": id.as_str(), "type": "User", "$ref": format!("{base}/Users/{id}")}),
                Member::Pending(v) => json!({"value": v, "type": "User"}),
            })
            .collect();
    }
    r
}

/// What a POST or PUT of a Group asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupBody {
    pub display_name: String,
    pub external_id: Option<String>,
    /// The member values, as sent (our user ids, or values naming no user yet).
    pub members: Vec<String>,
}

fn bounded(v: Option<&Value>, what: &str) -> Result<Option<String>, ScimInvalid> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > MAX_NAME => {
            Err(ScimInvalid::new("invalidValue", format!("{what} is longer than {MAX_NAME} characters")))
        }
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ScimInvalid::new("invalidValue", format!("{what} must be a string"))),
    }
}

pub fn from_body(body: &Value) -> Result<GroupBody, ScimInvalid> {
    if !body.is_object() {
        return Err(ScimInvalid::new("invalidSyntax", "the body must be a JSON object"));
    }
    let display_name = bounded(member(body, "displayName"), "displayName")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ScimInvalid::new("invalidValue", "displayName is required"))?;
    let external_id = bounded(member(body, "externalId"), "externalId")?.filter(|x| !x.is_empty());
    let members = match member(body, "members") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(list)) => list
            .iter()
            .map(|m| match member(m, "value") {
                Some(Value::String(v)) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                _ => Err(ScimInvalid::new("invalidValue", "each member needs a string value")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ScimInvalid::new("invalidValue", "members must be an array")),
    };
    Ok(GroupBody { display_name, external_id, members })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{GroupId, UserId};

    #[test]
    fn rfc_7643_group_example_reads_and_shows() {
        // RFC 7643 §8.4, with our ids.
        let u = UserId::from_random([1; 16]);
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides",
            "members": [{"value": u.as_str(), "$ref": "https://example.com/v2/Users/x", "display": "Babs Jensen"},
                        {"value": "00uNotHereYet"}]});
        let g = from_body(&body).unwrap();
        assert_eq!(g.display_name, "Tour Guides");
        assert_eq!(g.members, [u.as_str(), "00uNotHereYet"]);
        let group = Group {
            id: GroupId::from_random([2; 16]),
            display_name: g.display_name,
            external_id: None,
            created_at: "2026-11-26T00:00:00Z".parse().unwrap(),
            updated_at: "2026-11-26T00:00:00Z".parse().unwrap(),
            version: 3,
        };
        let members = [Member::User(u.clone()), Member::Pending("00uNotHereYet".into())];
        let r = group_resource(&group, Some(&members), "https://acme.example.com/scim/v2");
        assert_eq!(r["members"][0]["$ref"], format!("https://acme.example.com/scim/v2/Users/{u}"));
        assert_eq!(r["members"][1]["value"], "00uNotHereYet");
        assert_eq!(r["meta"]["version"], "W/\"3\"");
        assert!(group_resource(&group, None, "b").get("members").is_none());
        for bad in [json!({}), json!({"displayName": 3}), json!({"displayName": "x", "members": [{"value": 1}]})] {
            assert_eq!(from_body(&bad).unwrap_err().scim_type, "invalidValue", "{bad}");
        }
    }
}
