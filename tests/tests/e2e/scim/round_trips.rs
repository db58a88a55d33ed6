//! What a SCIM client writes is what it reads back (RFC 7643 §2.1, §4.1): `userName` in its own
//! case, every core, Enterprise and extension attribute it sends, path-less PATCHes of any of
//! them; Entra ID's read-compare-write cycle settles after one pass; ETags move only with the
//! resource; the accepted `Authorization` forms.
use axum::http::StatusCode;
use serde_json::{json, Value};

use super::flows::Client;
use crate::helpers::TestApp;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A user as Okta or Entra would send it, with every core attribute and a mixed-case userName.
fn full_user(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": user_name,
        "externalId": "emp-4711",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
                 "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en_US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [{"value": email, "type": "work", "primary": true},
                   {"value": "babs@jensen.org", "type": "home"}],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-4444", "type": "mobile"}],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "region": "CA",
             "postalCode": "91608", "country": "US", "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
             "primary": true},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood", "region": "CA",
             "postalCode": "91608", "country": "US"}],
        "x509Certificates": [],
        ENTERPRISE: {"employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
                     "division": "Theme Park", "department": "Tour Operations"},
    })
}

/// Every attribute of `sent` (but the server's own) is in `read` with the same value.
fn assert_round_trip(sent: &Value, read: &Value) {
    for (k, v) in sent.as_object().unwrap() {
        if ["schemas", "password", "active"].contains(&k.as_str()) {
            continue;
        }
        match (v, &read[k]) {
            (Value::Object(inner), Value::Object(back)) => {
                for (ik, iv) in inner {
                    assert_eq!(back.get(ik), Some(iv), "{k}.{ik} came back as {:?}", back.get(ik));
                }
            }
            (v, back) => assert_eq!(back, v, "{k} came back as {back}"),
        }
    }
}

#[tokio::test]
async fn what_a_client_writes_is_what_it_reads_back() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "trips").await;
    let sent = full_user("BJensen@Example.COM", "bjensen@example.com");
    let created = c.post("/Users", &sent).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_round_trip(&sent, &created.json());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let read = c.get(&format!("/Users/{id}")).await.json();
    assert_round_trip(&sent, &read);
    assert_eq!(read["userName"], "BJensen@Example.COM", "as the client wrote it");
    // The learning platform's fields are still mapped from it.
    let stored = c.stored(&id).await;
    assert_eq!(
        (stored["email"].as_str(), stored["first_name"].as_str(), stored["primary_language"].as_str()),
        (Some("bjensen@example.com"), Some("Barbara"), Some("en-US"))
    );
    assert_eq!(
        (stored["primary_team"].as_str(), stored["job_title"].as_str()),
        (Some("Tour Operations"), Some("Tour Guide"))
    );
    // Found case-insensitively, read back as written, in lists and filters and projections.
    for f in [r#"userName eq "bjensen@example.com""#, r#"nickName eq "babs""#, r#"phoneNumbers[type eq "mobile"]"#] {
        let q = c.get(&format!("/Users?filter={}", urlencode(f))).await.json();
        assert_eq!(q["totalResults"], 1, "{f}: {q}");
        assert_eq!(q["Resources"][0]["userName"], "BJensen@Example.COM");
    }
    let projected = c.get(&format!("/Users/{id}?attributes=nickName,name.middleName")).await.json();
    assert_eq!(
        (projected["nickName"].as_str(), projected["name"]["middleName"].as_str()),
        (Some("Babs"), Some("Jane"))
    );
    assert!(projected.get("phoneNumbers").is_none());
    let excluded = c.get(&format!("/Users/{id}?excludedAttributes=phoneNumbers")).await.json();
    assert!(excluded.get("phoneNumbers").is_none() && excluded["nickName"] == "Babs");
    // The same userName in another case is still the same userName.
    let dup = c.post("/Users", &full_user("bjensen@EXAMPLE.com", "other@example.com")).await;
    assert_eq!((dup.status, dup.json()["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")));

    // PUT changes every attribute it carries (displayName too) and drops those it leaves out.
    let etag = created.headers["etag"].to_str().unwrap().to_owned();
    let same = c.put(&format!("/Users/{id}"), &sent).await;
    assert_eq!(same.headers["etag"], etag.as_str(), "an identical PUT changes nothing, the ETag neither");
    let mut changed = sent.clone();
    changed["displayName"] = json!("Barbara J.");
    changed.as_object_mut().unwrap().remove("ims");
    let put = c.put(&format!("/Users/{id}"), &changed).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_ne!(put.headers["etag"], etag.as_str());
    let read = c.get(&format!("/Users/{id}")).await.json();
    assert_round_trip(&changed, &read);
    assert!(read.get("ims").is_none(), "PUT replaces the whole resource");

    // Path-less PATCH replace and add change every attribute they carry; remove by path.
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "replace", "value": {"displayName": "BJ", "nickName": "Barbie", "name": {"middleName": "J."}, "name.honorificSuffix": "IV"}},
        {"op": "add", "value": {"phoneNumbers": [{"value": "555-000-1111", "type": "fax"}], "title": "Lead Guide"}},
        {"op": "Remove", "path": "profileUrl"}]});
    let p = c.patch(&format!("/Users/{id}"), &ops).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let read = c.get(&format!("/Users/{id}")).await.json();
    assert_eq!((read["displayName"].as_str(), read["nickName"].as_str()), (Some("BJ"), Some("Barbie")));
    assert_eq!(
        (read["name"]["middleName"].as_str(), read["name"]["honorificSuffix"].as_str()),
        (Some("J."), Some("IV"))
    );
    assert_eq!(read["name"]["givenName"], "Barbara", "sub-attributes not named are left alone");
    assert_eq!(read["title"], "Lead Guide");
    assert_eq!(c.stored(&id).await["job_title"], "Lead Guide", "the mapped field follows");
    let phones: Vec<&str> =
        read["phoneNumbers"].as_array().unwrap().iter().map(|p| p["value"].as_str().unwrap()).collect();
    assert!(phones.contains(&"555-000-1111") && phones.contains(&"555-555-5555"), "{phones:?}");
    assert!(read.get("profileUrl").is_none());
    let log = c.changes().await;
    let last = log.last().unwrap();
    assert!(
        last["changes"]["scim_attributes"]["after"]["nickName"] == "Barbie",
        "the change log names what changed: {last}"
    );
}

#[tokio::test]
async fn entras_read_compare_write_cycle_settles_in_one_pass() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "entra-cycle").await;
    // Entra's attribute mappings (its default SCIM app), as source values.
    let mut source = json!({
        "userName": "Alex.Wilber@Contoso.onmicrosoft.com", "active": true, "displayName": "Alex Wilber",
        "title": "Marketing Assistant", "preferredLanguage": "en-US", "externalId": "AlexW",
        "emails[type eq \"work\"].value": "AlexW@contoso.com",
        "name.givenName": "Alex", "name.familyName": "Wilber", "name.formatted": "Alex Wilber",
        "addresses[type eq \"work\"].locality": "Tulsa", "addresses[type eq \"work\"].country": "US",
        "addresses[type eq \"work\"].postalCode": "74133", "addresses[type eq \"work\"].streetAddress": "9256 Towne Center Dr",
        "phoneNumbers[type eq \"work\"].value": "+1 918 555 0101",
        "phoneNumbers[type eq \"mobile\"].value": "+1 858 555 0110",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Retail",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "1077",
    });
    let created = c.post("/Users", &json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": source["userName"], "active": true, "displayName": source["displayName"], "title": source["title"],
        "preferredLanguage": source["preferredLanguage"], "externalId": source["externalId"],
        "emails": [{"primary": true, "type": "work", "value": "AlexW@contoso.com"}],
        "name": {"givenName": "Alex", "familyName": "Wilber", "formatted": "Alex Wilber"},
        "addresses": [{"type": "work", "locality": "Tulsa", "country": "US", "postalCode": "74133",
                       "streetAddress": "9256 Towne Center Dr", "primary": true}],
        "phoneNumbers": [{"type": "work", "value": "+1 918 555 0101"}, {"type": "mobile", "value": "+1 858 555 0110"}],
        ENTERPRISE: {"department": "Retail", "employeeNumber": "1077"},
    })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    // The source changes one attribute: the first cycle writes exactly it, the second nothing.
    source["phoneNumbers[type eq \"mobile\"].value"] = json!("+1 858 555 0199");
    assert_eq!(entra_cycle(&c, &id, &source).await, vec!["phoneNumbers[type eq \"mobile\"].value".to_owned()]);
    let etag = c.get(&format!("/Users/{id}")).await.headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(entra_cycle(&c, &id, &source).await, Vec::<String>::new(), "the second cycle writes nothing");
    assert_eq!(c.get(&format!("/Users/{id}")).await.headers["etag"], etag.as_str());
}

/// One Entra cycle: read the user, compare every mapped attribute, PATCH (replace, with a path)
/// those that differ. Returns the paths it wrote.
async fn entra_cycle(c: &Client<'_>, id: &str, source: &Value) -> Vec<String> {
    let user_name = source["userName"].as_str().unwrap();
    let found = c.get(&format!("/Users?filter={}", urlencode(&format!("userName eq \"{user_name}\"")))).await.json();
    assert_eq!(found["totalResults"], 1, "{found}");
    let read = &found["Resources"][0];
    assert_eq!(read["id"], id);
    let mut writes = Vec::new();
    for (path, want) in source.as_object().unwrap() {
        if read_path(read, path).as_ref() != Some(want) {
            writes.push(path.clone());
        }
    }
    if !writes.is_empty() {
        let ops: Vec<Value> = writes.iter().map(|p| json!({"op": "Replace", "path": p, "value": source[p]})).collect();
        let r = c
            .patch(
                &format!("/Users/{id}"),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    writes
}

/// Reads an Entra-style path (`a.b`, `list[type eq "x"].sub`, `urn:...:attr`) from a resource.
fn read_path(r: &Value, path: &str) -> Option<Value> {
    if let Some(attr) = path.strip_prefix(&format!("{ENTERPRISE}:")) {
        return r.get(ENTERPRISE)?.get(attr).cloned();
    }
    if let Some((list, rest)) = path.split_once('[') {
        let (filter, sub) = rest.split_once("].")?;
        let kind = filter.split('"').nth(1)?;
        let item = r.get(list)?.as_array()?.iter().find(|i| i["type"] == kind)?;
        return item.get(sub).cloned();
    }
    path.split('.').try_fold(r, |v, k| v.get(k)).cloned()
}

#[tokio::test]
async fn token_forms_and_a_user_without_an_email_say_what_to_do() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "forms").await;
    let token = c.auth.strip_prefix("Bearer ").unwrap().to_owned();
    for auth in [format!("Bearer {token}"), format!("Static {token}"), token.clone()] {
        assert_eq!(c.with_auth(&auth).get("/Users").await.status, StatusCode::OK, "{auth:.8}");
    }
    assert_eq!(c.with_auth("Static nope").get("/Users").await.status, StatusCode::UNAUTHORIZED);
    let r = c.post("/Users", &json!({"userName": "jdoe", "name": {"givenName": "J", "familyName": "Doe"}})).await;
    assert_eq!((r.status, r.json()["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidValue")));
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("emails[type eq \"work\"].value") && detail.contains("Entra"), "{detail}");
    let schema = c.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").await.json();
    let emails = schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "emails").unwrap();
    assert_eq!(emails["required"], true, "the requirement is advertised");
    // Too large a resource is refused, saying the limit.
    let mut huge = full_user("big@example.com", "big@example.com");
    huge["nickName"] = json!("x".repeat(40_000));
    let r = c.post("/Users", &huge).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["detail"].as_str().unwrap().contains("32768"), "{}", r.body);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Okta's provisioning sequence with a mixed-case userName: look-up, create, read, the full-profile
/// PUT of a profile push, a path-less PATCH: every answer carries the userName as Okta sent it.
#[tokio::test]
async fn oktas_sequence_keeps_the_username_as_okta_sent_it() {
    let app = TestApp::spawn().await;
    let c = Client::new(&app, "okta-case").await;
    let user_name = "OktaUser@Example.com";
    let q = format!("/Users?filter={}&startIndex=1&count=100", urlencode(&format!("userName eq \"{user_name}\"")));
    assert_eq!(c.get(&q).await.json()["totalResults"], 0);
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
        "name": {"givenName": "Okta", "familyName": "User", "middleName": "Q"}, "nickName": "Okie",
        "emails": [{"primary": true, "value": "oktauser@example.com", "type": "work"}],
        "displayName": "Okta Q. User", "locale": "en-GB", "externalId": "00uokta0000000000001",
        "groups": [], "password": "never-stored", "active": true,
    });
    let created = c.post("/Users", &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert!(created.json().get("password").is_none(), "never returned");
    for read in
        [created.json(), c.get(&format!("/Users/{id}")).await.json(), c.get(&q).await.json()["Resources"][0].clone()]
    {
        assert_eq!((read["userName"].as_str(), read["nickName"].as_str()), (Some(user_name), Some("Okie")), "{read}");
        assert_eq!(read["name"]["middleName"], "Q");
    }
    // Profile push: Okta PUTs the whole user with one change.
    let mut pushed = body.clone();
    pushed["nickName"] = json!("Oak");
    pushed["name"]["familyName"] = json!("Userton");
    let put = c.put(&format!("/Users/{id}"), &pushed).await.json();
    assert_eq!(
        (put["userName"].as_str(), put["nickName"].as_str(), put["name"]["familyName"].as_str()),
        (Some(user_name), Some("Oak"), Some("Userton"))
    );
    // Deactivation: path-less replace.
    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]});
    let patched = c.patch(&format!("/Users/{id}"), &off).await.json();
    assert_eq!(
        (patched["active"].as_bool(), patched["userName"].as_str(), patched["nickName"].as_str()),
        (Some(false), Some(user_name), Some("Oak"))
    );
    let stored = c.stored(&id).await;
    assert_eq!(
        (stored["email"].as_str(), stored["status"].as_str()),
        (Some("oktauser@example.com"), Some("deactivated"))
    );
}
