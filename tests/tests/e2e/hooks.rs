//! Provisioning by Okta event hooks, end to end: simulator → receiver → SQS → worker → DynamoDB →
//! admin API (docs/behaviour/event-hooks.md).
use axum::body::Body;
use axum::http::{Request, StatusCode};
use harness::okta_sim::{DeliverOptions, Fault};
use serde_json::json;

use crate::world::{profile, World};

#[tokio::test]
async fn the_verification_challenge_is_echoed() {
    let w = World::new("individual").await;
    let get = |headers: &[(&str, &str)]| {
        let mut r = Request::builder().uri("/t/acme/webhooks/okta").header("host", "127.0.0.1");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.body(Body::empty()).unwrap()
    };
    let ok = w.app.call(get(&[("x-okta-verification-challenge", "Zz9-challenge")])).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.content_type().starts_with("application/json"));
    assert_eq!(ok.json(), json!({"verification": "Zz9-challenge"}));
    let with_auth =
        w.app.call(get(&[("X-Okta-Verification-Challenge", "abc"), ("authorization", &w.hook_secret)])).await;
    assert_eq!(with_auth.json(), json!({"verification": "abc"}));
    let wrong = w.app.call(get(&[("x-okta-verification-challenge", "abc"), ("authorization", "nope")])).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let missing = w.app.call(get(&[])).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.json()["error"]["code"], "invalid_delivery");
    // A tenant without event-hook provisioning: not found.
    w.app.create_tenant("other").await;
    let r = w
        .app
        .call(
            Request::builder()
                .uri("/t/other/webhooks/okta")
                .header("x-okta-verification-challenge", "x")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_deliveries_are_refused_and_queue_nothing() {
    let w = World::new("individual").await;
    w.sim.create_user(profile("Ann", "Lee", "ann@acme.example", json!({})), true);
    let body = json!({"eventId": "e1", "data": {"events": [{"uuid": "u1", "eventType": "user.lifecycle.deactivate", "target": [{"id": "00u00000000000000001", "type": "User"}]}]}}).to_string();
    let post = |auth: Option<&str>, body: String| {
        let mut r =
            Request::builder().method("POST").uri("/t/acme/webhooks/okta").header("content-type", "application/json");
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.body(Body::from(body)).unwrap()
    };
    let r = w.app.call(post(Some("wrong-secret"), body.clone())).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    assert!(!r.body.contains(&w.hook_secret));
    assert_eq!(w.app.call(post(None, body.clone())).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(w.app.queue_depth().await, 0, "nothing queued for a refused delivery");
    let r = w.app.call(post(Some(&w.hook_secret), "{\"data\": ".into())).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_delivery")));
    let r = w.app.call(post(Some(&w.hook_secret), "[1,2]".into())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let huge = format!("{{\"data\":{{\"events\":[]}},\"pad\":\"{}\"}}", "x".repeat(1024 * 1024));
    let r = w.app.call(post(Some(&w.hook_secret), huge)).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")));
    assert_eq!(w.app.queue_depth().await, 0);
    // Caps: more events than any delivery carries, an overlong eventId.
    let event =
        json!({"uuid": "u", "eventType": "user.lifecycle.deactivate", "target": [{"id": "00u1", "type": "User"}]});
    let many = json!({"eventId": "e-many", "data": {"events": vec![event; 1001]}}).to_string();
    let r = w.app.call(post(Some(&w.hook_secret), many)).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_delivery")));
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("1000"), "{}", r.body);
    let long_id = json!({"eventId": "e".repeat(200), "data": {"events": []}}).to_string();
    assert_eq!(w.app.call(post(Some(&w.hook_secret), long_id)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(w.app.queue_depth().await, 0);
    // The right secret: queued, and the answer is an empty 200.
    let r = w.app.call(post(Some(&w.hook_secret), body.clone())).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, ""));
    assert_eq!(w.app.queue_depth().await, 1);
    // The same delivery again: 200, nothing new.
    assert_eq!(w.app.call(post(Some(&w.hook_secret), body)).await.status, StatusCode::OK);
    assert_eq!(w.app.queue_depth().await, 1);
}

#[tokio::test]
async fn every_row_of_the_event_table() {
    let w = World::new("individual").await;
    let id = w.sim.create_user(
        profile("Ann", "Lee", "Ann.Lee@acme.example", json!({"title": "Engineer", "department": "Platform", "honorificPrefix": "Dr",
            "preferredLanguage": "en_GB", "city": "Leeds", "costCenter": 42, "avatarUrl": "https://cdn.example.com/ann.png"})),
        true,
    );
    // User assigned to app → created.
    w.sync().await;
    let u = w.user_by_okta_id(&id).await.expect("created");
    assert_eq!(u["status"], "active");
    assert_eq!(u["email"], "Ann.Lee@acme.example");
    assert_eq!((u["first_name"].as_str(), u["last_name"].as_str()), (Some("Ann"), Some("Lee")));
    assert_eq!(u["job_title"], "Engineer");
    assert_eq!(u["title"], "Dr");
    assert_eq!(u["primary_team"], "Platform");
    assert_eq!(u["primary_language"], "en-GB");
    assert_eq!(u["primary_location"], "Leeds");
    assert_eq!(u["avatar_url"], "https://cdn.example.com/ann.png");
    assert_eq!(u["custom_fields"]["cost_center"], "42");
    assert!(u["invited_at"].is_null(), "invite_automatically is off");

    // Profile updated → updated; an absent attribute clears its field.
    w.sim.update_profile(
        &id,
        json!({"title": "Staff Engineer", "city": null, "countryCode": "GB"}).as_object().unwrap().clone(),
    );
    w.sync().await;
    let u = w.user_by_okta_id(&id).await.unwrap();
    assert_eq!(u["job_title"], "Staff Engineer");
    assert_eq!(u["primary_location"], "GB");

    // Unassigned → deactivated (unassigned); assigned again → reactivated, same user.
    w.sim.unassign(&id);
    w.sync().await;
    let off = w.user_by_okta_id(&id).await.unwrap();
    assert_eq!((off["status"].as_str(), off["status_reason"].as_str()), (Some("deactivated"), Some("unassigned")));
    assert_eq!(off["id"], u["id"]);
    w.sim.assign(&id);
    w.sync().await;
    let back = w.user_by_okta_id(&id).await.unwrap();
    assert_eq!((back["status"].as_str(), back["id"].as_str()), (Some("active"), u["id"].as_str()));

    // Deactivated in Okta; reactivated; suspended; unsuspended.
    for (change, status, reason) in [
        ("deactivate", "deactivated", Some("deactivated_in_okta")),
        ("reactivate", "active", None),
        ("suspend", "deactivated", Some("suspended_in_okta")),
        ("unsuspend", "active", None),
    ] {
        match change {
            "deactivate" => w.sim.deactivate(&id),
            "suspend" => w.sim.suspend(&id),
            _ => w.sim.reactivate(&id),
        };
        w.sync().await;
        let u = w.user_by_okta_id(&id).await.unwrap();
        assert_eq!((u["status"].as_str(), u["status_reason"].as_str()), (Some(status), reason), "after {change}");
    }

    // Group membership events make the worker look again (no change here).
    let before = w.app.admin("GET", "/admin/tenants/acme/changes", None).await.json()["next_after"].clone();
    let body =
        json!({"eventId": "grp1", "data": {"events": [{"uuid": "grp-ev-1", "eventType": "group.user_membership.add",
        "target": [{"id": id, "type": "User"}, {"id": "00g1", "type": "UserGroup"}]}]}})
        .to_string();
    let r = w
        .app
        .call(
            Request::builder()
                .method("POST")
                .uri("/t/acme/webhooks/okta")
                .header("authorization", &w.hook_secret)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let stats = w.app.drain(true).await;
    assert_eq!(stats.received, 1);
    let after = w.app.admin("GET", "/admin/tenants/acme/changes", None).await.json()["next_after"].clone();
    assert_eq!(before, after, "nothing changed, nothing written");

    // Deleted in Okta → deactivated (deleted_in_okta), never deleted here.
    w.sim.delete(&id);
    w.sync().await;
    let gone = w.user_by_okta_id(&id).await.unwrap();
    assert_eq!(
        (gone["status"].as_str(), gone["status_reason"].as_str()),
        (Some("deactivated"), Some("deleted_in_okta"))
    );

    // The change log tells the story in order.
    let changes = w.app.admin("GET", "/admin/tenants/acme/changes?limit=100", None).await.json();
    let actions: Vec<String> = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "user")
        .map(|c| c["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "created",
            "updated",
            "deactivated",
            "reactivated",
            "deactivated",
            "reactivated",
            "deactivated",
            "reactivated",
            "deactivated"
        ]
    );
    assert!(changes["changes"].as_array().unwrap().iter().all(|c| c["actor"] == "hook"));
}

#[tokio::test]
async fn activate_events_and_users_never_provisioned() {
    let w = World::new("individual").await;
    // Not assigned: nothing to create, whatever events arrive.
    let id = w.sim.create_user(profile("Bo", "Ng", "bo@acme.example", json!({})), false);
    w.sim.deactivate(&id);
    w.sync().await;
    assert!(w.user_by_okta_id(&id).await.is_none());
    // `user.lifecycle.activate` (what Okta may log instead of reactivate) converges too.
    w.sim.reactivate(&id);
    w.sim.assign(&id);
    let _ = w.sim.deliver(DeliverOptions::default()).await;
    w.app.drain(true).await;
    assert_eq!(w.user_by_okta_id(&id).await.unwrap()["status"], "active");
}

#[tokio::test]
async fn managers_individually_including_one_who_arrives_after_their_report() {
    let w = World::new("individual").await;
    // The report first: their manager is not known yet.
    let boss_profile = profile("Bea", "Boss", "bea@acme.example", json!({"department": "Leadership"}));
    let report = w.sim.create_user(
        profile("Rey", "Port", "rey@acme.example", json!({"department": "Platform", "manager": "BEA@acme.example"})),
        true,
    );
    w.sync().await;
    let r = w.user_by_okta_id(&report).await.unwrap();
    assert!(r["manager_id"].is_null());
    assert_eq!(r["pending_manager"], "email:bea@acme.example");
    // The manager appears: the pending reference resolves at once.
    let boss = w.sim.create_user(boss_profile, true);
    w.sync().await;
    let b = w.user_by_okta_id(&boss).await.unwrap();
    let r = w.user_by_okta_id(&report).await.unwrap();
    assert_eq!(r["manager_id"], b["id"]);
    assert!(r["pending_manager"].is_null());
    // managerId (an Okta id) wins over manager; self-management is refused with a warning.
    let other = w.sim.create_user(profile("Oz", "Other", "oz@acme.example", json!({})), true);
    w.sim.update_profile(&report, json!({"managerId": other}).as_object().unwrap().clone());
    w.sim.update_profile(&boss, json!({"managerId": boss}).as_object().unwrap().clone());
    w.sync().await;
    let o = w.user_by_okta_id(&other).await.unwrap();
    assert_eq!(w.user_by_okta_id(&report).await.unwrap()["manager_id"], o["id"]);
    let b = w.user_by_okta_id(&boss).await.unwrap();
    assert!(b["manager_id"].is_null());
    assert_eq!(b["warnings"][0]["field"], "manager");
    // A cycle is refused: Oz reports to Rey, who reports to Oz.
    w.sim.update_profile(&other, json!({"managerId": report}).as_object().unwrap().clone());
    w.sync().await;
    let o = w.user_by_okta_id(&other).await.unwrap();
    assert!(o["manager_id"].is_null(), "cycle refused");
    assert!(o["warnings"].as_array().unwrap().iter().any(|x| x["message"].as_str().unwrap().contains("cycle")));
}

#[tokio::test]
async fn managers_by_team_first_user_and_not_at_all() {
    let w = World::new("team_first_user").await;
    let boss = w.sim.create_user(profile("Bea", "Boss", "bea@acme.example", json!({})), true);
    w.sync().await;
    let first = w.sim.create_user(
        profile("Fay", "First", "fay@acme.example", json!({"department": "Sales", "managerId": boss})),
        true,
    );
    w.sync().await;
    let second = w.sim.create_user(profile("Sam", "Second", "sam@acme.example", json!({"department": "sales"})), true);
    w.sync().await;
    let b = w.user_by_okta_id(&boss).await.unwrap();
    assert_eq!(
        w.user_by_okta_id(&first).await.unwrap()["manager_id"],
        b["id"],
        "the first user's manager manages the team"
    );
    assert_eq!(w.user_by_okta_id(&second).await.unwrap()["manager_id"], b["id"], "members get the team's manager");
    assert_eq!(w.user_by_okta_id(&second).await.unwrap()["primary_team"], "sales");
    let changes = w.app.admin("GET", "/admin/tenants/acme/changes?limit=100", None).await.json();
    let teams: Vec<_> = changes["changes"].as_array().unwrap().iter().filter(|c| c["entity"] == "team").collect();
    assert_eq!(teams.len(), 1, "one team, created on first use");

    // A team whose first user's manager does not exist yet: pending, then resolved for members too.
    let m2 = w.sim.create_user(profile("Lia", "Late", "lia@acme.example", json!({})), false);
    let a =
        w.sim.create_user(profile("Al", "A", "al@acme.example", json!({"department": "Ops", "managerId": m2})), true);
    // Al must be the team's first user: "first" is whoever's job creates the team.
    w.sync().await;
    let c = w.sim.create_user(profile("Cy", "C", "cy@acme.example", json!({"department": "Ops"})), true);
    w.sync().await;
    assert!(w.user_by_okta_id(&a).await.unwrap()["manager_id"].is_null());
    w.sim.assign(&m2);
    w.sync().await;
    let late = w.user_by_okta_id(&m2).await.unwrap();
    assert_eq!(w.user_by_okta_id(&a).await.unwrap()["manager_id"], late["id"]);
    assert_eq!(w.user_by_okta_id(&c).await.unwrap()["manager_id"], late["id"]);

    // manager_mode none: managers are not synced.
    let n = World::in_app(w.app, "nomgr", "none", true).await;
    let boss = n.sim.create_user(profile("Bea", "Boss", "bea@nomgr.example", json!({})), true);
    let rep = n.sim.create_user(profile("Rey", "Port", "rey@nomgr.example", json!({"managerId": boss})), true);
    n.sync().await;
    let r = n.user_by_okta_id(&rep).await.unwrap();
    assert!(r["manager_id"].is_null() && r["pending_manager"].is_null());
    assert!(!r["invited_at"].is_null(), "invite_automatically is on for this tenant");
    let changes = n.app.admin("GET", "/admin/tenants/nomgr/changes?limit=100", None).await.json();
    assert!(changes["changes"].as_array().unwrap().iter().any(|c| c["action"] == "invited"));
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dlq_while_its_batch_mates_succeed() {
    let w = World::new("individual").await;
    let id = w.sim.create_user(profile("Ann", "Lee", "ann@acme.example", json!({})), true);
    let statuses = w.sim.deliver(DeliverOptions::default()).await;
    assert_eq!(statuses, [200]);
    let sqs = &w.app.functions.adapters.sqs;
    sqs.send_message().queue_url(w.app.queue_url()).message_body("{\"not\": \"a job\"}").send().await.unwrap();
    let stats = w.app.drain(true).await;
    assert!(stats.deleted >= 1);
    assert_eq!(w.user_by_okta_id(&id).await.unwrap()["status"], "active", "the good job succeeded");
    let dlq = w.app.stack.created["UserFetchDLQ"].clone();
    let dead = sqs.receive_message().queue_url(&dlq).wait_time_seconds(1).send().await.unwrap();
    assert_eq!(dead.messages().len(), 1);
    assert_eq!(dead.messages()[0].body(), Some("{\"not\": \"a job\"}"));
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_survived() {
    let w = World::new("individual").await;
    let ids: Vec<String> = (0..3)
        .map(|i| w.sim.create_user(profile("U", &format!("N{i}"), &format!("u{i}@acme.example"), json!({})), true))
        .collect();
    let _ = w.sim.deliver(DeliverOptions::default()).await;
    // More 429s than the client waits out inline (jobs run concurrently, so plenty): a job is
    // rescheduled for the reset time instead of holding the Lambda.
    w.sim.inject(Fault::ServerError, 2);
    w.sim.inject(Fault::RateLimited, 20);
    let stats = w.app.drain(false).await;
    assert!(!stats.failed.is_empty(), "at least one job was rescheduled");
    for id in &ids {
        assert_eq!(w.user_by_okta_id(id).await.unwrap()["status"], "active");
    }
}

#[tokio::test]
async fn an_existing_user_is_linked_by_email_and_a_taken_email_is_refused() {
    use shared::domain::change::{Action, Actor, EntityKind, NewChange};
    use shared::domain::user::User;
    use shared::domain::{Email, OktaUserId, UserId};
    use shared::ports::UserWriter;
    let w = World::new("individual").await;
    let store = &w.app.functions.adapters.store;
    let tenant = w.tenant_id();
    // A user who exists before Okta provisioning (no Okta id), and one linked to another Okta user.
    let mk = |n: u8, email: &str, okta: Option<&str>| {
        let mut u = User::new(
            UserId::from_random([n; 16]),
            Email::parse(email).unwrap(),
            "Pre".into(),
            "Existing".into(),
            chrono::Utc::now(),
        );
        u.okta_id = okta.map(|o| OktaUserId::parse(o).unwrap());
        u
    };
    let change = |u: &User| NewChange {
        at: chrono::Utc::now(),
        actor: Actor::Admin,
        entity: EntityKind::User,
        entity_id: u.id.to_string(),
        action: Action::Created,
        changes: Default::default(),
    };
    let pre = mk(1, "pre@acme.example", None);
    store.create_user(&tenant, &pre, &[change(&pre)]).await.unwrap();
    let linked = mk(2, "taken@acme.example", Some("00uSomeoneElse"));
    store.create_user(&tenant, &linked, &[change(&linked)]).await.unwrap();

    let okta = w.sim.create_user(profile("Pre", "Existing", "PRE@acme.example", json!({"title": "Lead"})), true);
    let clash = w.sim.create_user(profile("Tak", "En", "taken@acme.example", json!({})), true);
    w.sync().await;
    let u = w.user_by_okta_id(&okta).await.expect("linked by email");
    assert_eq!(u["id"], pre.id.as_str(), "the same user, now with the Okta id");
    assert_eq!(u["job_title"], "Lead");
    // The email belongs to a user linked to another Okta id: never merged; the job is dead-lettered.
    assert!(w.user_by_okta_id(&clash).await.is_none());
    let dlq = w.app.stack.created["UserFetchDLQ"].clone();
    let dead =
        w.app.functions.adapters.sqs.receive_message().queue_url(&dlq).wait_time_seconds(1).send().await.unwrap();
    assert_eq!(dead.messages().len(), 1);
    assert!(dead.messages()[0].body().unwrap().contains(&clash));
    // Its last failed attempt was counted as a DLQ send for the tenant.
    let sends: u64 = w.app.metric_lines("acme").iter().filter_map(|l| l["DlqSends"].as_u64()).sum();
    assert_eq!(sends, 1);
}

#[tokio::test]
async fn a_tenant_may_name_its_own_auth_header() {
    let w = World::new("individual").await;
    let mut config = w.app.admin("GET", "/admin/tenants/acme", None).await.json();
    config["event_hook_auth_header"] = json!("X-Okta-Bridge-Secret");
    assert_eq!(w.app.admin("PUT", "/admin/tenants/acme", Some(config)).await.status, StatusCode::OK);
    let body = json!({"eventId": "h1", "data": {"events": [{"uuid": "h1e", "eventType": "user.lifecycle.deactivate", "target": [{"id": "00u1", "type": "User"}]}]}}).to_string();
    let post = |name: &str| {
        Request::builder()
            .method("POST")
            .uri("/t/acme/webhooks/okta")
            .header(name, &w.hook_secret)
            .body(Body::from(body.clone()))
            .unwrap()
    };
    assert_eq!(
        w.app.call(post("authorization")).await.status,
        StatusCode::UNAUTHORIZED,
        "the default header no longer counts"
    );
    assert_eq!(w.app.call(post("x-okta-bridge-secret")).await.status, StatusCode::OK);
    assert_eq!(w.app.queue_depth().await, 1);
}
