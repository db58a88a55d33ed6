//! User-fetch worker Lambda (SQS trigger): wiring only.
use lambda_runtime::{service_fn, LambdaEvent};
use shared::adapters::aws::Adapters;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let adapters = Adapters::from_env().await?;
    let state = user_fetch_worker::State::from_adapters(&adapters)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| user_fetch_worker::handle(event, &state))).await
}
