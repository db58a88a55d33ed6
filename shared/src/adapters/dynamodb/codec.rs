//! Item encoding and decoding: attribute values (`s`, `n`), records to and from items with
//! `serde_dynamo`, records kept as a JSON string attribute, and SDK errors as
//! `StoreError::Unavailable`.
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use crate::ports::StoreError;

pub(super) fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(unavailable)
}

pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(unavailable)
}

/// A record kept as a JSON string attribute.
pub(super) fn json_attr<T: DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    let body = item
        .get(name)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| unavailable(std::io::Error::other(format!("item without {name}"))))?;
    serde_json::from_str(body).map_err(unavailable)
}
