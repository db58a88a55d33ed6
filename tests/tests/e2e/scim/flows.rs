//! Users and Groups through the real stack: the client quirks of Okta and Entra ID, the RFC
//! examples, errors, isolation, paging and concurrency.
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

use super::assert_scim_error;
use crate::helpers::{Reply, TestApp};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const OURS: &str = "urn:okta-bridge:params:scim:schemas:extension:2.0:User";

/// A SCIM client of one tenant: its token, and the `/t/{tenant}/scim/v2` prefix.
pub struct Client<'a> {
    pub app: &'a TestApp,
    pub tenant: String,
    pub auth: String,
}

impl<'a> Client<'a> {
    /// A tenant with SCIM provisioning on, and a token for it.
    pub async fn new(app: &'a TestApp, tenant: &str) -> Client<'a> {
        let config = json!({"okta_domain": format!("https://{tenant}.okta.com"), "provisioning": "scim"});
        let r = app.admin("PUT", &format!("/admin/tenants/{tenant}"), Some(config)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let issued = app.admin("POST", &format!("/admin/tenants/{tenant}/scim-tokens"), None).await.json();
        Client { app, tenant: tenant.into(), auth: format!("Bearer {}", issued["token"].as_str().unwrap()) }
    }

    pub fn with_auth(&self, auth: &str) -> Client<'a> {
        Client { app: self.app, tenant: self.tenant.clone(), auth: auth.into() }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("/t/{}/scim/v2{path}", self.tenant))
            .header("host", "127.0.0.1:3000")
            .header("authorization", &self.auth)
            .header("user-agent", "Okta SCIM Client 1.0.0");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/scim+json; charset=utf-8");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let r = self.app.call(req.body(body).unwrap()).await;
        if r.status != StatusCode::NO_CONTENT {
            assert!(r.content_type().starts_with("application/scim+json"), "{method} {path}: {:?}", r.headers);
        }
        if !r.status.is_success() {
            assert_scim_error(&r, r.status);
        }
        r
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(body), &[]).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send("PUT", path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send("PATCH", path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None, &[]).await
    }

    /// `POST /Users` of a minimal user; returns its SCIM id.
    pub async fn create(&self, email: &str, extra: Value) -> String {
        let mut body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
            "name": {"givenName": "Given", "familyName": "Family"}, "active": true});
        merge(&mut body, extra);
        let r = self.post("/Users", &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// The stored user, as the admin API shows it.
    pub async fn stored(&self, id: &str) -> Value {
        let r = self.app.admin("GET", &format!("/admin/tenants/{}/users/{id}", self.tenant), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()
    }

    pub async fn changes(&self) -> Vec<Value> {
        let r =
            self.app.admin("GET", &format!("/admin/tenants/{}/changes?after=0&limit=1000", self.tenant), None).await;
        r.json()["changes"].as_array().unwrap().clone()
    }
}

fn merge(target: &mut Value, extra: Value) {
    if let (Value::Object(t), Value::Object(e)) = (target, extra) {
        t.extend(e);
    }
}

/// A fixture from `tests/fixtures/scim`, with `{{name}}` placeholders filled in.
pub fn fixture(name: &str, fills: &[(&str, &str)]) -> Value {
    let path = format!("{}/fixtures/scim/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (k, v) in fills {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn filter(f: &str) -> String {
    url::form_urlencoded::byte_serialize(f.as_bytes()).collect()
}

fn ids(list: &Value) -> Vec<String> {
    list["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn okta_provisioning_sequence_step_by_step() {
    let app = TestApp::spawn().await;
    let okta = Client::new(&app, "acme").await;
    // One user already there (Okta's SPEC test expects one), created by SCIM too.
    let first = okta.create("first.user@okta.local", json!({})).await;

    // 1. Test connector: the first page, integer counts, the fields Okta checks.
    let list = okta.get("/Users?startIndex=1&count=2").await.json();
    assert_eq!(list["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    for key in ["totalResults", "startIndex", "itemsPerPage"] {
        assert!(list[key].is_u64(), "{key} is an integer: {list}");
    }
    let r0 = &list["Resources"][0];
    for field in ["/id", "/name/familyName", "/name/givenName", "/userName", "/active", "/emails/0/value"] {
        assert!(r0.pointer(field).is_some(), "{field} in {r0}");
    }
    // SPEC test 2: the same user by id.
    assert_eq!(okta.get(&format!("/Users/{first}")).await.json()["id"], first.as_str());

    // 2. Assignment: the existence check finds nobody (200, totalResults 0).
    let q = format!("/Users?filter={}&startIndex=1&count=100", filter(r#"userName eq "test.user@okta.local""#));
    let none = okta.get(&q).await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(
        none.json(),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
    );

    // 3. Create: 201 with the full resource, an ETag and a Location.
    let created = okta.post("/Users", &fixture("okta-create-user.json", &[])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let user = created.json();
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["userName"], "test.user@okta.local");
    assert_eq!(user["active"], true);
    assert_eq!(user["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(user["name"]["givenName"], "Test");
    assert_eq!(created.headers["etag"], user["meta"]["version"].as_str().unwrap());
    assert!(created.headers["location"].to_str().unwrap().ends_with(&format!("/scim/v2/Users/{id}")));
    let stored = okta.stored(&id).await;
    assert_eq!(
        (stored["email"].as_str(), stored["primary_language"].as_str()),
        (Some("test.user@okta.local"), Some("en-US"))
    );
    assert_eq!(stored["okta_id"], "00ujl29u0le5T6Aj10h7", "Okta's user id links SSO and hooks to the same user");
    assert_eq!(stored["custom_fields"]["content_region"], "QQ");

    // SPEC test 8: the same userName again → 409; 9: found case-insensitively.
    let dup = okta.post("/Users", &fixture("okta-create-user.json", &[])).await;
    assert_scim_error(&dup, StatusCode::CONFLICT);
    assert_eq!(dup.json()["scimType"], "uniqueness");
    let upper = okta.get(&format!("/Users?filter={}", filter(r#"userName eq "TEST.USER@OKTA.LOCAL""#))).await.json();
    assert_eq!((upper["totalResults"].as_u64(), ids(&upper)), (Some(1), vec![id.clone()]));
    // SPEC tests 4 and 12: unknown ids → 404 in the Error schema.
    for unknown in ["010101001010101011001010101011", "00919288221112222", "usr_00000000000000000000000000000000"] {
        assert_scim_error(&okta.get(&format!("/Users/{unknown}")).await, StatusCode::NOT_FOUND);
    }
    // SPEC test 11: a non-token → 401.
    assert_scim_error(&okta.with_auth("non-token").get(&q).await, StatusCode::UNAUTHORIZED);

    // 5. Profile update, AIW style: GET, then PUT the GET body with the change merged in.
    let mut echoed = okta.get(&format!("/Users/{id}")).await.json();
    echoed["name"]["familyName"] = json!("Userson");
    echoed["title"] = json!("Engineer");
    let put = okta.put(&format!("/Users/{id}"), &echoed).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(
        (put.json()["name"]["familyName"].as_str(), put.json()["active"].as_bool()),
        (Some("Userson"), Some(true))
    );
    assert_eq!(okta.stored(&id).await["job_title"], "Engineer");
    // A PUT without `active` (a profile push) leaves the lifecycle alone.
    let mut no_active = echoed.clone();
    no_active.as_object_mut().unwrap().remove("active");
    assert_eq!(okta.put(&format!("/Users/{id}"), &no_active).await.json()["active"], true);

    // 6. Deactivate: PATCH replace without a path.
    let off = okta.patch(&format!("/Users/{id}"), &fixture("okta-deactivate.json", &[])).await;
    assert_eq!((off.status, off.json()["active"].as_bool()), (StatusCode::OK, Some(false)));
    let stored = okta.stored(&id).await;
    assert_eq!(
        (stored["status"].as_str(), stored["status_reason"].as_str()),
        (Some("deactivated"), Some("scim_inactive"))
    );
    assert_eq!(okta.get(&format!("/Users/{id}")).await.json()["active"], false, "still readable");
    // 7. Reactivate.
    let on = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": true}}]});
    assert_eq!(okta.patch(&format!("/Users/{id}"), &on).await.json()["active"], true);
    assert_eq!(okta.stored(&id).await["status_reason"], Value::Null);

    // 8. Import: pages in a stable order until totalResults.
    let mut seen = Vec::new();
    for start in 1..=3 {
        let page = okta.get(&format!("/Users?startIndex={start}&count=1")).await.json();
        assert_eq!((page["totalResults"].as_u64(), page["startIndex"].as_u64()), (Some(2), Some(start)));
        seen.extend(ids(&page));
    }
    seen.sort();
    let mut want = vec![first.clone(), id.clone()];
    want.sort();
    assert_eq!(seen, want);

    // Groups (Push Groups): existence check, create, rename with each membership batch, remove.
    let q = format!("/Groups?filter={}&startIndex=1&count=100", filter(r#"displayName eq "Test SCIMv2""#));
    assert_eq!(okta.get(&q).await.json()["totalResults"], 0);
    let g = okta.post("/Groups", &fixture("okta-create-group.json", &[])).await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let gid = g.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(okta.get(&q).await.json()["totalResults"], 1);
    let body = fixture("okta-group-rename-and-members.json", &[("group", &gid), ("old", &first), ("new", &id)]);
    let p = okta.patch(&format!("/Groups/{gid}"), &body).await;
    assert_eq!(p.status, StatusCode::NO_CONTENT, "{}", p.body);
    let group = okta.get(&format!("/Groups/{gid}")).await.json();
    assert_eq!(group["displayName"], "Test SCIMv2 Renamed");
    assert_eq!(
        group["members"],
        json!([{"value": id, "type": "User", "$ref": format!("http://127.0.0.1:3000/t/acme/scim/v2/Users/{id}")}])
    );
    // Okta re-sends the same PATCH with the next batch: harmless.
    assert_eq!(okta.patch(&format!("/Groups/{gid}"), &body).await.status, StatusCode::NO_CONTENT);
    let remove = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]});
    assert_eq!(okta.patch(&format!("/Groups/{gid}"), &remove).await.status, StatusCode::NO_CONTENT);
    assert_eq!(okta.get(&format!("/Groups/{gid}")).await.json()["members"], json!([]));
    let admin_groups = app.admin("GET", "/admin/tenants/acme/groups", None).await.json();
    assert_eq!(admin_groups["groups"][0]["display_name"], "Test SCIMv2 Renamed");
    // 6 (groups). Delete → 204, then 404.
    assert_eq!(okta.delete(&format!("/Groups/{gid}")).await.status, StatusCode::NO_CONTENT);
    assert_scim_error(&okta.get(&format!("/Groups/{gid}")).await, StatusCode::NOT_FOUND);

    // One state machine, one change log: every write above is there, by `scim`.
    let log = okta.changes().await;
    let of = |entity: &str, action: &str| {
        log.iter().filter(|c| c["entity"] == entity && c["action"] == action && c["actor"] == "scim").count()
    };
    assert_eq!(of("user", "created"), 2);
    assert_eq!((of("user", "deactivated"), of("user", "reactivated")), (1, 1));
    assert!(of("user", "updated") >= 1);
    assert_eq!((of("group", "created"), of("group", "updated"), of("group", "deleted")), (1, 1, 1));
    assert_eq!(of("membership", "updated"), 2, "one add, one remove; the repeat changed nothing");
    // And the same user metrics as the worker's (docs/behaviour/observability.md), one EMF line per request.
    let sum = |name: &str| -> u64 { app.metric_lines("acme").iter().filter_map(|l| l[name].as_u64()).sum() };
    assert_eq!((sum("UsersCreated"), sum("UsersDeactivated"), sum("UsersReactivated")), (2, 1, 1));
}

#[tokio::test]
async fn entra_dialect_end_to_end() {
    let app = TestApp::spawn().await;
    let entra = Client::new(&app, "contoso").await;
    // Entra's validator: a userName (UPN) that is not the mailbox, and an enterprise department.
    let created = entra.post("/Users", &fixture("entra-create-user.json", &[])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let u = created.json();
    let id = u["id"].as_str().unwrap().to_owned();
    assert_eq!(u["userName"], "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com");
    assert_eq!(u["emails"][0]["value"], "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com");
    let stored = entra.stored(&id).await;
    assert_eq!(stored["email"], "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com");
    assert_eq!(stored["primary_team"], "Engineering");
    // Entra finds users by userName and by externalId.
    for f in [
        r#"userName eq "test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com""#,
        r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
    ] {
        let found = entra.get(&format!("/Users?filter={}", filter(f))).await.json();
        assert_eq!(ids(&found), std::slice::from_ref(&id), "{f}");
    }
    let manager = entra.create("boss@testuser.com", json!({"externalId": "boss-object-id"})).await;

    // Capitalised ops, a URN path, a value-filter path with a sub-attribute, a URN-keyed value.
    let r = entra.patch(&format!("/Users/{id}"), &fixture("entra-update-user.json", &[("manager", &manager)])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let after = r.json();
    assert_eq!(after["name"]["familyName"], "updatedFamilyName");
    assert_eq!(after[ENTERPRISE]["manager"]["value"], manager.as_str());
    assert_eq!(after[ENTERPRISE]["department"], "Research");
    assert_eq!(after[OURS]["contentRegion"], "CH", "read back as written");
    assert_eq!(entra.stored(&id).await["custom_fields"]["content_region"], "DE", "CH is in the DE region");
    let stored = entra.stored(&id).await;
    assert_eq!(
        (stored["manager_id"].as_str(), stored["primary_team"].as_str()),
        (Some(manager.as_str()), Some("Research"))
    );
    assert_eq!(stored["primary_location"], "CH");
    // Work email replaced through `emails[type eq "work"].value`; userName stays.
    let email = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new.mail@testuser.com"}]});
    assert_eq!(
        entra.patch(&format!("/Users/{id}"), &email).await.json()["emails"][0]["value"],
        "new.mail@testuser.com"
    );
    assert_eq!(entra.stored(&id).await["email"], "new.mail@testuser.com");
    // "False" as a string disables; empty Operations is a no-op.
    let off = entra.patch(&format!("/Users/{id}"), &fixture("entra-disable-user.json", &[])).await;
    assert_eq!(off.json()["active"], false);
    assert_eq!(entra.stored(&id).await["status_reason"], "scim_inactive");
    let noop = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []});
    let before = entra.get(&format!("/Users/{id}")).await.json()["meta"]["version"].clone();
    let same = entra.patch(&format!("/Users/{id}"), &noop).await;
    assert_eq!((same.status, same.json()["meta"]["version"].clone()), (StatusCode::OK, before));
    // Remove the manager.
    let unset = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Remove", "path": format!("{ENTERPRISE}:manager")}]});
    assert!(entra.patch(&format!("/Users/{id}"), &unset).await.json()[ENTERPRISE].get("manager").is_none());
    assert_eq!(entra.stored(&id).await["manager_id"], Value::Null);

    // Groups: Entra lists with excludedAttributes=members, and removes members with a value list.
    let g = entra
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Group1DisplayName", "externalId": "eb1e4c40-0c6e-4a4c-9d3b-1b9c0a5d0c7e",
        "members": [{"value": id}, {"value": manager}]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let gid = g.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(g.json()["members"].as_array().unwrap().len(), 2);
    let q = format!("/Groups?excludedAttributes=members&filter={}", filter(r#"displayName eq "Group1DisplayName""#));
    let listed = entra.get(&q).await.json();
    assert_eq!(ids(&listed), std::slice::from_ref(&gid));
    assert!(listed["Resources"][0].get("members").is_none());
    let r = entra.patch(&format!("/Groups/{gid}"), &fixture("entra-remove-member.json", &[("member", &manager)])).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let members = entra.get(&format!("/Groups/{gid}")).await.json()["members"].clone();
    assert_eq!(
        members.as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect::<Vec<_>>(),
        [id.as_str()]
    );
}

#[tokio::test]
async fn rfc_examples_as_fixtures() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "rfc").await;
    // RFC 7644 §3.3: a userName that is no email and no emails: refused, saying why.
    let r = c.post("/Users", &fixture("rfc7644-3.3-create-user.json", &[])).await;
    assert_scim_error(&r, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["scimType"], "invalidValue");
    assert!(r.json()["detail"].as_str().unwrap().contains("email"), "{}", r.body);
    // RFC 7643 §8.3: the full Enterprise User. readOnly `id` and `meta` are ours; `groups` and
    // `password` are accepted and not stored.
    let full = c.post("/Users", &fixture("rfc7643-8.3-enterprise-user.json", &[])).await;
    assert_eq!(full.status, StatusCode::CREATED, "{}", full.body);
    let u = full.json();
    let babs = u["id"].as_str().unwrap().to_owned();
    assert_ne!(babs, "2819c223-7f76-453a-919d-413861904646");
    assert_eq!(u["externalId"], "701984");
    assert!(u.get("password").is_none(), "never returned");
    assert_eq!(u["name"]["honorificPrefix"], "Ms.");
    assert_eq!(u["title"], "Tour Guide");
    assert_eq!(u[ENTERPRISE]["department"], "Tour Operations");
    assert_eq!(u[ENTERPRISE]["manager"]["value"], "26118915-6090-4610-87e4-49d8ca9f808d", "pending, still shown");
    let stored = c.stored(&babs).await;
    assert_eq!(stored["avatar_url"], "https://photos.example.com/profilephoto/72930000000Ccne/F");
    assert_eq!(
        (stored["primary_location"].as_str(), stored["primary_language"].as_str()),
        (Some("Hollywood"), Some("en-US"))
    );
    assert_eq!(stored["manager_id"], Value::Null);
    assert_eq!(stored["okta_id"], Value::Null, "an employee number is no Okta user id");
    // The same user, read back, is what a list filtered on it returns (RFC 7644 §3.4.2 shape).
    let shape = fixture("rfc7644-3.4.2-list-response.json", &[]);
    let list = c.get(&format!("/Users?filter={}", filter(r#"userName eq "bjensen@example.com""#))).await.json();
    for key in shape["required"].as_array().unwrap() {
        assert!(list.get(key.as_str().unwrap()).is_some(), "{key}");
    }
    assert_eq!(list["schemas"], shape["schemas"]);
    assert_eq!(list["Resources"][0], c.get(&format!("/Users/{babs}")).await.json());

    // RFC 7644 §3.5.2.3: replace the work email through a value filter, and a path-less replace.
    let r = c.patch(&format!("/Users/{babs}"), &fixture("rfc7644-3.5.2.3-replace-work-email.json", &[])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["title"], "Head Guide");
    assert_eq!(c.stored(&babs).await["email"], "bjenson@example.com");

    // RFC 7643 §8.4 group, then the §3.5.2 member PATCHes.
    let mandy = c.create("mandy@example.com", json!({})).await;
    let g = c.post("/Groups", &fixture("rfc7643-8.4-group.json", &[("bjensen", &babs), ("jsmith", &mandy)])).await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let gid = g.json()["id"].as_str().unwrap().to_owned();
    let members = |v: &Value| -> Vec<String> {
        let mut m: Vec<String> =
            v["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect();
        m.sort();
        m
    };
    let mut both = vec![babs.clone(), mandy.clone()];
    both.sort();
    assert_eq!(members(&g.json()), both);
    let remove = fixture("rfc7644-3.5.2.2-remove-member.json", &[("member", &babs)]);
    assert_eq!(c.patch(&format!("/Groups/{gid}"), &remove).await.status, StatusCode::NO_CONTENT);
    assert_eq!(members(&c.get(&format!("/Groups/{gid}")).await.json()), std::slice::from_ref(&mandy));
    let add = fixture("rfc7644-3.5.2.1-add-member.json", &[("member", &babs)]);
    assert_eq!(c.patch(&format!("/Groups/{gid}"), &add).await.status, StatusCode::NO_CONTENT);
    assert_eq!(members(&c.get(&format!("/Groups/{gid}")).await.json()), both);
    let replace = fixture("rfc7644-3.5.2.3-replace-members.json", &[("member", &babs)]);
    assert_eq!(c.patch(&format!("/Groups/{gid}"), &replace).await.status, StatusCode::NO_CONTENT);
    assert_eq!(members(&c.get(&format!("/Groups/{gid}")).await.json()), std::slice::from_ref(&babs));
    // PUT replaces the group whole.
    let put = c.put(&format!("/Groups/{gid}"), &json!({"displayName": "Guides", "members": [{"value": mandy}]})).await;
    assert_eq!((put.status, put.json()["displayName"].as_str()), (StatusCode::OK, Some("Guides")));
    assert_eq!(members(&put.json()), std::slice::from_ref(&mandy));
    // Deleting the group writes its members' removals to the change log, then the deletion.
    assert_eq!(c.delete(&format!("/Groups/{gid}")).await.status, StatusCode::NO_CONTENT);
    let log = c.app.admin("GET", &format!("/admin/tenants/{}/changes?after=0&limit=1000", c.tenant), None).await.json();
    let log = log["changes"].as_array().unwrap();
    let last_two: Vec<&Value> = log.iter().rev().take(2).collect();
    assert_eq!((last_two[0]["entity"].as_str(), last_two[0]["action"].as_str()), (Some("group"), Some("deleted")));
    assert_eq!(last_two[1]["entity"], "membership", "{}", last_two[1]);
    assert_eq!(last_two[1]["entity_id"], gid.as_str());
    assert_eq!(last_two[1]["changes"][mandy.as_str()], json!({"before": true, "after": false}));
}

#[tokio::test]
async fn every_error_path_answers_in_the_scim_error_schema() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "errs").await;
    let ann = c.create("ann@example.com", json!({"externalId": "ann-ext"})).await;
    let g = c.post("/Groups", &json!({"displayName": "G"})).await.json()["id"].as_str().unwrap().to_owned();
    let expect = |r: &Reply, status: StatusCode, scim_type: Option<&str>| {
        assert_scim_error(r, status);
        assert_eq!(r.json()["scimType"].as_str(), scim_type, "{}", r.body);
    };
    // Filters.
    for bad in ["userName eq", "userName xx \"a\"", "(userName eq \"a\"", "emails[type eq \"work\"", "name..x pr"] {
        expect(&c.get(&format!("/Users?filter={}", filter(bad))).await, StatusCode::BAD_REQUEST, Some("invalidFilter"));
        expect(
            &c.get(&format!("/Groups?filter={}", filter(bad))).await,
            StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
        );
    }
    expect(&c.get("/Users?count=ten").await, StatusCode::BAD_REQUEST, Some("invalidValue"));
    expect(&c.get("/Users?sortOrder=sideways").await, StatusCode::BAD_REQUEST, Some("invalidValue"));
    // Bodies: malformed, wrong shape, too big.
    let raw = |method: &str, path: &str, body: Vec<u8>| {
        let req = Request::builder()
            .method(method)
            .uri(format!("/t/errs/scim/v2{path}"))
            .header("host", "127.0.0.1:3000")
            .header("authorization", &c.auth)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        app.call(req)
    };
    expect(&raw("POST", "/Users", b"{\"userName\": ".to_vec()).await, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    expect(
        &raw("PATCH", &format!("/Users/{ann}"), b"[]".to_vec()).await,
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    );
    let huge = format!("{{\"userName\": \"big@example.com\", \"title\": \"{}\"}}", "x".repeat(1024 * 1024));
    expect(&raw("POST", "/Users", huge.into_bytes()).await, StatusCode::PAYLOAD_TOO_LARGE, None);
    // Values.
    for body in
        [json!({"name": {"givenName": "No"}}), json!({"userName": 7}), json!({"userName": "a@b.co", "active": "maybe"})]
    {
        expect(&c.post("/Users", &body).await, StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    expect(&c.post("/Groups", &json!({"members": []})).await, StatusCode::BAD_REQUEST, Some("invalidValue"));
    // PATCH operations.
    let ops = |list: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list});
    for (list, scim_type) in [
        (json!([{"op": "jump", "path": "title", "value": "x"}]), "invalidSyntax"),
        (json!([{"op": "remove"}]), "noTarget"),
        (json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]), "invalidPath"),
        (json!([{"op": "replace", "value": {"id": "usr_11111111111111111111111111111111"}}]), "mutability"),
    ] {
        expect(&c.patch(&format!("/Users/{ann}"), &ops(list)).await, StatusCode::BAD_REQUEST, Some(scim_type));
    }
    expect(
        &c.patch(&format!("/Groups/{g}"), &ops(json!([{"op": "add", "path": "owner", "value": "x"}]))).await,
        StatusCode::BAD_REQUEST,
        Some("invalidPath"),
    );
    // Uniqueness: userName, email and externalId.
    let bob = c.create("bob@example.com", json!({})).await;
    let mut as_ann = c.get(&format!("/Users/{bob}")).await.json();
    as_ann["userName"] = json!("ANN@example.com");
    expect(&c.put(&format!("/Users/{bob}"), &as_ann).await, StatusCode::CONFLICT, Some("uniqueness"));
    let taken_ext = json!({"userName": "carl@example.com", "externalId": "ann-ext"});
    expect(&c.post("/Users", &taken_ext).await, StatusCode::CONFLICT, Some("uniqueness"));
    // ETags: If-Match with an old version → 412, nothing written; the current one → 200.
    let current = c.get(&format!("/Users/{ann}")).await;
    let etag = current.headers["etag"].to_str().unwrap().to_owned();
    let title = ops(json!([{"op": "replace", "path": "title", "value": "Boss"}]));
    let ok = c.send("PATCH", &format!("/Users/{ann}"), Some(&title), &[("if-match", &etag)]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let stale = c.send("PATCH", &format!("/Users/{ann}"), Some(&title), &[("if-match", &etag)]).await;
    expect(&stale, StatusCode::PRECONDITION_FAILED, None);
    expect(
        &c.send("DELETE", &format!("/Users/{ann}"), None, &[("if-match", "W/\"1\"")]).await,
        StatusCode::PRECONDITION_FAILED,
        None,
    );
    let gtag = c.get(&format!("/Groups/{g}")).await.headers["etag"].to_str().unwrap().to_owned();
    let rename = ops(json!([{"op": "replace", "path": "displayName", "value": "H"}]));
    assert_eq!(
        c.send("PATCH", &format!("/Groups/{g}"), Some(&rename), &[("if-match", &gtag)]).await.status,
        StatusCode::NO_CONTENT
    );
    expect(
        &c.send("PATCH", &format!("/Groups/{g}"), Some(&rename), &[("if-match", &gtag)]).await,
        StatusCode::PRECONDITION_FAILED,
        None,
    );
    // Methods and unknown resources.
    expect(&c.send("PATCH", "/Users", Some(&title), &[]).await, StatusCode::METHOD_NOT_ALLOWED, None);
    expect(&c.send("POST", &format!("/Users/{ann}"), Some(&title), &[]).await, StatusCode::METHOD_NOT_ALLOWED, None);
    expect(&c.get("/Groups/grp_00000000000000000000000000000000").await, StatusCode::NOT_FOUND, None);
    expect(&c.patch("/Users/nobody", &title).await, StatusCode::NOT_FOUND, None);
    // Nothing above changed Ann except the one accepted PATCH.
    let stored = c.stored(&ann).await;
    assert_eq!((stored["job_title"].as_str(), stored["status"].as_str()), (Some("Boss"), Some("active")));
}

#[tokio::test]
async fn tenant_isolation_on_every_route() {
    let app = TestApp::spawn().await;
    let a = Client::new(&app, "tenant-a").await;
    let b = Client::new(&app, "tenant-b").await;
    let a_user = a.create("shared.name@example.com", json!({"externalId": "same-ext"})).await;
    let a_group = a.post("/Groups", &json!({"displayName": "A team", "members": [{"value": a_user}]})).await.json()
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same userName and externalId are free in tenant B.
    let b_user = b.create("shared.name@example.com", json!({"externalId": "same-ext"})).await;
    assert_ne!(a_user, b_user);
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]});
    let gpatch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": b_user}]}]});
    // A's token on B's URL: 401 on every route.
    let a_on_b = b.with_auth(&a.auth);
    for (m, p) in [
        ("GET", "/ServiceProviderConfig".to_owned()),
        ("GET", "/Users".to_owned()),
        ("POST", "/Users".to_owned()),
        ("GET", format!("/Users/{b_user}")),
        ("PUT", format!("/Users/{b_user}")),
        ("PATCH", format!("/Users/{b_user}")),
        ("DELETE", format!("/Users/{b_user}")),
        ("GET", "/Groups".to_owned()),
        ("POST", "/Groups".to_owned()),
        ("GET", format!("/Groups/{a_group}")),
        ("PATCH", format!("/Groups/{a_group}")),
        ("DELETE", format!("/Groups/{a_group}")),
    ] {
        let body = (m != "GET" && m != "DELETE").then_some(&patch);
        assert_scim_error(&a_on_b.send(m, &p, body, &[]).await, StatusCode::UNAUTHORIZED);
    }
    // B's token with A's identifiers: nothing of A is found, read or changed.
    assert_scim_error(&b.get(&format!("/Users/{a_user}")).await, StatusCode::NOT_FOUND);
    assert_scim_error(&b.patch(&format!("/Users/{a_user}"), &patch).await, StatusCode::NOT_FOUND);
    assert_scim_error(
        &b.put(&format!("/Users/{a_user}"), &json!({"userName": "x@example.com"})).await,
        StatusCode::NOT_FOUND,
    );
    assert_scim_error(&b.delete(&format!("/Users/{a_user}")).await, StatusCode::NOT_FOUND);
    assert_scim_error(&b.get(&format!("/Groups/{a_group}")).await, StatusCode::NOT_FOUND);
    assert_scim_error(&b.patch(&format!("/Groups/{a_group}"), &gpatch).await, StatusCode::NOT_FOUND);
    assert_scim_error(&b.delete(&format!("/Groups/{a_group}")).await, StatusCode::NOT_FOUND);
    let by_id = b.get(&format!("/Users?filter={}", filter(&format!("id eq \"{a_user}\"")))).await.json();
    assert_eq!(by_id["totalResults"], 0);
    assert_eq!(ids(&b.get("/Users").await.json()), std::slice::from_ref(&b_user));
    assert_eq!(b.get("/Groups").await.json()["totalResults"], 0);
    // A group in B naming A's user holds a pending value, never A's user.
    let g = b.post("/Groups", &json!({"displayName": "B team", "members": [{"value": a_user}]})).await.json();
    assert_eq!(g["members"][0].get("$ref"), None, "pending: not a user of tenant B");
    // A is untouched.
    let a_stored = a.stored(&a_user).await;
    assert_eq!(a_stored["status"], "active");
    let a_members = a.get(&format!("/Groups/{a_group}")).await.json()["members"].clone();
    assert_eq!(a_members.as_array().unwrap().len(), 1);
}

/// An import paged by `startIndex` while the client's other requests create and delete users:
/// each page resumes where the last ended (no user twice, none that stayed skipped) and every
/// page's total is the tenant's count at that moment.
#[tokio::test]
async fn an_import_paged_while_users_come_and_go_sees_each_once_with_true_totals() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "import").await;
    let mut present = Vec::new();
    for i in 0..12 {
        present.push(c.create(&format!("i{i}@example.com"), json!({})).await);
    }
    let (mut seen, mut start, mut live) = (Vec::new(), 1, 12u64);
    for round in 0..10 {
        let page = c.get(&format!("/Users?startIndex={start}&count=4")).await.json();
        assert_eq!(page["totalResults"].as_u64(), Some(live), "round {round}");
        let got = ids(&page);
        let last_page = got.len() < 4;
        start += got.len();
        seen.extend(got);
        if last_page {
            // As Okta's import: a short page is the last.
            break;
        }
        // Between pages: one joiner, and (twice) a deletion of someone already listed.
        c.create(&format!("late{round}@example.com"), json!({})).await;
        live += 1;
        if round < 2 {
            assert_eq!(c.delete(&format!("/Users/{}", seen[round])).await.status, StatusCode::NO_CONTENT);
            live -= 1;
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no user listed twice");
    assert!(present.iter().all(|p| seen.contains(p)), "every user present throughout was listed");
}

#[tokio::test]
async fn paging_totals_with_and_without_filters_and_sorting() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "pages").await;
    let mut all = Vec::new();
    for (i, family) in ["Lee", "Long", "Moss", "Lamb", "Nash", "Lowe", "Hart"].iter().enumerate() {
        let extra = json!({"name": {"givenName": format!("P{i}"), "familyName": family}});
        all.push(c.create(&format!("p{i}@example.com"), extra).await);
    }
    // A user the client deleted is gone from lists and totals.
    assert_eq!(c.delete(&format!("/Users/{}", all[6])).await.status, StatusCode::NO_CONTENT);
    let mut seen = Vec::new();
    for (start, want) in [(1, 3), (4, 3), (7, 0)] {
        let page = c.get(&format!("/Users?startIndex={start}&count=3")).await.json();
        assert_eq!(
            (page["totalResults"].as_u64(), page["itemsPerPage"].as_u64(), page["startIndex"].as_u64()),
            (Some(6), Some(want), Some(start))
        );
        seen.extend(ids(&page));
    }
    let mut live = all[..6].to_vec();
    live.sort();
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    assert_eq!(sorted_seen, live, "every page once, none twice");
    assert_eq!(c.get("/Users?count=0").await.json()["totalResults"], 6, "count=0 gives only the total");
    // A non-key filter: totals count matches, pages page them.
    let f = filter(r#"name.familyName sw "L""#);
    let page1 = c.get(&format!("/Users?filter={f}&count=2&sortBy=name.familyName")).await.json();
    assert_eq!((page1["totalResults"].as_u64(), page1["itemsPerPage"].as_u64()), (Some(4), Some(2)));
    let family = |v: &Value| -> Vec<String> {
        v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"]["familyName"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(family(&page1), ["Lamb", "Lee"]);
    let page2 = c.get(&format!("/Users?filter={f}&count=2&startIndex=3&sortBy=name.familyName")).await.json();
    assert_eq!(family(&page2), ["Long", "Lowe"]);
    let desc = c.get(&format!("/Users?filter={f}&count=1&sortBy=name.familyName&sortOrder=descending")).await.json();
    assert_eq!(family(&desc), ["Lowe"]);
    // Compound filters, `not`, `or`, `pr`, and attribute projection.
    for (expr, n) in [
        (r#"name.familyName sw "L" and not (name.givenName eq "P0")"#, 3),
        (r#"name.familyName eq "Moss" or name.familyName eq "Nash""#, 2),
        ("title pr", 0),
        (r#"emails[type eq "work" and value ew "@example.com"]"#, 6),
        (r#"active eq true and userName co "p1""#, 1),
    ] {
        assert_eq!(c.get(&format!("/Users?filter={}", filter(expr))).await.json()["totalResults"], n, "{expr}");
    }
    let slim = c.get(&format!("/Users?attributes=userName&filter={}", filter(r#"userName eq "p2@example.com""#))).await;
    let r = &slim.json()["Resources"][0];
    let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["id", "schemas", "userName"]);
    let no_emails = c.get(&format!("/Users/{}?excludedAttributes=emails,meta", all[0])).await.json();
    assert!(no_emails.get("emails").is_none() && no_emails.get("meta").is_none() && no_emails.get("id").is_some());
}

#[tokio::test]
async fn concurrent_member_patches_lose_nothing() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "busy").await;
    let mut users = Vec::new();
    for i in 0..12 {
        users.push(c.create(&format!("m{i}@example.com"), json!({})).await);
    }
    let gid = c.post("/Groups", &json!({"displayName": "Crowd"})).await.json()["id"].as_str().unwrap().to_owned();
    let add = |u: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": u}]}]})
    };
    // Twelve PATCHes at once, each adding one member (and some adding the same one twice).
    let path = format!("/Groups/{gid}");
    let bodies: Vec<Value> = users.iter().chain(users.iter().take(4)).map(|u| add(u)).collect();
    let calls: Vec<_> = bodies.iter().map(|b| c.patch(&path, b)).collect();
    for r in futures_util::future::join_all(calls).await {
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }
    let members = c.get(&path).await.json()["members"].as_array().unwrap().len();
    assert_eq!(members, 12, "no add lost, none doubled");
    // Half removed at once while the rest is renamed.
    let remove = |u: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{u}\"]")}]})
    };
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "Crowd 2"}}]});
    let mut bodies = vec![rename];
    bodies.extend(users.iter().step_by(2).map(|u| remove(u)));
    let calls: Vec<_> = bodies.iter().map(|b| c.patch(&path, b)).collect();
    for r in futures_util::future::join_all(calls).await {
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }
    let group = c.get(&path).await.json();
    let mut left: Vec<String> =
        group["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect();
    left.sort();
    let mut want: Vec<String> = users.iter().skip(1).step_by(2).cloned().collect();
    want.sort();
    assert_eq!((group["displayName"].as_str(), left), (Some("Crowd 2"), want));
    let log = c.changes().await;
    let membership: usize =
        log.iter().filter(|e| e["entity"] == "membership").map(|e| e["changes"].as_object().unwrap().len()).sum();
    assert_eq!(membership, 12 + 6, "each real change logged once");
}

#[tokio::test]
async fn managers_departments_approvers_and_members_wait_for_their_users() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "later").await;
    // Ann names a manager (by Okta's id in externalId) and an approver who do not exist yet.
    let ann = c
        .create(
            "ann@example.com",
            json!({ENTERPRISE: {"department": "Tour Operations", "manager": {"value": "00uBossLater"}},
                   OURS: {"approvers": ["approver@example.com"], "contentRegion": "IT", "customField2": "blue"}}),
        )
        .await;
    let g = c.post("/Groups", &json!({"displayName": "Waiting", "members": [{"value": "00uBossLater"}]})).await.json();
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(g["members"], json!([{"value": "00uBossLater", "type": "User"}]), "pending, never dropped");
    let stored = c.stored(&ann).await;
    assert_eq!((stored["manager_id"].clone(), stored["primary_team"].as_str()), (Value::Null, Some("Tour Operations")));
    assert_eq!(stored["custom_fields"]["content_region"], "ES");
    assert_eq!(stored["custom_fields"]["custom_field_2"], "blue");
    let health = app.admin("GET", "/admin/tenants/later/health", None).await.json();
    assert!(health["pending_references"].as_u64().unwrap() >= 3, "{health}");
    let teams = app.admin("GET", "/admin/tenants/later/teams", None).await.json();
    assert_eq!(teams["teams"][0]["name"], "Tour Operations");

    // The manager arrives: Ann's manager, and the group's member, resolve at once.
    let boss = c.create("boss@example.com", json!({"externalId": "00uBossLater"})).await;
    assert_eq!(c.stored(&ann).await["manager_id"], boss.as_str());
    let members = c.get(&format!("/Groups/{gid}")).await.json()["members"].clone();
    assert_eq!(members[0]["value"], boss.as_str());
    assert!(members[0]["$ref"].as_str().unwrap().ends_with(&boss));
    // The approver arrives.
    let approver = c.create("Approver@Example.com", json!({})).await;
    let approvers = c.stored(&ann).await["approvers"].clone();
    assert_eq!(approvers, json!([{"email": "approver@example.com", "user_id": approver}]));
    assert_eq!(c.get(&format!("/Users/{ann}")).await.json()[OURS]["approvers"], json!(["approver@example.com"]));
    // Self-management is refused with a warning; the rest of the write stands.
    let me = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": ann}},
        {"op": "replace", "path": "title", "value": "Lead"}]});
    let r = c.patch(&format!("/Users/{ann}"), &me).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let stored = c.stored(&ann).await;
    assert_eq!(stored["job_title"], "Lead");
    assert_eq!(stored["warnings"][0]["field"], "manager");
}

#[tokio::test]
async fn delete_then_404_then_the_same_user_comes_back() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "again").await;
    let id = c.create("gone@example.com", json!({"externalId": "gone-ext"})).await;
    assert_eq!(c.delete(&format!("/Users/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_scim_error(&c.get(&format!("/Users/{id}")).await, StatusCode::NOT_FOUND);
    assert_scim_error(&c.delete(&format!("/Users/{id}")).await, StatusCode::NOT_FOUND);
    let stored = c.stored(&id).await;
    assert_eq!(
        (stored["status"].as_str(), stored["status_reason"].as_str()),
        (Some("deactivated"), Some("scim_deleted"))
    );
    let f = filter(r#"userName eq "gone@example.com""#);
    assert_eq!(c.get(&format!("/Users?filter={f}")).await.json()["totalResults"], 0);
    // Provisioned again: the same user, reactivated, with their history.
    let back = c.post("/Users", &json!({"userName": "gone@example.com", "name": {"givenName": "Back"}})).await;
    assert_eq!(back.status, StatusCode::CREATED, "{}", back.body);
    assert_eq!((back.json()["id"].as_str(), back.json()["active"].as_bool()), (Some(id.as_str()), Some(true)));
    let log = c.changes().await;
    let actions: Vec<&str> =
        log.iter().filter(|e| e["entity_id"] == id.as_str()).map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "deleted", "reactivated"]);
}

#[tokio::test]
async fn content_region_rows_through_scim() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "regions").await;
    let rows = [
        ("GB", "GB"),
        ("ES", "ES"),
        ("IT", "ES"),
        ("MT", "ES"),
        ("DE", "DE"),
        ("BE", "DE"),
        ("CH", "DE"),
        ("DK", "DE"),
        ("RO", "DE"),
        ("SI", "DE"),
        ("US", "US"),
        ("CA", "US"),
        ("SE", "SE"),
        ("NO", "SE"),
        ("FR", "QQ"),
        ("", "QQ"),
    ];
    for (i, (country, region)) in rows.iter().enumerate() {
        let id = c.create(&format!("r{i}@example.com"), json!({OURS: {"contentRegion": country}})).await;
        assert_eq!(c.stored(&id).await["custom_fields"]["content_region"], *region, "{country:?}");
    }
    let none = c.create("nowhere@example.com", json!({})).await;
    assert_eq!(c.stored(&none).await["custom_fields"]["content_region"], "QQ");
    // SCIM reads back the country the client wrote (a client that read the region instead would
    // write the country again on every cycle); the learning platform stores the region.
    let ch = c.get(&format!("/Users?filter={}", filter(&format!("{OURS}:contentRegion eq \"ch\"")))).await.json();
    assert_eq!(ch["totalResults"], 1);
    assert_eq!(ch["Resources"][0][OURS]["contentRegion"], "CH");
}
