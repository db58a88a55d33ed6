//! A SCIM list request (RFC 7644 §3.4.2): `filter`, `startIndex`, `count`, `sortBy`, `sortOrder`,
//! `attributes`, `excludedAttributes`, read once from the query string; and the pure steps of
//! answering one: sorting, paging and projecting resources.
use std::cmp::Ordering;

use serde_json::{json, Map, Value};

use super::filter::{is_core_schema, member, parse, parse_attr_path, AttrPath, Filter};
use super::schemas::{ScimInvalid, LIST_SCHEMA, MAX_RESULTS};

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<Filter>,
    /// 1-based (values below 1 count as 1, RFC 7644 §3.4.2.4).
    pub start_index: u64,
    /// At most [`MAX_RESULTS`]; `0` asks only for `totalResults`.
    pub count: u64,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    pub projection: Projection,
}

/// Which attributes to return.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

fn paths(raw: &str, what: &str) -> Result<Vec<AttrPath>, ScimInvalid> {
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            parse_attr_path(p)
                .ok_or_else(|| ScimInvalid::new("invalidValue", format!("{what}: {p:?} is not an attribute")))
        })
        .collect()
}

impl Projection {
    pub fn from_query(pairs: &[(String, String)]) -> Result<Self, ScimInvalid> {
        let mut p = Self::default();
        for (k, v) in pairs {
            if k.eq_ignore_ascii_case("attributes") {
                p.attributes.extend(paths(v, "attributes")?);
            } else if k.eq_ignore_ascii_case("excludedAttributes") {
                p.excluded.extend(paths(v, "excludedAttributes")?);
            }
        }
        Ok(p)
    }

    /// Does the answer need `attr` (lowercase) at all? (`members` of a big group costs reads.)
    pub fn wants(&self, attr: &str) -> bool {
        if self.attributes.iter().any(|a| a.attr == attr) {
            return true;
        }
        self.attributes.is_empty() && !self.excluded.iter().any(|a| a.attr == attr && a.sub.is_none())
    }

    /// Was `attr` asked for by name?
    pub fn names(&self, attr: &str) -> bool {
        self.attributes.iter().any(|a| a.attr == attr)
    }

    /// Applies `attributes` / `excludedAttributes`; `id` and `schemas` are always returned.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(full) = resource else { return resource };
        let mut out = if self.attributes.is_empty() {
            full.clone()
        } else {
            let mut out = Map::new();
            for a in &self.attributes {
                copy_path(&full, &mut out, a);
            }
            out
        };
        for a in &self.excluded {
            remove_path(&mut out, a);
        }
        for always in ["schemas", "id"] {
            if let Some(v) = full.get(always) {
                out.insert(always.to_owned(), v.clone());
            }
        }
        Value::Object(out)
    }
}

fn key_in(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The object a path's attribute lives in (core, or an extension's key), by name.
fn scope_key(obj: &Map<String, Value>, a: &AttrPath) -> Option<Option<String>> {
    match &a.uri {
        Some(uri) if !is_core_schema(uri) => key_in(obj, uri).map(Some),
        _ => Some(None),
    }
}

#[allow(clippy::expect_used, reason = "the entry was made an object on the line before")]
fn copy_path(from: &Map<String, Value>, to: &mut Map<String, Value>, a: &AttrPath) {
    let Some(scope) = scope_key(from, a) else { return };
    let (src, dst): (&Map<String, Value>, &mut Map<String, Value>) = match &scope {
        Some(ext) => match from.get(ext) {
            Some(Value::Object(o)) => {
                let d = to.entry(ext.clone()).or_insert_with(|| json!({}));
                (o, d.as_object_mut().expect("made an object"))
            }
            _ => return,
        },
        None => (from, to),
    };
    let Some(key) = key_in(src, &a.attr) else { return };
    match (&a.sub, &src[&key]) {
        (None, v) => {
            dst.insert(key, v.clone());
        }
        (Some(sub), Value::Object(o)) => {
            if let Some(k) = key_in(o, sub) {
                let d = dst.entry(key).or_insert_with(|| json!({}));
                if let Some(d) = d.as_object_mut() {
                    d.insert(k.clone(), o[&k].clone());
                }
            }
        }
        (Some(sub), Value::Array(items)) => {
            let picked: Vec<Value> = items
                .iter()
                .filter_map(|i| {
                    let o = i.as_object()?;
                    let k = key_in(o, sub)?;
                    Some(json!({ k.clone(): o[&k].clone() }))
                })
                .collect();
            dst.insert(key, Value::Array(picked));
        }
        _ => {}
    }
}

fn remove_path(obj: &mut Map<String, Value>, a: &AttrPath) {
    let Some(scope) = scope_key(obj, a) else { return };
    let target = match &scope {
        Some(ext) => match obj.get_mut(ext).and_then(Value::as_object_mut) {
            Some(o) => o,
            None => return,
        },
        None => obj,
    };
    let Some(key) = key_in(target, &a.attr) else { return };
    match &a.sub {
        None => {
            target.remove(&key);
        }
        Some(sub) => match target.get_mut(&key) {
            Some(Value::Object(o)) => {
                if let Some(k) = key_in(o, sub) {
                    o.remove(&k);
                }
            }
            Some(Value::Array(items)) => {
                for i in items.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(k) = key_in(i, sub) {
                        i.remove(&k);
                    }
                }
            }
            _ => {}
        },
    }
}

fn number(raw: &str, what: &str) -> Result<i64, ScimInvalid> {
    raw.trim().parse::<i64>().map_err(|_| ScimInvalid::new("invalidValue", format!("{what} must be an integer")))
}

impl ListParams {
    /// Reads the query string's pairs (names case-insensitive, as clients vary).
    pub fn from_query(pairs: &[(String, String)]) -> Result<Self, ScimInvalid> {
        let mut p = Self { start_index: 1, count: MAX_RESULTS, ..Self::default() };
        for (k, v) in pairs {
            match k.to_ascii_lowercase().as_str() {
                "filter" => p.filter = Some(parse(v).map_err(|e| ScimInvalid::new("invalidFilter", format!("{e}")))?),
                "startindex" => p.start_index = number(v, "startIndex")?.max(1) as u64,
                "count" => p.count = (number(v, "count")?.max(0) as u64).min(MAX_RESULTS),
                "sortby" => {
                    p.sort_by = Some(
                        parse_attr_path(v.trim())
                            .ok_or_else(|| ScimInvalid::new("invalidValue", "sortBy is not an attribute"))?,
                    )
                }
                "sortorder" => match v.to_ascii_lowercase().as_str() {
                    "ascending" => p.descending = false,
                    "descending" => p.descending = true,
                    _ => return Err(ScimInvalid::new("invalidValue", "sortOrder is ascending or descending")),
                },
                _ => {}
            }
        }
        p.projection = Projection::from_query(pairs)?;
        Ok(p)
    }
}

/// The value a resource sorts by: the attribute (the primary or first of a multi-valued one).
fn sort_key<'v>(resource: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    let scope = match &path.uri {
        Some(uri) if !is_core_schema(uri) => member(resource, uri)?,
        _ => resource,
    };
    let mut v = member(scope, &path.attr)?;
    if let Value::Array(items) = v {
        v = items.iter().find(|i| member(i, "primary") == Some(&Value::Bool(true))).or(items.first())?;
    }
    match &path.sub {
        Some(sub) => member(v, sub),
        None if v.is_object() => member(v, "value"),
        None => Some(v),
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal)
        }
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        // Missing values sort last either way (RFC 7644 §3.4.2.3).
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// Sorts resources by `sortBy` (stable: ties keep their id order).
pub fn sort(resources: &mut [Value], path: &AttrPath, descending: bool) {
    resources.sort_by(|a, b| {
        let (ka, kb) = (sort_key(a, path), sort_key(b, path));
        match (ka.is_some(), kb.is_some(), descending) {
            (true, true, true) => compare(kb, ka),
            _ => compare(ka, kb),
        }
    });
}

/// A ListResponse of one page: `total` matches in all, `page` the resources from `start_index`.
pub fn list_response(total: usize, start_index: u64, page: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": page.len(),
        "Resources": page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(s.as_bytes()).into_owned().collect()
    }

    #[test]
    fn list_parameters_follow_the_rfc() {
        let p = ListParams::from_query(&q("filter=userName%20eq%20%22a%40b.co%22&startIndex=0&count=500")).unwrap();
        assert!(p.filter.is_some());
        assert_eq!((p.start_index, p.count), (1, MAX_RESULTS));
        let p = ListParams::from_query(&q("count=-3&sortBy=name.familyName&sortOrder=Descending")).unwrap();
        assert_eq!(p.count, 0);
        assert!(p.descending);
        for bad in ["filter=userName%20eq", "count=x", "sortOrder=up", "sortBy=a..b", "attributes=emails["] {
            let e = ListParams::from_query(&q(bad)).unwrap_err();
            let want = if bad.starts_with("filter") { "invalidFilter" } else { "invalidValue" };
            assert_eq!(e.scim_type, want, "{bad}");
        }
    }

    #[test]
    fn projection_keeps_id_and_schemas_and_reaches_extensions() {
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let r = json!({"schemas": ["s"], "id": "1", "userName": "a@b.co", "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@b.co", "type": "work"}], ent: {"department": "Ops", "manager": {"value": "2"}},
            "meta": {"version": "W/\"1\""}});
        let only =
            Projection::from_query(&q(&format!("attributes=userName,name.familyName,emails.value,{ent}:department")))
                .unwrap()
                .apply(r.clone());
        assert_eq!(
            only,
            json!({"schemas": ["s"], "id": "1", "userName": "a@b.co", "name": {"familyName": "B"},
                   "emails": [{"value": "a@b.co"}], ent: {"department": "Ops"}})
        );
        let without = Projection::from_query(&q("excludedAttributes=emails,name.givenName,id")).unwrap().apply(r);
        assert!(without.get("emails").is_none());
        assert_eq!(without["name"], json!({"familyName": "B"}));
        assert_eq!(without["id"], "1", "id is always returned");
        let p = Projection::from_query(&q("excludedAttributes=members")).unwrap();
        assert!(!p.wants("members") && p.wants("displayname"));
    }

    #[test]
    fn sorting_puts_missing_values_last() {
        let mut rs = vec![json!({"id": "1"}), json!({"id": "2", "userName": "b"}), json!({"id": "3", "userName": "A"})];
        let by = parse_attr_path("userName").unwrap();
        sort(&mut rs, &by, false);
        assert_eq!(rs.iter().map(|r| r["id"].as_str().unwrap()).collect::<Vec<_>>(), ["3", "2", "1"]);
        sort(&mut rs, &by, true);
        assert_eq!(rs.iter().map(|r| r["id"].as_str().unwrap()).collect::<Vec<_>>(), ["2", "3", "1"]);
    }
}
