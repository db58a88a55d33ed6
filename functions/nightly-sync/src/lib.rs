//! Nightly reconciliation (SPEC §8): the 03:00 UTC schedule and the admin's "Sync users".
//!
//! This release parses its trigger and fails the invocation with a clear error: a scheduled run
//! that did nothing must show as failed in CloudWatch, never as a success.
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use shared::adapters::aws::Adapters;

#[derive(Clone, Default)]
pub struct State;

impl State {
    pub fn from_adapters(_: &Adapters) -> Self {
        Self
    }
}

/// What can start or continue a run.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Trigger {
    Schedule(Box<EventBridgeEvent<serde_json::Value>>),
    Other(serde_json::Value),
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the nightly sync is not available in this release")]
    NotImplemented,
}

pub async fn handle(event: LambdaEvent<Trigger>, _state: &State) -> Result<serde_json::Value, lambda_runtime::Error> {
    let kind = match &event.payload {
        Trigger::Schedule(e) => format!("schedule ({})", e.detail_type),
        Trigger::Other(_) => "unrecognised trigger".to_owned(),
    };
    tracing::error!(trigger = %kind, "nightly sync not run: not available in this release");
    Err(Box::new(SyncError::NotImplemented))
}
