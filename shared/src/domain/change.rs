//! The per-tenant change log (docs/behaviour/data.md): what changed, by whom, before and after.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    Hook,
    Sync,
    Scim,
    Sso,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    User,
    Team,
    Group,
    Membership,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Deactivated,
    Reactivated,
    Invited,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub before: Value,
    pub after: Value,
}

/// A change about to be recorded; the store gives it its sequence number atomically with the write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewChange {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub entity: EntityKind,
    pub entity_id: String,
    pub action: Action,
    pub changes: BTreeMap<String, FieldChange>,
}

impl NewChange {
    /// The change a user write records: what `actor` did, and the fields that differ.
    pub fn user<T: Serialize>(
        at: DateTime<Utc>,
        actor: Actor,
        action: Action,
        id: &str,
        before: &T,
        after: &T,
    ) -> Self {
        Self {
            at,
            actor,
            entity: EntityKind::User,
            entity_id: id.to_owned(),
            action,
            changes: diff(Some(before), after),
        }
    }
}

/// A recorded change, ordered per tenant by `seq`. Every number is used once: by a change, or
/// by a void (a number a write took and then did not commit), which readers pass over
/// (docs/design.md, "The change log").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub seq: u64,
    #[serde(flatten)]
    pub change: NewChange,
}

/// One read of the change log forwards: the changes in order, and the cursor to read on from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangePage {
    pub events: Vec<ChangeEvent>,
    /// Past every number this read settled (changes and voids alike): the next read's `after`.
    pub next_after: u64,
    /// Numbers after `next_after` are taken: read again for them (now, or shortly if a write is
    /// still committing one).
    pub more: bool,
}

/// Bookkeeping fields that are not part of what changed.
const NOT_CHANGES: [&str; 3] = ["version", "updated_at", "okta_last_updated"];

/// Fields that hold a whole document: the change lists only its top-level members that changed.
const SUMMARISED: [&str; 1] = ["scim_attributes"];

/// The top-level fields that differ between two serialised records.
pub fn diff<T: Serialize>(before: Option<&T>, after: &T) -> BTreeMap<String, FieldChange> {
    let to_map = |v: Value| match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let before = before.map(|b| to_map(serde_json::to_value(b).unwrap_or(Value::Null))).unwrap_or_default();
    let after = to_map(serde_json::to_value(after).unwrap_or(Value::Null));
    let mut out = BTreeMap::new();
    for (key, new) in &after {
        if NOT_CHANGES.contains(&key.as_str()) {
            continue;
        }
        let old = before.get(key).cloned().unwrap_or(Value::Null);
        if &old != new {
            let change = if SUMMARISED.contains(&key.as_str()) {
                summarise(&old, new)
            } else {
                FieldChange { before: old, after: new.clone() }
            };
            out.insert(key.clone(), change);
        }
    }
    for key in SUMMARISED {
        if let (Some(old), None) = (before.get(key), after.get(key)) {
            out.insert(key.to_owned(), summarise(old, &Value::Null));
        }
    }
    out
}

/// The members of two documents that differ, each side with only those members.
fn summarise(old: &Value, new: &Value) -> FieldChange {
    let empty = serde_json::Map::new();
    let (o, n) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    let mut before = serde_json::Map::new();
    let mut after = serde_json::Map::new();
    for key in o.keys().chain(n.keys()) {
        if o.get(key) != n.get(key) {
            before.insert(key.clone(), o.get(key).cloned().unwrap_or(Value::Null));
            after.insert(key.clone(), n.get(key).cloned().unwrap_or(Value::Null));
        }
    }
    FieldChange { before: Value::Object(before), after: Value::Object(after) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct R {
        a: u8,
        b: &'static str,
        version: u64,
    }

    #[test]
    fn diff_lists_changed_fields_only() {
        let d = diff(Some(&R { a: 1, b: "x", version: 1 }), &R { a: 2, b: "x", version: 2 });
        assert_eq!(d.len(), 1);
        assert_eq!(d["a"], FieldChange { before: 1.into(), after: 2.into() });
        let created = diff(None, &R { a: 1, b: "x", version: 0 });
        assert_eq!(created.keys().collect::<Vec<_>>(), ["a", "b"]);
    }
}
