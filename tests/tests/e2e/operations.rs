//! Operability through the local stack: health, invitations, secret rotation, DLQ redrive, EMF
//! metrics and the status page rendered by headless Chromium (docs/behaviour/data.md, docs/behaviour/secrets-and-tokens.md, docs/behaviour/admin-api.md, docs/behaviour/observability.md).
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use shared::domain::TenantId;

use crate::world::{profile, World};

async fn health(w: &World) -> Value {
    let r = w.app.admin("GET", &format!("/admin/tenants/{}/health", w.tenant), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

fn codes(h: &Value) -> Vec<String> {
    h["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap().to_owned()).collect()
}

async fn verify_hook(w: &World) {
    let req = Request::get(format!("/t/{}/webhooks/okta", w.tenant))
        .header("host", "127.0.0.1")
        .header("x-okta-verification-challenge", "hello")
        .body(Body::empty())
        .unwrap();
    assert_eq!(w.app.call(req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn health_tells_an_admin_what_works_and_what_to_do() {
    let w = World::new("individual").await;
    let h = health(&w).await;
    assert_eq!(h["status"], "warning", "{h}");
    assert_eq!(codes(&h), vec!["hook_not_verified"]);
    assert_eq!((h["hook"]["verified"].as_bool(), h["hook"]["events_24h"].as_u64()), (Some(false), Some(0)));
    assert_eq!(h["secrets"]["okta_api_token"]["set"], true);
    assert_eq!(h["queue"]["scope"], "deployment");

    verify_hook(&w).await;
    // Anyone can fetch the challenge echo: without the secret it verifies nothing on health.
    assert_eq!(codes(&health(&w).await), vec!["hook_not_verified"], "an unauthenticated GET verifies nothing");
    // A manager who is not a user yet: a pending reference.
    let boss = "00u99999999999999999";
    w.sim.create_user(
        profile("Pat", "Report", "pat@acme.example", json!({"managerId": boss, "department": "Ops"})),
        true,
    );
    w.sim.create_user(profile("Sam", "Other", "sam@acme.example", json!({})), true);
    w.sync().await;
    let h = health(&w).await;
    assert_eq!((h["status"].as_str(), codes(&h)), (Some("ok"), vec![]), "{h}");
    assert_eq!(h["hook"]["verified"], true);
    assert!(h["hook"]["events_24h"].as_u64().unwrap() >= 4, "{h}");
    assert!(h["hook"]["jobs_24h"].as_u64().unwrap() >= 2, "{h}");
    assert!(h["hook"]["last_delivery_age_seconds"].as_i64().unwrap() < 120);
    assert!(h["worker"]["last_job_at"].is_string(), "{h}");
    assert_eq!(h["pending_references"], 1);
    assert!(h["secrets"]["okta_api_token"]["last_used_at"].is_string());
    assert_eq!(h["secrets"]["okta_api_token"]["expires_in_days"], 29, "30 days after its last use");

    // A dead job and a failed sync: both reported.
    let dlq = w.app.stack.env("USER_FETCH_DLQ_URL").to_owned();
    w.app.functions.adapters.sqs.send_message().queue_url(&dlq).message_body("{}").send().await.unwrap();
    // The Okta admin revokes the API token: the next run fails at once, saying why.
    w.sim.set_token("00a-new-token-nobody-told-us-about");
    let r = w.app.admin("POST", &format!("/admin/tenants/{}/sync", w.tenant), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    w.app.drain_sync().await;
    let h = health(&w).await;
    assert_eq!(h["status"], "failing", "{h}");
    let found = codes(&h);
    assert!(found.contains(&"dlq_not_empty".to_owned()), "{found:?}");
    assert!(found.contains(&"last_sync_failed".to_owned()), "{found:?}");
    assert!(h["queue"]["dlq_depth"].as_u64().unwrap() >= 1);

    // Another tenant's health is its own, and an unknown tenant is 404.
    let r = w.app.admin("GET", "/admin/tenants/nobody/health", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dlq_redrive_moves_jobs_back_and_the_worker_finishes_them() {
    let w = World::new("individual").await;
    let okta_id = w.sim.create_user(profile("Dee", "Lq", "dee@acme.example", json!({})), true);
    let job = shared::domain::job::UserFetchJob {
        tenant: w.tenant_id(),
        okta_user_id: shared::domain::OktaUserId::parse(&okta_id).unwrap(),
        cause: "application.user_membership.add".into(),
        event_uuid: "evt-dlq".into(),
        published: Some(chrono::Utc::now()),
    };
    let dlq = w.app.stack.env("USER_FETCH_DLQ_URL").to_owned();
    for _ in 0..3 {
        w.app.functions.adapters.sqs.send_message().queue_url(&dlq).message_body(job.to_body()).send().await.unwrap();
    }
    let r = w.app.admin("POST", "/admin/dlq/redrive?queue=user-fetch&max=2", None).await;
    assert_eq!((r.status, r.json()["moved"].as_u64()), (StatusCode::OK, Some(2)), "{}", r.body);
    let r = w.app.admin("POST", "/admin/dlq/redrive", None).await;
    assert_eq!(r.json()["moved"], 1);
    assert_eq!(w.app.depth_of(&dlq).await, 0, "the DLQ is empty");
    assert_eq!(w.app.admin("POST", "/admin/dlq/redrive?queue=sync", None).await.json()["moved"], 0);
    // A stuck sync continuation goes back to the sync queue too (and is dropped there: its run
    // does not exist).
    let sync_dlq = w.app.stack.env("SYNC_DLQ_URL").to_owned();
    let stale = json!({"tenant": w.tenant, "run_id": "run_gone", "version": 3}).to_string();
    w.app.functions.adapters.sqs.send_message().queue_url(&sync_dlq).message_body(stale).send().await.unwrap();
    assert_eq!(w.app.admin("POST", "/admin/dlq/redrive?queue=sync", None).await.json()["moved"], 1);
    assert_eq!(w.app.depth_of(&sync_dlq).await, 0);
    w.app.drain_sync().await;
    let r = w.app.admin("POST", "/admin/dlq/redrive?queue=nope", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = w.app.admin("POST", "/admin/dlq/redrive?max=0", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    w.app.drain(true).await;
    let user = w.user_by_okta_id(&okta_id).await.expect("the redriven job provisioned the user");
    assert_eq!(user["email"], "dee@acme.example");
}

#[tokio::test]
async fn invitations_one_by_one_and_for_everyone_not_yet_invited() {
    let w = World::new("individual").await;
    let ids: Vec<String> = (0..4)
        .map(|i| {
            w.sim.create_user(profile("In", &format!("Vite{i}"), &format!("invite{i}@acme.example"), json!({})), true)
        })
        .collect();
    w.sync().await;
    let t = format!("/admin/tenants/{}", w.tenant);
    let first = w.user_by_okta_id(&ids[0]).await.unwrap();
    assert!(first["invited_at"].is_null());
    let r = w.app.admin("POST", &format!("{t}/users/{}/invite", first["id"].as_str().unwrap()), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!((r.json()["resent"].as_bool(), r.json()["user"]["invited_at"].is_string()), (Some(false), true));
    // The admin function writes its metrics when the request ends (the edge flushes them).
    let sent: u64 = w.app.metric_lines("acme").iter().filter_map(|l| l["InvitationsSent"].as_u64()).sum();
    assert_eq!(sent, 1, "InvitationsSent written by the admin function");

    // Launch day: everyone else, once; a second pass invites nobody.
    let bulk = w.app.admin("POST", &format!("{t}/invitations"), None).await.json();
    assert_eq!(
        (bulk["invited"].as_u64(), bulk["already_invited"].as_u64(), bulk["done"].as_bool()),
        (Some(3), Some(1), Some(true))
    );
    let again = w.app.admin("POST", &format!("{t}/invitations"), Some(json!({}))).await.json();
    assert_eq!((again["invited"].as_u64(), again["already_invited"].as_u64()), (Some(0), Some(4)));
    let changes = w.app.admin("GET", &format!("{t}/changes?after=0&limit=1000"), None).await.json();
    let invited = changes["changes"].as_array().unwrap().iter().filter(|c| c["action"] == "invited").count();
    assert_eq!(invited, 4, "one invited event per invitation, in the change log");

    // A deactivated user cannot be invited; an unknown one is 404; a bad body is 400.
    w.sim.deactivate(&ids[3]);
    w.sync().await;
    let gone = w.user_by_okta_id(&ids[3]).await.unwrap();
    let r = w.app.admin("POST", &format!("{t}/users/{}/invite", gone["id"].as_str().unwrap()), None).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_state")));
    let r = w.app.admin("POST", &format!("{t}/users/usr_00000000000000000000000000000000/invite"), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = w.app.admin("POST", &format!("{t}/invitations"), Some(json!({"everyone": true}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn deployment_secrets_and_scim_tokens_rotate_with_an_overlap_and_revoke_at_once() {
    let w = World::new("individual").await;
    let app = &w.app;
    let with_token = |token: &str, path: &str| {
        Request::get(path.to_owned())
            .header("host", "127.0.0.1")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let old = app.admin_token.clone();
    let r = app.admin("POST", "/admin/admin-token/rotate", None).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    let new = r.json()["token"].as_str().unwrap().to_owned();
    assert!(r.json()["previous_valid_until"].is_string());
    assert_eq!(app.call(with_token(&new, "/admin/tenants/acme")).await.status, StatusCode::OK);
    assert_eq!(app.call(with_token(&old, "/admin/tenants/acme")).await.status, StatusCode::OK, "overlap");
    let revoke = Request::delete("/admin/admin-token/previous")
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {new}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.call(revoke).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.call(with_token(&old, "/admin/tenants/acme")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(with_token(&new, "/admin/tenants/acme")).await.status, StatusCode::OK);

    // The session signing key: never shown; two keys during the overlap, one after revoking.
    let secrets = &app.functions.adapters.root.secrets;
    let tokens = &app.functions.adapters.root.tokens;
    let post = |path: &str| {
        Request::post(path.to_owned())
            .header("host", "127.0.0.1")
            .header("authorization", format!("Bearer {new}"))
            .body(Body::empty())
            .unwrap()
    };
    let r = app.call(post("/admin/session-key/rotate")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json().get("key").is_none() && r.json()["rotated"] == true);
    assert_eq!(secrets.session_keys().await.unwrap().len(), 2);
    let del = Request::delete("/admin/session-key/previous")
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {new}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.call(del).await.status, StatusCode::NO_CONTENT);
    assert_eq!(secrets.session_keys().await.unwrap().len(), 1);

    // SCIM tokens: the rotated one works through the overlap; DELETE ends it at once.
    let acme = TenantId::parse("acme").unwrap();
    let issue = app.call(post("/admin/tenants/acme/scim-tokens")).await.json();
    let (id1, t1) = (issue["id"].as_str().unwrap().to_owned(), issue["token"].as_str().unwrap().to_owned());
    let rotated = app.call(post(&format!("/admin/tenants/acme/scim-tokens/{id1}/rotate"))).await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    let (id2, t2) =
        (rotated.json()["id"].as_str().unwrap().to_owned(), rotated.json()["token"].as_str().unwrap().to_owned());
    assert_eq!(tokens.verify_scim(&acme, &t1).await.unwrap(), Some(id1.clone()), "overlap");
    assert_eq!(tokens.verify_scim(&acme, &t2).await.unwrap(), Some(id2.clone()));
    let del = Request::delete(format!("/admin/tenants/acme/scim-tokens/{id1}"))
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {new}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.call(del).await.status, StatusCode::NO_CONTENT);
    assert_eq!(tokens.verify_scim(&acme, &t1).await.unwrap(), None);
    assert_eq!(tokens.verify_scim(&acme, &t2).await.unwrap(), Some(id2));
    // A revoked token cannot be rotated.
    let again = app.call(post(&format!("/admin/tenants/acme/scim-tokens/{id1}/rotate"))).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    // No secret value reached the logs.
    let logs = crate::helpers::captured_logs();
    for value in [&old, &new, &t1, &t2] {
        assert!(!logs.contains(value.as_str()), "a secret value was logged");
    }
}

#[tokio::test]
async fn every_metric_of_the_hook_path_is_an_emf_line_per_tenant() {
    let w = World::new("individual").await;
    w.sim.create_user(profile("Em", "Ef", "emf@acme.example", json!({})), true);
    w.sync().await;
    let r = w.app.admin("POST", &format!("/admin/tenants/{}/sync", w.tenant), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    w.app.drain_sync().await;
    let lines = w.app.metric_lines("acme");
    let total = |name: &str| lines.iter().filter_map(|l| l[name].as_u64()).sum::<u64>();
    // Okta sends user.lifecycle.create (not handled) and application.user_membership.add.
    assert!(total("EventsReceived") >= 2 && total("EventsEnqueued") >= 1 && total("JobsQueued") >= 1);
    assert_eq!(total("UsersCreated"), 1, "created by the worker; the sync found it unchanged");
    assert!(total("OktaCalls") >= 3, "two per job and one page for the sync");
    assert_eq!(total("SyncFailed"), 0);
    let run = lines.iter().find(|l| l.get("RunId").is_some()).expect("one line per finished run");
    assert!(run["SyncDuration"].is_u64());
    for l in &lines {
        let declared = &l["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "okta-bridge");
        assert_eq!(declared["Dimensions"], json!([["Tenant"], []]));
        for m in declared["Metrics"].as_array().unwrap() {
            assert!(l[m["Name"].as_str().unwrap()].is_u64(), "every declared metric has a value: {l}");
        }
    }
}

#[tokio::test]
async fn the_alarm_set_watches_the_dlqs_the_hooks_and_the_syncs() {
    let template = harness::template::Template::load(&harness::template::default_path()).unwrap();
    let raw: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(harness::template::default_path()).unwrap()).unwrap();
    let alarms: Vec<&serde_yaml::Value> = raw["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .collect();
    let _ = template;
    let metric = |a: &serde_yaml::Value| {
        (
            a["Properties"]["Namespace"].as_str().unwrap().to_owned(),
            a["Properties"]["MetricName"].as_str().unwrap().to_owned(),
        )
    };
    let watched: Vec<(String, String)> = alarms.iter().map(|a| metric(a)).collect();
    for expected in [
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("okta-bridge", "EventsReceived"),
        ("okta-bridge", "SyncFailed"),
    ] {
        assert!(watched.iter().any(|(n, m)| n == expected.0 && m == expected.1), "no alarm on {expected:?}");
    }
    let published: Vec<&str> = shared::domain::metrics::Metric::ALL.iter().map(|m| m.name()).collect();
    for (ns, name) in &watched {
        if ns == shared::domain::metrics::NAMESPACE {
            assert!(published.contains(&name.as_str()), "alarm on a metric nobody publishes: {name}");
        }
    }
    assert!(alarms.iter().all(|a| a["Properties"]["AlarmActions"].is_sequence()), "every alarm notifies");
}

#[tokio::test]
async fn the_status_page_renders_in_headless_chromium() {
    let w = World::new("individual").await;
    verify_hook(&w).await;
    for i in 0..3 {
        w.sim.create_user(
            profile("Stat", &format!("Us{i}"), &format!("status{i}@acme.example"), json!({"department": "Support"})),
            true,
        );
    }
    w.sync().await;
    let r = w.app.admin("POST", &format!("/admin/tenants/{}/sync", w.tenant), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    w.app.drain_sync().await;
    let r = w.app.admin("GET", &format!("/admin/tenants/{}/status", w.tenant), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type().starts_with("text/html"));
    crate::sso::assert_html_headers(&r);
    assert!(!r.body.contains("<script"), "no scripts");
    for text in ["Okta integration", "acme", "Healthy", "Sync runs", "Latest changes", "user created"] {
        assert!(r.body.contains(text), "{text} missing");
    }
    assert!(!r.body.contains("status2@acme.example"), "the page shows ids, not people's emails");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/status-page");
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("status.html");
    std::fs::write(&html, &r.body).unwrap();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let shot = dir.join("status.png");
    let _ = std::fs::remove_file(&shot);
    let run = |args: &[&str]| {
        std::process::Command::new(&chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,1300"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{chromium} did not start ({e}); `make test` installs it"))
    };
    let dom = run(&["--dump-dom", &format!("file://{}", html.display())]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("Okta integration") && dom.contains("Sync runs"), "Chromium parsed the page");
    let out = run(&[&format!("--screenshot={}", shot.display()), &format!("file://{}", html.display())]);
    let png =
        std::fs::read(&shot).unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 20_000, "a rendered page, not a blank one ({} bytes)", png.len());
}
