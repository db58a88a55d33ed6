//! SCIM discovery (RFC 7643 §5–8, RFC 7644 §4): `ServiceProviderConfig`, `ResourceTypes` and
//! `Schemas`, in the exact shapes the RFC shows, our extension included. `base` is the tenant's
//! `.../scim/v2` URL, used for `meta.location`.
use serde_json::{json, Value};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const OUR_SCHEMA: &str = "urn:okta-bridge:params:scim:schemas:extension:2.0:User";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Largest page a list returns, and the body limit we advertise (docs/behaviour/limits-and-errors.md).
pub const MAX_RESULTS: u64 = 200;
pub const MAX_BODY: u64 = 1024 * 1024;

/// The extension of `ServiceProviderConfig` that states what RFC 7643 has no attribute for.
pub const SPC_LIMITS_SCHEMA: &str = "urn:okta-bridge:params:scim:schemas:extension:2.0:ServiceProviderConfig";

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA, SPC_LIMITS_SCHEMA],
        // The largest request body accepted (bigger: 413), docs/behaviour/limits-and-errors.md.
        SPC_LIMITS_SCHEMA: {"maxPayloadSize": MAX_BODY},
        "documentationUri": "https://github.com/okta-bridge/okta-bridge#scim",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A SCIM token issued by the okta-bridge admin API, as `Authorization: Bearer <token>`, `Static <token>` or the bare token.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }, {
            "type": "httpbasic",
            "name": "HTTP Basic",
            "description": "Any username, with a SCIM token as the password (Okta's custom-app Basic Auth).",
            "specUri": "https://www.rfc-editor.org/info/rfc7617",
            "primary": false
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "User Account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                {"schema": ENTERPRISE_SCHEMA, "required": false},
                {"schema": OUR_SCHEMA, "required": false}
            ],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Group",
            "schema": GROUP_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
}

/// One attribute definition (RFC 7643 §7) with the usual defaults.
fn attr(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "description": description, "required": false,
        "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"
    })
}

fn with(mut a: Value, changes: Value) -> Value {
    if let (Some(obj), Some(extra)) = (a.as_object_mut(), changes.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    a
}

fn complex(name: &str, description: &str, multi: bool, subs: Vec<Value>) -> Value {
    with(attr(name, "complex", description), json!({"multiValued": multi, "subAttributes": subs}))
}

fn multi_value_subs(value_kind: &str, types: &[&str]) -> Vec<Value> {
    vec![
        attr("value", value_kind, "The value."),
        attr("display", "string", "A human-readable name."),
        with(attr("type", "string", "A label for the value's function."), json!({"canonicalValues": types})),
        attr("primary", "boolean", "The primary value."),
    ]
}

fn schema(id: &str, name: &str, description: &str, attributes: Vec<Value>, base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id, "name": name, "description": description, "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}
    })
}

pub fn schemas(base: &str) -> Vec<Value> {
    let user = vec![
        with(
            attr(
                "userName",
                "string",
                "Unique identifier for the User, kept as sent and compared case-insensitively. Every attribute \
                 a client sends is stored as sent and read back (at most 32768 bytes per user).",
            ),
            json!({"required": true, "uniqueness": "server"}),
        ),
        complex(
            "name",
            "The components of the user's real name.",
            false,
            vec![
                attr("formatted", "string", "The full name."),
                attr("familyName", "string", "The family name."),
                attr("givenName", "string", "The given name."),
                attr("middleName", "string", "The middle name."),
                attr("honorificPrefix", "string", "Honorific prefix."),
                attr("honorificSuffix", "string", "Honorific suffix."),
            ],
        ),
        attr("displayName", "string", "The name displayed to end users."),
        attr("nickName", "string", "The casual name."),
        with(attr("profileUrl", "reference", "A URI of the profile."), json!({"referenceTypes": ["external"]})),
        attr("title", "string", "The user's title."),
        attr("userType", "string", "The relationship to the organization."),
        attr("preferredLanguage", "string", "The preferred written or spoken language."),
        attr("locale", "string", "The default location for localization."),
        attr("timezone", "string", "The time zone (IANA)."),
        attr("active", "boolean", "The user's administrative status."),
        with(
            attr("password", "string", "Accepted and discarded: passwords are Okta's."),
            json!({"mutability": "writeOnly", "returned": "never"}),
        ),
        with(
            complex(
                "emails",
                "Email addresses. Required here: the learning platform invites and signs people in by email. \
                 The work (else primary) address is the user's; a userName that is an email address will do.",
                true,
                multi_value_subs("string", &["work", "home", "other"]),
            ),
            json!({"required": true}),
        ),
        complex(
            "phoneNumbers",
            "Phone numbers.",
            true,
            multi_value_subs("string", &["work", "home", "mobile", "fax", "pager", "other"]),
        ),
        complex("photos", "URLs of photos.", true, multi_value_subs("reference", &["photo", "thumbnail"])),
        complex(
            "addresses",
            "Physical mailing addresses.",
            true,
            vec![
                attr("formatted", "string", "The full mailing address."),
                attr("streetAddress", "string", "Street."),
                attr("locality", "string", "City or locality."),
                attr("region", "string", "State or region."),
                attr("postalCode", "string", "Zip code or postal code."),
                attr("country", "string", "Country (ISO 3166-1 alpha-2)."),
                with(attr("type", "string", "Address type."), json!({"canonicalValues": ["work", "home", "other"]})),
                attr("primary", "boolean", "The primary address."),
            ],
        ),
        with(
            complex(
                "groups",
                "Groups the user belongs to (read-only: change membership on the group).",
                true,
                vec![
                    with(attr("value", "string", "The group's id."), json!({"mutability": "readOnly"})),
                    with(
                        attr("$ref", "reference", "The group's URI."),
                        json!({"mutability": "readOnly", "referenceTypes": ["Group"]}),
                    ),
                    with(attr("display", "string", "The group's name."), json!({"mutability": "readOnly"})),
                ],
            ),
            json!({"mutability": "readOnly"}),
        ),
    ];
    let group = vec![
        with(attr("displayName", "string", "The group's name."), json!({"required": true})),
        complex(
            "members",
            "The members of the group.",
            true,
            vec![
                with(attr("value", "string", "The member's id."), json!({"mutability": "immutable"})),
                with(
                    attr("$ref", "reference", "The member's URI."),
                    json!({"mutability": "immutable", "referenceTypes": ["User"]}),
                ),
                with(attr("display", "string", "The member's name."), json!({"mutability": "immutable"})),
                with(
                    attr("type", "string", "The member's type."),
                    json!({"mutability": "immutable", "canonicalValues": ["User"]}),
                ),
            ],
        ),
    ];
    let enterprise = vec![
        attr("employeeNumber", "string", "Numeric or alphanumeric identifier assigned to a person."),
        attr("costCenter", "string", "The cost center."),
        attr("organization", "string", "The organization."),
        attr("division", "string", "The division."),
        attr("department", "string", "The department: the user's primary team here."),
        complex(
            "manager",
            "The user's manager (pending until that user exists here).",
            false,
            vec![
                attr("value", "string", "The manager's id (ours, or their Okta id)."),
                with(attr("$ref", "reference", "The manager's URI."), json!({"referenceTypes": ["User"]})),
                with(attr("displayName", "string", "The manager's name."), json!({"mutability": "readOnly"})),
            ],
        ),
    ];
    let ours = vec![
        with(
            attr("approvers", "string", "Email addresses of the user's approvers (pending until those users exist)."),
            json!({"multiValued": true}),
        ),
        with(
            attr(
                "contentRegion",
                "string",
                "ISO 3166-1 alpha-2 country: the content region (GB, ES, DE, US, SE, or QQ for global).",
            ),
            json!({"caseExact": true}),
        ),
        attr("customField1", "string", "Custom field 1."),
        attr("customField2", "string", "Custom field 2."),
        attr("customField3", "string", "Custom field 3."),
    ];
    vec![
        schema(USER_SCHEMA, "User", "User Account", user, base),
        schema(GROUP_SCHEMA, "Group", "Group", group, base),
        schema(ENTERPRISE_SCHEMA, "EnterpriseUser", "Enterprise User", enterprise, base),
        schema(OUR_SCHEMA, "OktaBridgeUser", "okta-bridge learning-platform attributes", ours, base),
    ]
}

/// A request SCIM refuses with `400`: the RFC 7644 `scimType` and a message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimInvalid {
    pub scim_type: &'static str,
    pub detail: String,
}

impl ScimInvalid {
    pub fn new(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self { scim_type, detail: detail.into() }
    }
}

/// A ListResponse of everything (discovery lists are never paged).
pub fn list(resources: Vec<Value>) -> Value {
    let n = resources.len();
    json!({"schemas": [LIST_SCHEMA], "totalResults": n, "startIndex": 1, "itemsPerPage": n, "Resources": resources})
}

/// An error in the SCIM error schema (`status` is a string, RFC 7644 §3.12).
pub fn error(status: u16, scim_type: Option<&str>, detail: &str) -> Value {
    let mut e = json!({"schemas": [ERROR_SCHEMA], "status": status.to_string(), "detail": detail});
    if let Some(t) = scim_type {
        e["scimType"] = json!(t);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_documents_have_the_rfc_shapes() {
        let base = "https://acme.example.com/scim/v2";
        let spc = service_provider_config(base);
        for key in ["patch", "bulk", "filter", "changePassword", "sort", "etag", "authenticationSchemes", "meta"] {
            assert!(spc.get(key).is_some(), "{key}");
        }
        assert_eq!(spc["filter"]["maxResults"], 200);
        let types = resource_types(base);
        assert_eq!(types[0]["schemaExtensions"][1]["schema"], OUR_SCHEMA);
        let all = schemas(base);
        assert_eq!(all.len(), 4);
        for s in &all {
            for a in s["attributes"].as_array().unwrap() {
                for key in
                    ["name", "type", "multiValued", "required", "caseExact", "mutability", "returned", "uniqueness"]
                {
                    assert!(a.get(key).is_some(), "{} lacks {key}", a["name"]);
                }
            }
            assert_eq!(s["meta"]["location"], format!("{base}/Schemas/{}", s["id"].as_str().unwrap()));
        }
        let l = list(types);
        assert_eq!((l["totalResults"].as_u64(), l["itemsPerPage"].as_u64()), (Some(2), Some(2)));
        assert_eq!(error(409, Some("uniqueness"), "taken")["status"], "409");
    }
}
