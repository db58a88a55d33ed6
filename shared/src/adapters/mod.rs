//! The outside world: AWS services, HTTP helpers, settings, telemetry. Only this layer (and the
//! functions) may use AWS, HTTP or Lambda crates. The AWS ones need the `aws` feature.
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod aws_calls;
#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod edge;
pub mod emf;
pub mod http;
pub mod oidc;
pub mod okta_http;
pub mod outbound;
#[cfg(feature = "aws")]
pub mod secrets_manager;
pub mod settings;
#[cfg(feature = "aws")]
pub mod sqs;
#[cfg(feature = "aws")]
pub mod sqs_admin;
pub mod system;
pub mod table_keys;
