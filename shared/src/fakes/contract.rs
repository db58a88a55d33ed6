//! Contract suites: every implementation of a port, in memory or against the AWS emulator, must
//! pass the same checks. The fakes run them in unit tests; `tests/` runs them on the real adapters.
use chrono::{DateTime, Utc};

use crate::domain::change::{Action, Actor, EntityKind, NewChange};
use crate::domain::tenant::TenantConfigInput;
use crate::domain::user::{User, UserStatus};
use crate::domain::{Email, OktaUserId, Secret, TenantId, UserId};
use crate::ports::user_store::UserQuery;
use crate::ports::{ActivityStore, ListPositions, LoginStateStore, SyncStore, TokenStore};
use crate::ports::{
    ChangeLog, ConfigStore, DedupeStore, GroupStore, JobQueue, PendingStore, SecretStore, StoreError, TeamStore,
    UniqueField, UserReader, UserWriter,
};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).expect("valid")
}

fn tenant(s: &str) -> TenantId {
    TenantId::parse(s).expect("valid tenant")
}

fn user(n: u8, email: &str, okta: Option<&str>) -> User {
    let mut bytes = [0u8; 16];
    bytes[15] = n;
    let mut u = User::new(
        UserId::from_random(bytes),
        Email::parse(email).expect("email"),
        format!("First{n}"),
        format!("Last{n}"),
        now(),
    );
    u.okta_id = okta.map(|o| OktaUserId::parse(o).expect("okta id"));
    u
}

fn change(u: &User, action: Action) -> NewChange {
    NewChange {
        at: now(),
        actor: Actor::Admin,
        entity: EntityKind::User,
        entity_id: u.id.to_string(),
        action,
        changes: Default::default(),
    }
}

/// Config, users, uniqueness, versions, paging and the change log.
pub async fn store_contract(
    configs: &dyn ConfigStore,
    reader: &dyn UserReader,
    writer: &dyn UserWriter,
    log: &dyn ChangeLog,
) {
    config_contract(configs).await;
    let (t1, t2, t3) = (tenant("contract-one"), tenant("contract-two"), tenant("contract-parallel"));

    // Create, then refuse the same email in another case or Unicode form, atomically.
    let ann = writer
        .create_user(
            &t1,
            &user(1, "Ann.Lee@Example.com", Some("00uann")),
            &[change(&user(1, "a@b.co", None), Action::Created)],
        )
        .await
        .expect("create ann");
    assert_eq!(ann.version, 1);
    let dup = writer.create_user(&t1, &user(2, "ann.lee@EXAMPLE.com", None), &[change(&ann, Action::Created)]).await;
    assert!(matches!(dup, Err(StoreError::Duplicate(UniqueField::Email))), "{dup:?}");
    assert!(
        reader.get_user(&t1, &user(2, "x@y.co", None).id).await.expect("get").is_none(),
        "refused create left nothing"
    );
    assert_eq!(log.list_changes(&t1, 0, 100).await.expect("log").events.len(), 1, "refused create logged nothing");
    let composed = writer
        .create_user(&t1, &user(3, "jos\u{e9}@example.com", None), &[change(&ann, Action::Created)])
        .await
        .expect("create josé");
    let decomposed =
        writer.create_user(&t1, &user(4, "JOSE\u{301}@example.com", None), &[change(&ann, Action::Created)]).await;
    assert!(matches!(decomposed, Err(StoreError::Duplicate(UniqueField::Email))), "NFC: {decomposed:?}");
    // ...and allow it in another tenant.
    writer
        .create_user(&t2, &user(2, "ANN.LEE@example.com", Some("00uann")), &[change(&ann, Action::Created)])
        .await
        .expect("other tenant");
    // Okta id is unique per tenant too; the same id twice is refused.
    let okta_dup = writer
        .create_user(&t1, &user(5, "someone@example.com", Some("00uann")), &[change(&ann, Action::Created)])
        .await;
    assert!(matches!(okta_dup, Err(StoreError::Duplicate(UniqueField::OktaId))), "{okta_dup:?}");
    let again = writer.create_user(&t1, &user(1, "other@example.com", None), &[change(&ann, Action::Created)]).await;
    assert!(matches!(again, Err(StoreError::AlreadyExists)), "{again:?}");

    // Lookups: by id, by email whatever the case, by Okta id; tenants never mix.
    assert_eq!(
        reader
            .find_by_email(&t1, &Email::parse("ANN.LEE@example.COM").expect("e"))
            .await
            .expect("find")
            .expect("found")
            .id,
        ann.id
    );
    assert_eq!(
        reader.find_by_okta_id(&t1, &OktaUserId::parse("00uann").expect("o")).await.expect("find").expect("found").id,
        ann.id
    );
    assert!(reader.find_by_email(&tenant("contract-three"), &ann.email).await.expect("find").is_none());
    let in_t2 =
        reader.find_by_okta_id(&t2, &OktaUserId::parse("00uann").expect("o")).await.expect("find").expect("found");
    assert_eq!(in_t2.email.as_str(), "ANN.LEE@example.com");

    // Updates are conditional on the version read; a stale write is refused and changes nothing.
    let mut renamed = ann.clone();
    renamed.email = Email::parse("ann@example.com").expect("e");
    renamed.okta_id = Some(OktaUserId::parse("00uann2").expect("o"));
    let ann2 = writer.update_user(&t1, &ann, &renamed, &[change(&ann, Action::Updated)]).await.expect("update");
    assert_eq!(ann2.version, 2);
    let mut stale = ann.clone();
    stale.first_name = "Stale".into();
    let refused = writer.update_user(&t1, &ann, &stale, &[change(&ann, Action::Updated)]).await;
    assert!(matches!(refused, Err(StoreError::VersionConflict)), "{refused:?}");
    let stored = reader.get_user(&t1, &ann.id).await.expect("get").expect("found");
    assert_eq!((stored.version, stored.first_name.as_str(), stored.email.as_str()), (2, "First1", "ann@example.com"));
    // The old email and Okta id are free again; the new ones are claimed.
    assert!(reader.find_by_email(&t1, &Email::parse("ann.lee@example.com").expect("e")).await.expect("find").is_none());
    assert!(reader.find_by_okta_id(&t1, &OktaUserId::parse("00uann").expect("o")).await.expect("find").is_none());
    writer
        .create_user(&t1, &user(6, "Ann.Lee@example.com", Some("00uann")), &[change(&ann, Action::Created)])
        .await
        .expect("freed values reusable");
    // Moving onto a taken email is refused and leaves the user as it was.
    let mut clash = ann2.clone();
    clash.email = composed.email.clone();
    let refused = writer.update_user(&t1, &ann2, &clash, &[change(&ann, Action::Updated)]).await;
    assert!(matches!(refused, Err(StoreError::Duplicate(UniqueField::Email))), "{refused:?}");
    assert_eq!(reader.get_user(&t1, &ann.id).await.expect("get").expect("found").version, 2);
    // Deactivation keeps the claims (reactivation restores the same user).
    let mut off = ann2.clone();
    off.status = UserStatus::Deactivated;
    let off = writer.update_user(&t1, &ann2, &off, &[change(&ann, Action::Deactivated)]).await.expect("deactivate");
    assert!(reader.find_by_email(&t1, &off.email).await.expect("find").is_some());

    // Concurrent creates with one email: exactly one wins.
    let racers: Vec<User> = (10..14).map(|n| user(n, "race@example.com", None)).collect();
    let c = change(&racers[0], Action::Created);
    let (a, b, cc, d) = tokio::join!(
        writer.create_user(&t1, &racers[0], std::slice::from_ref(&c)),
        writer.create_user(&t1, &racers[1], std::slice::from_ref(&c)),
        writer.create_user(&t1, &racers[2], std::slice::from_ref(&c)),
        writer.create_user(&t1, &racers[3], std::slice::from_ref(&c)),
    );
    let wins = [a.is_ok(), b.is_ok(), cc.is_ok(), d.is_ok()].iter().filter(|w| **w).count();
    assert_eq!(wins, 1, "exactly one concurrent create wins: {a:?} {b:?} {cc:?} {d:?}");

    // Concurrent writes are all kept, even when a transaction beside them is cancelled.
    let others: Vec<User> = (20..26).map(|n| user(n, &format!("parallel{n}@example.com"), None)).collect();
    let clash = user(27, "parallel20@example.com", None);
    let (r1, r2, r3, r4, r5, r6, r7) = tokio::join!(
        writer.create_user(&t3, &others[0], std::slice::from_ref(&c)),
        writer.create_user(&t3, &clash, std::slice::from_ref(&c)),
        writer.create_user(&t3, &others[1], std::slice::from_ref(&c)),
        writer.create_user(&t3, &others[2], std::slice::from_ref(&c)),
        writer.create_user(&t3, &others[3], std::slice::from_ref(&c)),
        writer.create_user(&t3, &others[4], std::slice::from_ref(&c)),
        writer.create_user(&t3, &others[5], std::slice::from_ref(&c)),
    );
    for r in [&r3, &r4, &r5, &r6, &r7] {
        assert!(r.is_ok(), "{r:?}");
    }
    assert!(r1.is_ok() != r2.is_ok(), "exactly one of two creates with one email wins: {r1:?} {r2:?}");
    for u in &others[1..] {
        assert!(reader.get_user(&t3, &u.id).await.expect("get").is_some(), "a concurrent create was lost");
    }
    assert_eq!(
        log.list_changes(&t3, 0, 100).await.expect("log").events.len(),
        6,
        "one change per kept write, none lost"
    );

    // Paging: every user once, in order, with status filter.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page =
            reader.list_users(&t1, &UserQuery { status: None, cursor: cursor.clone(), limit: 2 }).await.expect("page");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|u| u.id.clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "in id order, no repeats");
    assert_eq!(seen.len(), 4, "ann, josé, the new Ann.Lee, one racer");
    let deactivated = reader
        .list_users(&t1, &UserQuery { status: Some(UserStatus::Deactivated), cursor: None, limit: 10 })
        .await
        .expect("page");
    assert_eq!(deactivated.items.iter().map(|u| u.id.clone()).collect::<Vec<_>>(), vec![ann.id.clone()]);
    let bad = reader.list_users(&t1, &UserQuery { status: None, cursor: Some("%%%".into()), limit: 2 }).await;
    assert!(matches!(bad, Err(StoreError::InvalidCursor)), "{bad:?}");
    let bad = reader
        .list_users(
            &t1,
            &UserQuery { status: None, cursor: Some(crate::ports::cursor::encode("not-a-user")), limit: 2 },
        )
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidCursor)), "{bad:?}");

    // The change log: ordered, per tenant; numbers a refused write took are voids, passed over.
    let changes = log.list_changes(&t1, 0, 100).await.expect("log");
    let seqs: Vec<u64> = changes.events.iter().map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    assert_eq!(seqs.len(), 6, "ann, josé, update, Ann.Lee, deactivate, one racer");
    assert!(!changes.more && changes.next_after >= seqs[5], "read to the end: {changes:?}");
    // Followed one number at a time, the cursor meets the same changes.
    let (mut after, mut followed) = (0, Vec::new());
    for _ in 0..100 {
        let page = log.list_changes(&t1, after, 1).await.expect("log");
        assert!(page.next_after > after || !page.more, "the cursor moves while there is more");
        followed.extend(page.events.iter().map(|c| c.seq));
        after = page.next_after;
        if !page.more {
            break;
        }
    }
    assert_eq!(followed, seqs);
    assert_eq!(log.list_changes(&t2, 0, 100).await.expect("log").events.len(), 1);
    let latest: Vec<u64> = log.latest_changes(&t1, 2).await.expect("log").iter().map(|c| c.seq).collect();
    assert_eq!(latest, vec![seqs[5], seqs[4]], "newest first");
}

async fn config_contract(configs: &dyn ConfigStore) {
    let t = tenant("contract-config");
    let input: TenantConfigInput =
        serde_json::from_value(serde_json::json!({"okta_domain": "https://acme.okta.com"})).expect("input");
    let config = input.into_config(t.clone(), None, now(), Default::default()).expect("config");
    assert!(configs.get_config(&t).await.expect("get").is_none());
    let v1 = configs.put_config(&config).await.expect("create");
    assert_eq!(v1.version, 1);
    assert!(matches!(configs.put_config(&config).await, Err(StoreError::AlreadyExists)));
    let mut changed = v1.clone();
    changed.sso_enabled = true;
    let v2 = configs.put_config(&changed).await.expect("update");
    assert_eq!(v2.version, 2);
    assert!(matches!(configs.put_config(&changed).await, Err(StoreError::VersionConflict)), "stale write refused");
    assert_eq!(configs.get_config(&t).await.expect("get").expect("found"), v2);
    assert!(configs.list_tenants().await.expect("list").contains(&t));
}

/// Secrets: absent, set, replace.
/// Batched reads, the SCIM-visible count and the positions of paged walks: per tenant, per
/// list, and gone when expired.
pub async fn batch_reads_and_positions_contract(
    reader: &dyn UserReader,
    writer: &dyn UserWriter,
    positions: &dyn ListPositions,
) {
    let (t, other) = (tenant("contract-batch"), tenant("contract-batch-other"));
    let users: Vec<User> = (1..=3).map(|n| user(n, &format!("batch{n}@example.com"), None)).collect();
    for u in &users {
        writer.create_user(&t, u, &[change(u, Action::Created)]).await.expect("create");
    }
    assert_eq!(reader.count_scim_visible(&t).await.expect("count"), 3);
    assert_eq!(reader.count_scim_visible(&other).await.expect("count"), 0, "counts are per tenant");

    // The ones that exist, each once, whatever is asked twice or is missing.
    let missing = user(9, "missing@example.com", None).id;
    let ask = [users[0].id.clone(), missing, users[2].id.clone(), users[0].id.clone()];
    let mut got: Vec<UserId> = reader.get_users(&t, &ask).await.expect("get_users").into_iter().map(|u| u.id).collect();
    got.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut want = vec![users[0].id.clone(), users[2].id.clone()];
    want.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(got, want);
    assert!(reader.get_users(&other, &ask).await.expect("get_users").is_empty(), "another tenant sees none");

    // A user SCIM deleted leaves the count; restored, it is counted again.
    let stored = reader.get_user(&t, &users[1].id).await.expect("get").expect("stored");
    let mut deleted = stored.clone();
    deleted.status_reason = Some(crate::domain::user::StatusReason::ScimDeleted);
    let deleted = writer.update_user(&t, &stored, &deleted, &[change(&stored, Action::Updated)]).await.expect("delete");
    assert_eq!(reader.count_scim_visible(&t).await.expect("count"), 2);
    let mut restored = deleted.clone();
    restored.status_reason = None;
    writer.update_user(&t, &deleted, &restored, &[change(&deleted, Action::Updated)]).await.expect("restore");
    assert_eq!(reader.count_scim_visible(&t).await.expect("count"), 3);

    // Positions: found until they expire, kept per tenant and per list, overwritten by index.
    let until = now() + chrono::Duration::hours(1);
    positions.remember_position(&t, "users", 200, "cursor-a", until).await.expect("remember");
    assert_eq!(positions.recall_position(&t, "users", 200, now()).await.expect("recall").as_deref(), Some("cursor-a"));
    assert_eq!(positions.recall_position(&t, "users", 400, now()).await.expect("recall"), None, "another index");
    assert_eq!(positions.recall_position(&t, "groups", 200, now()).await.expect("recall"), None, "another list");
    assert_eq!(positions.recall_position(&other, "users", 200, now()).await.expect("recall"), None, "another tenant");
    assert_eq!(positions.recall_position(&t, "users", 200, until).await.expect("recall"), None, "expired");
    positions.remember_position(&t, "users", 200, "cursor-b", until).await.expect("remember");
    assert_eq!(positions.recall_position(&t, "users", 200, now()).await.expect("recall").as_deref(), Some("cursor-b"));
}

pub async fn secret_store_contract(store: &dyn SecretStore, name: &str) {
    assert!(store.get_secret(name).await.expect("get").is_none());
    store.put_secret(name, &Secret::new("one")).await.expect("create");
    assert_eq!(store.get_secret(name).await.expect("get").expect("set").expose(), "one");
    store.put_secret(name, &Secret::new("two")).await.expect("replace");
    assert_eq!(store.get_secret(name).await.expect("get").expect("set").expose(), "two");
}

/// A queue accepts any number of jobs in one call (the adapter batches them).
pub async fn queue_contract(queue: &dyn JobQueue) -> Vec<String> {
    let bodies: Vec<String> = (0..23).map(|i| format!("{{\"job\":{i}}}")).collect();
    queue.enqueue(&bodies).await.expect("enqueue");
    queue.enqueue(&[]).await.expect("empty enqueue is a no-op");
    bodies
}

/// Teams (versioned, logged), pending references, dedupe with expiry.
pub async fn team_pending_dedupe_contract(teams: &dyn TeamStore, pending: &dyn PendingStore, dedupe: &dyn DedupeStore) {
    use crate::domain::team::{Team, Waiting};
    let t = tenant("contract-teams");
    let team = Team::new("Platform Engineering", now());
    let c = NewChange {
        at: now(),
        actor: Actor::Hook,
        entity: EntityKind::Team,
        entity_id: team.key.clone(),
        action: Action::Created,
        changes: Default::default(),
    };
    let created = teams.create_team(&t, &team, &c).await.expect("create team");
    assert_eq!(created.version, 1);
    assert!(matches!(teams.create_team(&t, &team, &c).await, Err(StoreError::AlreadyExists)));
    let mut managed = created.clone();
    managed.manager_id = Some(user(1, "boss@example.com", None).id);
    let v2 = teams.update_team(&t, &created, &managed, &c).await.expect("update team");
    assert_eq!(v2.version, 2);
    assert!(matches!(teams.update_team(&t, &created, &managed, &c).await, Err(StoreError::VersionConflict)));
    assert_eq!(teams.get_team(&t, &team.key).await.expect("get").expect("found").manager_id, managed.manager_id);
    assert_eq!(teams.list_teams(&t).await.expect("list").len(), 1);
    assert!(teams.get_team(&tenant("contract-other"), &team.key).await.expect("get").is_none());

    let waiting_user = Waiting::UserManager(user(2, "x@example.com", None).id);
    let waiting_team = Waiting::TeamManager(team.key.clone());
    pending.add_pending(&t, "email:boss#1@example.com", &waiting_user).await.expect("add");
    pending.add_pending(&t, "email:boss#1@example.com", &waiting_team).await.expect("add");
    pending.add_pending(&t, "email:boss#1@example.com", &waiting_team).await.expect("add is idempotent");
    pending.add_pending(&t, "email:boss", &waiting_user).await.expect("add");
    let mut found = pending.pending_for(&t, "email:boss#1@example.com").await.expect("list");
    found.sort();
    assert_eq!(found, vec![waiting_user.clone(), waiting_team.clone()]);
    assert_eq!(pending.count_pending(&t).await.expect("count"), 3);
    pending.remove_pending(&t, "email:boss#1@example.com", &waiting_user).await.expect("remove");
    assert_eq!(pending.pending_for(&t, "email:boss#1@example.com").await.expect("list"), vec![waiting_team]);
    assert!(pending.pending_for(&tenant("contract-other"), "email:boss").await.expect("list").is_empty());

    let keys: Vec<String> = (0..130).map(|i| format!("event:{i}")).collect();
    assert!(dedupe.seen(&t, &keys, 100).await.expect("seen").is_empty());
    dedupe.mark_seen(&t, &keys[..60], 1_000).await.expect("mark");
    let mut seen = dedupe.seen(&t, &keys, 100).await.expect("seen");
    seen.sort();
    let mut expected = keys[..60].to_vec();
    expected.sort();
    assert_eq!(seen, expected);
    assert!(dedupe.seen(&t, &keys, 1_000).await.expect("seen").is_empty(), "expired records are not seen");
    assert!(dedupe.seen(&tenant("contract-other"), &keys, 100).await.expect("seen").is_empty());
}

/// Runs (versioned checkpoints, newest first), the lease, and seen pages.
pub async fn sync_store_contract(store: &dyn SyncStore) {
    use crate::domain::sync_run::{RunTrigger, SyncRun};
    let t = tenant("contract-sync");
    let later = now() + chrono::Duration::minutes(15);
    let first = SyncRun::new("0001-run".into(), t.clone(), RunTrigger::Admin, false, now());
    let second = SyncRun::new("0002-run".into(), t.clone(), RunTrigger::Schedule, true, now());
    assert_eq!(store.acquire_lease(&t, &first.id, later, now()).await.expect("lease"), None);
    assert_eq!(
        store.acquire_lease(&t, &first.id, later, now()).await.expect("lease"),
        None,
        "re-entrant for its holder"
    );
    assert_eq!(store.acquire_lease(&t, &second.id, later, now()).await.expect("lease"), Some(first.id.clone()));
    assert_eq!(
        store.acquire_lease(&t, &second.id, later, later + chrono::Duration::seconds(1)).await.expect("lease"),
        None,
        "an expired lease can be taken"
    );
    store.release_lease(&t, &first.id).await.expect("release of a lost lease is harmless");
    assert_eq!(store.acquire_lease(&t, &first.id, later, now()).await.expect("lease"), Some(second.id.clone()));
    store.release_lease(&t, &second.id).await.expect("release");
    assert_eq!(store.acquire_lease(&t, &first.id, later, now()).await.expect("lease"), None);

    let v1 = store.create_run(&first).await.expect("create");
    assert_eq!(v1.version, 1);
    assert!(matches!(store.create_run(&first).await, Err(StoreError::AlreadyExists)));
    let mut progressed = v1.clone();
    progressed.counts.pages = 1;
    progressed.cursor = Some("https://x.okta.com/api/v1/apps/a/users?after=00u9".into());
    let v2 = store.save_run(&progressed).await.expect("checkpoint");
    assert_eq!(v2.version, 2);
    assert!(
        matches!(store.save_run(&progressed).await, Err(StoreError::VersionConflict)),
        "a stale checkpoint is refused"
    );
    store.create_run(&second).await.expect("create");
    let listed = store.list_runs(&t, 10).await.expect("list");
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["0002-run", "0001-run"], "newest first");
    assert_eq!(store.get_run(&t, "0001-run").await.expect("get").expect("found"), v2);
    assert!(store.get_run(&tenant("contract-other"), "0001-run").await.expect("get").is_none());

    use crate::domain::sync_run::RunList;
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    store.put_chunk(&t, &first.id, RunList::Seen, 1, &ids(&["00u1", "00u2"])).await.expect("seen");
    store.put_chunk(&t, &first.id, RunList::Seen, 2, &ids(&["00u3"])).await.expect("seen");
    store.put_chunk(&t, &first.id, RunList::Seen, 2, &ids(&["00u3"])).await.expect("seen again is idempotent");
    let seen = crate::ports::sync_store::load_list(store, &t, &first.id, RunList::Seen).await.expect("load");
    assert_eq!(seen, ids(&["00u1", "00u2", "00u3"]));
    assert!(crate::ports::sync_store::load_list(store, &t, &second.id, RunList::Seen).await.expect("load").is_empty());
    // Lists are apart from each other and paged by chunk number; JSON entries come back whole.
    let entry = r#"{"okta_id":"00u9","reason":"a \"quoted\" reason\nwith an escaped newline"}"#.to_owned();
    for n in 0..5 {
        store.put_chunk(&t, &first.id, RunList::Errors, n, &[entry.clone(), format!("{n}")]).await.expect("errors");
    }
    let page = store.get_chunks(&t, &first.id, RunList::Errors, 1, 2).await.expect("chunks");
    assert_eq!(page, vec![(1, vec![entry.clone(), "1".into()]), (2, vec![entry.clone(), "2".into()])]);
    assert_eq!(store.get_chunks(&t, &first.id, RunList::Errors, 5, 2).await.expect("chunks"), vec![]);
    assert!(store.get_chunks(&t, &first.id, RunList::Diff, 0, 10).await.expect("chunks").is_empty());
    assert!(store
        .get_chunks(&tenant("contract-other"), &first.id, RunList::Errors, 0, 10)
        .await
        .expect("x")
        .is_empty());
}

/// Activity: hourly counters summed over the last day, latest instants kept (an older record never
/// moves one back), tenants apart.
pub async fn activity_store_contract(store: &dyn ActivityStore) {
    use crate::domain::activity::ActivityEvent;
    let (tenant, other) = (self::tenant("activity"), self::tenant("activity2"));
    let now: DateTime<Utc> = "2026-11-25T12:30:00Z".parse().unwrap();
    assert_eq!(store.activity(&tenant, now).await.unwrap(), Default::default());
    let h = |hours: i64| now - chrono::Duration::hours(hours);
    store.record(&tenant, h(30), ActivityEvent::Delivery { events: 100, jobs: 90 }).await.unwrap();
    store.record(&tenant, h(23), ActivityEvent::Delivery { events: 5, jobs: 4 }).await.unwrap();
    store.record(&tenant, h(1), ActivityEvent::Delivery { events: 2, jobs: 1 }).await.unwrap();
    store.record(&tenant, h(1), ActivityEvent::Delivery { events: 3, jobs: 3 }).await.unwrap();
    store.record(&tenant, h(2), ActivityEvent::HookVerified).await.unwrap();
    store.record(&tenant, h(5), ActivityEvent::HookVerified).await.unwrap();
    store.record(&tenant, h(1), ActivityEvent::JobDone { waited_seconds: 7 }).await.unwrap();
    store.record(&tenant, h(3), ActivityEvent::JobDone { waited_seconds: 99 }).await.unwrap();
    store.record(&tenant, h(4), ActivityEvent::OktaTokenUsed).await.unwrap();
    let a = store.activity(&tenant, now).await.unwrap();
    assert_eq!((a.events_24h, a.jobs_24h), (10, 8), "the 30-hour-old delivery is outside the day");
    assert_eq!(a.last_delivery_at, Some(h(1)));
    assert_eq!(a.hook_verified_at, Some(h(2)), "an older verification does not move it back");
    assert_eq!((a.last_job_at, a.last_job_waited_seconds), (Some(h(1)), Some(7)));
    assert_eq!(a.okta_token_used_at, Some(h(4)));
    assert_eq!(store.activity(&other, now).await.unwrap(), Default::default(), "tenants apart");
}

/// API token records: found by digest, listed per tenant and kind, revoked and rotated only with
/// their owner's tenant and kind, never overwritten, a revocation never undone.
pub async fn token_store_contract(store: &dyn TokenStore) {
    use crate::domain::api_token::{TokenKind, TokenRecord};
    let (acme, other) = (self::tenant("tokens"), self::tenant("tokens2"));
    let issue = |tenant: &TenantId, kind, n: u8| {
        TokenRecord::issue(tenant.clone(), kind, [n; 32], [n; 16], now() + chrono::Duration::seconds(n.into()))
    };
    let (a1, v1) = issue(&acme, TokenKind::Scim, 1);
    let (a2, _) = issue(&acme, TokenKind::Scim, 2);
    let (admin, _) = issue(&acme, TokenKind::Admin, 3);
    let (foreign, _) = issue(&other, TokenKind::Scim, 4);
    for r in [&a1, &a2, &admin, &foreign] {
        store.insert_token(r).await.unwrap();
    }
    assert!(matches!(store.insert_token(&a1).await, Err(StoreError::AlreadyExists)), "never overwritten");
    let found = store.find_token(&crate::domain::api_token::lookup_key(v1.expose())).await.unwrap();
    assert_eq!(found.as_ref(), Some(&a1));
    assert_eq!(store.find_token(&"0".repeat(64)).await.unwrap(), None);
    let ids = |list: Vec<TokenRecord>| list.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(store.list_tokens(&acme, TokenKind::Scim).await.unwrap()), [a1.id.clone(), a2.id.clone()]);
    assert_eq!(ids(store.list_tokens(&acme, TokenKind::Admin).await.unwrap()), vec![admin.id.clone()]);
    assert_eq!(ids(store.list_tokens(&other, TokenKind::Admin).await.unwrap()), Vec::<String>::new());

    // Only with its own tenant and kind.
    let posing = TokenRecord { tenant: other.clone(), ..a1.clone() };
    assert!(matches!(store.revoke_token(&posing, now()).await, Err(StoreError::VersionConflict)));
    let as_admin = TokenRecord { kind: TokenKind::Admin, ..a1.clone() };
    assert!(matches!(store.revoke_token(&as_admin, now()).await, Err(StoreError::VersionConflict)));
    let (unknown, _) = issue(&acme, TokenKind::Scim, 9);
    assert!(matches!(store.revoke_token(&unknown, now()).await, Err(StoreError::VersionConflict)));

    // Revoke: the first time stays.
    let later = now() + chrono::Duration::minutes(5);
    store.revoke_token(&a1, now()).await.unwrap();
    store.revoke_token(&a1, later).await.unwrap();
    let revoked = store.find_token(&a1.sha256).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(now()));
    assert!(!revoked.is_active(later));

    // Rotate: both or neither.
    let until = later + chrono::Duration::hours(24);
    let (n1, _) = issue(&acme, TokenKind::Scim, 10);
    assert!(
        matches!(store.rotate_token(&a1, until, &n1, later).await, Err(StoreError::VersionConflict)),
        "a revoked token is not rotated"
    );
    assert_eq!(store.find_token(&n1.sha256).await.unwrap(), None, "and its successor was not written");
    assert!(matches!(store.rotate_token(&a2, until, &a1, later).await, Err(StoreError::AlreadyExists)));
    assert_eq!(store.find_token(&a2.sha256).await.unwrap().unwrap().valid_until, None, "nothing written");
    store.rotate_token(&a2, until, &n1, later).await.unwrap();
    assert_eq!(store.find_token(&a2.sha256).await.unwrap().unwrap().valid_until, Some(until));
    assert_eq!(store.find_token(&n1.sha256).await.unwrap(), Some(n1.clone()));
    let (n2, _) = issue(&acme, TokenKind::Scim, 11);
    assert!(
        matches!(store.rotate_token(&a2, until, &n2, until).await, Err(StoreError::VersionConflict)),
        "an expired token is not rotated"
    );
    assert_eq!(store.list_tokens(&acme, TokenKind::Scim).await.unwrap().len(), 3);
}

/// Logins: single use (a replayed state finds nothing), expiry, tenants apart.
pub async fn login_state_contract(store: &dyn LoginStateStore) {
    use crate::domain::sso::{LoginState, LOGIN_TTL};
    let (acme, other) = (self::tenant("logins"), self::tenant("logins2"));
    let login = |state: &str| LoginState {
        tenant: acme.clone(),
        state: state.into(),
        nonce: format!("nonce-{state}"),
        pkce_verifier: format!("verifier-{state}-0123456789012345678901234567890123"),
        redirect_uri: "https://acme.example/okta/auth_callback".into(),
        return_to: "/courses".into(),
        browser_binding: format!("binding-of-{state}"),
        created_at: now(),
        expires_at: now() + LOGIN_TTL,
    };
    store.put_login(&login("s1")).await.unwrap();
    store.put_login(&login("s2")).await.unwrap();
    assert!(matches!(store.put_login(&login("s1")).await, Err(StoreError::AlreadyExists)));
    let (b1, b2) = ("binding-of-s1", "binding-of-s2");
    assert_eq!(store.take_login(&other, "s1", b1, now()).await.unwrap(), None, "another tenant's state");
    assert!(
        matches!(store.take_login(&acme, "s1", "another-browser", now()).await, Err(StoreError::VersionConflict)),
        "another browser's callback takes nothing"
    );
    assert_eq!(store.take_login(&acme, "s1", b1, now()).await.unwrap(), Some(login("s1")), "still there for its own");
    assert_eq!(store.take_login(&acme, "s1", b1, now()).await.unwrap(), None, "single use");
    assert_eq!(store.take_login(&acme, "s2", b2, now() + LOGIN_TTL).await.unwrap(), None, "expired");
    assert_eq!(store.take_login(&acme, "s2", b2, now()).await.unwrap(), None, "an expired login is gone too");
    assert_eq!(store.take_login(&acme, "nope", b1, now()).await.unwrap(), None);

    // SAML assertions: each accepted once per tenant until it expires; two claims at once, one wins.
    let until = now() + chrono::Duration::minutes(7);
    let (first, second) = tokio::join!(
        store.claim_assertion(&acme, "a1", until, now()),
        store.claim_assertion(&acme, "a1", until, now())
    );
    assert!(first.unwrap() ^ second.unwrap(), "exactly one of two simultaneous claims wins");
    assert!(!store.claim_assertion(&acme, "a1", until, now() + chrono::Duration::minutes(6)).await.unwrap(), "replay");
    assert!(store.claim_assertion(&other, "a1", until, now()).await.unwrap(), "tenants apart");
    assert!(
        store.claim_assertion(&acme, "a1", until + chrono::Duration::minutes(7), until).await.unwrap(),
        "after expiry"
    );

    // Sessions: kept until deleted or expired, tenants apart.
    use crate::domain::sso::SessionRecord;
    let session = SessionRecord {
        tenant: acme.clone(),
        sid: "sid-1".into(),
        user_id: crate::domain::UserId::from_random([3; 16]),
        id_token: Some("header.payload.signature".into()),
        created_at: now(),
        expires_at: now() + chrono::Duration::hours(8),
    };
    store.put_session(&session).await.unwrap();
    assert_eq!(store.get_session(&acme, "sid-1", now()).await.unwrap(), Some(session.clone()));
    assert_eq!(store.get_session(&other, "sid-1", now()).await.unwrap(), None, "another tenant's session");
    assert_eq!(store.get_session(&acme, "sid-1", session.expires_at).await.unwrap(), None, "expired");
    store.delete_session(&acme, "sid-1").await.unwrap();
    assert_eq!(store.get_session(&acme, "sid-1", now()).await.unwrap(), None, "ended");
    store.delete_session(&acme, "sid-1").await.unwrap();
}

/// External ids (unique per tenant, moved on update), and groups with one record per member:
/// changes are all-or-nothing and refuse a stale view of the members they name.
pub async fn group_contract(reader: &dyn UserReader, writer: &dyn UserWriter, groups: &dyn GroupStore) {
    use crate::domain::group::{Group, Member};
    use crate::domain::GroupId;
    let (t, other) = (tenant("contract-groups"), tenant("contract-groups-b"));

    let mut ext = user(40, "ext@example.com", None);
    ext.external_id = Some("a1b2-c3".into());
    let ext = writer.create_user(&t, &ext, &[change(&ext, Action::Created)]).await.expect("create ext");
    assert_eq!(reader.find_by_external_id(&t, "a1b2-c3").await.expect("find").map(|u| u.id), Some(ext.id.clone()));
    assert!(reader.find_by_external_id(&t, "A1B2-C3").await.expect("find").is_none(), "externalId is caseExact");
    assert!(reader.find_by_external_id(&other, "a1b2-c3").await.expect("find").is_none(), "per tenant");
    let mut clash = user(41, "clash@example.com", None);
    clash.external_id = Some("a1b2-c3".into());
    let dup = writer.create_user(&t, &clash, &[change(&clash, Action::Created)]).await;
    assert!(matches!(dup, Err(StoreError::Duplicate(UniqueField::ExternalId))), "{dup:?}");
    let mut moved = ext.clone();
    moved.external_id = Some("new-ext".into());
    writer.update_user(&t, &ext, &moved, &[change(&ext, Action::Updated)]).await.expect("move external id");
    assert!(reader.find_by_external_id(&t, "a1b2-c3").await.expect("find").is_none(), "old claim released");
    writer.create_user(&t, &clash, &[change(&clash, Action::Created)]).await.expect("freed id reusable");

    // userNames are unique across every user's effective one (a client's, else the email).
    let mut upn = user(42, "mail@example.com", None);
    upn.user_name = Some("UPN@corp.example".into());
    let upn = writer.create_user(&t, &upn, &[change(&upn, Action::Created)]).await.expect("create upn");
    assert_eq!(
        reader.find_by_user_name(&t, "upn@CORP.example").await.expect("find").map(|u| u.id),
        Some(upn.id.clone())
    );
    assert_eq!(
        reader.find_by_user_name(&t, "ext@example.com").await.expect("find").map(|u| u.id),
        Some(ext.id.clone())
    );
    let taken = user(43, "upn@corp.example", None);
    let dup = writer.create_user(&t, &taken, &[change(&taken, Action::Created)]).await;
    assert!(matches!(dup, Err(StoreError::Duplicate(UniqueField::UserName))), "{dup:?}");
    let mut renamed = upn.clone();
    renamed.user_name = None;
    writer.update_user(&t, &upn, &renamed, &[change(&upn, Action::Updated)]).await.expect("back to the email");
    writer.create_user(&t, &taken, &[change(&taken, Action::Created)]).await.expect("userName freed");

    let g = Group {
        id: GroupId::from_random([9; 16]),
        display_name: "Tour Guides".into(),
        external_id: None,
        created_at: now(),
        updated_at: now(),
        version: 0,
    };
    let gchange = |action| NewChange {
        at: now(),
        actor: Actor::Scim,
        entity: EntityKind::Group,
        entity_id: g.id.to_string(),
        action,
        changes: Default::default(),
    };
    let created = groups.create_group(&t, &g, &gchange(Action::Created)).await.expect("create group");
    assert_eq!(created.version, 1);
    assert!(matches!(groups.create_group(&t, &g, &gchange(Action::Created)).await, Err(StoreError::AlreadyExists)));
    assert!(groups.get_group(&other, &g.id).await.expect("get").is_none(), "per tenant");
    let (a, b, p) = (Member::User(ext.id.clone()), Member::User(clash.id.clone()), Member::Pending("00uLater".into()));
    groups
        .change_members(&t, &g.id, &[a.clone(), p.clone()], &[], None, &gchange(Action::Updated))
        .await
        .expect("add members");
    let mut listed = groups.list_members(&t, &g.id).await.expect("list");
    listed.sort();
    let mut want = vec![a.clone(), p.clone()];
    want.sort();
    assert_eq!(listed, want);
    let which = groups.which_members(&t, &g.id, &[a.clone(), b.clone()]).await.expect("which");
    assert_eq!(which, std::slice::from_ref(&a));
    assert_eq!(groups.get_group(&t, &g.id).await.expect("get").expect("group").version, 2, "members bump the ETag");
    // A stale view: adding a present member, or removing an absent one, changes nothing at all.
    let absent = Member::Pending("nobody".into());
    for (add, remove) in [(vec![b.clone(), a.clone()], vec![]), (vec![b.clone()], vec![absent])] {
        let stale = groups.change_members(&t, &g.id, &add, &remove, None, &gchange(Action::Updated)).await;
        assert!(matches!(stale, Err(StoreError::VersionConflict)), "{stale:?}");
    }
    assert!(groups.which_members(&t, &g.id, std::slice::from_ref(&b)).await.expect("which").is_empty(), "atomic");
    let one_b = std::slice::from_ref(&b);
    let wrong_version = groups.change_members(&t, &g.id, one_b, &[], Some(1), &gchange(Action::Updated)).await;
    assert!(matches!(wrong_version, Err(StoreError::VersionConflict)));
    groups
        .change_members(&t, &g.id, one_b, std::slice::from_ref(&p), Some(2), &gchange(Action::Updated))
        .await
        .expect("swap");
    let current = groups.get_group(&t, &g.id).await.expect("get").expect("group");
    let mut renamed = current.clone();
    renamed.display_name = "Guides".into();
    let renamed = groups.update_group(&t, &current, &renamed, &gchange(Action::Updated)).await.expect("rename");
    assert_eq!(renamed.version, 4);
    assert!(matches!(
        groups.update_group(&t, &current, &renamed, &gchange(Action::Updated)).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(groups.list_groups(&t).await.expect("list").len(), 1);
    groups.delete_group(&t, &renamed, &gchange(Action::Deleted)).await.expect("delete");
    assert!(groups.get_group(&t, &g.id).await.expect("get").is_none());
    assert!(groups.list_members(&t, &g.id).await.expect("members").is_empty(), "members go with the group");
    let gone = groups.change_members(&t, &g.id, &[a], &[], None, &gchange(Action::Updated)).await;
    assert!(matches!(gone, Err(StoreError::VersionConflict)), "no members for a deleted group");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{MemoryQueue, MemorySecrets};

    #[tokio::test]
    async fn memory_secrets_pass() {
        secret_store_contract(&MemorySecrets::default(), "x/y").await;
    }

    #[tokio::test]
    async fn memory_queue_passes() {
        let q = MemoryQueue::default();
        let sent = queue_contract(&q).await;
        assert_eq!(q.jobs(), sent);
    }
}
