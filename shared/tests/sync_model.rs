//! A model-based concurrency test of the nightly sync (docs/behaviour/sync.md) on the in-memory ports: random
//! interleavings of sync pages, hook jobs (joiners, leavers, re-assignments, profile changes,
//! delivered late, out of order and twice), sign-ins that provision just in time, silent
//! unassignments that make the brake hold, approvals, and lease expiries that let a second run
//! start while the first still has messages. (SCIM writes do not reach an event-hook tenant: the
//! SCIM endpoints answer 404 unless the tenant provisions by SCIM, which has no sync.)
//!
//! After every step:
//! - nobody Okta has assigned throughout is deactivated, and no deactivation of them (a flap)
//!   is in the change log;
//! - a run writes only while it holds the tenant's lease (never two runs writing at once);
//! - a run applying its deactivations (after its listing, or after approval) deactivates only
//!   users in its persisted candidate list.
//!
//! At the end (hooks delivered, runs drained, one more run completed): the stored users equal
//! Okta's truth.
//!
//! `SYNC_MODEL_SEEDS` (default 150) seeds of `SYNC_MODEL_STEPS` (default 160) steps each.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed unwrap is a failed test
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::Duration;
use serde_json::{json, Map, Value};
use shared::app::provisioning::Mode;
use shared::app::sync::{SyncMessage, SyncOptions, SyncService};
use shared::app::user_fetch::UserFetchService;
use shared::domain::change::{Action, Actor, ChangeEvent, EntityKind};
use shared::domain::convergence::Truth;
use shared::domain::job::UserFetchJob;
use shared::domain::sync_run::{Candidate, RunList, RunPhase, RunStatus, RunTrigger, SyncRun};
use shared::domain::tenant::ManagerMode;
use shared::domain::user::{User, UserStatus};
use shared::domain::{OktaUserId, TenantId};
use shared::fakes::{Fakes, MemoryOkta};
use shared::ports::sync_store::load_list;
use shared::ports::user_store::UserQuery;
use shared::ports::{ChangeLog, Clock, ConfigStore, JobQueue, StoreError, SyncStore, UserReader};

const APP: &str = "0oamodelapp";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct Model {
    f: Fakes,
    tenant: TenantId,
    okta: Arc<MemoryOkta>,
    sync: SyncService,
    fetch: UserFetchService,
    rng: Rng,
    /// Hook jobs Okta has sent and the worker has not processed yet (any order, maybe twice).
    hooks: Vec<OktaUserId>,
    /// Okta users assigned (and active) at every moment since they were created.
    throughout: BTreeSet<String>,
    next_user: u64,
    /// The change-log position already checked.
    checked_seq: u64,
    steps: Vec<String>,
}

fn profile(n: u64) -> Map<String, Value> {
    json!({
        "firstName": "Model", "lastName": format!("User{n}"), "email": format!("m{n}@model.example"),
        "department": format!("Team {}", n % 3), "title": "Engineer",
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

impl Model {
    async fn new(seed: u64) -> Self {
        let f = Fakes::new();
        let tenant = TenantId::parse("model").unwrap();
        f.event_hook_tenant(&tenant, APP, ManagerMode::Individual, 25).await;
        let okta = Arc::new(MemoryOkta::new(APP));
        let sync = f.sync_service_with(
            okta.clone(),
            SyncOptions { page_size: 3, max_pages_per_invocation: 1, ..SyncOptions::default() },
        );
        let fetch = f.user_fetch_service(okta.clone());
        let mut m = Self {
            f,
            tenant,
            okta,
            sync,
            fetch,
            rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            hooks: Vec::new(),
            throughout: BTreeSet::new(),
            next_user: 0,
            checked_seq: 0,
            steps: Vec::new(),
        };
        for _ in 0..12 {
            let id = m.new_okta_user();
            m.okta.assign(&id);
            m.throughout.insert(id.clone());
            m.hooks.push(OktaUserId::parse(&id).unwrap());
        }
        m
    }

    /// A new Okta user with an id that sorts anywhere among the others.
    fn new_okta_user(&mut self) -> String {
        self.next_user += 1;
        let id = format!("00u{:05}{:012}", self.rng.next() % 100_000, self.next_user);
        self.okta.create_user(&id, profile(self.next_user));
        id
    }

    fn assigned_ids(&self) -> Vec<String> {
        self.okta.user_ids().into_iter().filter(|id| self.okta.is_assigned(id)).collect()
    }

    fn unassigned_ids(&self) -> Vec<String> {
        self.okta.user_ids().into_iter().filter(|id| !self.okta.is_assigned(id)).collect()
    }

    async fn stored(&self) -> Vec<shared::domain::user::User> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page =
                self.f.store.list_users(&self.tenant, &UserQuery { status: None, cursor, limit: 1000 }).await.unwrap();
            all.extend(page.items);
            match page.next {
                Some(n) => cursor = Some(n),
                None => return all,
            }
        }
    }

    async fn changes_since_checked(&mut self) -> Vec<ChangeEvent> {
        let mut events = Vec::new();
        loop {
            let page = self.f.store.list_changes(&self.tenant, self.checked_seq, 1000).await.unwrap();
            self.checked_seq = page.next_after;
            events.extend(page.events);
            if !page.more {
                return events;
            }
        }
    }

    async fn deliver_hook(&mut self) {
        if self.hooks.is_empty() {
            return;
        }
        let i = self.rng.below(self.hooks.len());
        // Sometimes a delivery is processed and stays queued (SQS redelivers it later).
        let okta_user_id = if self.rng.chance(15) { self.hooks[i].clone() } else { self.hooks.swap_remove(i) };
        let job = UserFetchJob {
            tenant: self.tenant.clone(),
            okta_user_id,
            cause: "model".into(),
            event_uuid: format!("evt{}", self.rng.next()),
            published: None,
        };
        // A failing job stays for a retry, as SQS would keep it.
        if self.fetch.process(&job).await.is_err() {
            self.hooks.push(job.okta_user_id);
        }
    }

    async fn latest_run(&self) -> Option<SyncRun> {
        self.f.store.list_runs(&self.tenant, 1).await.unwrap().into_iter().next()
    }

    async fn candidates(&self, run: &SyncRun) -> HashSet<String> {
        load_list(self.f.store.as_ref(), &self.tenant, &run.id, RunList::Candidates)
            .await
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str::<Candidate>(e).unwrap().user_id.to_string())
            .collect()
    }

    /// Resumes one sync message; checks that only the lease holder wrote, and that an applying
    /// run deactivated only its own candidates.
    async fn sync_step(&mut self) {
        let Some((body, _delay)) = self.f.queue.pop() else { return };
        let msg: SyncMessage = serde_json::from_str(&body).unwrap();
        let before = self.f.store.get_run(&self.tenant, &msg.run_id).await.unwrap().unwrap();
        let holder = self.f.store.lease_holder(&self.tenant, self.f.clock.now());
        let applying = before.phase == RunPhase::Deactivating || before.listing_done;
        let step = self.sync.resume(&msg, None).await;
        if step.is_err() {
            // Transient: SQS would redeliver the same message.
            self.f.queue.enqueue(&[body]).await.unwrap();
        }
        let changes = self.changes_since_checked().await;
        let wrote = changes.iter().any(|c| c.change.actor == Actor::Sync);
        if wrote {
            assert!(
                holder.is_none() || holder.as_deref() == Some(msg.run_id.as_str()),
                "run {} wrote while run {:?} held the lease; steps: {:?}",
                msg.run_id,
                holder,
                self.steps
            );
        }
        let after = self.f.store.get_run(&self.tenant, &msg.run_id).await.unwrap().unwrap();
        let deactivated: Vec<&ChangeEvent> = changes
            .iter()
            .filter(|c| c.change.actor == Actor::Sync && c.change.action == Action::Deactivated)
            .collect();
        if !deactivated.is_empty() {
            // Okta never says DEPROVISIONED in this model: every deactivation comes from the list.
            assert!(applying || after.phase == RunPhase::Deactivating || after.is_finished());
            let allowed = self.candidates(&after).await;
            for c in deactivated {
                assert!(
                    allowed.contains(&c.change.entity_id),
                    "run {} deactivated {} outside its candidate list; steps: {:?}",
                    msg.run_id,
                    c.change.entity_id,
                    self.steps
                );
            }
        }
        self.check_throughout(&changes).await;
    }

    async fn check_throughout(&self, changes: &[ChangeEvent]) {
        let stored = self.stored().await;
        let by_id: BTreeMap<String, &shared::domain::user::User> =
            stored.iter().map(|u| (u.id.to_string(), u)).collect();
        for u in &stored {
            let Some(okta) = u.okta_id.as_ref() else { continue };
            if self.throughout.contains(okta.as_str()) {
                assert_eq!(
                    u.status,
                    UserStatus::Active,
                    "{okta}, assigned in Okta throughout, is {:?}; steps: {:?}",
                    u.status_reason,
                    self.steps
                );
            }
        }
        for c in changes {
            if c.change.entity == EntityKind::User && c.change.action == Action::Deactivated {
                let okta = by_id.get(&c.change.entity_id).and_then(|u| u.okta_id.as_ref());
                assert!(
                    okta.is_none_or(|o| !self.throughout.contains(o.as_str())),
                    "deactivation (then perhaps a reactivation) of {okta:?}, assigned throughout; steps: {:?}",
                    self.steps
                );
            }
        }
    }

    async fn step(&mut self) {
        let roll = self.rng.below(100);
        let name = match roll {
            0..=29 => {
                self.sync_step().await;
                "sync page"
            }
            30..=49 => {
                self.deliver_hook().await;
                "deliver hook"
            }
            50..=59 => {
                // A joiner: created and assigned in Okta; the hook comes later.
                let id = self.new_okta_user();
                self.okta.assign(&id);
                self.throughout.insert(id.clone());
                self.hooks.push(OktaUserId::parse(&id).unwrap());
                "joiner"
            }
            60..=64 => {
                let assigned = self.assigned_ids();
                if let Some(id) = assigned.get(self.rng.below(assigned.len())).cloned() {
                    self.okta.unassign(&id);
                    self.throughout.remove(&id);
                    self.hooks.push(OktaUserId::parse(&id).unwrap());
                }
                "leaver"
            }
            65..=68 => {
                let unassigned = self.unassigned_ids();
                if let Some(id) = unassigned.get(self.rng.below(unassigned.len())).cloned() {
                    self.okta.assign(&id);
                    self.hooks.push(OktaUserId::parse(&id).unwrap());
                }
                "re-assignment"
            }
            69..=75 => {
                let assigned = self.assigned_ids();
                if let Some(id) = assigned.get(self.rng.below(assigned.len())).cloned() {
                    let team = format!("Team {}", self.rng.below(5));
                    self.okta.update_profile(&id, json!({"department": team}).as_object().cloned().unwrap());
                    self.hooks.push(OktaUserId::parse(&id).unwrap());
                }
                "profile change"
            }
            76..=83 => {
                let _ = self.sync.start(&self.tenant, RunTrigger::Admin, false).await;
                "start run"
            }
            84..=87 => {
                if let Some(run) = self.latest_run().await.filter(|r| r.status == RunStatus::NeedsApproval) {
                    let _ = self.sync.approve(&self.tenant, &run.id).await;
                }
                "approve"
            }
            88..=89 => {
                // Silent unassignments (their hooks are lost): enough to make the brake hold.
                let assigned = self.assigned_ids();
                for id in assigned.iter().filter(|_| self.rng.chance(35)).cloned().collect::<Vec<_>>() {
                    self.okta.unassign(&id);
                    self.throughout.remove(&id);
                }
                "silent unassignments"
            }
            93..=94 => {
                // A sign-in: Okta only lets assigned people in; just-in-time provisioning converges
                // them through the same state machine, as actor `sso`.
                let assigned = self.assigned_ids();
                if let Some(id) = assigned.get(self.rng.below(assigned.len())).cloned() {
                    if let Some(user) = self.okta.user(&id) {
                        let config = self.f.store.get_config(&self.tenant).await.unwrap().unwrap();
                        let truth = Truth::Present { user, assigned: true };
                        let okta_id = OktaUserId::parse(&id).unwrap();
                        let _ = self.f.provisioner().converge(&config, &okta_id, &truth, Actor::Sso, Mode::Apply).await;
                    }
                }
                "sign-in"
            }
            90..=92 => {
                // The lease expires (a run stalled); another run may start and take over.
                self.f.clock.advance(Duration::minutes(21));
                "lease expiry"
            }
            _ => {
                self.f.clock.advance(Duration::seconds(1));
                "tick"
            }
        };
        self.steps.push(name.to_owned());
        if self.steps.len() > 40 {
            self.steps.remove(0);
        }
        let changes = self.changes_since_checked().await;
        self.check_throughout(&changes).await;
    }

    async fn drain_runs(&mut self) {
        for _ in 0..10_000 {
            if self.f.queue.jobs().is_empty() {
                return;
            }
            self.sync_step().await;
        }
        panic!("the sync queue never drained");
    }

    /// Quiesce, then one complete run (approved if held): the store equals Okta's truth.
    async fn settle_and_check(&mut self) {
        while !self.hooks.is_empty() {
            self.deliver_hook().await;
        }
        self.drain_runs().await;
        self.f.clock.advance(Duration::minutes(21));
        let (run, _) = self.sync.start(&self.tenant, RunTrigger::Admin, false).await.unwrap();
        self.drain_runs().await;
        let mut done = self.f.store.get_run(&self.tenant, &run.id).await.unwrap().unwrap();
        if done.status == RunStatus::NeedsApproval {
            let held = self.candidates(&done).await;
            self.sync.approve(&self.tenant, &run.id).await.unwrap();
            self.drain_runs().await;
            done = self.f.store.get_run(&self.tenant, &run.id).await.unwrap().unwrap();
            assert!(done.counts.applied as usize <= held.len());
        }
        assert_eq!(done.status, RunStatus::Completed, "{done:?}");
        for u in self.stored().await {
            let Some(okta) = u.okta_id.as_ref() else { continue };
            let truth = self.okta.is_assigned(okta.as_str());
            let expected = if truth { UserStatus::Active } else { UserStatus::Deactivated };
            assert_eq!(u.status, expected, "{okta}: stored {:?}, Okta assigns: {truth}", u.status);
        }
        let stored: HashSet<String> =
            self.stored().await.iter().filter_map(|u| u.okta_id.as_ref().map(|o| o.to_string())).collect();
        for id in self.assigned_ids() {
            assert!(stored.contains(&id), "{id} is assigned in Okta but not stored");
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test]
async fn random_interleavings_never_lock_out_an_assigned_user() {
    let seeds = env_number("SYNC_MODEL_SEEDS", 150);
    let steps = env_number("SYNC_MODEL_STEPS", 160);
    let mut seen = Coverage::default();
    for seed in 1..=seeds {
        let mut m = Model::new(seed).await;
        for _ in 0..steps {
            m.step().await;
        }
        m.settle_and_check().await;
        for run in m.f.store.list_runs(&m.tenant, 100).await.unwrap() {
            seen.runs += 1;
            seen.applied += run.counts.applied;
            seen.skipped += run.counts.skipped;
            seen.protected += run.counts.protected;
            seen.approved += u64::from(run.approved_at.is_some());
            seen.lease_lost += u64::from(run.failure.is_some_and(|f| f.code() == "lease_lost"));
        }
    }
    eprintln!("sync model over {seeds} seeds x {steps} steps: {seen:?}");
    // The model must reach every path it claims to test, or its green means nothing.
    if seeds >= 50 {
        assert!(
            seen.applied > 0 && seen.skipped > 0 && seen.protected > 0 && seen.approved > 0 && seen.lease_lost > 0,
            "{seen:?}"
        );
    }
}

#[derive(Debug, Default)]
struct Coverage {
    runs: u64,
    applied: u64,
    skipped: u64,
    protected: u64,
    approved: u64,
    lease_lost: u64,
}

/// The two cases the review found, step by step: a joiner whose hook lands after the page that
/// would have listed them, and a joiner who arrives while a run is held for approval.
#[tokio::test]
async fn a_joiner_during_a_run_and_during_a_hold_stays_active() {
    let mut m = Model::new(7).await;
    while !m.hooks.is_empty() {
        m.deliver_hook().await;
    }
    // A run lists its first page; a joiner whose id sorts first is assigned and hooked in.
    let (run, _) = m.sync.start(&m.tenant, RunTrigger::Admin, false).await.unwrap();
    m.sync_step().await;
    m.sync_step().await;
    let joiner = "00u00000000000000000".to_owned();
    m.okta.create_user(&joiner, profile(999));
    m.okta.assign(&joiner);
    m.throughout.insert(joiner.clone());
    m.hooks.push(OktaUserId::parse(&joiner).unwrap());
    m.deliver_hook().await;
    m.drain_runs().await;
    let done = m.f.store.get_run(&m.tenant, &run.id).await.unwrap().unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.counts.protected, 1, "the joiner was converged after the run started: {done:?}");
    let stored = m.f.store.find_by_okta_id(&m.tenant, &OktaUserId::parse(&joiner).unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.status, UserStatus::Active);

    // 5 of 13 unassigned silently: the next run holds them; a joiner arrives during the hold.
    let assigned = m.assigned_ids();
    let leavers: Vec<String> = assigned.iter().filter(|id| **id != joiner).take(5).cloned().collect();
    for id in &leavers {
        m.okta.unassign(id);
        m.throughout.remove(id);
    }
    m.f.clock.advance(Duration::seconds(5));
    let (held, _) = m.sync.start(&m.tenant, RunTrigger::Admin, false).await.unwrap();
    m.drain_runs().await;
    let held = m.f.store.get_run(&m.tenant, &held.id).await.unwrap().unwrap();
    assert_eq!(held.status, RunStatus::NeedsApproval, "{held:?}");
    assert_eq!(held.pending_deactivations, 5);
    let late = m.new_okta_user();
    m.okta.assign(&late);
    m.throughout.insert(late.clone());
    m.hooks.push(OktaUserId::parse(&late).unwrap());
    m.deliver_hook().await;
    // One of the held users is assigned again before the approval: skipped, not deactivated.
    m.okta.assign(&leavers[0]);
    m.sync.approve(&m.tenant, &held.id).await.unwrap();
    m.drain_runs().await;
    let approved = m.f.store.get_run(&m.tenant, &held.id).await.unwrap().unwrap();
    assert_eq!(approved.status, RunStatus::Completed);
    assert_eq!((approved.counts.applied, approved.counts.skipped), (4, 1), "{approved:?}");
    for id in [&late, &joiner, &leavers[0]] {
        let u = m.f.store.find_by_okta_id(&m.tenant, &OktaUserId::parse(id).unwrap()).await.unwrap().unwrap();
        assert_eq!(u.status, UserStatus::Active, "{id}");
    }
    for id in &leavers[1..] {
        let u = m.f.store.find_by_okta_id(&m.tenant, &OktaUserId::parse(id).unwrap()).await.unwrap().unwrap();
        assert_eq!(u.status, UserStatus::Deactivated, "{id}");
    }
    // Approving again, or a run held more than 24 hours ago, is refused.
    assert!(m.sync.approve(&m.tenant, &held.id).await.is_err());
}

#[tokio::test]
async fn a_held_run_expires_after_a_day_and_one_run_holds_the_tenant() {
    let mut m = Model::new(11).await;
    while !m.hooks.is_empty() {
        m.deliver_hook().await;
    }
    let (first, _) = m.sync.start(&m.tenant, RunTrigger::Admin, false).await.unwrap();
    m.drain_runs().await;
    for id in m.assigned_ids().into_iter().take(6) {
        m.okta.unassign(&id);
    }
    m.f.clock.advance(Duration::seconds(5));
    let (held, _) = m.sync.start(&m.tenant, RunTrigger::Admin, false).await.unwrap();
    assert_ne!(held.id, first.id);
    m.drain_runs().await;
    assert_eq!(m.latest_run().await.unwrap().status, RunStatus::NeedsApproval);
    // While another run holds the tenant, approval waits.
    let (running, _) = m.sync.start(&m.tenant, RunTrigger::Admin, false).await.unwrap();
    let busy = m.sync.approve(&m.tenant, &held.id).await;
    assert!(matches!(busy, Err(shared::app::sync::SyncError::AnotherRunActive(ref r)) if *r == running.id), "{busy:?}");
    // Two starts while one runs: the same run.
    let (again, already) = m.sync.start(&m.tenant, RunTrigger::Admin, false).await.unwrap();
    assert!(already);
    assert_eq!(again.id, running.id);
    m.drain_runs().await;
    m.f.clock.advance(Duration::hours(25));
    let expired = m.sync.approve(&m.tenant, &held.id).await;
    assert!(matches!(expired, Err(shared::app::sync::SyncError::RunExpired)), "{expired:?}");
}

#[tokio::test]
async fn a_run_whose_lease_was_taken_stops_writing() {
    let mut m = Model::new(5).await;
    while !m.hooks.is_empty() {
        m.deliver_hook().await;
    }
    let (first, _) = m.sync.start(&m.tenant, RunTrigger::Admin, false).await.unwrap();
    m.sync_step().await;
    // The first run stalls past its lease; a second run starts and takes the tenant.
    m.f.clock.advance(Duration::minutes(21));
    let (second, already) = m.sync.start(&m.tenant, RunTrigger::Admin, false).await.unwrap();
    assert!(!already);
    m.drain_runs().await;
    let stopped = m.f.store.get_run(&m.tenant, &first.id).await.unwrap().unwrap();
    assert_eq!(stopped.status, RunStatus::Failed);
    assert_eq!(stopped.failure.map(|f| f.code()), Some("lease_lost"), "{stopped:?}");
    let done = m.f.store.get_run(&m.tenant, &second.id).await.unwrap().unwrap();
    assert_eq!(done.status, RunStatus::Completed);
}

#[tokio::test]
async fn a_wrong_app_id_deactivates_nobody_and_says_why() {
    let mut m = Model::new(3).await;
    while !m.hooks.is_empty() {
        m.deliver_hook().await;
    }
    let before: Vec<_> = m.stored().await.into_iter().filter(|u| u.status == UserStatus::Active).collect();
    assert_eq!(before.len(), 12);
    m.okta.set_app_exists(false);
    // Hook path: the assignment read answers 404 as for an unassigned user; the app check says why.
    let job = UserFetchJob {
        tenant: m.tenant.clone(),
        okta_user_id: before[0].okta_id.clone().unwrap(),
        cause: "application.user_membership.remove".into(),
        event_uuid: "e1".into(),
        published: None,
    };
    let err = m.fetch.process(&job).await.unwrap_err();
    assert!(matches!(err, shared::app::user_fetch::FetchError::Config(f) if f.code() == "app_not_found"), "{err:?}");
    // The run: fails with the reason, deactivates nobody.
    let (run, _) = m.sync.start(&m.tenant, RunTrigger::Admin, false).await.unwrap();
    m.drain_runs().await;
    let failed = m.f.store.get_run(&m.tenant, &run.id).await.unwrap().unwrap();
    assert_eq!((failed.status, failed.failure.map(|f| f.code())), (RunStatus::Failed, Some("app_not_found")));
    assert!(m.stored().await.iter().all(|u| u.status == UserStatus::Active), "nobody deactivated");
    let health = m.f.health().health(&m.tenant).await.unwrap();
    assert!(health.problems.iter().any(|p| p.code == "app_not_found"), "{:?}", health.problems);
    // Fixed: the next job succeeds and health clears.
    m.okta.set_app_exists(true);
    m.f.clock.advance(Duration::minutes(10));
    m.fetch.process(&job).await.unwrap();
    let health = m.f.health().health(&m.tenant).await.unwrap();
    assert!(!health.problems.iter().any(|p| p.code == "app_not_found"), "{:?}", health.problems);
}

/// A user reader that lets other tasks run after every read, so two writers interleave between
/// "not found" and "create" as they do against DynamoDB.
struct YieldingReader(Arc<shared::fakes::MemoryStore>);

#[async_trait::async_trait]
impl UserReader for YieldingReader {
    async fn get_user(&self, t: &TenantId, id: &shared::domain::UserId) -> Result<Option<User>, StoreError> {
        let r = self.0.get_user(t, id).await;
        tokio::task::yield_now().await;
        r
    }
    async fn find_by_okta_id(&self, t: &TenantId, id: &OktaUserId) -> Result<Option<User>, StoreError> {
        let r = self.0.find_by_okta_id(t, id).await;
        tokio::task::yield_now().await;
        r
    }
    async fn find_by_email(&self, t: &TenantId, e: &shared::domain::Email) -> Result<Option<User>, StoreError> {
        let r = self.0.find_by_email(t, e).await;
        tokio::task::yield_now().await;
        r
    }
    async fn find_by_user_name(&self, t: &TenantId, n: &str) -> Result<Option<User>, StoreError> {
        self.0.find_by_user_name(t, n).await
    }
    async fn find_by_external_id(&self, t: &TenantId, x: &str) -> Result<Option<User>, StoreError> {
        self.0.find_by_external_id(t, x).await
    }
    async fn list_users(&self, t: &TenantId, q: &UserQuery) -> Result<shared::ports::Page<User>, StoreError> {
        self.0.list_users(t, q).await
    }
    async fn get_users(&self, t: &TenantId, ids: &[shared::domain::UserId]) -> Result<Vec<User>, StoreError> {
        tokio::task::yield_now().await;
        self.0.get_users(t, ids).await
    }
    async fn count_scim_visible(&self, t: &TenantId) -> Result<u64, StoreError> {
        self.0.count_scim_visible(t).await
    }
}

/// A joiner's hook job and a sync page (or two deliveries of the hook) create the same new user
/// at once: one creates, the other finds the user on its retry. Before, the loser's transaction
/// failed on the email claim first and reported "the email belongs to another user".
#[tokio::test]
async fn two_writers_creating_one_joiner_at_once_both_succeed() {
    let m = Model::new(9).await;
    let f = &m.f;
    // The fakes' wiring, with a reader that yields between reads (the provisioner reads by it).
    let ports = shared::app::root::Ports {
        users: Arc::new(YieldingReader(f.store.clone())),
        ..f.root_with(m.okta.clone()).ports
    };
    let fetch = shared::app::root::Root::new(ports, Fakes::tuning()).user_fetch();
    let id = "00urace0000000000001";
    m.okta.create_user(id, profile(4242));
    m.okta.assign(id);
    let job = UserFetchJob {
        tenant: m.tenant.clone(),
        okta_user_id: OktaUserId::parse(id).unwrap(),
        cause: "application.user_membership.add".into(),
        event_uuid: "e-race".into(),
        published: None,
    };
    let (a, b) = tokio::join!(fetch.process(&job), fetch.process(&job));
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    let stored = f.store.find_by_okta_id(&m.tenant, &job.okta_user_id).await.unwrap().unwrap();
    assert_eq!(stored.status, UserStatus::Active);
}

/// An approval whose continuation cannot be queued leaves the run on hold (approvable again) and
/// the tenant free, instead of "running" with nothing to run it.
#[tokio::test]
async fn an_approval_that_cannot_be_queued_stays_on_hold() {
    let mut m = Model::new(13).await;
    while !m.hooks.is_empty() {
        m.deliver_hook().await;
    }
    for id in m.assigned_ids().into_iter().take(6) {
        m.okta.unassign(&id);
        m.throughout.remove(&id);
    }
    m.f.clock.advance(Duration::seconds(5));
    let (held, _) = m.sync.start(&m.tenant, RunTrigger::Admin, false).await.unwrap();
    m.drain_runs().await;
    m.f.queue.fail_next();
    assert!(m.sync.approve(&m.tenant, &held.id).await.is_err());
    let run = m.f.store.get_run(&m.tenant, &held.id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::NeedsApproval);
    assert_eq!(m.f.store.lease_holder(&m.tenant, m.f.clock.now()), None);
    m.sync.approve(&m.tenant, &held.id).await.unwrap();
    m.drain_runs().await;
    let run = m.f.store.get_run(&m.tenant, &held.id).await.unwrap().unwrap();
    assert_eq!((run.status, run.counts.applied), (RunStatus::Completed, 6));
}

/// A start while another run holds the lease but has not stored its record yet answers "starting"
/// (409 run_starting) instead of going on without the lease.
#[tokio::test]
async fn a_start_beside_a_run_still_starting_does_not_go_on() {
    let m = Model::new(17).await;
    let now = m.f.clock.now();
    let taken =
        m.f.store.acquire_lease(&m.tenant, "run_other_starting", now + Duration::minutes(20), now).await.unwrap();
    assert_eq!(taken, None);
    let r = m.sync.start(&m.tenant, RunTrigger::Admin, false).await;
    assert!(matches!(r, Err(shared::app::sync::SyncError::Starting)), "{r:?}");
    assert_eq!(m.f.store.lease_holder(&m.tenant, now).as_deref(), Some("run_other_starting"));
    assert!(m.f.store.list_runs(&m.tenant, 10).await.unwrap().is_empty(), "no second run was created");
}
