//! OIDC sign-in Lambda: wiring only.
use shared::adapters::aws::Adapters;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let adapters = Adapters::from_env().await?;
    lambda_http::run(sign_in::router(sign_in::State::from_adapters(&adapters)?)).await
}
