//! The SCIM 2.0 use cases (docs/behaviour/scim.md): Users and Groups for one tenant. User writes go through the
//! provisioning state machine ([`Provisioner::apply_scim`]), so SCIM users get the same mapping,
//! teams, managers, pending references and change log as the worker's. Group members are written
//! one record each: a PATCH reads and writes only the members it names.
//!
//! Equality filters on `userName`, `emails.value`, `externalId` and `id` are answered by key
//! lookups. Any other filter, and `sortBy`, evaluate the tenant's users one page at a time up to
//! [`MAX_EVALUATED`], beyond which the client is told to narrow the filter (`tooMany`).
//!
//! `users` holds the `/Users` endpoints and `groups` the `/Groups` endpoints; this module holds the
//! service, its errors and the plumbing both share.
mod groups;
mod users;

use std::sync::Arc;

use serde_json::Value;

use crate::app::provisioning::{ProvisionError, Provisioner};
use crate::app::telemetry::Telemetry;
use crate::domain::scim::query::{list_response, sort, ListParams};
use crate::domain::scim::schemas::ScimInvalid;
use crate::domain::scim::user::if_match;
use crate::domain::tenant::{Provisioning, TenantConfig};
use crate::domain::TenantId;
use crate::ports::{Clock, ConfigStore, GroupStore, ListPositions, Random, StoreError, UserReader};

/// The most users a non-key filter or a sort evaluates before answering `tooMany`.
pub const MAX_EVALUATED: usize = 10_000;
/// How often a write re-reads and retries when another writer got there first.
const WRITE_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum ScimFailure {
    #[error("{0}")]
    Invalid(ScimInvalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("SCIM provisioning is not enabled for this tenant")]
    Disabled,
    #[error("{0}")]
    Uniqueness(&'static str),
    #[error("the resource has changed: its ETag does not match If-Match")]
    PreconditionFailed,
    #[error("this list would evaluate more than {MAX_EVALUATED} users: filter with eq on userName, emails.value, externalId or id (answered from an index at any size), or list without a filter and without sortBy (paged by startIndex at any size)")]
    TooMany,
    #[error("the resource is being changed by another request; retry")]
    Busy,
    #[error("the store is unavailable; retry")]
    Unavailable(#[source] StoreError),
}

impl From<ScimInvalid> for ScimFailure {
    fn from(e: ScimInvalid) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for ScimFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict => Self::Busy,
            StoreError::InvalidCursor => {
                Self::Invalid(ScimInvalid::new("invalidValue", "the paging position is not valid"))
            }
            other => Self::Unavailable(other),
        }
    }
}

impl From<ProvisionError> for ScimFailure {
    fn from(e: ProvisionError) -> Self {
        match e {
            ProvisionError::Conflict => Self::Busy,
            ProvisionError::Invalid(m) => Self::Invalid(ScimInvalid::new("invalidValue", m)),
            ProvisionError::EmailTaken => Self::Uniqueness("userName is already in use by another user"),
            ProvisionError::UserNameTaken => Self::Uniqueness("userName is already in use by another user"),
            ProvisionError::ExternalIdTaken => Self::Uniqueness("externalId is already in use by another user"),
            ProvisionError::Store(e) => e.into(),
        }
    }
}

/// A single resource and its version (for the `ETag` header).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub body: Value,
    pub version: u64,
}

pub struct ScimService {
    configs: Arc<dyn ConfigStore>,
    users: Arc<dyn UserReader>,
    positions: Arc<dyn ListPositions>,
    groups: Arc<dyn GroupStore>,
    provisioner: Arc<Provisioner>,
    telemetry: Arc<Telemetry>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

fn check_if_match(header: Option<&str>, version: u64) -> Result<(), ScimFailure> {
    match header {
        Some(h) if !if_match(h, version) => Err(ScimFailure::PreconditionFailed),
        _ => Ok(()),
    }
}

/// What a [`ScimService`] is built from, by name (the composition root, `app::root`, fills it).
pub struct ScimDeps {
    pub configs: Arc<dyn ConfigStore>,
    pub users: Arc<dyn UserReader>,
    pub positions: Arc<dyn ListPositions>,
    pub groups: Arc<dyn GroupStore>,
    pub provisioner: Arc<Provisioner>,
    pub telemetry: Arc<Telemetry>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
}

impl ScimService {
    pub fn new(deps: ScimDeps) -> Self {
        let ScimDeps { configs, users, positions, groups, provisioner, telemetry, clock, random } = deps;
        Self { configs, users, positions, groups, provisioner, telemetry, clock, random }
    }

    /// The tenant's config, if SCIM provisioning is on for it.
    /// Whether the tenant exists at all (from the cached config read, before any secret is read).
    pub async fn tenant_exists(&self, tenant: &TenantId) -> Result<bool, ScimFailure> {
        Ok(self.configs.get_config(tenant).await?.is_some())
    }

    pub async fn config(&self, tenant: &TenantId) -> Result<TenantConfig, ScimFailure> {
        match self.configs.get_config(tenant).await? {
            Some(c) if c.provisioning == Provisioning::Scim => Ok(c),
            _ => Err(ScimFailure::Disabled),
        }
    }

    /// Sorts (if asked), pages and projects matches that are all in hand.
    fn page(&self, mut hits: Vec<Value>, params: &ListParams) -> Value {
        if let Some(by) = &params.sort_by {
            sort(&mut hits, by, params.descending);
        }
        let total = hits.len();
        let page: Vec<Value> = hits
            .into_iter()
            .skip(params.start_index as usize - 1)
            .take(params.count as usize)
            .map(|r| params.projection.apply(r))
            .collect();
        list_response(total, params.start_index, page)
    }
}
