//! Nightly sync Lambda (EventBridge schedule and the sync queue): wiring only.
use lambda_runtime::{service_fn, LambdaEvent};
use shared::adapters::aws::Adapters;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let adapters = Adapters::from_env().await?;
    let state = nightly_sync::State::from_adapters(&adapters)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| nightly_sync::handle(event, &state))).await
}
