//! End-to-end tests: the real functions, wired through the real AWS SDK to the local emulator that
//! `make test` starts (DynamoDB, SQS and Secrets Manager over HTTP), provisioned from template.yaml.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test
mod adapters;
mod admin;
mod admin_tokens;
mod change_log;
mod events;
mod faults;
mod helpers;
mod hooks;
mod integration_page;
mod isolation;
mod local_stack;
mod okta_client;
mod openapi;
mod operations;
mod property;
mod saml;
mod scim;
mod secret_leaks;
mod sso;
mod sync;
mod world;
