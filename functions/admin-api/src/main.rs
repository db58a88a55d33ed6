//! Admin API Lambda: wiring only.
use shared::adapters::aws::Adapters;
use shared::adapters::settings::Needs;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let adapters = Adapters::from_env(Needs {
        public_api_url: true,
        user_fetch_queue: true,
        user_fetch_dlq: true,
        sync_queue: true,
        sync_dlq: true,
    })
    .await?;
    lambda_http::run(admin_api::router(admin_api::State::from_adapters(&adapters))).await
}
