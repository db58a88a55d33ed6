//! Nightly reconciliation and "Sync users" through the local stack and the Okta simulator (docs/behaviour/sync.md).
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use harness::okta_sim::Fault;
use serde_json::{json, Value};
use shared::app::sync::{Step, SyncMessage, SyncOptions, SyncService};
use shared::domain::sync_run::RunStatus;

use crate::world::{profile, World};

fn people(w: &World, n: usize, tag: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            w.sim.create_user(
                profile(
                    "Sync",
                    &format!("{tag}{i}"),
                    &format!("{tag}{i}@sync.example"),
                    json!({"department": format!("Team {}", i % 7), "title": "Engineer"}),
                ),
                true,
            )
        })
        .collect()
}

async fn run_sync(w: &World, query: &str) -> Value {
    let r = w.app.admin("POST", &format!("/admin/tenants/{}/sync{query}", w.tenant), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.json()["run_id"].as_str().unwrap().to_owned();
    w.app.drain_sync().await;
    w.app.admin("GET", &format!("/admin/tenants/{}/sync-runs/{id}", w.tenant), None).await.json()
}

async fn change_count(w: &World) -> u64 {
    w.app.admin("GET", &format!("/admin/tenants/{}/changes?limit=1000&after=0", w.tenant), None).await.json()["changes"]
        .as_array()
        .unwrap()
        .len() as u64
}

#[tokio::test]
async fn a_thousand_users_then_an_unchanged_run_that_writes_nothing() {
    let w = World::new("individual").await;
    people(&w, 1000, "p");
    let run = run_sync(&w, "").await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        (run["seen"].as_u64(), run["created"].as_u64(), run["pages"].as_u64()),
        (Some(1000), Some(1000), Some(2))
    );
    assert_eq!(run["okta_calls"], 2, "⌈1000/500⌉ pages, nothing else");
    assert_eq!(w.all_users().await.len(), 1000);
    let before = change_count(&w).await;
    let again = run_sync(&w, "").await;
    assert_eq!(
        (again["unchanged"].as_u64(), again["created"].as_u64(), again["updated"].as_u64()),
        (Some(1000), Some(0), Some(0)),
        "{again}"
    );
    assert_eq!(change_count(&w).await, before, "an unchanged run writes zero users");
    let runs = w.app.admin("GET", "/admin/tenants/acme/sync-runs", None).await.json();
    assert_eq!(runs["runs"].as_array().unwrap().len(), 2);
    assert_eq!(runs["runs"][0]["id"], again["id"], "newest first");
}

#[tokio::test]
async fn unassigned_users_are_deactivated_and_the_brake_holds_for_approval() {
    let w = World::new("individual").await;
    let ids = people(&w, 10, "b");
    assert_eq!(run_sync(&w, "").await["created"], 10);
    // One of ten unassigned (10% < 20%): deactivated by the next run.
    w.sim.unassign(&ids[0]);
    let run = run_sync(&w, "").await;
    assert_eq!((run["status"].as_str(), run["deactivated"].as_u64()), (Some("completed"), Some(1)), "{run}");
    let u = w.user_by_okta_id(&ids[0]).await.unwrap();
    assert_eq!((u["status"].as_str(), u["status_reason"].as_str()), (Some("deactivated"), Some("unassigned")));
    // Five more of nine (55%): the brake holds them all.
    for id in &ids[1..6] {
        w.sim.unassign(id);
    }
    let held = run_sync(&w, "").await;
    assert_eq!(held["status"], "needs_approval", "{held}");
    assert_eq!((held["pending_deactivations"].as_u64(), held["deactivated"].as_u64()), (Some(5), Some(0)));
    assert_eq!(held["samples"].as_array().unwrap().len(), 5);
    assert_eq!(w.user_by_okta_id(&ids[1]).await.unwrap()["status"], "active", "nothing applied while held");
    // A new run can start while one waits for approval; approving applies the held deactivations.
    let approved = w
        .app
        .admin("POST", &format!("/admin/tenants/acme/sync-runs/{}/approve", held["id"].as_str().unwrap()), None)
        .await;
    assert_eq!(approved.status, StatusCode::ACCEPTED, "{}", approved.body);
    assert_eq!(approved.json()["status"], "running", "the sync function applies the held list");
    w.app.drain_sync().await;
    let applied = w
        .app
        .admin("GET", &format!("/admin/tenants/acme/sync-runs/{}", held["id"].as_str().unwrap()), None)
        .await
        .json();
    assert_eq!(
        (
            applied["status"].as_str(),
            applied["deactivated"].as_u64(),
            applied["applied"].as_u64(),
            applied["skipped"].as_u64()
        ),
        (Some("completed"), Some(5), Some(5), Some(0)),
        "{applied}"
    );
    assert_eq!(w.user_by_okta_id(&ids[1]).await.unwrap()["status_reason"], "unassigned");
    let again = w
        .app
        .admin("POST", &format!("/admin/tenants/acme/sync-runs/{}/approve", held["id"].as_str().unwrap()), None)
        .await;
    assert_eq!(
        (again.status, again.json()["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_awaiting_approval"))
    );
}

#[tokio::test]
async fn a_dry_run_reports_the_diff_and_changes_nothing() {
    let w = World::new("individual").await;
    let ids = people(&w, 6, "d");
    run_sync(&w, "").await;
    w.sim.update_profile(&ids[0], json!({"title": "Director"}).as_object().unwrap().clone());
    w.sim.unassign(&ids[1]);
    people(&w, 2, "new");
    let before = change_count(&w).await;
    let lines_before = w.app.metric_lines("acme").len();
    let dry = run_sync(&w, "?dry_run=true").await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["status"], "completed");
    assert_eq!(
        (
            dry["created"].as_u64(),
            dry["updated"].as_u64(),
            dry["unchanged"].as_u64(),
            dry["pending_deactivations"].as_u64()
        ),
        (Some(2), Some(1), Some(4), Some(1)),
        "{dry}"
    );
    assert_eq!(change_count(&w).await, before, "a dry run writes nothing");
    // Its metric line says it ran, and counts no user as written.
    let lines = w.app.metric_lines("acme");
    let run_line = lines[lines_before..].iter().find(|l| l["RunId"] == dry["id"]).expect("the run's metric line");
    assert_eq!(run_line["DryRun"], true);
    for m in ["UsersCreated", "UsersUpdated", "UsersDeactivated", "UsersReactivated"] {
        assert!(run_line.get(m).is_none(), "a dry run publishes no {m}: {run_line}");
    }
    assert_eq!(w.all_users().await.len(), 6);
    assert_eq!(w.user_by_okta_id(&ids[1]).await.unwrap()["status"], "active");
}

#[tokio::test]
async fn one_run_per_tenant_and_clear_errors() {
    let w = World::new("individual").await;
    people(&w, 3, "o");
    let first = w.app.admin("POST", "/admin/tenants/acme/sync", None).await.json();
    let second = w.app.admin("POST", "/admin/tenants/acme/sync", None).await.json();
    assert_eq!(second["run_id"], first["run_id"], "a second request returns the running run");
    assert_eq!(second["already_running"], true);
    w.app.drain_sync().await;
    let third = w.app.admin("POST", "/admin/tenants/acme/sync", None).await.json();
    assert_ne!(third["run_id"], first["run_id"], "the lease is released when a run ends");
    w.app.drain_sync().await;
    let r = w.app.admin("GET", "/admin/tenants/acme/sync-runs/run_nope", None).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("sync_run_not_found")));
    w.app.create_tenant("plain").await;
    let r = w.app.admin("POST", "/admin/tenants/plain/sync", None).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("event_hooks_not_enabled")));
    let r = w.app.admin("POST", "/admin/tenants/acme/sync?dry_run=maybe", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// A sync service with small pages and one page per invocation, and the run's queue messages.
fn paged(w: &World, options: SyncOptions) -> Arc<SyncService> {
    let adapters = &w.app.functions.adapters;
    Arc::new(adapters.root.sync(adapters.sync_queue().expect("the template sets SYNC_QUEUE_URL"), options))
}

async fn next_message(w: &World) -> Option<SyncMessage> {
    let sqs = &w.app.functions.adapters.sqs;
    let url = w.app.stack.env("SYNC_QUEUE_URL").to_owned();
    let out =
        sqs.receive_message().queue_url(&url).max_number_of_messages(1).wait_time_seconds(2).send().await.unwrap();
    let m = out.messages().first()?.clone();
    sqs.delete_message().queue_url(&url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
    serde_json::from_str(m.body().unwrap()).ok()
}

#[tokio::test]
async fn a_run_killed_mid_way_resumes_from_its_checkpoint() {
    let w = World::new("individual").await;
    let ids = people(&w, 23, "k");
    let sync = paged(&w, SyncOptions { page_size: 5, max_pages_per_invocation: 1, ..SyncOptions::default() });
    let (run, _) = sync.start(&w.tenant_id(), shared::domain::sync_run::RunTrigger::Admin, false).await.unwrap();
    let first = next_message(&w).await.expect("a start message");
    assert_eq!(sync.resume(&first, None).await.unwrap(), Step::Continued { delay: Duration::ZERO });
    // The Lambda died after its checkpoint, before SQS heard: the same message comes again.
    assert_eq!(
        sync.resume(&first, None).await.unwrap(),
        Step::Dropped,
        "a duplicate of a checkpointed message is dropped"
    );
    // The next invocation dies mid-page: Okta fails under it, nothing is checkpointed.
    let second = next_message(&w).await.expect("a continuation");
    w.sim.inject(Fault::ServerError, 4);
    assert!(sync.resume(&second, None).await.is_err(), "the invocation fails; SQS will redeliver");
    // Killed in the middle of writing a page: the future is dropped part-way.
    let _ = tokio::time::timeout(Duration::from_millis(40), sync.resume(&second, None)).await;
    // Redelivered until done.
    let mut msg = Some(second);
    let mut steps = 0;
    while let Some(m) = msg.take() {
        match sync.resume(&m, None).await.unwrap() {
            Step::Finished(status) => assert_eq!(status, RunStatus::Completed),
            Step::Continued { .. } => msg = next_message(&w).await,
            Step::Dropped => msg = next_message(&w).await,
        }
        steps += 1;
        assert!(steps < 20);
    }
    let done = sync.get(&w.tenant_id(), &run.id).await.unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.counts.pages, 5, "23 users in pages of 5, each page once");
    assert_eq!(done.counts.seen, 23);
    let stored = w.all_users().await;
    assert_eq!(stored.len(), 23, "no duplicates, no gaps");
    for id in &ids {
        assert!(stored.iter().any(|u| u["okta_id"] == id.as_str() && u["status"] == "active"));
    }
}

#[tokio::test]
async fn a_429_storm_is_waited_out() {
    let w = World::new("individual").await;
    people(&w, 12, "r");
    let sync = paged(&w, SyncOptions { page_size: 3, ..SyncOptions::default() });
    // A tiny bucket: the budget (half of it) and then the 429s force waits for the reset.
    w.sim.set_rate_limit(2, Duration::from_secs(2));
    w.sim.inject(Fault::RateLimited, 3);
    let (run, _) = sync.start(&w.tenant_id(), shared::domain::sync_run::RunTrigger::Admin, false).await.unwrap();
    let mut waits = 0;
    let mut msg = next_message(&w).await;
    while let Some(m) = msg.take() {
        match sync.resume(&m, None).await.unwrap() {
            Step::Finished(_) => {}
            Step::Continued { delay } => {
                if delay > Duration::ZERO {
                    waits += 1;
                }
                msg = next_message(&w).await;
                let mut tries = 0;
                while msg.is_none() && tries < 10 {
                    msg = next_message(&w).await;
                    tries += 1;
                }
            }
            Step::Dropped => msg = next_message(&w).await,
        }
    }
    let done = sync.get(&w.tenant_id(), &run.id).await.unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.counts.created, 12);
    assert!(waits >= 2, "the run waited for Okta's reset {waits} times");
}

/// Runs every message on the sync queue through `sync` until the run ends.
async fn drive(w: &World, sync: &SyncService) {
    let mut msg = next_message(w).await;
    let mut steps = 0;
    while let Some(m) = msg.take() {
        // As the sync function (its continuations are sent by it: the least-privilege check sees them).
        let step = shared::adapters::aws_calls::as_function("NightlySyncFunction", sync.resume(&m, None)).await;
        match step.unwrap() {
            Step::Finished(_) => {}
            Step::Continued { .. } | Step::Dropped => msg = next_message(w).await,
        }
        steps += 1;
        assert!(steps < 200, "the run never ended");
    }
}

/// docs/behaviour/sync.md: a joiner assigned while a run is in flight, whose hook lands after the page that would
/// have listed them (their Okta id sorts before the run's cursor), stays active.
#[tokio::test]
async fn a_joiner_whose_hook_lands_behind_the_cursor_is_never_deactivated() {
    let w = World::new("individual").await;
    people(&w, 20, "j");
    w.sync().await;
    let sync = paged(&w, SyncOptions { page_size: 5, max_pages_per_invocation: 1, ..SyncOptions::default() });
    let (run, _) = sync.start(&w.tenant_id(), shared::domain::sync_run::RunTrigger::Admin, false).await.unwrap();
    for _ in 0..2 {
        let m = next_message(&w).await.expect("a message");
        assert!(matches!(sync.resume(&m, None).await.unwrap(), Step::Continued { .. }));
    }
    // Ten users listed; the joiner's id sorts before all of them.
    let joiner = w.sim.create_user_with_id(
        "00u00000000000000000",
        profile("Jo", "Iner", "jo.iner@sync.example", json!({"department": "New"})),
        true,
    );
    w.sync().await;
    assert_eq!(w.user_by_okta_id(&joiner).await.unwrap()["status"], "active");
    drive(&w, &sync).await;
    let done = sync.get(&w.tenant_id(), &run.id).await.unwrap();
    assert_eq!(done.status, RunStatus::Completed, "{done:?}");
    assert_eq!((done.counts.deactivated, done.counts.protected), (0, 1), "{done:?}");
    assert_eq!(w.user_by_okta_id(&joiner).await.unwrap()["status"], "active", "the joiner stays in");
}

/// docs/behaviour/sync.md: approval applies exactly the held list, each re-checked: a joiner who arrived during the
/// hold is not touched, a held user Okta assigns again is skipped, the rest are deactivated.
#[tokio::test]
async fn approving_a_held_run_applies_exactly_its_list() {
    let w = World::new("individual").await;
    let ids = people(&w, 10, "h");
    assert_eq!(run_sync(&w, "").await["created"], 10);
    // Half of them unassigned with their hooks lost: only a sync can see it.
    for id in &ids[..5] {
        w.sim.unassign(id);
    }
    w.sim.discard_events();
    let held = run_sync(&w, "").await;
    assert_eq!((held["status"].as_str(), held["pending_deactivations"].as_u64()), (Some("needs_approval"), Some(5)));
    let run_id = held["id"].as_str().unwrap().to_owned();
    let listed = w.app.admin("GET", &format!("/admin/tenants/acme/sync-runs/{run_id}/candidates"), None).await.json();
    let mut held_okta: Vec<String> =
        listed["entries"].as_array().unwrap().iter().map(|c| c["okta_id"].as_str().unwrap().to_owned()).collect();
    held_okta.sort();
    assert_eq!(held_okta, ids[..5].to_vec(), "the held list is exactly the unassigned users");
    // During the hold: a joiner arrives by hook, and one held user is assigned again (hook lost).
    let joiner = w.sim.create_user(profile("New", "Joiner", "new.joiner@sync.example", json!({})), true);
    w.sync().await;
    w.sim.assign(&ids[0]);
    w.sim.discard_events();
    let r = w.app.admin("POST", &format!("/admin/tenants/acme/sync-runs/{run_id}/approve"), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    w.app.drain_sync().await;
    let done = w.app.admin("GET", &format!("/admin/tenants/acme/sync-runs/{run_id}"), None).await.json();
    assert_eq!(
        (done["status"].as_str(), done["applied"].as_u64(), done["skipped"].as_u64()),
        (Some("completed"), Some(4), Some(1)),
        "{done}"
    );
    assert_eq!(w.user_by_okta_id(&joiner).await.unwrap()["status"], "active");
    assert_eq!(w.user_by_okta_id(&ids[0]).await.unwrap()["status"], "active", "assigned again: skipped");
    for id in &ids[1..5] {
        assert_eq!(w.user_by_okta_id(id).await.unwrap()["status_reason"], "unassigned");
    }
    for id in &ids[5..] {
        assert_eq!(w.user_by_okta_id(id).await.unwrap()["status"], "active");
    }
}

/// docs/behaviour/sync.md: a wrong (or deleted) app is not an unassignment: on the hook path and in a run nobody
/// is deactivated, and health says why.
#[tokio::test]
async fn a_wrong_app_id_deactivates_nobody_and_health_says_why() {
    let w = World::new("individual").await;
    let ids = people(&w, 4, "a");
    w.sync().await;
    w.sim.delete_app();
    // A leaver's hook: Okta answers 404 E0000007 for the assignment, as for an unassigned user.
    w.sim.unassign(&ids[0]);
    let statuses = w.sim.deliver(Default::default()).await;
    assert!(statuses.iter().all(|s| *s == 200));
    let stats = w.app.drain(true).await;
    assert!(!stats.failed.is_empty() || stats.received > 0, "{stats:?}");
    assert_eq!(w.user_by_okta_id(&ids[0]).await.unwrap()["status"], "active", "not deactivated on a 404 for the app");
    let health = w.app.admin("GET", "/admin/tenants/acme/health", None).await.json();
    let codes: Vec<&str> = health["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"app_not_found"), "{health}");
    // A run: failed with the reason; nobody deactivated.
    let run = run_sync(&w, "").await;
    assert_eq!((run["status"].as_str(), run["failure"].as_str()), (Some("failed"), Some("app_not_found")), "{run}");
    for u in w.all_users().await {
        assert_eq!(u["status"], "active", "{u}");
    }
    let health = w.app.admin("GET", "/admin/tenants/acme/health", None).await.json();
    let failed = health["problems"].as_array().unwrap().iter().find(|p| p["code"] == "last_sync_failed").unwrap();
    assert!(failed["message"].as_str().unwrap().contains("app id"), "{failed}");
}

/// docs/behaviour/sync.md: a dry run returns the diff itself, and a run's errors say who and why.
#[tokio::test]
async fn a_dry_run_lists_its_diff_and_errors_say_who_and_why() {
    let w = World::new("individual").await;
    let ids = people(&w, 4, "x");
    run_sync(&w, "").await;
    w.sim.update_profile(&ids[0], json!({"title": "Director"}).as_object().unwrap().clone());
    w.sim.unassign(&ids[1]);
    let new = people(&w, 1, "y");
    // Two Okta users with one email: the second cannot be stored.
    let twin = w.sim.create_user(profile("Twin", "Two", "x2@sync.example", json!({})), true);
    w.sim.discard_events();
    let dry = run_sync(&w, "?dry_run=true").await;
    let id = dry["id"].as_str().unwrap();
    // Paged: follow `next` to the end.
    let mut entries = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page =
            w.app.admin("GET", &format!("/admin/tenants/acme/sync-runs/{id}/diff?cursor={cursor}"), None).await.json();
        entries.extend(page["entries"].as_array().unwrap().iter().cloned());
        pages += 1;
        match page["next"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 2, "the page's changes, then the deactivations");
    let diff = json!(entries);
    let action_of = |okta: &str| entries.iter().find(|e| e["okta_id"] == okta).map(|e| e["action"].clone());
    assert_eq!(action_of(&ids[0]), Some(json!("update")), "{diff}");
    let update = entries.iter().find(|e| e["okta_id"] == ids[0].as_str()).unwrap();
    assert_eq!(update["fields"], json!(["job_title"]), "{update}");
    assert_eq!(action_of(&ids[1]), Some(json!("deactivate")));
    assert_eq!(action_of(&new[0]), Some(json!("create")));
    // Applied for real: the twin's email belongs to another Okta user already linked here.
    let run = run_sync(&w, "").await;
    assert_eq!(run["errors"], 1, "{run}");
    let errors = w
        .app
        .admin("GET", &format!("/admin/tenants/acme/sync-runs/{}/errors", run["id"].as_str().unwrap()), None)
        .await
        .json();
    let e = &errors["entries"][0];
    assert_eq!(e["okta_id"], twin.as_str(), "{errors}");
    assert_eq!(e["login"], "x2@sync.example");
    assert!(e["reason"].as_str().unwrap().contains(&format!("belongs to Okta user {}", ids[2])), "{e}");
    let health = w.app.admin("GET", "/admin/tenants/acme/health", None).await.json();
    assert_eq!(health["last_sync"]["errors"], 1, "{health}");
    assert_eq!(health["last_sync"]["first_errors"][0]["okta_id"], twin.as_str());
}
