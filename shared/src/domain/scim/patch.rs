//! SCIM PATCH (RFC 7644 §3.5.2): a `PatchOp` request parsed into operations, and applied to a
//! resource's JSON. Every client dialect lands here: Okta's `replace` without `path` and with the
//! attributes inside `value`, Entra ID's capitalised `Add`/`Replace`/`Remove` and `"True"`/`"False"`
//! strings (the mapping accepts those), URN-qualified names, value-filter paths with a trailing
//! sub-attribute, and `remove` of `members[value eq "x"]` without a `value`.
//!
//! Users are patched as JSON and then stored through the same mapping as a PUT. Group members are
//! never patched as a list: [`member_changes`] turns the operations into the named additions and
//! removals, so a 10,000-member group costs what the request names.
use serde_json::{Map, Value};

use super::filter::{is_core_schema, member, parse_patch_path, AttrPath, CompareOp, Filter, PatchPath};
use super::schemas::{ScimInvalid, PATCH_SCHEMA};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    /// The raw path, for messages.
    pub raw_path: Option<String>,
    pub value: Option<Value>,
}

/// Why a PATCH was refused: the RFC 7644 `scimType` and a message that names the operation.
pub type PatchError = ScimInvalid;

fn fail<T>(scim_type: &'static str, detail: impl Into<String>) -> Result<T, PatchError> {
    Err(PatchError { scim_type, detail: detail.into() })
}

/// Most operations one request may carry (Okta sends at most a few hundred member changes).
pub const MAX_OPERATIONS: usize = 1000;

/// Parses a `PatchOp` body. `Operations` may be empty (a no-op, as Entra sends on some updates).
pub fn parse_request(body: &Value) -> Result<Vec<Operation>, PatchError> {
    let Some(obj) = body.as_object() else { return fail("invalidSyntax", "the PATCH body must be a JSON object") };
    if let Some(schemas) = member(body, "schemas") {
        let ok = schemas.as_array().is_some_and(|a| a.iter().any(|s| s.as_str() == Some(PATCH_SCHEMA)));
        if !ok {
            return fail("invalidSyntax", format!("schemas must contain {PATCH_SCHEMA}"));
        }
    }
    let ops = match obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("Operations")).map(|(_, v)| v) {
        Some(Value::Array(ops)) => ops,
        Some(_) => return fail("invalidSyntax", "Operations must be an array"),
        None => return fail("invalidSyntax", "the PATCH body has no Operations"),
    };
    if ops.len() > MAX_OPERATIONS {
        return fail("tooMany", format!("at most {MAX_OPERATIONS} operations per request"));
    }
    ops.iter().enumerate().map(|(i, op)| parse_operation(i, op)).collect()
}

fn parse_operation(i: usize, op: &Value) -> Result<Operation, PatchError> {
    let kind = match member(op, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("add") => OpKind::Add,
        Some("replace") => OpKind::Replace,
        Some("remove") => OpKind::Remove,
        Some(other) => return fail("invalidSyntax", format!("operation {i}: unknown op {other:?}")),
        None => return fail("invalidSyntax", format!("operation {i}: op is missing")),
    };
    let raw_path = match member(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return fail("invalidPath", format!("operation {i}: path must be a string")),
    };
    let path = match &raw_path {
        Some(p) => Some(
            parse_patch_path(p)
                .map_err(|e| PatchError { scim_type: "invalidPath", detail: format!("operation {i}: {e}") })?,
        ),
        None => None,
    };
    let value = member(op, "value").filter(|v| !v.is_null()).cloned();
    match (kind, &path, &value) {
        (OpKind::Remove, None, _) => fail("noTarget", format!("operation {i}: remove needs a path")),
        (OpKind::Add | OpKind::Replace, _, None) => fail("invalidValue", format!("operation {i}: value is missing")),
        (OpKind::Add | OpKind::Replace, None, Some(v)) if !v.is_object() => {
            fail("invalidValue", format!("operation {i}: without a path, value must be an object"))
        }
        _ => Ok(Operation { op: kind, path, raw_path, value }),
    }
}

/// Attributes a client may not change; a PATCH naming them with another value is refused.
const READ_ONLY: [&str; 2] = ["id", "meta"];

/// Applies the operations, in order, to a resource's JSON. `id` may be repeated with its own
/// value (Okta's group rename does); `schemas` and `meta` in a value are ignored.
pub fn apply(resource: &mut Value, ops: &[Operation]) -> Result<(), PatchError> {
    for op in ops {
        match &op.path {
            None => {
                let Some(Value::Object(values)) = &op.value else { unreachable!("checked when parsed") };
                for (name, value) in values {
                    apply_named(resource, op.op, name, value)?;
                }
            }
            Some(path) => apply_path(resource, op, path)?,
        }
    }
    Ok(())
}

/// One `name: value` of a path-less add/replace: a core attribute, an extension's object, or a
/// URN-qualified attribute (`urn:…:enterprise:2.0:User:department`, as Entra sends).
fn apply_named(resource: &mut Value, op: OpKind, name: &str, value: &Value) -> Result<(), PatchError> {
    if name.eq_ignore_ascii_case("schemas") || name.eq_ignore_ascii_case("meta") {
        return Ok(());
    }
    if name.eq_ignore_ascii_case("id") {
        return check_id(resource, value);
    }
    // `name.givenName` as a key of a path-less value (some clients send sub-attributes so).
    if name.contains('.') && !name.to_ascii_lowercase().starts_with("urn:") {
        let path = super::filter::parse_attr_path(name)
            .ok_or_else(|| PatchError { scim_type: "invalidPath", detail: format!("{name:?} is not an attribute") })?;
        let target = PatchPath { attr: path, filter: None, sub: None };
        let single = Operation { op, path: None, raw_path: None, value: Some(value.clone()) };
        return apply_path(resource, &single, &target);
    }
    if name.to_ascii_lowercase().starts_with("urn:") {
        if let (Value::Object(inner), false) = (value, is_attribute_urn(name)) {
            let ext = object_mut(child_object(resource, name));
            for (k, v) in inner {
                set_attr(ext, op, k, v);
            }
            return Ok(());
        }
        let path = super::filter::parse_attr_path(name)
            .ok_or_else(|| PatchError { scim_type: "invalidPath", detail: format!("{name:?} is not an attribute") })?;
        let target = PatchPath { attr: path, filter: None, sub: None };
        let single = Operation { op, path: None, raw_path: None, value: Some(value.clone()) };
        return apply_path(resource, &single, &target);
    }
    set_attr(object_mut(resource), op, name, value);
    Ok(())
}

/// Is this URN an attribute (`urn:…:User:department`) rather than a schema (`urn:…:User`)?
fn is_attribute_urn(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !(lower.ends_with(":user") || lower.ends_with(":group"))
}

fn check_id(resource: &Value, value: &Value) -> Result<(), PatchError> {
    if member(resource, "id") == Some(value) {
        Ok(())
    } else {
        fail("mutability", "id is read-only")
    }
}

#[allow(clippy::expect_used, reason = "the value was made an object on the line before")]
fn object_mut(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().expect("made an object")
}

/// The key an object already uses for `name` (case-insensitively), or `name` itself.
fn key_for(obj: &Map<String, Value>, name: &str) -> String {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned())
}

fn child_object<'v>(parent: &'v mut Value, name: &str) -> &'v mut Value {
    let obj = object_mut(parent);
    let key = key_for(obj, name);
    let child = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    child
}

/// Sets one attribute: `add` appends to multi-valued attributes and merges complex ones; `replace`
/// replaces multi-valued attributes and merges complex ones (RFC 7644 §3.5.2.1, §3.5.2.3).
fn set_attr(obj: &mut Map<String, Value>, op: OpKind, name: &str, value: &Value) {
    let key = key_for(obj, name);
    match (obj.get_mut(&key), value) {
        (Some(Value::Array(existing)), Value::Array(new)) if op == OpKind::Add => {
            for v in new {
                if !existing.contains(v) {
                    existing.push(v.clone());
                }
            }
        }
        (Some(Value::Array(existing)), v) if op == OpKind::Add && !v.is_array() => {
            if !existing.contains(v) {
                existing.push(v.clone());
            }
        }
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                let k2 = key_for(existing, k);
                existing.insert(k2, v.clone());
            }
        }
        _ => {
            obj.insert(key, value.clone());
        }
    }
}

/// The object a path's attribute lives in: the resource, or an extension's object.
fn container<'v>(resource: &'v mut Value, attr: &AttrPath) -> &'v mut Value {
    match &attr.uri {
        Some(uri) if !is_core_schema(uri) => child_object(resource, uri),
        _ => resource,
    }
}

#[allow(clippy::expect_used, reason = "a value is required of every non-remove operation when the patch is parsed")]
fn apply_path(resource: &mut Value, op: &Operation, path: &PatchPath) -> Result<(), PatchError> {
    let attr = &path.attr;
    if attr.uri.is_none() && READ_ONLY.contains(&attr.attr.as_str()) && attr.sub.is_none() {
        return match (&op.op, &op.value) {
            (OpKind::Remove, _) | (_, None) => fail("mutability", format!("{} is read-only", attr.attr)),
            (_, Some(v)) if attr.attr == "id" => check_id(resource, v),
            _ => Ok(()),
        };
    }
    let parent = container(resource, attr);
    match (&path.filter, &attr.sub) {
        (None, None) => {
            let obj = object_mut(parent);
            match op.op {
                OpKind::Remove => remove_attr(obj, &attr.attr, op.value.as_ref()),
                kind => set_attr(obj, kind, &attr.attr, op.value.as_ref().expect("checked when parsed")),
            }
        }
        (None, Some(sub)) => {
            let child = child_object(parent, &attr.attr);
            let obj = object_mut(child);
            match op.op {
                OpKind::Remove => {
                    let key = key_for(obj, sub);
                    obj.remove(&key);
                }
                kind => set_attr(obj, kind, sub, op.value.as_ref().expect("checked when parsed")),
            }
        }
        (Some(filter), _) => apply_filtered(object_mut(parent), op, &attr.attr, filter, path.sub.as_deref())?,
    }
    Ok(())
}

/// `remove` of an attribute; with a `value` on a multi-valued attribute, only the listed values
/// go (Entra removes members as `{"path":"members","value":[{"value":"id"}]}`).
fn remove_attr(obj: &mut Map<String, Value>, name: &str, value: Option<&Value>) {
    let key = key_for(obj, name);
    match (obj.get_mut(&key), value) {
        (Some(Value::Array(items)), Some(v)) => {
            let gone: Vec<&Value> = match v {
                Value::Array(list) => list.iter().collect(),
                one => vec![one],
            };
            let id_of = |x: &Value| member(x, "value").cloned().unwrap_or_else(|| x.clone());
            let gone: Vec<Value> = gone.into_iter().map(id_of).collect();
            items.retain(|item| !gone.contains(&id_of(item)));
        }
        _ => {
            obj.remove(&key);
        }
    }
}

#[allow(clippy::expect_used, reason = "a value is required of every non-remove operation when the patch is parsed")]
fn apply_filtered(
    obj: &mut Map<String, Value>,
    op: &Operation,
    name: &str,
    filter: &Filter,
    sub: Option<&str>,
) -> Result<(), PatchError> {
    let key = key_for(obj, name);
    let items = match obj.get_mut(&key) {
        Some(Value::Array(items)) => items,
        Some(_) => return fail("invalidPath", format!("{name} is not multi-valued")),
        None if op.op == OpKind::Remove => return Ok(()),
        None => {
            obj.insert(key.clone(), Value::Array(vec![]));
            obj.get_mut(&key).and_then(Value::as_array_mut).expect("just inserted")
        }
    };
    let value = op.value.as_ref();
    match (op.op, sub) {
        (OpKind::Remove, None) => items.retain(|item| !filter.matches(item)),
        (OpKind::Remove, Some(sub)) => {
            for item in items.iter_mut().filter(|i| filter.matches(i)) {
                if let Value::Object(o) = item {
                    let k = key_for(o, sub);
                    o.remove(&k);
                }
            }
        }
        (kind, sub) => {
            let value = value.expect("checked when parsed");
            let mut matched = false;
            for item in items.iter_mut().filter(|i| filter.matches(i)) {
                matched = true;
                match sub {
                    Some(sub) => set_attr(object_mut(item), kind, sub, value),
                    None => match value {
                        Value::Object(_) => set_attr_all(item, value),
                        other => *item = other.clone(),
                    },
                }
            }
            if !matched {
                // Entra adds `emails[type eq "work"].value` to a user without a work email: make
                // the element the filter describes, then set the value on it.
                let mut fresh = Value::Object(equalities(filter)?);
                match sub {
                    Some(sub) => set_attr(object_mut(&mut fresh), OpKind::Replace, sub, value),
                    None => set_attr_all(&mut fresh, value),
                }
                items.push(fresh);
            }
        }
    }
    Ok(())
}

fn set_attr_all(item: &mut Value, value: &Value) {
    if let Value::Object(new) = value {
        let obj = object_mut(item);
        for (k, v) in new {
            set_attr(obj, OpKind::Replace, k, v);
        }
    }
}

/// The `attr eq value` pairs of a filter made only of them (joined by `and`).
fn equalities(filter: &Filter) -> Result<Map<String, Value>, PatchError> {
    let mut out = Map::new();
    fn walk(f: &Filter, out: &mut Map<String, Value>) -> bool {
        match f {
            Filter::Compare(p, CompareOp::Eq, v) if p.sub.is_none() && p.uri.is_none() => {
                out.insert(p.attr.clone(), v.clone());
                true
            }
            Filter::And(a, b) => walk(a, out) && walk(b, out),
            _ => false,
        }
    }
    if walk(filter, &mut out) {
        Ok(out)
    } else {
        fail("noTarget", "no value matches the path's filter")
    }
}

/// What a group PATCH does: a rename, an `externalId`, and the named member changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupPatch {
    pub display_name: Option<String>,
    pub external_id: Option<Option<String>>,
    /// `replace` of `members`: the whole list (the only case that reads the current members).
    pub replace_members: Option<Vec<String>>,
    /// Changes after any replacement, in request order: `(member value, is a member)`.
    pub member_changes: Vec<(String, bool)>,
}

fn member_values(value: &Value) -> Result<Vec<String>, PatchError> {
    let list: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    list.into_iter()
        .map(|m| match member(m, "value").unwrap_or(m) {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            _ => fail("invalidValue", "each member needs a string value"),
        })
        .collect()
}

/// The member values a `members[...]` filter names: `value eq "x"`, joined by `or`.
fn filtered_members(filter: &Filter) -> Result<Vec<String>, PatchError> {
    match filter {
        Filter::Compare(p, CompareOp::Eq, Value::String(v)) if p.attr == "value" && p.sub.is_none() => {
            Ok(vec![v.clone()])
        }
        Filter::Or(a, b) => {
            let mut all = filtered_members(a)?;
            all.extend(filtered_members(b)?);
            Ok(all)
        }
        _ => fail("invalidFilter", "a members filter must be value eq \"id\" (joined by or)"),
    }
}

fn string_or_null(v: &Value, what: &str) -> Result<Option<String>, PatchError> {
    match v {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Null => Ok(None),
        _ => fail("invalidValue", format!("{what} must be a string")),
    }
}

/// Reads a group PATCH into a [`GroupPatch`] without touching the member list. `id` must be the
/// group's own (Okta repeats it in renames).
#[allow(clippy::expect_used, reason = "a value is required of every non-remove operation when the patch is parsed")]
pub fn member_changes(ops: &[Operation], group_id: &str) -> Result<GroupPatch, PatchError> {
    let mut out = GroupPatch::default();
    let id_ok = |v: &Value| if v.as_str() == Some(group_id) { Ok(()) } else { fail("mutability", "id is read-only") };
    for op in ops {
        let path = match &op.path {
            Some(p) => p,
            None => {
                let Some(Value::Object(values)) = &op.value else { unreachable!("checked when parsed") };
                for (name, v) in values {
                    match name.to_ascii_lowercase().as_str() {
                        "id" => id_ok(v)?,
                        "schemas" | "meta" => {}
                        "displayname" => out.display_name = string_or_null(v, "displayName")?,
                        "externalid" => out.external_id = Some(string_or_null(v, "externalId")?),
                        "members" => group_members(&mut out, op.op, None, Some(v))?,
                        other => return fail("invalidValue", format!("Group has no attribute {other:?}")),
                    }
                }
                continue;
            }
        };
        let core = path.attr.uri.as_deref().is_none_or(is_core_schema);
        match (core, path.attr.attr.as_str(), &path.attr.sub) {
            (true, "members", None) => group_members(&mut out, op.op, path.filter.as_ref(), op.value.as_ref())?,
            (true, "displayname", None) if op.op != OpKind::Remove => {
                out.display_name = string_or_null(op.value.as_ref().expect("checked"), "displayName")?
            }
            (true, "externalid", None) => {
                out.external_id = Some(match op.op {
                    OpKind::Remove => None,
                    _ => string_or_null(op.value.as_ref().expect("checked"), "externalId")?,
                })
            }
            (true, "id", None) if op.op != OpKind::Remove => id_ok(op.value.as_ref().expect("checked"))?,
            _ => {
                return fail(
                    "invalidPath",
                    format!("{} is not a path this Group can change", op.raw_path.as_deref().unwrap_or("?")),
                )
            }
        }
    }
    if out.display_name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return fail("invalidValue", "displayName must not be empty");
    }
    Ok(out)
}

fn group_members(
    out: &mut GroupPatch,
    op: OpKind,
    filter: Option<&Filter>,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    match (op, filter, value) {
        (OpKind::Remove, Some(f), _) => {
            out.member_changes.extend(filtered_members(f)?.into_iter().map(|m| (m, false)));
        }
        (OpKind::Remove, None, Some(v)) => {
            out.member_changes.extend(member_values(v)?.into_iter().map(|m| (m, false)));
        }
        (OpKind::Remove, None, None) => {
            out.replace_members = Some(vec![]);
            out.member_changes.clear();
        }
        (OpKind::Add, None, Some(v)) => out.member_changes.extend(member_values(v)?.into_iter().map(|m| (m, true))),
        (OpKind::Replace, None, Some(v)) => {
            out.replace_members = Some(member_values(v)?);
            out.member_changes.clear();
        }
        (_, Some(_), _) => return fail("invalidPath", "add and replace take members without a filter"),
        (_, None, None) => return fail("invalidValue", "value is missing"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn patch(resource: &mut Value, body: Value) -> Result<(), PatchError> {
        apply(resource, &parse_request(&body)?)
    }

    fn ops(list: Value) -> Value {
        json!({"schemas": [PATCH_SCHEMA], "Operations": list})
    }

    fn user() -> Value {
        json!({"id": "usr_1", "userName": "ann@x.co", "active": true, "name": {"givenName": "Ann", "familyName": "Lee"},
               "emails": [{"value": "ann@x.co", "type": "work", "primary": true}],
               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}})
    }

    #[test]
    fn rfc_7644_add_replace_remove() {
        let mut u = user();
        patch(
            &mut u,
            ops(json!([
                {"op": "add", "path": "emails", "value": [{"value": "ann@home.co", "type": "home"}]},
                {"op": "replace", "path": "name.familyName", "value": "Leigh"},
                {"op": "add", "value": {"title": "Engineer", "name": {"honorificPrefix": "Dr"}}},
                {"op": "remove", "path": "emails[type eq \"home\"]"},
            ])),
        )
        .unwrap();
        assert_eq!(u["name"], json!({"givenName": "Ann", "familyName": "Leigh", "honorificPrefix": "Dr"}));
        assert_eq!(u["title"], "Engineer");
        assert_eq!(u["emails"].as_array().unwrap().len(), 1);
        patch(&mut u, ops(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@x.co"}])))
            .unwrap();
        assert_eq!(u["emails"][0]["value"], "a@x.co");
        assert_eq!(u["emails"][0]["primary"], true);
    }

    #[test]
    fn okta_deactivation_and_entra_dialect() {
        let mut u = user();
        patch(&mut u, ops(json!([{"op": "replace", "value": {"active": false}}]))).unwrap();
        assert_eq!(u["active"], false);
        patch(
            &mut u,
            ops(json!([
                {"op": "Replace", "path": "active", "value": "True"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "usr_2"},
                {"op": "Replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Eng"}},
                {"op": "Add", "path": "addresses[type eq \"work\"].country", "value": "DE"},
                {"op": "Remove", "path": "name.givenName"},
            ])),
        )
        .unwrap();
        assert_eq!(u["active"], "True", "the mapping reads string booleans");
        let ent = &u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        assert_eq!(ent["manager"], "usr_2");
        assert_eq!(ent["department"], "Eng");
        assert_eq!(u["addresses"], json!([{"type": "work", "country": "DE"}]));
        assert!(u["name"].get("givenName").is_none());
        assert!(patch(&mut u, ops(json!([]))).is_ok(), "empty Operations is a no-op");
    }

    #[test]
    fn read_only_and_malformed_requests_are_refused_with_their_scim_type() {
        let mut u = user();
        assert!(patch(&mut u, ops(json!([{"op": "replace", "value": {"id": "usr_1", "title": "x"}}]))).is_ok());
        let cases = [
            (json!({"Operations": "x"}), "invalidSyntax"),
            (json!({"schemas": ["urn:wrong"], "Operations": []}), "invalidSyntax"),
            (ops(json!([{"op": "move", "path": "title"}])), "invalidSyntax"),
            (ops(json!([{"op": "remove"}])), "noTarget"),
            (ops(json!([{"op": "add", "path": "title"}])), "invalidValue"),
            (ops(json!([{"op": "replace", "value": "x"}])), "invalidValue"),
            (ops(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])), "invalidPath"),
            (ops(json!([{"op": "replace", "value": {"id": "usr_other"}}])), "mutability"),
            (ops(json!([{"op": "remove", "path": "id"}])), "mutability"),
        ];
        for (body, want) in cases {
            let e = patch(&mut u, body.clone()).unwrap_err();
            assert_eq!(e.scim_type, want, "{body}: {}", e.detail);
        }
    }

    #[test]
    fn group_patches_name_only_the_members_they_change() {
        let body = ops(json!([
            {"op": "replace", "value": {"id": "grp_1", "displayName": "Test SCIMv2"}},
            {"op": "remove", "path": "members[value eq \"usr_a\"]"},
            {"op": "add", "path": "members", "value": [{"value": "usr_b", "display": "b@x.co"}]},
            {"op": "Remove", "path": "members", "value": [{"value": "usr_c"}]},
        ]));
        let p = member_changes(&parse_request(&body).unwrap(), "grp_1").unwrap();
        assert_eq!(p.display_name.as_deref(), Some("Test SCIMv2"));
        assert_eq!(
            p.member_changes,
            [("usr_a".to_owned(), false), ("usr_b".to_owned(), true), ("usr_c".to_owned(), false)]
        );
        assert_eq!(p.replace_members, None);
        let full = ops(json!([{"op": "replace", "path": "members", "value": [{"value": "usr_x"}]}]));
        let p = member_changes(&parse_request(&full).unwrap(), "grp_1").unwrap();
        assert_eq!(p.replace_members, Some(vec!["usr_x".to_owned()]));
        let bad = ops(json!([{"op": "replace", "value": {"id": "grp_2"}}]));
        assert_eq!(member_changes(&parse_request(&bad).unwrap(), "grp_1").unwrap_err().scim_type, "mutability");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn no_patch_body_panics(op in "[a-zA-Z]{0,8}", path in "\\PC{0,40}", value in "\\PC{0,20}") {
            let body = ops(json!([{"op": op, "path": path, "value": value}]));
            if let Ok(parsed) = parse_request(&body) {
                let mut u = user();
                let _ = apply(&mut u, &parsed);
                let _ = member_changes(&parsed, "grp_1");
            }
        }
    }
}
