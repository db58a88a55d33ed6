//! The change log on the real adapter: numbers taken outside the entity transactions, voids for
//! numbers whose write was refused or died, a follower that never passes an unsettled number and
//! never waits on one longer than the grace, and concurrent writers that never cancel each other
//! on a shared counter.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use shared::adapters::dynamodb::{keys, DynamoStore};
use shared::domain::change::{Action, Actor, EntityKind, NewChange};
use shared::domain::user::User;
use shared::domain::{Email, TenantId, UserId};
use shared::ports::user_store::UserQuery;
use shared::ports::{ChangeLog, StoreError, UserReader, UserWriter};

use crate::helpers::{sdk, TestApp};

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn person(n: u32) -> User {
    let mut bytes = [0u8; 16];
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    User::new(
        UserId::from_random(bytes),
        Email::parse(&format!("person{n}@example.com")).unwrap(),
        format!("First{n}"),
        "Last".into(),
        Utc::now(),
    )
}

fn change(u: &User, action: Action) -> NewChange {
    NewChange {
        at: Utc::now(),
        actor: Actor::Scim,
        entity: EntityKind::User,
        entity_id: u.id.to_string(),
        action,
        changes: BTreeMap::new(),
    }
}

async fn store(app: &TestApp, grace: Duration) -> (DynamoStore, aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(sdk().await);
    let table = app.functions.adapters.store.table().to_owned();
    (DynamoStore::new(client.clone(), table.clone()).with_change_grace(grace), client, table)
}

/// Takes a number the way a writer does, and then dies before its transaction.
async fn take_number_and_die(client: &aws_sdk_dynamodb::Client, table: &str, t: &TenantId) {
    client
        .update_item()
        .table_name(table)
        .key("pk", AttributeValue::S(keys::change_counter(t)))
        .key("sk", AttributeValue::S(keys::COUNTER.into()))
        .update_expression("ADD seq :one SET #at = :now")
        .expression_attribute_names("#at", "at")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":now", AttributeValue::N(Utc::now().timestamp_millis().to_string()))
        .send()
        .await
        .unwrap();
}

/// A tenant an earlier build wrote to: its change counter, where that build kept it.
async fn earlier_build_counter(client: &aws_sdk_dynamodb::Client, table: &str, t: &TenantId, seq: u64) {
    client
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(keys::changes(t)))
        .item("sk", AttributeValue::S(keys::COUNTER.into()))
        .item("seq", AttributeValue::N(seq.to_string()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_follower_waits_on_a_number_still_being_written_and_passes_it_once_it_is_voided() {
    let app = TestApp::spawn().await;
    let (store, client, table) = store(&app, Duration::from_millis(1500)).await;
    let t = tenant("holes");
    let a = person(1);
    store.create_user(&t, &a, &[change(&a, Action::Created)]).await.unwrap();
    take_number_and_die(&client, &table, &t).await; // number 2: taken, never written
    let b = person(2);
    store.create_user(&t, &b, &[change(&b, Action::Created)]).await.unwrap(); // number 3

    let first = store.list_changes(&t, 0, 100).await.unwrap();
    assert_eq!(first.events.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1], "stops before the hole");
    assert_eq!((first.next_after, first.more), (1, true), "and says there is more");
    let again = store.list_changes(&t, first.next_after, 100).await.unwrap();
    assert!(again.events.is_empty() && again.more && again.next_after == 1, "still waiting: {again:?}");

    tokio::time::sleep(Duration::from_millis(1700)).await;
    // Read one number at a time: the proof of the hole's age lies past the window, and is found.
    let one = store.list_changes(&t, first.next_after, 1).await.unwrap();
    assert_eq!((one.events.len(), one.next_after, one.more), (0, 2, true), "the dead number is voided: {one:?}");
    let after = store.list_changes(&t, one.next_after, 100).await.unwrap();
    assert_eq!(after.events.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![3], "and passed");
    assert_eq!((after.next_after, after.more), (3, false));

    // A number at the end that is never written is settled the same way.
    take_number_and_die(&client, &table, &t).await; // number 4
    let tail = store.list_changes(&t, 3, 100).await.unwrap();
    assert!(tail.events.is_empty() && tail.more && tail.next_after == 3, "waits at the end: {tail:?}");
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let tail = store.list_changes(&t, 3, 100).await.unwrap();
    assert_eq!((tail.events.len(), tail.next_after, tail.more), (0, 4, false), "voided and passed");
    // The next write takes the next number; nothing is ever numbered twice.
    let c = person(3);
    store.create_user(&t, &c, &[change(&c, Action::Created)]).await.unwrap();
    let all = store.list_changes(&t, 0, 100).await.unwrap();
    assert_eq!(all.events.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1, 3, 5]);
}

#[tokio::test]
async fn a_refused_write_voids_its_number_at_once() {
    let app = TestApp::spawn().await;
    let (store, _, _) = store(&app, Duration::from_secs(3600)).await;
    let t = tenant("refused");
    let a = person(1);
    store.create_user(&t, &a, &[change(&a, Action::Created)]).await.unwrap();
    let mut dup = person(2);
    dup.email = a.email.clone();
    assert!(store.create_user(&t, &dup, &[change(&dup, Action::Created)]).await.is_err(), "the email is taken");
    let b = person(3);
    store.create_user(&t, &b, &[change(&b, Action::Created)]).await.unwrap();
    // With an hour's grace, only an immediate void lets the follower pass number 2.
    let page = store.list_changes(&t, 0, 100).await.unwrap();
    assert_eq!(page.events.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!((page.next_after, page.more), (3, false));
}

#[tokio::test]
async fn the_counter_of_earlier_builds_is_continued() {
    let app = TestApp::spawn().await;
    let (store, client, table) = store(&app, Duration::from_secs(10)).await;
    let t = tenant("legacy");
    earlier_build_counter(&client, &table, &t, 41).await;
    let a = person(1);
    store.create_user(&t, &a, &[change(&a, Action::Created)]).await.unwrap();
    let page = store.list_changes(&t, 41, 10).await.unwrap();
    assert_eq!(page.events.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![42]);
    // The old counter went in the same transaction: an earlier build still running cannot
    // number a change any more (its write is refused and retried).
    let old = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(keys::changes(&t)))
        .key("sk", AttributeValue::S(keys::COUNTER.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(old.item.is_none(), "the counter of earlier builds is fenced off");
}

#[tokio::test]
async fn claims_written_by_earlier_builds_are_found_and_released() {
    let app = TestApp::spawn().await;
    let (store, client, table) = store(&app, Duration::from_secs(10)).await;
    let t = tenant("oldclaims");
    earlier_build_counter(&client, &table, &t, 5).await;
    let a = person(1);
    let stored = store.create_user(&t, &a, &[]).await.unwrap();
    // Move the email claim to where earlier builds kept it: the tenant's partition.
    let email_claim = keys::email(a.email.key());
    client
        .delete_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(keys::claim(&t, &email_claim)))
        .key("sk", AttributeValue::S(keys::CLAIM.into()))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S(keys::tenant(&t)))
        .item("sk", AttributeValue::S(email_claim.clone()))
        .item("user_id", AttributeValue::S(a.id.to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(store.find_by_email(&t, &a.email).await.unwrap().map(|u| u.id), Some(a.id.clone()));
    // Still held there: another user cannot take the address.
    let mut rival = person(9);
    rival.email = a.email.clone();
    let refused = store.create_user(&t, &rival, &[change(&rival, Action::Created)]).await;
    assert!(matches!(refused, Err(StoreError::Duplicate(shared::ports::UniqueField::Email))), "{refused:?}");
    let mut moved = stored.clone();
    moved.email = Email::parse("renamed@example.com").unwrap();
    store.update_user(&t, &stored, &moved, &[]).await.unwrap();
    let legacy = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(keys::tenant(&t)))
        .key("sk", AttributeValue::S(email_claim))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(legacy.item.is_none(), "the old claim is released with the change");
    assert!(store.find_by_email(&t, &a.email).await.unwrap().is_none());
    assert_eq!(store.find_by_email(&t, &moved.email).await.unwrap().map(|u| u.id), Some(a.id.clone()));
}

#[tokio::test]
async fn users_written_by_earlier_builds_are_read_listed_and_moved_by_their_next_write() {
    let app = TestApp::spawn().await;
    let (store, client, table) = store(&app, Duration::from_secs(10)).await;
    let t = tenant("oldusers");
    earlier_build_counter(&client, &table, &t, 5).await;
    let (a, b) = (person(1), person(2));
    let a = store.create_user(&t, &a, &[]).await.unwrap();
    store.create_user(&t, &b, &[]).await.unwrap();
    // Move `a` to where earlier builds kept users: the tenant's partition.
    let sharded = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(keys::user_pk(&t, a.id.as_str())))
        .key("sk", AttributeValue::S(keys::user(a.id.as_str())))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let mut legacy = sharded.clone();
    legacy.insert("pk".into(), AttributeValue::S(keys::tenant(&t)));
    client.put_item().table_name(&table).set_item(Some(legacy)).send().await.unwrap();
    client
        .delete_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(keys::user_pk(&t, a.id.as_str())))
        .key("sk", AttributeValue::S(keys::user(a.id.as_str())))
        .send()
        .await
        .unwrap();

    assert_eq!(store.get_user(&t, &a.id).await.unwrap().map(|u| u.version), Some(1), "read where it was");
    // As a user of an earlier build it is in no count shard (it was created in one here).
    let adjust = client
        .update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(keys::user_count(&t, a.id.as_str())))
        .key("sk", AttributeValue::S(keys::USER_COUNT.into()))
        .update_expression("ADD visible :d")
        .expression_attribute_values(":d", AttributeValue::N("-1".into()))
        .send()
        .await;
    adjust.unwrap();
    assert_eq!(store.count_scim_visible(&t).await.unwrap(), 2, "a user of an earlier build is counted");
    assert_eq!(store.get_users(&t, &[a.id.clone(), b.id.clone()]).await.unwrap().len(), 2);
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_users(&t, &UserQuery { status: None, cursor, limit: 1 }).await.unwrap();
        listed.extend(page.items.into_iter().map(|u| u.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed.len(), 2, "both listed once, one page at a time: {listed:?}");

    // Its next write moves it to its shard; a stale write is still refused.
    let mut renamed = a.clone();
    renamed.first_name = "Moved".into();
    let moved = store.update_user(&t, &a, &renamed, &[change(&a, Action::Updated)]).await.unwrap();
    assert_eq!(moved.version, 2);
    assert!(matches!(store.update_user(&t, &a, &renamed, &[]).await, Err(StoreError::VersionConflict)));
    let left = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(keys::tenant(&t)))
        .key("sk", AttributeValue::S(keys::user(a.id.as_str())))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(left.item.is_none(), "moved, not copied");
    assert_eq!(store.get_user(&t, &a.id).await.unwrap().map(|u| u.first_name), Some("Moved".into()));
    assert_eq!(store.count_scim_visible(&t).await.unwrap(), 2, "counted once, in its shard now");
    let active = store
        .list_users(&t, &UserQuery { status: Some(shared::domain::user::UserStatus::Active), cursor: None, limit: 10 })
        .await
        .unwrap();
    assert_eq!(active.items.len(), 2);
}

/// 16 writers in one tenant (creates and updates) while a follower with no grace at all voids
/// every hole it meets: writes whose number was voided under them take new numbers. Every
/// write lands once, the follower reads each change once and in order, and each user's changes
/// follow their versions.
#[tokio::test]
async fn concurrent_writers_and_an_impatient_follower_lose_and_repeat_nothing() {
    let app = TestApp::spawn().await;
    let (store, _, _) = store(&app, Duration::ZERO).await;
    let store = Arc::new(store);
    let t = tenant("busy");
    let writers = (0..16u32).map(|w| {
        let (store, t) = (store.clone(), t.clone());
        tokio::spawn(async move {
            for i in 0..4u32 {
                let u = person(w * 100 + i);
                let created = store.create_user(&t, &u, &[change(&u, Action::Created)]).await.unwrap();
                let mut after = created.clone();
                after.first_name = format!("Renamed{i}");
                store.update_user(&t, &created, &after, &[change(&after, Action::Updated)]).await.unwrap();
            }
        })
    });
    let writers: Vec<_> = writers.collect();
    let follower = {
        let (store, t) = (store.clone(), t.clone());
        tokio::spawn(async move {
            let (mut after, mut seen) = (0u64, Vec::new());
            for _ in 0..2000 {
                let page = store.list_changes(&t, after, 7).await.unwrap();
                assert!(page.next_after >= after, "the cursor never goes back");
                seen.extend(page.events);
                after = page.next_after;
                if seen.len() == 128 && !page.more {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    let seen = follower.await.unwrap();
    assert_eq!(seen.len(), 128, "64 creates and 64 updates, each read once");
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq), "in order, none twice");
    let mut per_user: BTreeMap<String, Vec<Action>> = BTreeMap::new();
    for c in &seen {
        per_user.entry(c.change.entity_id.clone()).or_default().push(c.change.action);
    }
    assert!(per_user.values().all(|a| a == &vec![Action::Created, Action::Updated]), "{per_user:?}");
    let fresh = store.list_changes(&t, 0, 1000).await.unwrap();
    assert_eq!(fresh.events, seen, "a new reader sees the same log");
    assert_eq!(store.count_scim_visible(&t).await.unwrap(), 64, "the count moved with every create");
}
