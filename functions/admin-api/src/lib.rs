//! Admin API (SPEC §11): tenant config, secrets, SCIM tokens, users and the change log, for the
//! learning platform's integration page and for operators. JSON in, JSON out, errors included.
mod access;
mod error;
mod operations;
mod routes;
mod status_page;

use std::sync::Arc;

use axum::Router;
use shared::adapters::aws::Adapters;
use shared::app::health::HealthService;
use shared::app::invitations::InvitationService;
use shared::app::sync::{SyncOptions, SyncService};
use shared::app::AdminService;
use shared::domain::tenant::ConfigRules;
use shared::ports::{ChangeLog, GroupStore, TeamStore};

pub use error::ApiError;
pub use operations::OPENAPI;

/// Admin request bodies are small: anything over 64 KiB is refused with 413 (SPEC §13).
pub const BODY_LIMIT: usize = 64 * shared::adapters::http::KIB;

#[derive(Clone)]
pub struct State {
    pub admin: Arc<AdminService>,
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
    pub fn from_adapters(a: &Adapters) -> Self {
        let admin = AdminService::new(
            // Straight to the store: an operator reads what was just written (the edges' short
            // config cache is for unauthenticated first touches, not for the admin).
            a.store.clone(),
            a.store.clone(),
            a.secrets.clone(),
            a.tokens.clone(),
            a.clock.clone(),
            ConfigRules { allow_insecure_okta: a.settings.allow_insecure_okta },
        );
        Self {
            admin: Arc::new(admin),
            changes: a.store.clone(),
            sync: Arc::new(a.sync_service(SyncOptions::default())),
            health: Arc::new(a.health_service()),
            invitations: Arc::new(a.invitation_service()),
            teams: a.store.clone(),
            groups: a.store.clone(),
            urls: a.settings.public_urls(),
            metrics: a.metrics.clone(),
        }
    }
}

pub fn router(state: State) -> Router {
    routes::router(state)
}
