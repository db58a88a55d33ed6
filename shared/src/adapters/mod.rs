//! The outside world: AWS services, HTTP helpers, settings, telemetry. Only this layer (and the
//! functions) may use AWS, HTTP or Lambda crates.
pub mod aws;
pub mod aws_calls;
pub mod dynamodb;
pub mod emf;
pub mod http;
pub mod oidc;
pub mod okta_http;
pub mod outbound;
pub mod secrets_manager;
pub mod settings;
pub mod sqs;
pub mod sqs_admin;
pub mod system;
