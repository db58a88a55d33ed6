//! SCIM 2.0 Lambda: wiring only.
use shared::adapters::aws::Adapters;
use shared::adapters::settings::Needs;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let adapters = Adapters::from_env(Needs { public_api_url: true, ..Needs::default() }).await?;
    lambda_http::run(scim_handler::router(scim_handler::State::from_adapters(&adapters))).await
}
