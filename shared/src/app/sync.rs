//! Nightly reconciliation and "Sync users" (SPEC §8): every app user, page by page, converged with
//! the same state machine as the worker; checkpointed after each page and continued across
//! invocations by messages, within a share of Okta's rate limit; then the users Okta no longer
//! lists are deactivated, unless the brake holds them for an admin's approval.
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::provisioning::{Mode, Outcome, ProvisionError, Provisioner};
use super::user_fetch::UserFetchService;
use crate::domain::activity::ActivityEvent;
use crate::domain::change::Actor;
use crate::domain::convergence::Truth;
use crate::domain::sync_run::{brake_holds, RunStatus, RunTrigger, SyncRun};
use crate::domain::tenant::{Provisioning, TenantConfig};
use crate::domain::user::{User, UserStatus};
use crate::domain::{OktaUserId, TenantId};
use crate::ports::okta::OktaError;
use crate::ports::user_store::UserQuery;
use crate::ports::{Clock, ConfigStore, JobQueue, OktaDirectory, Random, StoreError, SyncStore, UserReader};

/// Okta's largest page for app users (okta-wire.md §0).
pub const PAGE_SIZE: u32 = 500;
const SAMPLES: usize = 10;

#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// The share of Okta's rate-limit bucket a run may use; the rest is left for hooks and the worker.
    pub budget_percent: u64,
    /// How long a run's lease lasts without a checkpoint renewing it.
    pub lease: chrono::Duration,
    /// Stop and continue in a new invocation when less than this much time is left.
    pub reserve: Duration,
    /// At most this many pages per invocation (a bound for tests and for very slow pages).
    pub max_pages_per_invocation: u64,
    /// App users per Okta page (Okta's maximum, 500, unless a test wants many small pages).
    pub page_size: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            budget_percent: 50,
            lease: chrono::Duration::minutes(20),
            reserve: Duration::from_secs(90),
            max_pages_per_invocation: 10_000,
            page_size: PAGE_SIZE,
        }
    }
}

/// A message that starts or continues a run; `version` is the checkpoint it continues from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMessage {
    pub tenant: TenantId,
    pub run_id: String,
    pub version: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("tenant not found")]
    TenantNotFound,
    #[error("the nightly sync needs event-hook provisioning for this tenant")]
    NotEnabled,
    #[error("sync run not found")]
    RunNotFound,
    #[error("the run is not waiting for approval")]
    NotAwaitingApproval,
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// What an invocation did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A duplicate or stale message: nothing to do.
    Dropped,
    /// Checkpointed and continued in a new message (after `delay`).
    Continued { delay: Duration },
    /// The run ended (completed, needs approval, or failed).
    Finished(RunStatus),
}

pub struct SyncService {
    configs: Arc<dyn ConfigStore>,
    runs: Arc<dyn SyncStore>,
    users: Arc<dyn UserReader>,
    okta: Arc<dyn OktaDirectory>,
    fetch: Arc<UserFetchService>,
    provisioner: Arc<Provisioner>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    options: SyncOptions,
}

#[allow(clippy::too_many_arguments)]
impl SyncService {
    pub fn new(
        configs: Arc<dyn ConfigStore>,
        runs: Arc<dyn SyncStore>,
        users: Arc<dyn UserReader>,
        okta: Arc<dyn OktaDirectory>,
        fetch: Arc<UserFetchService>,
        provisioner: Arc<Provisioner>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        options: SyncOptions,
    ) -> Self {
        Self { configs, runs, users, okta, fetch, provisioner, queue, clock, random, options }
    }

    async fn config(&self, tenant: &TenantId) -> Result<TenantConfig, SyncError> {
        let config = self.configs.get_config(tenant).await?.ok_or(SyncError::TenantNotFound)?;
        if config.provisioning != Provisioning::EventHooks {
            return Err(SyncError::NotEnabled);
        }
        Ok(config)
    }

    fn run_id(&self) -> String {
        // Time-ordered, so runs list newest first by key.
        let now = self.clock.now();
        let rnd = self.random.bytes16();
        format!("run_{}_{:02x}{:02x}{:02x}{:02x}", now.format("%Y%m%dT%H%M%S%3f"), rnd[0], rnd[1], rnd[2], rnd[3])
    }

    async fn send(&self, run: &SyncRun, delay: Duration) -> Result<(), SyncError> {
        let body = serde_json::to_string(&SyncMessage {
            tenant: run.tenant.clone(),
            run_id: run.id.clone(),
            version: run.version,
        })
        .expect("a sync message serialises");
        self.queue.enqueue_delayed(&body, delay).await.map_err(|e| SyncError::Unavailable(e.to_string()))
    }

    /// Walks the tenant's active Okta-linked users a page at a time (never the whole directory in
    /// memory), handing each page to `visit`.
    async fn for_each_active_page<F>(&self, tenant: &TenantId, mut visit: F) -> Result<(), SyncError>
    where
        F: FnMut(Vec<User>),
    {
        let mut cursor = None;
        loop {
            let page = self
                .users
                .list_users(tenant, &UserQuery { status: Some(UserStatus::Active), cursor, limit: 1000 })
                .await?;
            visit(page.items.into_iter().filter(|u| u.okta_id.is_some()).collect());
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    async fn count_active(&self, tenant: &TenantId) -> Result<u64, SyncError> {
        let mut n = 0;
        self.for_each_active_page(tenant, |page| n += page.len() as u64).await?;
        Ok(n)
    }

    /// The active Okta-linked users no page of this run listed.
    async fn unseen_active(&self, tenant: &TenantId, seen: &HashSet<String>) -> Result<Vec<User>, SyncError> {
        let mut unseen = Vec::new();
        self.for_each_active_page(tenant, |page| {
            unseen.extend(page.into_iter().filter(|u| u.okta_id.as_ref().is_some_and(|o| !seen.contains(o.as_str()))))
        })
        .await?;
        Ok(unseen)
    }

    /// Starts a run, or returns the one already running for the tenant (`true`).
    #[instrument(skip_all, fields(tenant = %tenant))]
    pub async fn start(
        &self,
        tenant: &TenantId,
        trigger: RunTrigger,
        dry_run: bool,
    ) -> Result<(SyncRun, bool), SyncError> {
        self.config(tenant).await?;
        let now = self.clock.now();
        let mut run = SyncRun::new(self.run_id(), tenant.clone(), trigger, dry_run, now);
        if let Some(holder) = self.runs.acquire_lease(tenant, &run.id, now + self.options.lease, now).await? {
            if let Some(running) = self.runs.get_run(tenant, &holder).await? {
                return Ok((running, true));
            }
        }
        run.active_at_start = self.count_active(tenant).await?;
        let run = self.runs.create_run(&run).await?;
        self.send(&run, Duration::ZERO).await?;
        tracing::info!(run = %run.id, dry_run, ?trigger, "sync run started");
        Ok((run, false))
    }

    /// The nightly fan-out: a run for every tenant with event-hook provisioning.
    pub async fn start_nightly(&self) -> Result<Vec<SyncRun>, SyncError> {
        let mut started = Vec::new();
        for tenant in self.configs.list_tenants().await? {
            match self.start(&tenant, RunTrigger::Schedule, false).await {
                Ok((run, _)) => started.push(run),
                Err(SyncError::NotEnabled) => {}
                Err(e) => tracing::error!(tenant = %tenant, error = %e, "nightly sync not started"),
            }
        }
        Ok(started)
    }

    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<SyncRun, SyncError> {
        self.runs.get_run(tenant, id).await?.ok_or(SyncError::RunNotFound)
    }

    pub async fn list(&self, tenant: &TenantId, limit: u32) -> Result<Vec<SyncRun>, SyncError> {
        self.configs.get_config(tenant).await?.ok_or(SyncError::TenantNotFound)?;
        Ok(self.runs.list_runs(tenant, limit).await?)
    }

    /// Time left before the reserve; the page loop stops there and continues in a new invocation.
    fn time_left(&self, deadline: Option<Instant>) -> bool {
        deadline.is_none_or(|d| d.saturating_duration_since(Instant::now()) > self.options.reserve)
    }

    /// Okta's bucket is down to the share left for others: wait for the reset.
    fn over_budget(&self, base_url: &str) -> Option<Duration> {
        let rl = self.okta.rate_limit(base_url)?;
        let (limit, remaining, reset) = (rl.limit, rl.remaining, rl.reset);
        let floor = limit * (100 - self.options.budget_percent.min(100)) / 100;
        let now = self.clock.now().timestamp();
        // What was seen before the window's reset says nothing about the window after it.
        (remaining <= floor && reset > now).then(|| Duration::from_secs((reset - now + 1).clamp(1, 900) as u64))
    }

    /// Continues a run from its checkpoint until it ends, time runs short, or Okta says wait.
    #[instrument(skip_all, fields(tenant = %msg.tenant, run = %msg.run_id))]
    pub async fn resume(&self, msg: &SyncMessage, deadline: Option<Instant>) -> Result<Step, SyncError> {
        let Some(mut run) = self.runs.get_run(&msg.tenant, &msg.run_id).await? else { return Ok(Step::Dropped) };
        if run.version != msg.version || run.status != RunStatus::Running {
            tracing::info!(expected = run.version, got = msg.version, "stale or duplicate continuation dropped");
            return Ok(Step::Dropped);
        }
        let config = match self.config(&msg.tenant).await {
            Ok(c) => c,
            Err(e @ (SyncError::TenantNotFound | SyncError::NotEnabled)) => {
                return self.fail(run, &e.to_string()).await
            }
            Err(e) => return Err(e),
        };
        let org = match self.fetch.org(&config).await {
            Ok(org) => org,
            Err(e) => return self.fail(run, &e.to_string()).await,
        };
        let Some(app_id) = config.app_id.clone() else { return self.fail(run, "the tenant has no app_id").await };
        let mode = if run.dry_run { Mode::DryRun } else { Mode::Apply };
        let mut pages_now = 0;
        while !run.listing_done {
            if pages_now >= self.options.max_pages_per_invocation || !self.time_left(deadline) {
                return self.checkpoint_and_continue(run, Duration::ZERO).await;
            }
            if let Some(wait) = self.over_budget(&org.base_url) {
                tracing::info!(wait_s = wait.as_secs(), "rate-limit budget used: waiting for Okta's reset");
                return self.checkpoint_and_continue(run, wait).await;
            }
            let page =
                match self.okta.list_app_users(&org, &app_id, run.cursor.as_deref(), self.options.page_size).await {
                    Ok(page) => page,
                    Err(OktaError::RateLimited { retry_after }) => {
                        run.counts.okta_calls += 1;
                        return self.checkpoint_and_continue(run, retry_after).await;
                    }
                    Err(OktaError::Unauthorized { code }) => {
                        // Retrying cannot help until an admin sets a working token.
                        run.counts.okta_calls += 1;
                        return self.fail(run, &format!("Okta refused the API token ({code}); set a new one")).await;
                    }
                    Err(e) => {
                        // Not fatal yet: the message is retried (with SQS's backoff) from this checkpoint.
                        return Err(SyncError::Unavailable(format!("Okta: {e}")));
                    }
                };
            run.counts.okta_calls += 1;
            self.fetch.telemetry().record(&run.tenant, ActivityEvent::OktaTokenUsed).await;
            self.apply_page(&config, &mut run, &page.users, mode).await?;
            run.counts.pages += 1;
            let seen: Vec<String> = page.users.iter().map(|u| u.id.clone()).collect();
            self.runs.save_seen(&run.tenant, &run.id, run.counts.pages, &seen).await?;
            run.cursor = page.next;
            run.listing_done = run.cursor.is_none();
            run = match self.save(&run).await? {
                Some(saved) => saved,
                None => return Ok(Step::Dropped),
            };
            pages_now += 1;
        }
        self.finish(&config, run, false).await
    }

    async fn apply_page(
        &self,
        config: &TenantConfig,
        run: &mut SyncRun,
        users: &[crate::domain::okta::AppUser],
        mode: Mode,
    ) -> Result<(), SyncError> {
        for app_user in users {
            run.counts.seen += 1;
            let (Ok(okta_id), Some(user)) =
                (OktaUserId::parse(&app_user.id), app_user.embedded.as_ref().and_then(|e| e.user.clone()))
            else {
                run.counts.errors += 1;
                tracing::warn!("app user without an embedded user or with an invalid id skipped");
                continue;
            };
            let truth = Truth::Present { user, assigned: true };
            let mut outcome = Err(ProvisionError::Conflict);
            for _ in 0..3 {
                outcome = self.provisioner.converge(config, &okta_id, &truth, Actor::Sync, mode).await;
                if !matches!(outcome, Err(ProvisionError::Conflict)) {
                    break;
                }
            }
            match outcome {
                Ok(Outcome::Created) => run.counts.created += 1,
                Ok(Outcome::Updated) => run.counts.updated += 1,
                Ok(Outcome::Reactivated) => run.counts.reactivated += 1,
                Ok(Outcome::Deactivated) => run.counts.deactivated += 1,
                Ok(Outcome::Unchanged | Outcome::Stale) => run.counts.unchanged += 1,
                Err(ProvisionError::Store(e)) => return Err(e.into()),
                Err(e) => {
                    run.counts.errors += 1;
                    tracing::warn!(okta_user = %okta_id, error = %e, "user skipped by the sync");
                }
            }
        }
        Ok(())
    }

    /// Saves a checkpoint; `None` if another invocation already moved the run on.
    async fn save(&self, run: &SyncRun) -> Result<Option<SyncRun>, SyncError> {
        let mut next = run.clone();
        next.updated_at = self.clock.now();
        match self.runs.save_run(&next).await {
            Ok(saved) => {
                let now = self.clock.now();
                self.runs.acquire_lease(&run.tenant, &run.id, now + self.options.lease, now).await?;
                Ok(Some(saved))
            }
            Err(StoreError::VersionConflict) => {
                tracing::warn!("checkpoint lost to another invocation of the same run; stopping here");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn checkpoint_and_continue(&self, run: SyncRun, delay: Duration) -> Result<Step, SyncError> {
        let Some(saved) = self.save(&run).await? else { return Ok(Step::Dropped) };
        self.send(&saved, delay).await?;
        Ok(Step::Continued { delay })
    }

    async fn fail(&self, mut run: SyncRun, why: &str) -> Result<Step, SyncError> {
        run.status = RunStatus::Failed;
        run.error = Some(why.to_owned());
        run.finished_at = Some(self.clock.now());
        tracing::error!(error = why, "sync run failed");
        if self.save(&run).await?.is_some() {
            self.runs.release_lease(&run.tenant, &run.id).await?;
        }
        self.emit_metrics(&run);
        Ok(Step::Finished(RunStatus::Failed))
    }

    /// After the last page: deactivate the Okta-linked users no page listed, unless the brake
    /// holds (or it is a dry run, or `approved` applies what the brake held).
    async fn finish(&self, config: &TenantConfig, mut run: SyncRun, approved: bool) -> Result<Step, SyncError> {
        let seen: HashSet<String> = self.runs.load_seen(&run.tenant, &run.id).await?;
        let candidates = self.unseen_active(&run.tenant, &seen).await?;
        drop(seen);
        run.pending_deactivations = candidates.len() as u64;
        run.samples = candidates.iter().take(SAMPLES).map(|u| u.id.to_string()).collect();
        let held =
            !approved && brake_holds(candidates.len() as u64, run.active_at_start, config.deactivation_brake_percent);
        if run.dry_run || held {
            run.status = if run.dry_run { RunStatus::Completed } else { RunStatus::NeedsApproval };
            if held && !run.dry_run {
                tracing::warn!(
                    candidates = candidates.len(),
                    active = run.active_at_start,
                    "brake: deactivations held for approval"
                );
            }
        } else {
            for user in &candidates {
                match self.provisioner.deactivate_unassigned(config, user, Actor::Sync).await {
                    Ok(Outcome::Deactivated) => run.counts.deactivated += 1,
                    Ok(_) => {}
                    Err(ProvisionError::Store(e)) => return Err(e.into()),
                    Err(e) => {
                        run.counts.errors += 1;
                        tracing::warn!(user_id = %user.id, error = %e, "deactivation skipped");
                    }
                }
            }
            run.pending_deactivations = 0;
            run.status = RunStatus::Completed;
        }
        if run.status == RunStatus::Completed {
            run.finished_at = Some(self.clock.now());
        }
        let Some(saved) = self.save(&run).await? else { return Ok(Step::Dropped) };
        self.runs.release_lease(&saved.tenant, &saved.id).await?;
        self.emit_metrics(&saved);
        tracing::info!(status = ?saved.status, counts = ?saved.counts, "sync run finished its listing");
        Ok(Step::Finished(saved.status))
    }

    /// Applies the deactivations a run's brake held.
    pub async fn approve(&self, tenant: &TenantId, id: &str) -> Result<SyncRun, SyncError> {
        let config = self.config(tenant).await?;
        let run = self.get(tenant, id).await?;
        if run.status != RunStatus::NeedsApproval {
            return Err(SyncError::NotAwaitingApproval);
        }
        self.finish(&config, run, true).await?;
        self.get(tenant, id).await
    }

    /// One CloudWatch Embedded Metric Format line per finished run (SPEC §14).
    fn emit_metrics(&self, run: &SyncRun) {
        use crate::domain::metrics::Metric;
        let duration_ms = run
            .finished_at
            .unwrap_or_else(|| self.clock.now())
            .signed_duration_since(run.started_at)
            .num_milliseconds()
            .max(0) as u64;
        let c = &run.counts;
        self.fetch.telemetry().metrics().publish(
            &run.tenant,
            &[
                (Metric::SyncDuration, duration_ms),
                (Metric::UsersCreated, c.created),
                (Metric::UsersUpdated, c.updated),
                (Metric::UsersDeactivated, c.deactivated),
                (Metric::UsersReactivated, c.reactivated),
                (Metric::SyncOktaCalls, c.okta_calls),
                (Metric::SyncErrors, c.errors),
                (Metric::SyncFailed, u64::from(run.status == RunStatus::Failed)),
            ],
            &[("RunId", serde_json::json!(run.id)), ("Status", serde_json::json!(run.status))],
        );
    }
}
