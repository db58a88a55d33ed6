//! A stored user as a SCIM User resource (RFC 7643 §4.1, Enterprise User, our extension), its
//! weak ETag and `If-Match` check (RFC 7644 §3.14), and the content-region table (docs/behaviour/scim.md).
use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::filter::member;
use super::schemas::{ScimInvalid, ENTERPRISE_SCHEMA, OUR_SCHEMA, USER_SCHEMA};
use crate::domain::mapping::{normalize_language_tag, Field, FieldWarning, ManagerRef, Mapped};
use crate::domain::user::{User, UserStatus};
use crate::domain::{Email, UserId};

/// The custom-field keys our SCIM extension's attributes are kept under.
pub const CONTENT_REGION_FIELD: &str = "content_region";
pub const CUSTOM_FIELDS: [(&str, &str); 3] =
    [("customField1", "custom_field_1"), ("customField2", "custom_field_2"), ("customField3", "custom_field_3")];

/// The content region for an ISO 3166-1 alpha-2 country (docs/behaviour/scim.md): GB→GB; ES IT MT→ES;
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
///
/// A user a SCIM client wrote reads back as it was written: every attribute the client sent, as
/// it sent it (`userName` in its own case, `nickName`, `phoneNumbers`, every address, extensions
/// ...). Two exceptions, both on purpose. `id`, `meta` and `active` are the server's. And where the
/// learning platform's own value of a mapped field has moved away from what the client's
/// attributes map to (single sign-on or an admin changed the user after the client wrote it),
/// the platform's value is shown: the client then sees the difference and writes its truth again,
/// instead of believing a value the platform no longer holds.
pub fn user_resource(u: &User, base: &str) -> Value {
    let platform = platform_resource(u, base);
    let Some(attributes) = &u.scim_attributes else { return platform };
    let Ok(desired) = from_resource(&Value::Object(attributes.clone())) else { return platform };
    let written = platform_resource(&desired.view_of(u), base);
    let mut out = platform.clone();
    merge(&mut out, attributes);
    for path in MAPPED_PATHS {
        let (p, w) = (at(&platform, path), at(&written, path));
        if p != w {
            set_at(&mut out, path, p.cloned());
        }
    }
    for (list, sub) in [("emails", "value"), ("addresses", "locality"), ("photos", "value")] {
        let value = |r: &Value| primary(member(r, list)).and_then(|e| member(e, sub)).cloned();
        let (p, w) = (value(&platform), value(&written));
        if p != w {
            set_primary(&mut out, list, sub, p);
        }
    }
    // The manager: what the client named, while the platform still has a manager for the user.
    let manager = |r: &Value| member(r, ENTERPRISE_SCHEMA).and_then(|e| member(e, "manager")).cloned();
    if manager(&platform).is_none() {
        set_at(&mut out, &[ENTERPRISE_SCHEMA, "manager"], None);
    }
    for server in ["id", "meta", "active"] {
        set_at(&mut out, &[server], platform.get(server).cloned());
    }
    let mut schemas: Vec<Value> = platform["schemas"].as_array().cloned().unwrap_or_default();
    for extra in member(&Value::Object(attributes.clone()), "schemas").and_then(Value::as_array).into_iter().flatten() {
        if !schemas.contains(extra) {
            schemas.push(extra.clone());
        }
    }
    set_at(&mut out, &["schemas"], Some(Value::Array(schemas)));
    out
}

/// The single-valued attributes the platform maps (docs/behaviour/scim.md), by path.
const MAPPED_PATHS: [&[&str]; 13] = [
    &["userName"],
    &["externalId"],
    &["title"],
    &["preferredLanguage"],
    &["name", "givenName"],
    &["name", "familyName"],
    &["name", "honorificPrefix"],
    &[ENTERPRISE_SCHEMA, "department"],
    &[OUR_SCHEMA, "contentRegion"],
    &[OUR_SCHEMA, "customField1"],
    &[OUR_SCHEMA, "customField2"],
    &[OUR_SCHEMA, "customField3"],
    &[OUR_SCHEMA, "approvers"],
];

/// The key of `map` that names `name` (attribute names are case-insensitive).
fn key_of(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, k| member(v, k)).filter(|v| !v.is_null())
}

/// Sets (or, with `None`, removes) the attribute at `path`, keeping the spelling already there.
fn set_at(v: &mut Value, path: &[&str], value: Option<Value>) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = v;
    for k in parents {
        let Value::Object(map) = cur else { return };
        let key = key_of(map, k).unwrap_or_else(|| (*k).to_owned());
        if value.is_none() && !map.contains_key(&key) {
            return;
        }
        cur = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    }
    let Value::Object(map) = cur else { return };
    let key = key_of(map, last).unwrap_or_else(|| (*last).to_owned());
    match value {
        Some(v) => {
            map.insert(key, v);
        }
        None => {
            map.remove(&key);
        }
    }
}

/// Puts `value` in the primary (else first) entry of a multi-valued attribute, or removes it.
fn set_primary(out: &mut Value, list: &str, sub: &str, value: Option<Value>) {
    let Value::Object(map) = out else { return };
    let key = key_of(map, list).unwrap_or_else(|| list.to_owned());
    let items = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(items) = items else { return };
    let chosen = items
        .iter()
        .position(|i| member(i, "primary").is_some_and(|p| boolean(p, "primary").unwrap_or(false)))
        .or((!items.is_empty()).then_some(0));
    match (chosen, value) {
        (Some(i), v) => set_at(&mut items[i], &[sub], v),
        (None, Some(v)) => items.push(json!({sub: v, "primary": true})),
        (None, None) => {}
    }
}

/// The client's attributes over the platform's: complex attributes member by member.
fn merge(out: &mut Value, attributes: &Map<String, Value>) {
    let Value::Object(map) = out else { return };
    for (k, v) in attributes {
        let existing = key_of(map, k);
        match (existing.as_ref().and_then(|e| map.get_mut(e)), v) {
            (Some(Value::Object(inner)), Value::Object(theirs)) => {
                for (ik, iv) in theirs {
                    if let Some(old) = key_of(inner, ik) {
                        inner.remove(&old);
                    }
                    inner.insert(ik.clone(), iv.clone());
                }
            }
            _ => {
                if let Some(old) = existing {
                    map.remove(&old);
                }
                map.insert(k.clone(), v.clone());
            }
        }
    }
}

/// What is kept of a client's attributes: not `id`, `meta` (the server's) or `password` (Okta's,
/// never returned); a manager named by a bare string (Entra's URN-path PATCH) as the complex
/// `{"value": ...}` it is.
fn normalize(attributes: &mut Map<String, Value>) {
    attributes.retain(|k, _| !["id", "meta", "password"].iter().any(|s| k.eq_ignore_ascii_case(s)));
    if let Some(Value::Object(ent)) = key_of(attributes, ENTERPRISE_SCHEMA).and_then(|k| attributes.get_mut(&k)) {
        if let Some(k) = key_of(ent, "manager") {
            if let Some(Value::String(v)) = ent.get(&k).cloned() {
                ent.insert(k, json!({"value": v}));
            }
        }
    }
}

/// The client's attributes after a PATCH: what the operations changed between the resource as
/// read (`before`) and as patched (`after`), applied to what the client had written (`written`).
/// Values the PATCH left alone stay as the client wrote them (`"True"` stays a string, a member
/// the server adds stays out), so a PATCH that changes nothing writes nothing.
pub fn patched_attributes(written: &Map<String, Value>, before: &Value, after: &Value) -> Map<String, Value> {
    fn walk(
        written: &Map<String, Value>,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, now) in after {
            let was = key_of(before, k).and_then(|b| before.get(&b));
            let mine = key_of(written, k).and_then(|w| written.get(&w).map(|v| (w, v)));
            match (mine, was) {
                (Some((wk, Value::Object(w))), Some(Value::Object(b))) if now.is_object() => {
                    let inner = walk(w, b, now.as_object().unwrap_or(&Map::new()));
                    out.insert(wk, Value::Object(inner));
                }
                (Some((wk, w)), Some(b)) if b == now => {
                    out.insert(wk, w.clone());
                }
                (_, Some(b)) if b == now => {}
                _ => {
                    out.insert(k.clone(), now.clone());
                }
            }
        }
        out
    }
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else { return written.clone() };
    let mut out = walk(written, b, a);
    normalize(&mut out);
    match key_of(written, "schemas") {
        Some(k) => {
            out.retain(|o, _| !o.eq_ignore_ascii_case("schemas"));
            out.insert(k.clone(), written[&k].clone());
        }
        None => {
            out.retain(|o, _| !o.eq_ignore_ascii_case("schemas"));
        }
    }
    out
}

/// The user as the platform holds it, in SCIM's shape.
fn platform_resource(u: &User, base: &str) -> Value {
    let mut ours = Map::new();
    if !u.approvers.is_empty() {
        ours.insert("approvers".into(), u.approvers.iter().map(|a| json!(a.email.as_str())).collect());
    }
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
        "externalId": u.external_id.clone().or_else(|| u.okta_id.as_ref().map(|o| o.as_str().to_owned())),
        "userName": u.user_name(),
        "displayName": formatted,
        "title": opt(&u.job_title),
        "preferredLanguage": opt(&u.primary_language),
        "active": u.status == UserStatus::Active,
        "emails": [{"value": u.email.as_str(), "type": "work", "primary": true}],
        "addresses": u.primary_location.as_ref().map(|l| json!([{"type": "work", "locality": l, "primary": true}])),
        "photos": u.avatar_url.as_ref().map(|p| json!([{"type": "photo", "value": p}])),
        "name": {"givenName": u.first_name, "familyName": u.last_name, "formatted": formatted, "honorificPrefix": opt(&u.title)},
        "userType": Value::Null,
        ENTERPRISE_SCHEMA: {
            "department": opt(&u.primary_team),
            "manager": manager_value(u).map(|m| json!({"value": m})),
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
        for nested in [ENTERPRISE_SCHEMA, "name"] {
            if let Some(Value::Object(inner)) = map.get_mut(nested) {
                inner.retain(|_, v| !v.is_null());
            }
        }
    }
    resource
}

/// The manager SCIM shows: the user, or the `externalId` a client named that is still pending.
fn manager_value(u: &User) -> Option<String> {
    if let Some(m) = &u.manager_id {
        return Some(m.as_str().to_owned());
    }
    match u.pending_manager.as_deref().and_then(ManagerRef::from_key) {
        Some(ManagerRef::External(x)) => Some(x),
        Some(ManagerRef::Id(id)) => Some(id.as_str().to_owned()),
        _ => None,
    }
}

/// What a SCIM User body (POST, PUT, or a user after PATCH) asks us to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUser {
    /// The client's attributes as sent, less `id`, `meta` and `password`.
    pub attributes: Map<String, Value>,
    pub email: Email,
    /// The userName when it is not the email.
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    /// `None` when the body leaves `active` out: the user keeps their state (a profile push
    /// never changes it); a new user is active.
    pub active: Option<bool>,
    pub mapped: Mapped,
    pub approvers: Vec<Email>,
}

/// Longest `externalId` kept (it is a key).
pub const MAX_EXTERNAL_ID: usize = 256;

impl ScimUser {
    /// `u` as this body would make it (the mapped fields, identity and lifecycle), for comparing
    /// what the client wrote with what the platform holds now.
    pub fn view_of(&self, u: &User) -> User {
        let mut w = u.clone();
        self.mapped.apply_to(&mut w);
        w.user_name = self.user_name.clone();
        w.external_id = self.external_id.clone();
        if let Some(active) = self.active {
            w.status = if active { UserStatus::Active } else { UserStatus::Deactivated };
        }
        w.approvers =
            self.approvers.iter().map(|e| crate::domain::user::Approver { email: e.clone(), user_id: None }).collect();
        w
    }
}

fn text(
    v: Option<&Value>,
    max: usize,
    field: &str,
    warnings: &mut Vec<FieldWarning>,
) -> Result<Field<String>, ScimInvalid> {
    match v {
        None | Some(Value::Null) => Ok(Field::Clear),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Field::Clear),
        Some(Value::String(s)) if s.chars().count() > max => {
            warnings.push(FieldWarning { field: field.into(), message: format!("longer than {max} characters") });
            Ok(Field::Keep)
        }
        Some(Value::String(s)) => Ok(Field::Set(s.trim().to_owned())),
        Some(_) => Err(ScimInvalid::new("invalidValue", format!("{field} must be a string"))),
    }
}

/// A boolean, or Entra's `"True"`/`"False"` strings.
fn boolean(v: &Value, what: &str) -> Result<bool, ScimInvalid> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimInvalid::new("invalidValue", format!("{what} must be true or false"))),
    }
}

/// The entry of a multi-valued attribute to read: the primary one, else the first.
fn primary(v: Option<&Value>) -> Option<&Value> {
    let items = v?.as_array()?;
    items
        .iter()
        .find(|i| member(i, "primary").is_some_and(|p| boolean(p, "primary").unwrap_or(false)))
        .or(items.first())
}

/// Reads a SCIM User into what we store (docs/behaviour/field-mapping.md, docs/behaviour/scim.md). `userName` is the user's sign-in email;
/// a value that fails validation skips that field with a warning, as for Okta's profile.
pub fn from_resource(r: &Value) -> Result<ScimUser, ScimInvalid> {
    if !r.is_object() {
        return Err(ScimInvalid::new("invalidSyntax", "the body must be a JSON object"));
    }
    let user_name = match member(r, "userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.as_str(),
        _ => return Err(ScimInvalid::new("invalidValue", "userName is required")),
    };
    if user_name.chars().count() > MAX_EXTERNAL_ID {
        return Err(ScimInvalid::new("invalidValue", format!("userName is longer than {MAX_EXTERNAL_ID} characters")));
    }
    // The learning platform's email: the work (or primary) email, else a userName that is one.
    let listed = member(r, "emails").and_then(Value::as_array).and_then(|items| {
        let is =
            |i: &&Value, k: &str, v: &Value| member(i, k).is_some_and(|x| x == v || boolean(x, k).ok() == v.as_bool());
        items
            .iter()
            .find(|i| is(i, "type", &json!("work")))
            .or_else(|| items.iter().find(|i| is(i, "primary", &json!(true))))
            .or(items.first())
            .and_then(|i| member(i, "value"))
            .and_then(Value::as_str)
    });
    let email = match (listed.map(Email::parse), Email::parse(user_name)) {
        (Some(Ok(e)), _) | (None, Ok(e)) => e,
        (Some(Err(_)), _) => return Err(ScimInvalid::new("invalidValue", "emails[].value is not an email address")),
        (None, Err(_)) => {
            return Err(ScimInvalid::new(
                "invalidValue",
                "a user needs an email address: map one to emails[type eq \"work\"].value (Okta: the \
                 app's attribute mappings, Email; Entra ID: Attribute mapping, mail or userPrincipalName → \
                 emails[type eq \"work\"].value), or make userName an email address",
            ))
        }
    };
    // Kept exactly as sent, whenever it is not the email as stored (uniqueness and filters
    // still compare case-insensitively).
    let user_name = (user_name != email.as_str()).then(|| user_name.to_owned());
    let mut attributes = r.as_object().cloned().unwrap_or_default();
    normalize(&mut attributes);
    let size = serde_json::to_vec(&attributes).map(|b| b.len()).unwrap_or(usize::MAX);
    if size > crate::domain::user::MAX_SCIM_ATTRIBUTES_BYTES {
        return Err(ScimInvalid::new(
            "invalidValue",
            format!(
                "the user's attributes take {size} bytes; at most {} are stored per user",
                crate::domain::user::MAX_SCIM_ATTRIBUTES_BYTES
            ),
        ));
    }
    let external_id = match member(r, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) if s.chars().count() > MAX_EXTERNAL_ID => {
            return Err(ScimInvalid::new(
                "invalidValue",
                format!("externalId is longer than {MAX_EXTERNAL_ID} characters"),
            ))
        }
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(_) => return Err(ScimInvalid::new("invalidValue", "externalId must be a string")),
    };
    let active = match member(r, "active") {
        None | Some(Value::Null) => None,
        Some(v) => Some(boolean(v, "active")?),
    };
    let mut warnings = Vec::new();
    let name = member(r, "name");
    let sub = |k: &str| name.and_then(|n| member(n, k));
    let first_name = text(sub("givenName"), 100, "first_name", &mut warnings)?;
    let last_name = text(sub("familyName"), 100, "last_name", &mut warnings)?;
    let title = text(sub("honorificPrefix"), 50, "title", &mut warnings)?;
    let job_title = text(member(r, "title"), 200, "job_title", &mut warnings)?;
    let language = member(r, "preferredLanguage").filter(|v| !v.is_null()).or(member(r, "locale"));
    let primary_language = match text(language, 35, "primary_language", &mut warnings)? {
        Field::Set(raw) => match normalize_language_tag(&raw) {
            Some(tag) => Field::Set(tag),
            None => {
                warnings.push(FieldWarning { field: "primary_language".into(), message: "not a language tag".into() });
                Field::Keep
            }
        },
        other => other,
    };
    let address = primary(member(r, "addresses"));
    let location = address.and_then(|a| member(a, "locality").filter(|v| !v.is_null()).or(member(a, "country")));
    let primary_location = text(location, 128, "primary_location", &mut warnings)?;
    let avatar_url = match primary(member(r, "photos")).and_then(|p| member(p, "value")) {
        None | Some(Value::Null) => Field::Clear,
        Some(Value::String(u)) if crate::domain::mapping::is_web_url(u) => Field::Set(u.clone()),
        Some(_) => {
            warnings.push(FieldWarning { field: "avatar_url".into(), message: "not an http(s) URL".into() });
            Field::Keep
        }
    };
    let enterprise = member(r, ENTERPRISE_SCHEMA);
    let ent = |k: &str| enterprise.and_then(|e| member(e, k));
    let department = text(ent("department"), 200, "primary_team", &mut warnings)?;
    let manager = match ent("manager") {
        None | Some(Value::Null) => Field::Clear,
        Some(m) => match member(m, "value").unwrap_or(m) {
            Value::String(v) if v.trim().is_empty() => Field::Clear,
            Value::String(v) if v.chars().count() > MAX_EXTERNAL_ID => {
                warnings.push(FieldWarning { field: "manager".into(), message: "manager.value is too long".into() });
                Field::Keep
            }
            Value::String(v) => Field::Set(match UserId::parse(v.trim()) {
                Ok(id) => ManagerRef::Id(id),
                Err(_) => ManagerRef::External(v.trim().to_owned()),
            }),
            Value::Null => Field::Clear,
            _ => return Err(ScimInvalid::new("invalidValue", "manager.value must be a string")),
        },
    };
    let ours = member(r, OUR_SCHEMA);
    let our = |k: &str| ours.and_then(|o| member(o, k));
    let mut custom_fields = BTreeMap::new();
    let region = match our("contentRegion") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(c.as_str()),
        Some(_) => return Err(ScimInvalid::new("invalidValue", "contentRegion must be a string")),
    };
    custom_fields.insert(CONTENT_REGION_FIELD.to_owned(), Field::Set(content_region(region).to_owned()));
    for (scim, field) in CUSTOM_FIELDS {
        custom_fields.insert(field.to_owned(), text(our(scim), 1024, field, &mut warnings)?);
    }
    let approvers = match our("approvers") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(list)) => {
            let mut out: Vec<Email> = Vec::new();
            for a in list {
                match member(a, "value").unwrap_or(a).as_str().map(Email::parse) {
                    Some(Ok(e)) if !out.iter().any(|o| o.same_address(&e)) => out.push(e),
                    Some(Ok(_)) => {}
                    _ => warnings.push(FieldWarning {
                        field: "approvers".into(),
                        message: "an approver is not an email address".into(),
                    }),
                }
            }
            out
        }
        Some(_) => return Err(ScimInvalid::new("invalidValue", "approvers must be an array of email addresses")),
    };
    let mapped = Mapped {
        email: Some(email.clone()),
        first_name,
        last_name,
        title,
        job_title,
        avatar_url,
        primary_language,
        primary_location,
        department,
        manager,
        custom_fields,
        warnings,
    };
    Ok(ScimUser { attributes, email, user_name, external_id, active, mapped, approvers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scim::filter::parse;
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

    /// What provisioning stores for a SCIM body, minus the stores: the mapped fields, identity,
    /// lifecycle, and the client's attributes.
    fn provisioned(sent: &Value) -> User {
        let desired = from_resource(sent).unwrap();
        let blank = User::new(
            UserId::from_random([9; 16]),
            desired.email.clone(),
            String::new(),
            String::new(),
            "2026-11-25T10:00:00Z".parse().unwrap(),
        );
        let mut u = desired.view_of(&blank);
        u.scim_attributes = Some(desired.attributes.clone());
        u
    }

    mod round_trip {
        use proptest::prelude::*;
        use serde_json::{json, Value};

        use super::super::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                "[A-Za-z][A-Za-z .'-]{0,20}",
                " [A-Za-z]{1,8} ",
                "\\PC{1,12}",
                Just(String::new()),
                "[a-z]{120,130}",
            ]
        }

        fn user() -> impl Strategy<Value = Value> {
            (
                ("[A-Za-z]{1,8}", "[A-Za-z]{1,8}", "(example|Example|EXAMPLE)"),
                (text(), text(), text(), text(), text()),
                (text(), text(), text(), prop_oneof![Just("en_US"), Just("EN-gb"), Just("fr"), Just("xx-not a tag")]),
                (text(), text(), text(), "[0-9]{3}-[0-9]{4}"),
                (text(), text(), text(), proptest::bool::ANY, proptest::bool::ANY),
            )
                .prop_map(|((local, other, domain), (given, family, middle, prefix, suffix), (display, nick, title, lang), (street, city, region, phone), (dept, cost, custom, active, with_email))| {
                    let user_name = format!("{local}.{other}@{domain}.COM");
                    let mut u = json!({
                        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA, OUR_SCHEMA],
                        "userName": user_name,
                        "name": {"givenName": given, "familyName": family, "middleName": middle,
                                 "honorificPrefix": prefix, "honorificSuffix": suffix},
                        "displayName": display, "nickName": nick, "title": title, "preferredLanguage": lang,
                        "active": active,
                        "phoneNumbers": [{"value": phone, "type": "work"}],
                        "addresses": [{"type": "work", "streetAddress": street, "locality": city, "region": region,
                                       "country": "GB", "primary": true}, {"type": "home", "locality": "Elsewhere"}],
                        ENTERPRISE_SCHEMA: {"department": dept, "costCenter": cost},
                        OUR_SCHEMA: {"customField1": custom, "contentRegion": "DE"},
                        "x-unknown": {"kept": [1, 2, 3]},
                    });
                    if with_email {
                        u["emails"] = json!([{"value": format!("{}@example.com", local.to_lowercase()), "type": "work", "primary": true}]);
                    }
                    u
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

            /// PUT then GET returns the sent resource, modulo the server's own fields.
            #[test]
            fn what_is_written_is_read_back(sent in user()) {
                let u = super::provisioned(&sent);
                let read = user_resource(&u, "https://t.example.com/scim/v2");
                for (k, v) in sent.as_object().unwrap() {
                    match k.as_str() {
                        "schemas" => {
                            for s in v.as_array().unwrap() {
                                prop_assert!(read["schemas"].as_array().unwrap().contains(s));
                            }
                        }
                        "active" => prop_assert_eq!(&read["active"], v),
                        // Complex attributes: every sub-attribute sent (the server may add some).
                        _ if v.is_object() => {
                            for (sub, sv) in v.as_object().unwrap() {
                                prop_assert_eq!(&read[k][sub], sv, "{}.{} came back as {}", k, sub, read[k][sub]);
                            }
                        }
                        _ => prop_assert_eq!(&read[k], v, "{} came back as {}", k, read[k]),
                    }
                }
                prop_assert!(read["id"].is_string() && read["meta"].is_object());
                // A PATCH that changes nothing keeps the attributes exactly as written.
                let written = u.scim_attributes.clone().unwrap();
                prop_assert_eq!(patched_attributes(&written, &read, &read), written);
                // And reading it back as a body stores the same thing (a PUT of a GET).
                let again = from_resource(&read).unwrap();
                prop_assert_eq!(again.user_name, from_resource(&sent).unwrap().user_name);
            }
        }
    }

    #[test]
    fn the_platform_wins_where_it_moved_away_from_what_the_client_wrote() {
        let sent = json!({"userName": "Ann@Example.com", "name": {"givenName": " Ann ", "familyName": "Lee"},
            "nickName": "Annie", "title": "Guide", "emails": [{"value": "ann@example.com", "type": "work"}]});
        let mut u = provisioned(&sent);
        let r = user_resource(&u, "https://t.example.com/scim/v2");
        assert_eq!((r["userName"].as_str(), r["name"]["givenName"].as_str()), (Some("Ann@Example.com"), Some(" Ann ")));
        // Single sign-on (or an admin) changed the first name and the email since.
        u.first_name = "Annabel".into();
        u.email = Email::parse("annabel@example.com").unwrap();
        let r = user_resource(&u, "https://t.example.com/scim/v2");
        assert_eq!(r["name"]["givenName"], "Annabel", "the platform's value, so the client sees the difference");
        assert_eq!(r["emails"][0]["value"], "annabel@example.com");
        assert_eq!(
            (r["nickName"].as_str(), r["title"].as_str()),
            (Some("Annie"), Some("Guide")),
            "the rest as written"
        );
    }
}
