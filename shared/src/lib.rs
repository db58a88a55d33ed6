//! okta-bridge: everything the six Lambdas share.
//!
//! Layers, innermost first (checked by `tests/layering.rs`):
//! - [`domain`]: pure types and rules. No I/O, no AWS, HTTP or Lambda crates.
//! - [`ports`]: traits shaped by what the use cases need (stores, queue, secrets, clock).
//! - [`app`]: use cases, written against ports only.
//! - [`adapters`]: the outside world (DynamoDB, SQS, Secrets Manager, HTTP helpers, telemetry).
//! - [`fakes`] (feature `fakes`): in-memory ports for unit tests, plus contract suites that every
//!   implementation of a port, fake or real, must pass.
pub mod adapters;
pub mod app;
pub mod domain;
#[cfg(feature = "fakes")]
pub mod fakes;
pub mod locks;
pub mod ports;
