//! Nightly reconciliation and "Sync users" (docs/behaviour/sync.md): every app user, page by page, converged with
//! the same state machine as the worker; checkpointed after each page and continued across
//! invocations by messages, within a share of Okta's rate limit; then the users Okta no longer
//! lists are deactivated, unless the brake holds them for an admin's approval.
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::provisioning::{Mode, Outcome, ProvisionError, Provisioner};
use super::user_fetch::{token_failure, FetchError, UserFetchService};
use crate::domain::activity::ActivityEvent;
use crate::domain::change::Actor;
use crate::domain::convergence::Truth;
use crate::domain::sync_run::{
    brake_holds, Candidate, DiffAction, DiffEntry, RunErrorEntry, RunFailure, RunList, RunPhase, RunStatus, RunTrigger,
    SyncRun, CANDIDATE_CHUNK,
};
use crate::domain::tenant::{Provisioning, TenantConfig};
use crate::domain::user::{User, UserStatus};
use crate::domain::{OktaUserId, TenantId};
use crate::ports::okta::{OktaError, OktaOrg};
use crate::ports::sync_store::load_list;
use crate::ports::user_store::UserQuery;
use crate::ports::{
    error_chain, Cause, Clock, ConfigStore, JobQueue, OktaDirectory, Random, StoreError, SyncStore, UserReader,
};

/// Okta's largest page for app users (docs/okta-wire.md §0).
pub const PAGE_SIZE: u32 = 500;
const SAMPLES: usize = 10;
/// Chunks of a run's list per page of the admin API (a chunk is one Okta page: ≤ 500 entries).
const LIST_CHUNKS_PER_PAGE: u32 = 1;
/// How long a run waits before retrying Okta or the store after a transient failure.
const TRANSIENT_PAUSE: Duration = Duration::from_secs(30);

/// What the phases of one invocation share.
struct RunContext<'a> {
    config: &'a TenantConfig,
    org: &'a OktaOrg,
    app_id: &'a str,
    deadline: Option<Instant>,
}

/// Why applying a candidate stopped short.
enum Pause {
    RateLimited(Duration),
    Transient(Cause),
    Failed(RunFailure, String),
}

/// An Okta answer that says the configuration is wrong (never anything about a user).
fn failure_of(e: &OktaError) -> Option<RunFailure> {
    match e {
        OktaError::Unauthorized { code } => Some(token_failure(code)),
        OktaError::AppNotFound => Some(RunFailure::AppNotFound),
        OktaError::Protocol(_) | OktaError::Rejected { .. } => Some(RunFailure::OktaProtocol),
        OktaError::RateLimited { .. } | OktaError::Unavailable(_) => None,
    }
}

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
    /// Users of a page converged at once (each is a few store reads and at most one write).
    pub concurrency: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            budget_percent: 50,
            lease: chrono::Duration::minutes(20),
            reserve: Duration::from_secs(90),
            max_pages_per_invocation: 10_000,
            page_size: PAGE_SIZE,
            concurrency: 16,
        }
    }
}

/// A listed app user after convergence: what the run counts and reports.
enum Listed {
    Invalid(String),
    Converged {
        okta_id: OktaUserId,
        login: Option<String>,
        email: Option<String>,
        outcome: Result<crate::app::provisioning::Converged, ProvisionError>,
    },
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
    #[error("the run was held more than 24 hours ago: start a new run")]
    RunExpired,
    #[error("another run is starting for this tenant; try again in a moment")]
    Starting,
    #[error("another run ({0}) is in progress for this tenant; approve when it has finished")]
    AnotherRunActive(String),
    #[error("a dependency is unavailable; retry later")]
    Unavailable(#[source] Cause),
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(Box::new(e))
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

/// What a [`SyncService`] is built from, by name (the composition root, `app::root`, fills it).
pub struct SyncDeps {
    pub configs: Arc<dyn ConfigStore>,
    pub runs: Arc<dyn SyncStore>,
    pub users: Arc<dyn UserReader>,
    pub okta: Arc<dyn OktaDirectory>,
    pub fetch: Arc<UserFetchService>,
    pub provisioner: Arc<Provisioner>,
    pub queue: Arc<dyn JobQueue>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
}

impl SyncService {
    pub fn new(deps: SyncDeps, options: SyncOptions) -> Self {
        let SyncDeps { configs, runs, users, okta, fetch, provisioner, queue, clock, random } = deps;
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
        format!("run_{}_{:02x}{:02x}{:02x}{:02x}", now.format("%Y%m%dT%H%M%S%3f"), rnd[12], rnd[13], rnd[14], rnd[15])
    }

    async fn send(&self, run: &SyncRun, delay: Duration) -> Result<(), SyncError> {
        let body = serde_json::to_string(&SyncMessage {
            tenant: run.tenant.clone(),
            run_id: run.id.clone(),
            version: run.version,
        })
        .map_err(|e| SyncError::Unavailable(Box::new(e)))?;
        self.queue.enqueue_delayed(&body, delay).await.map_err(|e| SyncError::Unavailable(Box::new(e)))
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

    /// Starts a run, or returns the one already running for the tenant (`true`). The lease is
    /// taken first, atomically: whoever holds it is the only run that writes.
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
            return match self.runs.get_run(tenant, &holder).await? {
                Some(running) => Ok((running, true)),
                // The holder took the lease a moment ago and has not stored its record yet.
                None => Err(SyncError::Starting),
            };
        }
        let created = async {
            run.active_at_start = self.count_active(tenant).await?;
            let run = self.runs.create_run(&run).await?;
            self.send(&run, Duration::ZERO).await?;
            Ok::<_, SyncError>(run)
        }
        .await;
        match created {
            Ok(run) => {
                tracing::info!(run = %run.id, dry_run, ?trigger, "sync run started");
                Ok((run, false))
            }
            Err(e) => {
                // Nothing will continue this run: give the lease back so the next start is not blocked.
                if let Some(stored) = self.runs.get_run(tenant, &run.id).await.ok().flatten() {
                    let mut failed = stored;
                    failed.status = RunStatus::Failed;
                    failed.error = Some(format!("could not be started: {e}"));
                    failed.finished_at = Some(self.clock.now());
                    let _ = self.runs.save_run(&failed).await;
                }
                let _ = self.runs.release_lease(tenant, &run.id).await;
                Err(e)
            }
        }
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

    /// One page of a run's diff (dry runs) or error list: the entries of up to `chunks` chunks
    /// from chunk `from`, and the chunk to ask for next.
    pub async fn run_list<T: serde::de::DeserializeOwned>(
        &self,
        tenant: &TenantId,
        id: &str,
        list: RunList,
        from: u64,
    ) -> Result<(Vec<T>, Option<u64>), SyncError> {
        let run = self.get(tenant, id).await?;
        let total = match list {
            RunList::Diff => run.diff_chunks,
            RunList::Errors => run.error_chunks,
            RunList::Candidates => run.candidate_chunks,
            RunList::Seen => run.counts.pages + 1,
        };
        let chunks = self.runs.get_chunks(tenant, id, list, from, LIST_CHUNKS_PER_PAGE).await?;
        let next = chunks.last().map(|(n, _)| n + 1).filter(|n| *n < total);
        let entries =
            chunks.into_iter().flat_map(|(_, entries)| entries).filter_map(|e| serde_json::from_str(&e).ok()).collect();
        Ok((entries, next))
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

    /// Renews the tenant's lease for this run: `false` when another run holds it (this run must
    /// stop writing at once).
    async fn hold_lease(&self, run: &SyncRun) -> Result<bool, SyncError> {
        let now = self.clock.now();
        Ok(self.runs.acquire_lease(&run.tenant, &run.id, now + self.options.lease, now).await?.is_none())
    }

    /// Continues a run from its checkpoint until it ends, time runs short, or Okta says wait.
    #[instrument(skip_all, fields(tenant = %msg.tenant, run = %msg.run_id))]
    pub async fn resume(&self, msg: &SyncMessage, deadline: Option<Instant>) -> Result<Step, SyncError> {
        let Some(run) = self.runs.get_run(&msg.tenant, &msg.run_id).await? else { return Ok(Step::Dropped) };
        if run.version != msg.version || run.status != RunStatus::Running {
            tracing::info!(expected = run.version, got = msg.version, "stale or duplicate continuation dropped");
            return Ok(Step::Dropped);
        }
        let config = match self.config(&msg.tenant).await {
            Ok(c) => c,
            Err(e @ (SyncError::TenantNotFound | SyncError::NotEnabled)) => {
                return self.fail(run, RunFailure::NotConfigured, &e.to_string()).await
            }
            Err(e) => return Err(e),
        };
        let org = match self.fetch.org(&config).await {
            Ok(org) => org,
            Err(FetchError::Config(f)) => return self.fail(run, f, "the tenant has no Okta API token").await,
            Err(e) => return Err(SyncError::Unavailable(Box::new(e))),
        };
        let Some(app_id) = config.app_id.clone() else {
            return self.fail(run, RunFailure::NotConfigured, "the tenant has no app_id").await;
        };
        if !self.hold_lease(&run).await? {
            return self.lease_lost(run).await;
        }
        let ctx = RunContext { config: &config, org: &org, app_id: &app_id, deadline };
        match run.phase {
            RunPhase::Listing => self.list_pages(&ctx, run).await,
            RunPhase::Deactivating => self.apply_candidates(&ctx, run).await,
        }
    }

    /// The listing phase: every page of app users converged, checkpointed after each page.
    async fn list_pages(&self, ctx: &RunContext<'_>, mut run: SyncRun) -> Result<Step, SyncError> {
        let mode = if run.dry_run { Mode::DryRun } else { Mode::Apply };
        let mut pages_now = 0;
        while !run.listing_done {
            if pages_now >= self.options.max_pages_per_invocation || !self.time_left(ctx.deadline) {
                return self.checkpoint_and_continue(run, Duration::ZERO).await;
            }
            if let Some(wait) = self.over_budget(&ctx.org.base_url) {
                tracing::info!(wait_s = wait.as_secs(), "rate-limit budget used: waiting for Okta's reset");
                return self.checkpoint_and_continue(run, wait).await;
            }
            if pages_now > 0 && !self.hold_lease(&run).await? {
                return self.lease_lost(run).await;
            }
            let listed =
                self.okta.list_app_users(ctx.org, ctx.app_id, run.cursor.as_deref(), self.options.page_size).await;
            run.counts.okta_calls += 1;
            let page = match listed {
                Ok(page) => page,
                Err(OktaError::RateLimited { retry_after }) => {
                    return self.checkpoint_and_continue(run, retry_after).await
                }
                Err(e) => match failure_of(&e) {
                    Some(f) => return self.fail(run, f, &e.to_string()).await,
                    // Not fatal yet: the message is retried (with SQS's backoff) from this checkpoint.
                    None => return Err(SyncError::Unavailable(Box::new(e))),
                },
            };
            self.fetch.telemetry().record(&run.tenant, ActivityEvent::OktaTokenUsed).await;
            let (diff, errors) = self.apply_page(ctx.config, &mut run, &page.users, mode).await?;
            run.counts.pages += 1;
            let seen: Vec<String> = page.users.iter().map(|u| u.id.clone()).collect();
            self.runs.put_chunk(&run.tenant, &run.id, RunList::Seen, run.counts.pages, &seen).await?;
            if !diff.is_empty() {
                self.put_json_chunk(&run, RunList::Diff, run.diff_chunks, &diff).await?;
                run.diff_chunks += 1;
            }
            if !errors.is_empty() {
                self.put_json_chunk(&run, RunList::Errors, run.error_chunks, &errors).await?;
                run.error_chunks += 1;
            }
            run.cursor = page.next;
            run.listing_done = run.cursor.is_none();
            run = match self.save(&run).await? {
                Some(saved) => saved,
                None => return Ok(Step::Dropped),
            };
            pages_now += 1;
        }
        self.make_candidates(ctx, run).await
    }

    async fn put_json_chunk<T: Serialize>(
        &self,
        run: &SyncRun,
        list: RunList,
        chunk: u64,
        entries: &[T],
    ) -> Result<(), SyncError> {
        let lines = entries
            .iter()
            .map(|e| serde_json::to_string(e).map_err(|e| SyncError::Unavailable(Box::new(e))))
            .collect::<Result<Vec<_>, _>>()?;
        self.runs.put_chunk(&run.tenant, &run.id, list, chunk, &lines).await?;
        Ok(())
    }

    /// One listed app user converged (conflicts with a concurrent writer retried).
    async fn converge_listed(
        &self,
        config: &TenantConfig,
        app_user: &crate::domain::okta::AppUser,
        mode: Mode,
    ) -> Listed {
        let (Ok(okta_id), Some(user)) =
            (OktaUserId::parse(&app_user.id), app_user.embedded.as_ref().and_then(|e| e.user.clone()))
        else {
            return Listed::Invalid(app_user.id.clone());
        };
        let login = user.attr("login");
        let email = user.attr("email");
        let truth = Truth::Present { user, assigned: true };
        let mut outcome = Err(ProvisionError::Conflict);
        for _ in 0..3 {
            outcome = self.provisioner.converge_detailed(config, &okta_id, &truth, Actor::Sync, mode).await;
            if !matches!(outcome, Err(ProvisionError::Conflict)) {
                break;
            }
        }
        Listed::Converged { okta_id, login, email, outcome }
    }

    async fn apply_page(
        &self,
        config: &TenantConfig,
        run: &mut SyncRun,
        users: &[crate::domain::okta::AppUser],
        mode: Mode,
    ) -> Result<(Vec<DiffEntry>, Vec<RunErrorEntry>), SyncError> {
        use futures_util::stream::{self, StreamExt};
        let mut diff = Vec::new();
        let mut errors = Vec::new();
        // Users are independent: converge a page's users concurrently, count them in page order.
        let work: Vec<_> = users.iter().map(|app_user| self.converge_listed(config, app_user, mode)).collect();
        let converged: Vec<Listed> = stream::iter(work).buffered(self.options.concurrency.max(1)).collect().await;
        for listed in converged {
            run.counts.seen += 1;
            let (okta_id, login, email, outcome) = match listed {
                Listed::Invalid(id) => {
                    run.counts.errors += 1;
                    errors.push(RunErrorEntry {
                        okta_id: id,
                        login: None,
                        reason: "Okta listed the assignment without the user (no _embedded.user) or with an invalid id"
                            .into(),
                    });
                    continue;
                }
                Listed::Converged { okta_id, login, email, outcome } => (okta_id, login, email, outcome),
            };
            let done = match outcome {
                Ok(done) => done,
                Err(ProvisionError::Store(e)) => return Err(e.into()),
                Err(e) => {
                    run.counts.errors += 1;
                    let reason = self.explain(&config.tenant, &e, email.as_deref()).await;
                    tracing::warn!(okta_user = %okta_id, error = %e, "user skipped by the sync");
                    errors.push(RunErrorEntry { okta_id: okta_id.to_string(), login, reason });
                    continue;
                }
            };
            run.counts.warnings += done.warnings as u64;
            let action = match done.outcome {
                Outcome::Created => {
                    run.counts.created += 1;
                    DiffAction::Create
                }
                Outcome::Updated => {
                    run.counts.updated += 1;
                    DiffAction::Update
                }
                Outcome::Reactivated => {
                    run.counts.reactivated += 1;
                    DiffAction::Reactivate
                }
                Outcome::Deactivated => {
                    run.counts.deactivated += 1;
                    DiffAction::Deactivate
                }
                Outcome::Unchanged | Outcome::Stale => {
                    run.counts.unchanged += 1;
                    continue;
                }
            };
            if mode == Mode::DryRun {
                diff.push(DiffEntry {
                    okta_id: okta_id.to_string(),
                    user_id: done.user_id,
                    email,
                    action,
                    fields: done.fields,
                });
            }
        }
        Ok((diff, errors))
    }

    /// Why a user could not be stored, in words an admin can act on.
    async fn explain(&self, tenant: &TenantId, e: &ProvisionError, email: Option<&str>) -> String {
        match e {
            ProvisionError::EmailTaken => {
                let holder = match email.and_then(|e| crate::domain::Email::parse(e).ok()) {
                    Some(email) => self.users.find_by_email(tenant, &email).await.ok().flatten(),
                    None => None,
                };
                match holder.and_then(|h| h.okta_id) {
                    Some(other) => format!(
                        "their email belongs to Okta user {other}, already linked here: two Okta users share one email"
                    ),
                    None => "their email belongs to another user here, not linked to Okta".into(),
                }
            }
            ProvisionError::Conflict => "the user kept changing while the run wrote it; the next run retries".into(),
            other => other.to_string(),
        }
    }

    /// After the last page: the active Okta-linked users no page listed become candidates, except
    /// those converged after the run started. Why that rule: a page read at minute 3 says nothing
    /// about a joiner assigned at minute 4 whose hook created them at minute 5 with an Okta id
    /// that sorts before the cursor; their record's `updated_at` does. Whoever is left is
    /// persisted with the version the run saw, shown to the brake, and deactivated only after a
    /// final re-read of their assignment (see [`SyncService::apply_candidates`]): together, proof.
    async fn make_candidates(&self, ctx: &RunContext<'_>, mut run: SyncRun) -> Result<Step, SyncError> {
        let seen: HashSet<String> =
            load_list(self.runs.as_ref(), &run.tenant, &run.id, RunList::Seen).await?.into_iter().collect();
        // Clocks of two Lambdas agree to well under a millisecond (AWS Time Sync); a joiner whose
        // write a skewed clock stamped just before the start is still caught by the re-read.
        let since = run.started_at;
        let mut candidates = Vec::new();
        let mut protected = 0;
        self.for_each_active_page(&run.tenant, |page| {
            for u in page {
                let Some(okta_id) = u.okta_id.as_ref().filter(|o| !seen.contains(o.as_str())) else { continue };
                if u.updated_at >= since {
                    protected += 1;
                    continue;
                }
                candidates.push(Candidate {
                    user_id: u.id.clone(),
                    okta_id: okta_id.to_string(),
                    email: u.email.as_str().to_owned(),
                    version: u.version,
                });
            }
        })
        .await?;
        drop(seen);
        run.counts.protected = protected;
        run.pending_deactivations = candidates.len() as u64;
        run.samples = candidates.iter().take(SAMPLES).map(|c| c.user_id.to_string()).collect();
        if run.dry_run {
            let diff: Vec<DiffEntry> = candidates
                .iter()
                .map(|c| DiffEntry {
                    okta_id: c.okta_id.clone(),
                    user_id: Some(c.user_id.clone()),
                    email: Some(c.email.clone()),
                    action: DiffAction::Deactivate,
                    fields: Vec::new(),
                })
                .collect();
            for chunk in diff.chunks(CANDIDATE_CHUNK) {
                self.put_json_chunk(&run, RunList::Diff, run.diff_chunks, chunk).await?;
                run.diff_chunks += 1;
            }
            return self.complete(run).await;
        }
        for (i, chunk) in candidates.chunks(CANDIDATE_CHUNK).enumerate() {
            self.put_json_chunk(&run, RunList::Candidates, i as u64, chunk).await?;
        }
        run.candidate_chunks = candidates.len().div_ceil(CANDIDATE_CHUNK) as u64;
        if brake_holds(candidates.len() as u64, run.active_at_start, ctx.config.deactivation_brake_percent) {
            tracing::warn!(candidates = candidates.len(), active = run.active_at_start, "brake: deactivations held");
            run.status = RunStatus::NeedsApproval;
            run.held_at = Some(self.clock.now());
            let Some(saved) = self.save(&run).await? else { return Ok(Step::Dropped) };
            self.runs.release_lease(&saved.tenant, &saved.id).await?;
            self.emit_metrics(&saved);
            return Ok(Step::Finished(RunStatus::NeedsApproval));
        }
        run.phase = RunPhase::Deactivating;
        let Some(saved) = self.save(&run).await? else { return Ok(Step::Dropped) };
        self.apply_candidates(ctx, saved).await
    }

    /// Applies the persisted candidate list, chunk by chunk: a candidate is deactivated only if
    /// their record is still the version the list was made from and Okta, asked now, does not
    /// assign them (a `404` counts only once the app itself is confirmed). Everyone else is
    /// skipped and counted. Checkpointed, budgeted and continued like the listing.
    async fn apply_candidates(&self, ctx: &RunContext<'_>, mut run: SyncRun) -> Result<Step, SyncError> {
        let mut first = true;
        while run.apply_chunk < run.candidate_chunks {
            if !self.time_left(ctx.deadline) {
                return self.checkpoint_and_continue(run, Duration::ZERO).await;
            }
            if !first && !self.hold_lease(&run).await? {
                return self.lease_lost(run).await;
            }
            first = false;
            let chunk = self.runs.get_chunks(&run.tenant, &run.id, RunList::Candidates, run.apply_chunk, 1).await?;
            let entries = chunk.into_iter().next().map(|(_, e)| e).unwrap_or_default();
            while (run.apply_offset as usize) < entries.len() {
                if let Some(wait) = self.over_budget(&ctx.org.base_url) {
                    return self.checkpoint_and_continue(run, wait).await;
                }
                let Ok(candidate) = serde_json::from_str::<Candidate>(&entries[run.apply_offset as usize]) else {
                    run.counts.skipped += 1;
                    run.apply_offset += 1;
                    continue;
                };
                match self.apply_candidate(ctx, &mut run, &candidate).await {
                    Ok(()) => run.apply_offset += 1,
                    Err(Pause::RateLimited(wait)) => return self.checkpoint_and_continue(run, wait).await,
                    Err(Pause::Transient(why)) => {
                        tracing::warn!(
                            error = %error_chain(why.as_ref()),
                            "deactivation paused; the run continues from its checkpoint"
                        );
                        return self.checkpoint_and_continue(run, TRANSIENT_PAUSE).await;
                    }
                    Err(Pause::Failed(f, why)) => return self.fail(run, f, &why).await,
                }
            }
            run.apply_chunk += 1;
            run.apply_offset = 0;
            run = match self.save(&run).await? {
                Some(saved) => saved,
                None => return Ok(Step::Dropped),
            };
        }
        run.pending_deactivations = 0;
        self.complete(run).await
    }

    async fn apply_candidate(&self, ctx: &RunContext<'_>, run: &mut SyncRun, c: &Candidate) -> Result<(), Pause> {
        let store = |e: StoreError| Pause::Transient(Box::new(e));
        let current = self.users.get_user(&run.tenant, &c.user_id).await.map_err(store)?;
        let Some(user) = current.filter(|u| u.version == c.version && u.status == UserStatus::Active) else {
            tracing::info!(user_id = %c.user_id, "candidate skipped: changed since the list was made");
            run.counts.skipped += 1;
            return Ok(());
        };
        let Ok(okta_id) = OktaUserId::parse(&c.okta_id) else {
            run.counts.skipped += 1;
            return Ok(());
        };
        run.counts.okta_calls += 1;
        match self.okta.get_app_user(ctx.org, ctx.app_id, &okta_id).await {
            Ok(Some(_)) => {
                tracing::info!(user_id = %c.user_id, "candidate skipped: Okta assigns them again");
                run.counts.skipped += 1;
                return Ok(());
            }
            Ok(None) => {}
            Err(OktaError::RateLimited { retry_after }) => return Err(Pause::RateLimited(retry_after)),
            Err(e) => {
                return Err(match failure_of(&e) {
                    Some(f) => Pause::Failed(f, e.to_string()),
                    None => Pause::Transient(Box::new(e)),
                })
            }
        }
        match self.fetch.confirm_app(ctx.org, ctx.app_id).await {
            Ok(called) => run.counts.okta_calls += u64::from(called),
            Err(FetchError::RateLimited(wait)) => return Err(Pause::RateLimited(wait)),
            Err(FetchError::Config(f)) => {
                self.fetch.telemetry().record(&run.tenant, ActivityEvent::OktaProblem(f)).await;
                return Err(Pause::Failed(f, f.message().into()));
            }
            Err(e) => return Err(Pause::Transient(Box::new(e))),
        }
        match self.provisioner.deactivate_unassigned(ctx.config, &user, Actor::Sync).await {
            Ok(Outcome::Deactivated) => {
                run.counts.deactivated += 1;
                run.counts.applied += 1;
            }
            Ok(_) | Err(ProvisionError::Conflict) => run.counts.skipped += 1,
            Err(ProvisionError::Store(e)) => return Err(store(e)),
            Err(e) => {
                run.counts.skipped += 1;
                tracing::warn!(user_id = %c.user_id, error = %e, "deactivation skipped");
            }
        }
        Ok(())
    }

    /// Saves a checkpoint; `None` if another invocation already moved the run on.
    async fn save(&self, run: &SyncRun) -> Result<Option<SyncRun>, SyncError> {
        let mut next = run.clone();
        next.updated_at = self.clock.now();
        match self.runs.save_run(&next).await {
            Ok(saved) => Ok(Some(saved)),
            Err(StoreError::VersionConflict) => {
                tracing::warn!("checkpoint lost to another invocation of the same run; stopping here");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn checkpoint_and_continue(&self, run: SyncRun, delay: Duration) -> Result<Step, SyncError> {
        if !self.hold_lease(&run).await? {
            return self.lease_lost(run).await;
        }
        let Some(saved) = self.save(&run).await? else { return Ok(Step::Dropped) };
        self.send(&saved, delay).await?;
        Ok(Step::Continued { delay })
    }

    async fn complete(&self, mut run: SyncRun) -> Result<Step, SyncError> {
        run.status = RunStatus::Completed;
        run.finished_at = Some(self.clock.now());
        let Some(saved) = self.save(&run).await? else { return Ok(Step::Dropped) };
        self.runs.release_lease(&saved.tenant, &saved.id).await?;
        self.emit_metrics(&saved);
        tracing::info!(counts = ?saved.counts, "sync run completed");
        Ok(Step::Finished(RunStatus::Completed))
    }

    async fn fail(&self, mut run: SyncRun, failure: RunFailure, why: &str) -> Result<Step, SyncError> {
        run.status = RunStatus::Failed;
        run.failure = Some(failure);
        run.error = Some(format!("{}: {why}", failure.code()));
        run.finished_at = Some(self.clock.now());
        tracing::error!(code = failure.code(), error = why, "sync run failed");
        if matches!(failure, RunFailure::AppNotFound | RunFailure::OktaTokenInvalid | RunFailure::OktaTokenForbidden) {
            self.fetch.telemetry().record(&run.tenant, ActivityEvent::OktaProblem(failure)).await;
        }
        if self.save(&run).await?.is_some() {
            self.runs.release_lease(&run.tenant, &run.id).await?;
        }
        self.emit_metrics(&run);
        Ok(Step::Finished(RunStatus::Failed))
    }

    /// Another run holds the tenant's lease: this one stops writing and says so.
    async fn lease_lost(&self, run: SyncRun) -> Result<Step, SyncError> {
        let mut stopped = run;
        stopped.status = RunStatus::Failed;
        stopped.failure = Some(RunFailure::LeaseLost);
        stopped.error = Some(format!("{}: {}", RunFailure::LeaseLost.code(), RunFailure::LeaseLost.message()));
        stopped.finished_at = Some(self.clock.now());
        tracing::warn!("lease lost to another run: stopping without writing");
        self.save(&stopped).await?;
        self.emit_metrics(&stopped);
        Ok(Step::Finished(RunStatus::Failed))
    }

    /// Approves a held run: its persisted list is applied, by the sync function (which may call
    /// Okta), each candidate re-checked. Answers at once with the run, running again.
    pub async fn approve(&self, tenant: &TenantId, id: &str) -> Result<SyncRun, SyncError> {
        self.config(tenant).await?;
        let mut run = self.get(tenant, id).await?;
        if run.status != RunStatus::NeedsApproval {
            return Err(SyncError::NotAwaitingApproval);
        }
        let now = self.clock.now();
        if run.hold_expired(now) {
            return Err(SyncError::RunExpired);
        }
        if let Some(holder) = self.runs.acquire_lease(tenant, id, now + self.options.lease, now).await? {
            return Err(SyncError::AnotherRunActive(holder));
        }
        run.status = RunStatus::Running;
        run.phase = RunPhase::Deactivating;
        run.approved_at = Some(now);
        run.apply_chunk = 0;
        run.apply_offset = 0;
        run.updated_at = now;
        let saved = match self.runs.save_run(&run).await {
            Ok(saved) => saved,
            Err(StoreError::VersionConflict) => return Err(SyncError::NotAwaitingApproval),
            Err(e) => {
                let _ = self.runs.release_lease(tenant, id).await;
                return Err(e.into());
            }
        };
        if let Err(e) = self.send(&saved, Duration::ZERO).await {
            // Nothing would apply it: put the run back on hold (approvable again) and free the tenant.
            let mut held = saved;
            held.status = RunStatus::NeedsApproval;
            held.approved_at = None;
            let _ = self.runs.save_run(&held).await;
            let _ = self.runs.release_lease(tenant, id).await;
            return Err(e);
        }
        tracing::info!(run = %id, candidates = saved.pending_deactivations, "held run approved");
        Ok(saved)
    }

    /// One CloudWatch Embedded Metric Format line per finished run (docs/behaviour/observability.md).
    fn emit_metrics(&self, run: &SyncRun) {
        use crate::domain::metrics::Metric;
        let duration_ms = run
            .finished_at
            .unwrap_or_else(|| self.clock.now())
            .signed_duration_since(run.started_at)
            .num_milliseconds()
            .max(0) as u64;
        let c = &run.counts;
        let mut values = vec![
            (Metric::SyncDuration, duration_ms),
            (Metric::SyncOktaCalls, c.okta_calls),
            (Metric::SyncErrors, c.errors),
            (Metric::SyncFailed, u64::from(run.status == RunStatus::Failed)),
        ];
        // A dry run wrote nobody: its counts are what it would have done, in its diff, not
        // users written (a dashboard summing UsersCreated must not count them).
        if !run.dry_run {
            values.extend([
                (Metric::UsersCreated, c.created),
                (Metric::UsersUpdated, c.updated),
                (Metric::UsersDeactivated, c.deactivated),
                (Metric::UsersReactivated, c.reactivated),
            ]);
        }
        self.fetch.telemetry().metrics().publish(
            &run.tenant,
            &values,
            &[
                ("RunId", serde_json::json!(run.id)),
                ("Status", serde_json::json!(run.status)),
                ("DryRun", serde_json::json!(run.dry_run)),
            ],
        );
    }
}
