//! The local stack: provisions the emulator from `template.yaml`, wires every function to it, serves
//! the HTTP functions on one port with API Gateway's routing (also read from the template), and
//! drives the worker from SQS like Lambda's event-source mapping. `make dev` and the end-to-end
//! tests both use it, so what is tested is what runs.
// Test support: a harness that cannot go on fails the test or the dev run that uses it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
pub mod bench;
pub mod demo_org;
pub mod dispatch;
pub mod fault_proxy;
pub mod oidc_op;
pub mod okta_sim;
pub mod poller;
pub mod saml_idp;
pub mod schedule;
pub mod stack;
pub mod template;

use std::collections::HashMap;
use std::sync::Arc;

use shared::adapters::aws::Adapters;
use shared::adapters::settings::{Settings, SettingsError};

pub use stack::{LocalStack, StackOptions};

/// Every function's state, wired to one local stack.
#[derive(Clone)]
pub struct Functions {
    pub adapters: Adapters,
    pub admin: admin_api::State,
    pub webhook: webhook_receiver::State,
    pub scim: scim_handler::State,
    pub sign_in: sign_in::State,
    pub worker: user_fetch_worker::State,
    pub sync: nightly_sync::State,
}

impl Functions {
    /// Wires every function with the environment the template gives it (all functions' variables
    /// merged: in the dev server they share one process).
    pub fn wire(
        sdk: &aws_config::SdkConfig,
        env: &HashMap<String, String>,
    ) -> Result<Self, shared::adapters::settings::SettingsError> {
        Self::from_adapters(Adapters::new(sdk, Self::settings(env)?))
    }

    /// The settings every function gets from the template's environment (all merged).
    pub fn settings(env: &HashMap<String, String>) -> Result<Settings, shared::adapters::settings::SettingsError> {
        Settings::from_lookup(|k| env.get(k).cloned().or_else(|| std::env::var(k).ok()).filter(|v| !v.is_empty()))
    }

    /// Each function's state, as its `main.rs` builds it (a setting one lacks is an error here too).
    pub fn from_adapters(adapters: Adapters) -> Result<Self, SettingsError> {
        Ok(Self {
            admin: admin_api::State::from_adapters(&adapters)?,
            webhook: webhook_receiver::State::from_adapters(&adapters)?,
            scim: scim_handler::State::from_adapters(&adapters)?,
            sign_in: sign_in::State::from_adapters(&adapters)?,
            worker: user_fetch_worker::State::from_adapters(&adapters)?,
            sync: nightly_sync::State::from_adapters(&adapters)?,
            adapters,
        })
    }

    pub fn routers(&self) -> dispatch::Routers {
        dispatch::Routers {
            admin: Arc::new(admin_api::router(self.admin.clone())),
            webhook: Arc::new(webhook_receiver::router(self.webhook.clone())),
            scim: Arc::new(scim_handler::router(self.scim.clone())),
            sign_in: Arc::new(sign_in::router(self.sign_in.clone())),
        }
    }
}
