//! Admin API (docs/behaviour/admin-api.md): tenant config, secrets, SCIM tokens, users and the change log, for the
//! learning platform's integration page and for operators. JSON in, JSON out, errors included.
mod access;
mod error;
mod operations;
mod routes;
mod status_page;
mod ui;

use std::sync::Arc;

use axum::Router;
use shared::adapters::aws::Adapters;
use shared::adapters::settings::SettingsError;
use shared::app::health::HealthService;
use shared::app::invitations::InvitationService;
use shared::app::sync::{SyncOptions, SyncService};
use shared::app::AdminService;
use shared::ports::{ChangeLog, GroupStore, TeamStore};

pub use error::ApiError;
pub use operations::OPENAPI;
/// The integration page's session cookie (benchmarks and tests sign in with it).
pub use ui::COOKIE as UI_SESSION_COOKIE;

/// Admin request bodies are small: anything over 64 KiB is refused with 413 (docs/behaviour/limits-and-errors.md).
pub const BODY_LIMIT: usize = 64 * shared::adapters::http::KIB;

#[derive(Clone)]
pub struct State {
    pub admin: Arc<AdminService>,
    /// "Connect to Okta" and the event hook's registration (the integration page).
    pub connect: Arc<shared::app::connect::ConnectService>,
    pub changes: Arc<dyn ChangeLog>,
    pub sync: Arc<SyncService>,
    pub health: Arc<HealthService>,
    pub invitations: Arc<InvitationService>,
    pub teams: Arc<dyn TeamStore>,
    pub groups: Arc<dyn GroupStore>,
    /// The URLs to paste into Okta, built from configuration only.
    pub urls: shared::adapters::http::PublicUrls,
    /// Metrics (`InvitationsSent`, ...), flushed by the edge after each request.
    pub metrics: Arc<shared::adapters::emf::EmfMetrics>,
}

impl State {
    /// The admin starts runs (the sync queue), reads and redrives both queues and their DLQs,
    /// and hands out URLs (`PUBLIC_API_URL`).
    pub fn from_adapters(a: &Adapters) -> Result<Self, SettingsError> {
        let root = &a.root;
        Ok(Self {
            admin: Arc::new(root.admin()),
            connect: Arc::new(root.connect()),
            changes: root.ports.changes.clone(),
            sync: Arc::new(root.sync(a.sync_queue()?, SyncOptions::default())),
            health: Arc::new(root.health(a.health_queues()?)),
            invitations: Arc::new(root.invitations()),
            teams: root.ports.teams.clone(),
            groups: root.ports.groups.clone(),
            urls: a.settings.public_urls()?,
            metrics: a.metrics.clone(),
        })
    }
}

pub fn router(state: State) -> Router {
    routes::router(state)
}
