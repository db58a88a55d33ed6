//! The SCIM 2.0 protocol (RFC 7643, RFC 7644): filters, list queries, PATCH, the discovery
//! schemas, and users and groups as SCIM resources.
pub mod filter;
pub mod group;
pub mod patch;
pub mod query;
pub mod schemas;
pub mod user;
