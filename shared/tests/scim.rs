//! The SCIM use cases on in-memory ports (the fast tier: no emulator, no AWS SDK): users created,
//! found, patched, replaced under If-Match and deleted as soft deactivations; uniqueness; groups
//! and their members; a tenant without SCIM provisioning. The end-to-end tests run the same
//! through the HTTP handler against DynamoDB.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed test
use serde_json::{json, Value};
use shared::app::scim::{ScimFailure, ScimService};
use shared::domain::scim::query::{ListParams, Projection};
use shared::domain::scim::user::etag;
use shared::domain::tenant::{ConfigRules, TenantConfigInput};
use shared::domain::user::{StatusReason, UserStatus};
use shared::domain::{TenantId, UserId};
use shared::fakes::Fakes;
use shared::ports::{Clock, ConfigStore, UserReader};

const BASE: &str = "https://api.example.com/t/acme/scim/v2";

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

async fn scim_tenant(f: &Fakes, provisioning: &str) -> ScimService {
    let input: TenantConfigInput = serde_json::from_value(json!({
        "okta_domain": "https://acme.okta.com", "provisioning": provisioning
    }))
    .unwrap();
    let config = input.into_config(acme(), None, f.clock.now(), ConfigRules { allow_insecure_okta: true }).unwrap();
    f.store.put_config(&config).await.unwrap();
    f.scim_service()
}

fn user(email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"value": email, "primary": true, "type": "work"}],
        "active": true,
        "externalId": format!("ext-{email}"),
    })
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

async fn stored(f: &Fakes, id: &str) -> shared::domain::user::User {
    f.store.get_user(&acme(), &UserId::parse(id).unwrap()).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_user_is_created_found_patched_replaced_and_deleted_softly() {
    let f = Fakes::new();
    let scim = scim_tenant(&f, "scim").await;
    let created = scim.create_user(&acme(), &user("ann@acme.example"), BASE).await.unwrap();
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["userName"], "ann@acme.example");
    assert_eq!(created.body["meta"]["location"], format!("{BASE}/Users/{id}"));

    // The same userName again, in another case: a uniqueness conflict, nothing written.
    let again = scim.create_user(&acme(), &user("ANN@acme.example"), BASE).await;
    assert!(matches!(again, Err(ScimFailure::Uniqueness(_))), "{again:?}");

    // Found by filter, and by id with a projection.
    let params = ListParams::from_query(&query(&[("filter", "userName eq \"ann@acme.example\"")])).unwrap();
    let list = scim.list_users(&acme(), &params, BASE).await.unwrap();
    assert_eq!((list["totalResults"].as_u64(), list["Resources"][0]["id"].as_str()), (Some(1), Some(id.as_str())));
    let got = scim.get_user(&acme(), &id, BASE).await.unwrap();
    let only = Projection::from_query(&query(&[("attributes", "userName")])).unwrap().apply(got.body.clone());
    assert!(only.get("name").is_none() && only["userName"] == "ann@acme.example");

    // PATCH active=false deactivates (kept, with why); replacing under a stale ETag is refused.
    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]});
    let patched = scim.patch_user(&acme(), &id, &off, Some(&etag(got.version)), BASE).await.unwrap();
    assert_eq!(patched.body["active"], false);
    let u = stored(&f, &id).await;
    assert_eq!((u.status, u.status_reason), (UserStatus::Deactivated, Some(StatusReason::ScimInactive)));
    let stale = scim.replace_user(&acme(), &id, &user("ann@acme.example"), Some(&etag(got.version)), BASE).await;
    assert!(matches!(stale, Err(ScimFailure::PreconditionFailed)), "{stale:?}");
    let mut back = user("ann.lee@acme.example");
    back["id"] = json!(id);
    let replaced = scim.replace_user(&acme(), &id, &back, Some(&etag(patched.version)), BASE).await.unwrap();
    assert_eq!(
        (replaced.body["active"].as_bool(), replaced.body["userName"].as_str()),
        (Some(true), Some("ann.lee@acme.example"))
    );
    assert_eq!(stored(&f, &id).await.status, UserStatus::Active, "reactivated, same user");

    // DELETE is a soft deactivation: the user is kept with its history, and SCIM no longer sees it.
    scim.delete_user(&acme(), &id, None).await.unwrap();
    let u = stored(&f, &id).await;
    assert_eq!((u.status, u.status_reason), (UserStatus::Deactivated, Some(StatusReason::ScimDeleted)));
    assert!(matches!(scim.get_user(&acme(), &id, BASE).await, Err(ScimFailure::NotFound(_))));
}

#[tokio::test]
async fn groups_keep_their_members_and_a_tenant_without_scim_refuses() {
    let f = Fakes::new();
    let scim = scim_tenant(&f, "scim").await;
    let ann = scim.create_user(&acme(), &user("ann@acme.example"), BASE).await.unwrap().body["id"].clone();
    let bob = scim.create_user(&acme(), &user("bob@acme.example"), BASE).await.unwrap().body["id"].clone();
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales",
        "members": [{"value": ann}]});
    let created = scim.create_group(&acme(), &group, BASE).await.unwrap();
    let gid = created.body["id"].as_str().unwrap().to_owned();
    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": bob}]},
                       {"op": "remove", "path": format!("members[value eq \"{}\"]", ann.as_str().unwrap())}]});
    scim.patch_group(&acme(), &gid, &add, None).await.unwrap();
    let got = scim.get_group(&acme(), &gid, &Projection::default(), BASE).await.unwrap();
    let members: Vec<&str> =
        got.body["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(members, [bob.as_str().unwrap()]);
    let params = ListParams::from_query(&query(&[("filter", "displayName eq \"Sales\"")])).unwrap();
    assert_eq!(scim.list_groups(&acme(), &params, BASE).await.unwrap()["totalResults"], 1);
    scim.delete_group(&acme(), &gid, None).await.unwrap();
    assert!(matches!(scim.get_group(&acme(), &gid, &Projection::default(), BASE).await, Err(ScimFailure::NotFound(_))));

    // Provisioning not by SCIM: SCIM writes are refused, nothing stored.
    let f = Fakes::new();
    let hooks = scim_tenant(&f, "none").await;
    assert!(matches!(hooks.create_user(&acme(), &user("x@acme.example"), BASE).await, Err(ScimFailure::Disabled)));
}
