use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::activity::{first_bucket_of_day, hour_bucket, Activity, ActivityEvent};
use crate::domain::change::{ChangeEvent, ChangePage, NewChange};
use chrono::{DateTime, Utc};

use crate::domain::group::{Group, Member};
use crate::domain::sso::LoginState;
use crate::domain::sync_run::{RunList, SyncRun};
use crate::domain::team::{Team, Waiting};
use crate::domain::tenant::TenantConfig;
use crate::domain::user::User;
use crate::domain::{Email, GroupId, OktaUserId, TenantId, UserId};
use crate::ports::user_store::UserQuery;
use crate::ports::{
    cursor, ChangeLog, ConfigStore, DedupeStore, GroupStore, ListPositions, Page, PendingStore, StoreError, TeamStore,
    UniqueField, UserReader, UserWriter,
};
use crate::ports::{ActivityStore, LoginStateStore, SyncStore};

#[derive(Default)]
struct Tenant {
    users: BTreeMap<String, User>,
    emails: HashMap<String, UserId>,
    okta_ids: HashMap<String, UserId>,
    external_ids: HashMap<String, UserId>,
    user_names: HashMap<String, UserId>,
    groups: BTreeMap<String, Group>,
    members: HashMap<String, std::collections::BTreeSet<Member>>,
    changes: Vec<ChangeEvent>,
    teams: BTreeMap<String, Team>,
    pending: BTreeMap<String, std::collections::BTreeSet<Waiting>>,
    dedupe: HashMap<String, i64>,
    activity: Activity,
    /// Hourly buckets: (events, jobs, latest delivery).
    buckets: BTreeMap<String, (u64, u64, DateTime<Utc>)>,
}

/// The DynamoDB store's semantics in memory: the same uniqueness, versioning and change-log rules.
/// A walk's position: (tenant, list, index).
type PositionKey = (TenantId, String, u64);

/// A run's seen Okta ids, by page number.
type Chunks = BTreeMap<u64, Vec<String>>;

#[derive(Default)]
pub struct MemoryStore {
    configs: Mutex<BTreeMap<TenantId, TenantConfig>>,
    tenants: Mutex<HashMap<TenantId, Tenant>>,
    runs: Mutex<BTreeMap<(TenantId, String), SyncRun>>,
    leases: Mutex<HashMap<TenantId, (String, DateTime<Utc>)>>,
    lists: Mutex<HashMap<(TenantId, String, RunList), Chunks>>,
    sessions: Mutex<HashMap<(TenantId, String), crate::domain::sso::SessionRecord>>,
    admin_sessions: Mutex<HashMap<(TenantId, String), crate::domain::admin_session::AdminSession>>,
    logins: Mutex<HashMap<(TenantId, String), LoginState>>,
    /// Accepted SAML assertions (digest of the id) and until when they are kept.
    assertions: Mutex<HashMap<(TenantId, String), DateTime<Utc>>>,
    /// API token records by digest.
    tokens: Mutex<BTreeMap<String, crate::domain::api_token::TokenRecord>>,
    token_lookups: std::sync::atomic::AtomicU64,
    /// Positions of paged walks: (tenant, list, index) → (cursor, kept until).
    positions: Mutex<HashMap<PositionKey, (String, DateTime<Utc>)>>,
}

impl MemoryStore {
    /// How many token lookups by digest were made (to show what a guess costs).
    pub fn token_lookups(&self) -> u64 {
        self.token_lookups.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn claim_check(t: &Tenant, user: &User, before: Option<&User>) -> Result<(), StoreError> {
        if let Some(holder) = t.emails.get(user.email.key()) {
            if before.is_none_or(|b| &b.id != holder) {
                return Err(StoreError::Duplicate(UniqueField::Email));
            }
        }
        if let Some(okta) = &user.okta_id {
            if let Some(holder) = t.okta_ids.get(okta.as_str()) {
                if before.is_none_or(|b| &b.id != holder) {
                    return Err(StoreError::Duplicate(UniqueField::OktaId));
                }
            }
        }
        if let Some(holder) = t.user_names.get(&user.user_name_key()) {
            if before.is_none_or(|b| &b.id != holder) {
                return Err(StoreError::Duplicate(UniqueField::UserName));
            }
        }
        if let Some(x) = &user.external_id {
            if let Some(holder) = t.external_ids.get(x) {
                if before.is_none_or(|b| &b.id != holder) {
                    return Err(StoreError::Duplicate(UniqueField::ExternalId));
                }
            }
        }
        Ok(())
    }

    fn append(t: &mut Tenant, changes: &[NewChange]) {
        for change in changes {
            let seq = t.changes.len() as u64 + 1;
            t.changes.push(ChangeEvent { seq, change: change.clone() });
        }
    }
}

#[async_trait]
impl ConfigStore for MemoryStore {
    async fn get_config(&self, tenant: &TenantId) -> Result<Option<TenantConfig>, StoreError> {
        Ok(self.configs.lock().expect("lock").get(tenant).cloned())
    }

    async fn put_config(&self, config: &TenantConfig) -> Result<TenantConfig, StoreError> {
        let mut configs = self.configs.lock().expect("lock");
        let current = configs.get(&config.tenant).map(|c| c.version);
        match (current, config.version) {
            (None, 0) => {}
            (Some(v), expected) if v == expected => {}
            (None, _) => return Err(StoreError::VersionConflict),
            (Some(_), 0) => return Err(StoreError::AlreadyExists),
            (Some(_), _) => return Err(StoreError::VersionConflict),
        }
        let mut stored = config.clone();
        stored.version += 1;
        configs.insert(stored.tenant.clone(), stored.clone());
        Ok(stored)
    }

    async fn list_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        Ok(self.configs.lock().expect("lock").keys().cloned().collect())
    }
}

#[async_trait]
impl UserReader for MemoryStore {
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self.tenants.lock().expect("lock").get(tenant).and_then(|t| t.users.get(id.as_str()).cloned()))
    }

    async fn find_by_okta_id(&self, tenant: &TenantId, okta_id: &OktaUserId) -> Result<Option<User>, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        Ok(tenants
            .get(tenant)
            .and_then(|t| t.okta_ids.get(okta_id.as_str()).and_then(|id| t.users.get(id.as_str()).cloned())))
    }

    async fn find_by_email(&self, tenant: &TenantId, email: &Email) -> Result<Option<User>, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        Ok(tenants.get(tenant).and_then(|t| t.emails.get(email.key()).and_then(|id| t.users.get(id.as_str()).cloned())))
    }

    async fn find_by_user_name(&self, tenant: &TenantId, user_name: &str) -> Result<Option<User>, StoreError> {
        let key = crate::domain::user::user_name_key(user_name);
        let tenants = self.tenants.lock().expect("lock");
        Ok(tenants.get(tenant).and_then(|t| t.user_names.get(&key).and_then(|id| t.users.get(id.as_str()).cloned())))
    }

    async fn find_by_external_id(&self, tenant: &TenantId, external_id: &str) -> Result<Option<User>, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        Ok(tenants
            .get(tenant)
            .and_then(|t| t.external_ids.get(external_id).and_then(|id| t.users.get(id.as_str()).cloned())))
    }

    async fn list_users(&self, tenant: &TenantId, query: &UserQuery) -> Result<Page<User>, StoreError> {
        let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
        if let Some(a) = &after {
            UserId::parse(a).map_err(|_| StoreError::InvalidCursor)?;
        }
        let tenants = self.tenants.lock().expect("lock");
        let Some(t) = tenants.get(tenant) else { return Ok(Page { items: vec![], next: None }) };
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut matching = t
            .users
            .range::<str, _>((from.as_ref().map(String::as_str), Bound::Unbounded))
            .filter(|(_, u)| query.status.is_none_or(|s| u.status == s))
            .map(|(_, u)| u.clone());
        let items: Vec<User> = matching.by_ref().take(query.limit as usize).collect();
        let next = (matching.next().is_some()).then(|| cursor::encode(items.last().expect("a full page").id.as_str()));
        Ok(Page { items, next })
    }

    async fn get_users(&self, tenant: &TenantId, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        let Some(t) = tenants.get(tenant) else { return Ok(Vec::new()) };
        let unique: std::collections::BTreeSet<&UserId> = ids.iter().collect();
        Ok(unique.into_iter().filter_map(|id| t.users.get(id.as_str()).cloned()).collect())
    }

    async fn count_scim_visible(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        Ok(tenants.get(tenant).map_or(0, |t| t.users.values().filter(|u| u.scim_visible()).count() as u64))
    }
}

#[async_trait]
impl ListPositions for MemoryStore {
    async fn remember_position(
        &self,
        tenant: &TenantId,
        list: &str,
        index: u64,
        cursor: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.positions
            .lock()
            .expect("lock")
            .insert((tenant.clone(), list.to_owned(), index), (cursor.to_owned(), until));
        Ok(())
    }

    async fn recall_position(
        &self,
        tenant: &TenantId,
        list: &str,
        index: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let positions = self.positions.lock().expect("lock");
        Ok(positions
            .get(&(tenant.clone(), list.to_owned(), index))
            .filter(|(_, until)| *until > now)
            .map(|(cursor, _)| cursor.clone()))
    }
}

#[async_trait]
impl UserWriter for MemoryStore {
    async fn create_user(&self, tenant: &TenantId, user: &User, changes: &[NewChange]) -> Result<User, StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        let t = tenants.entry(tenant.clone()).or_default();
        if t.users.contains_key(user.id.as_str()) {
            return Err(StoreError::AlreadyExists);
        }
        Self::claim_check(t, user, None)?;
        let mut stored = user.clone();
        stored.version = 1;
        t.emails.insert(user.email.key().to_owned(), user.id.clone());
        if let Some(okta) = &user.okta_id {
            t.okta_ids.insert(okta.as_str().to_owned(), user.id.clone());
        }
        if let Some(x) = &user.external_id {
            t.external_ids.insert(x.clone(), user.id.clone());
        }
        t.user_names.insert(user.user_name_key(), user.id.clone());
        t.users.insert(user.id.as_str().to_owned(), stored.clone());
        Self::append(t, changes);
        Ok(stored)
    }

    async fn update_user(
        &self,
        tenant: &TenantId,
        before: &User,
        after: &User,
        changes: &[NewChange],
    ) -> Result<User, StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        let t = tenants.entry(tenant.clone()).or_default();
        match t.users.get(before.id.as_str()) {
            Some(current) if current.version == before.version => {}
            _ => return Err(StoreError::VersionConflict),
        }
        Self::claim_check(t, after, Some(before))?;
        t.emails.remove(before.email.key());
        t.emails.insert(after.email.key().to_owned(), before.id.clone());
        if let Some(old) = &before.okta_id {
            t.okta_ids.remove(old.as_str());
        }
        if let Some(new) = &after.okta_id {
            t.okta_ids.insert(new.as_str().to_owned(), before.id.clone());
        }
        if let Some(old) = &before.external_id {
            t.external_ids.remove(old);
        }
        t.user_names.remove(&before.user_name_key());
        t.user_names.insert(after.user_name_key(), before.id.clone());
        if let Some(new) = &after.external_id {
            t.external_ids.insert(new.clone(), before.id.clone());
        }
        let mut stored = after.clone();
        stored.id = before.id.clone();
        stored.version = before.version + 1;
        t.users.insert(before.id.as_str().to_owned(), stored.clone());
        Self::append(t, changes);
        Ok(stored)
    }
}

#[async_trait]
impl ChangeLog for MemoryStore {
    async fn list_changes(&self, tenant: &TenantId, after: u64, limit: u32) -> Result<ChangePage, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        let all = tenants.get(tenant).map(|t| t.changes.as_slice()).unwrap_or_default();
        let events: Vec<ChangeEvent> =
            all.iter().filter(|c| c.seq > after).take(limit.clamp(1, 1000) as usize).cloned().collect();
        let next_after = events.last().map_or(after, |c| c.seq);
        let more = all.last().is_some_and(|c| c.seq > next_after);
        Ok(ChangePage { events, next_after, more })
    }

    async fn latest_changes(&self, tenant: &TenantId, limit: u32) -> Result<Vec<ChangeEvent>, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        Ok(tenants
            .get(tenant)
            .map(|t| t.changes.iter().rev().take(limit as usize).cloned().collect())
            .unwrap_or_default())
    }
}

#[async_trait]
impl TeamStore for MemoryStore {
    async fn get_team(&self, tenant: &TenantId, key: &str) -> Result<Option<Team>, StoreError> {
        Ok(self.tenants.lock().expect("lock").get(tenant).and_then(|t| t.teams.get(key).cloned()))
    }

    async fn create_team(&self, tenant: &TenantId, team: &Team, change: &NewChange) -> Result<Team, StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        let t = tenants.entry(tenant.clone()).or_default();
        if t.teams.contains_key(&team.key) {
            return Err(StoreError::AlreadyExists);
        }
        let mut stored = team.clone();
        stored.version = 1;
        t.teams.insert(team.key.clone(), stored.clone());
        Self::append(t, std::slice::from_ref(change));
        Ok(stored)
    }

    async fn update_team(
        &self,
        tenant: &TenantId,
        before: &Team,
        after: &Team,
        change: &NewChange,
    ) -> Result<Team, StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        let t = tenants.entry(tenant.clone()).or_default();
        match t.teams.get(&before.key) {
            Some(current) if current.version == before.version => {}
            _ => return Err(StoreError::VersionConflict),
        }
        let mut stored = after.clone();
        stored.key = before.key.clone();
        stored.version = before.version + 1;
        t.teams.insert(before.key.clone(), stored.clone());
        Self::append(t, std::slice::from_ref(change));
        Ok(stored)
    }

    async fn list_teams(&self, tenant: &TenantId) -> Result<Vec<Team>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .expect("lock")
            .get(tenant)
            .map(|t| t.teams.values().cloned().collect())
            .unwrap_or_default())
    }
}

#[async_trait]
impl GroupStore for MemoryStore {
    async fn get_group(&self, tenant: &TenantId, id: &GroupId) -> Result<Option<Group>, StoreError> {
        Ok(self.tenants.lock().expect("lock").get(tenant).and_then(|t| t.groups.get(id.as_str()).cloned()))
    }

    async fn list_groups(&self, tenant: &TenantId) -> Result<Vec<Group>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .expect("lock")
            .get(tenant)
            .map(|t| t.groups.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn create_group(&self, tenant: &TenantId, group: &Group, change: &NewChange) -> Result<Group, StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        let t = tenants.entry(tenant.clone()).or_default();
        if t.groups.contains_key(group.id.as_str()) {
            return Err(StoreError::AlreadyExists);
        }
        let mut stored = group.clone();
        stored.version = 1;
        t.groups.insert(group.id.as_str().to_owned(), stored.clone());
        Self::append(t, std::slice::from_ref(change));
        Ok(stored)
    }

    async fn update_group(
        &self,
        tenant: &TenantId,
        before: &Group,
        after: &Group,
        change: &NewChange,
    ) -> Result<Group, StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        let t = tenants.entry(tenant.clone()).or_default();
        match t.groups.get(before.id.as_str()) {
            Some(current) if current.version == before.version => {}
            _ => return Err(StoreError::VersionConflict),
        }
        let mut stored = after.clone();
        stored.id = before.id.clone();
        stored.version = before.version + 1;
        t.groups.insert(before.id.as_str().to_owned(), stored.clone());
        Self::append(t, std::slice::from_ref(change));
        Ok(stored)
    }

    async fn delete_group(&self, tenant: &TenantId, group: &Group, change: &NewChange) -> Result<(), StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        let t = tenants.entry(tenant.clone()).or_default();
        if t.groups.remove(group.id.as_str()).is_none() {
            return Err(StoreError::VersionConflict);
        }
        t.members.remove(group.id.as_str());
        Self::append(t, std::slice::from_ref(change));
        Ok(())
    }

    async fn which_members(
        &self,
        tenant: &TenantId,
        group: &GroupId,
        candidates: &[Member],
    ) -> Result<Vec<Member>, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        let Some(set) = tenants.get(tenant).and_then(|t| t.members.get(group.as_str())) else { return Ok(vec![]) };
        Ok(candidates.iter().filter(|m| set.contains(m)).cloned().collect())
    }

    async fn list_members(&self, tenant: &TenantId, group: &GroupId) -> Result<Vec<Member>, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        Ok(tenants
            .get(tenant)
            .and_then(|t| t.members.get(group.as_str()))
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn change_members(
        &self,
        tenant: &TenantId,
        group: &GroupId,
        add: &[Member],
        remove: &[Member],
        expected_version: Option<u64>,
        change: &NewChange,
    ) -> Result<(), StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        let t = tenants.entry(tenant.clone()).or_default();
        match t.groups.get(group.as_str()) {
            Some(g) if expected_version.is_none_or(|v| v == g.version) => {}
            _ => return Err(StoreError::VersionConflict),
        }
        let set = t.members.entry(group.as_str().to_owned()).or_default();
        if add.iter().any(|m| set.contains(m)) || remove.iter().any(|m| !set.contains(m)) {
            return Err(StoreError::VersionConflict);
        }
        set.extend(add.iter().cloned());
        for m in remove {
            set.remove(m);
        }
        let g = t.groups.get_mut(group.as_str()).expect("checked above");
        g.version += 1;
        g.updated_at = change.at;
        Self::append(t, std::slice::from_ref(change));
        Ok(())
    }
}

#[async_trait]
impl PendingStore for MemoryStore {
    async fn add_pending(&self, tenant: &TenantId, reference: &str, waiting: &Waiting) -> Result<(), StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        tenants
            .entry(tenant.clone())
            .or_default()
            .pending
            .entry(reference.to_owned())
            .or_default()
            .insert(waiting.clone());
        Ok(())
    }

    async fn pending_for(&self, tenant: &TenantId, reference: &str) -> Result<Vec<Waiting>, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        Ok(tenants
            .get(tenant)
            .and_then(|t| t.pending.get(reference))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn remove_pending(&self, tenant: &TenantId, reference: &str, waiting: &Waiting) -> Result<(), StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        if let Some(set) = tenants.get_mut(tenant).and_then(|t| t.pending.get_mut(reference)) {
            set.remove(waiting);
        }
        Ok(())
    }

    async fn count_pending(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        Ok(tenants.get(tenant).map(|t| t.pending.values().map(|s| s.len()).sum()).unwrap_or(0))
    }
}

#[async_trait]
impl DedupeStore for MemoryStore {
    async fn seen(&self, tenant: &TenantId, keys: &[String], now_epoch: i64) -> Result<Vec<String>, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        let Some(t) = tenants.get(tenant) else { return Ok(Vec::new()) };
        Ok(keys.iter().filter(|k| t.dedupe.get(*k).is_some_and(|exp| *exp > now_epoch)).cloned().collect())
    }

    async fn mark_seen(&self, tenant: &TenantId, keys: &[String], expires_at_epoch: i64) -> Result<(), StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        let t = tenants.entry(tenant.clone()).or_default();
        for k in keys {
            t.dedupe.insert(k.clone(), expires_at_epoch);
        }
        Ok(())
    }
}

impl MemoryStore {
    /// Which run holds the tenant's sync lease at `now`, if any (for tests that check that only
    /// the holder writes).
    pub fn lease_holder(&self, tenant: &TenantId, now: DateTime<Utc>) -> Option<String> {
        let leases = self.leases.lock().expect("lock");
        leases.get(tenant).filter(|(_, until)| *until >= now).map(|(holder, _)| holder.clone())
    }
}

#[async_trait]
impl SyncStore for MemoryStore {
    async fn create_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError> {
        let mut runs = self.runs.lock().expect("lock");
        let key = (run.tenant.clone(), run.id.clone());
        if runs.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        let mut stored = run.clone();
        stored.version = 1;
        runs.insert(key, stored.clone());
        Ok(stored)
    }

    async fn save_run(&self, run: &SyncRun) -> Result<SyncRun, StoreError> {
        let mut runs = self.runs.lock().expect("lock");
        let key = (run.tenant.clone(), run.id.clone());
        match runs.get(&key) {
            Some(current) if current.version == run.version => {}
            _ => return Err(StoreError::VersionConflict),
        }
        let mut stored = run.clone();
        stored.version += 1;
        runs.insert(key, stored.clone());
        Ok(stored)
    }

    async fn get_run(&self, tenant: &TenantId, id: &str) -> Result<Option<SyncRun>, StoreError> {
        Ok(self.runs.lock().expect("lock").get(&(tenant.clone(), id.to_owned())).cloned())
    }

    async fn list_runs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let runs = self.runs.lock().expect("lock");
        Ok(runs.iter().rev().filter(|((t, _), _)| t == tenant).take(limit as usize).map(|(_, r)| r.clone()).collect())
    }

    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        run_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let mut leases = self.leases.lock().expect("lock");
        match leases.get(tenant) {
            Some((holder, expires)) if holder != run_id && *expires >= now => Ok(Some(holder.clone())),
            _ => {
                leases.insert(tenant.clone(), (run_id.to_owned(), until));
                Ok(None)
            }
        }
    }

    async fn release_lease(&self, tenant: &TenantId, run_id: &str) -> Result<(), StoreError> {
        let mut leases = self.leases.lock().expect("lock");
        if leases.get(tenant).is_some_and(|(holder, _)| holder == run_id) {
            leases.remove(tenant);
        }
        Ok(())
    }

    async fn put_chunk(
        &self,
        tenant: &TenantId,
        run_id: &str,
        list: RunList,
        chunk: u64,
        entries: &[String],
    ) -> Result<(), StoreError> {
        self.lists
            .lock()
            .expect("lock")
            .entry((tenant.clone(), run_id.to_owned(), list))
            .or_default()
            .insert(chunk, entries.to_vec());
        Ok(())
    }

    async fn get_chunks(
        &self,
        tenant: &TenantId,
        run_id: &str,
        list: RunList,
        from: u64,
        max: u32,
    ) -> Result<Vec<(u64, Vec<String>)>, StoreError> {
        Ok(self
            .lists
            .lock()
            .expect("lock")
            .get(&(tenant.clone(), run_id.to_owned(), list))
            .map(|chunks| chunks.range(from..).take(max as usize).map(|(n, e)| (*n, e.clone())).collect())
            .unwrap_or_default())
    }
}

#[async_trait]
impl ActivityStore for MemoryStore {
    async fn record(&self, tenant: &TenantId, at: DateTime<Utc>, event: ActivityEvent) -> Result<(), StoreError> {
        let mut tenants = self.tenants.lock().expect("lock");
        let t = tenants.entry(tenant.clone()).or_default();
        let latest = |slot: &mut Option<DateTime<Utc>>| {
            let newer = slot.is_none_or(|s| s <= at);
            if newer {
                *slot = Some(at);
            }
            newer
        };
        match event {
            ActivityEvent::HookVerified => {
                latest(&mut t.activity.hook_verified_at);
            }
            ActivityEvent::OktaTokenUsed => {
                latest(&mut t.activity.okta_token_used_at);
            }
            ActivityEvent::OktaProblem(problem) => {
                if latest(&mut t.activity.okta_problem_at) {
                    t.activity.okta_problem = Some(problem);
                }
            }
            ActivityEvent::JobDone { waited_seconds } => {
                if latest(&mut t.activity.last_job_at) {
                    t.activity.last_job_waited_seconds = Some(waited_seconds);
                }
            }
            ActivityEvent::Delivery { events, jobs } => {
                let b = t.buckets.entry(hour_bucket(at)).or_insert((0, 0, at));
                b.0 += events;
                b.1 += jobs;
                b.2 = at;
            }
        }
        Ok(())
    }

    async fn activity(&self, tenant: &TenantId, now: DateTime<Utc>) -> Result<Activity, StoreError> {
        let tenants = self.tenants.lock().expect("lock");
        let Some(t) = tenants.get(tenant) else { return Ok(Activity::default()) };
        let mut a = t.activity.clone();
        for (_, (events, jobs, _)) in t.buckets.range(first_bucket_of_day(now)..=hour_bucket(now)) {
            a.events_24h += events;
            a.jobs_24h += jobs;
        }
        a.last_delivery_at = t.buckets.values().next_back().map(|b| b.2);
        Ok(a)
    }
}

#[async_trait]
impl crate::ports::TokenStore for MemoryStore {
    async fn insert_token(&self, record: &crate::domain::api_token::TokenRecord) -> Result<(), StoreError> {
        let mut tokens = self.tokens.lock().expect("lock");
        if tokens.contains_key(&record.sha256) {
            return Err(StoreError::AlreadyExists);
        }
        tokens.insert(record.sha256.clone(), record.clone());
        Ok(())
    }

    async fn find_token(&self, sha256: &str) -> Result<Option<crate::domain::api_token::TokenRecord>, StoreError> {
        self.token_lookups.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self.tokens.lock().expect("lock").get(sha256).cloned())
    }

    async fn list_tokens(
        &self,
        tenant: &TenantId,
        kind: crate::domain::api_token::TokenKind,
    ) -> Result<Vec<crate::domain::api_token::TokenRecord>, StoreError> {
        let mut listed: Vec<_> = self
            .tokens
            .lock()
            .expect("lock")
            .values()
            .filter(|r| &r.tenant == tenant && r.kind == kind)
            .cloned()
            .collect();
        listed.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(listed)
    }

    async fn revoke_token(
        &self,
        record: &crate::domain::api_token::TokenRecord,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tokens = self.tokens.lock().expect("lock");
        match tokens.get_mut(&record.sha256) {
            Some(r) if r.tenant == record.tenant && r.kind == record.kind => {
                r.revoked_at.get_or_insert(at);
                Ok(())
            }
            _ => Err(StoreError::VersionConflict),
        }
    }

    async fn rotate_token(
        &self,
        old: &crate::domain::api_token::TokenRecord,
        until: DateTime<Utc>,
        new: &crate::domain::api_token::TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tokens = self.tokens.lock().expect("lock");
        if tokens.contains_key(&new.sha256) {
            return Err(StoreError::AlreadyExists);
        }
        match tokens.get_mut(&old.sha256) {
            Some(r) if r.tenant == old.tenant && r.kind == old.kind && r.is_active(now) => {
                r.valid_until = Some(until);
            }
            _ => return Err(StoreError::VersionConflict),
        }
        tokens.insert(new.sha256.clone(), new.clone());
        Ok(())
    }
}

#[async_trait]
impl LoginStateStore for MemoryStore {
    async fn put_admin_session(&self, session: &crate::domain::admin_session::AdminSession) -> Result<(), StoreError> {
        self.admin_sessions
            .lock()
            .expect("lock")
            .insert((session.tenant.clone(), session.sid.clone()), session.clone());
        Ok(())
    }

    async fn get_admin_session(
        &self,
        tenant: &TenantId,
        sid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::domain::admin_session::AdminSession>, StoreError> {
        let sessions = self.admin_sessions.lock().expect("lock");
        let stored = sessions.get(&(tenant.clone(), sid.to_owned())).filter(|s| s.expires_at > now);
        Ok(stored.cloned().map(|s| s.with_sid(sid)))
    }

    async fn delete_admin_session(&self, tenant: &TenantId, sid: &str) -> Result<(), StoreError> {
        self.admin_sessions.lock().expect("lock").remove(&(tenant.clone(), sid.to_owned()));
        Ok(())
    }

    async fn put_session(&self, session: &crate::domain::sso::SessionRecord) -> Result<(), StoreError> {
        self.sessions.lock().expect("lock").insert((session.tenant.clone(), session.sid.clone()), session.clone());
        Ok(())
    }

    async fn get_session(
        &self,
        tenant: &TenantId,
        sid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::domain::sso::SessionRecord>, StoreError> {
        let sessions = self.sessions.lock().expect("lock");
        Ok(sessions.get(&(tenant.clone(), sid.to_owned())).filter(|s| s.expires_at > now).cloned())
    }

    async fn delete_session(&self, tenant: &TenantId, sid: &str) -> Result<(), StoreError> {
        self.sessions.lock().expect("lock").remove(&(tenant.clone(), sid.to_owned()));
        Ok(())
    }

    async fn put_login(&self, login: &LoginState) -> Result<(), StoreError> {
        let mut logins = self.logins.lock().expect("lock");
        let key = (login.tenant.clone(), login.state.clone());
        if logins.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        logins.insert(key, login.clone());
        Ok(())
    }

    async fn take_login(
        &self,
        tenant: &TenantId,
        state: &str,
        browser_binding: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginState>, StoreError> {
        let mut logins = self.logins.lock().expect("lock");
        let key = (tenant.clone(), state.to_owned());
        match logins.get(&key) {
            None => return Ok(None),
            Some(l) if l.browser_binding != browser_binding => return Err(StoreError::VersionConflict),
            Some(_) => {}
        }
        Ok(logins.remove(&key).filter(|l| l.expires_at > now))
    }

    async fn claim_assertion(
        &self,
        tenant: &TenantId,
        assertion_digest: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut claimed = self.assertions.lock().expect("lock");
        let key = (tenant.clone(), assertion_digest.to_owned());
        match claimed.get(&key) {
            Some(until) if *until > now => Ok(false),
            _ => {
                claimed.insert(key, expires_at);
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_store_contract() {
        let store = MemoryStore::default();
        super::super::contract::store_contract(&store, &store, &store, &store).await;
        super::super::contract::team_pending_dedupe_contract(&store, &store, &store).await;
        super::super::contract::sync_store_contract(&store).await;
        super::super::contract::activity_store_contract(&store).await;
        super::super::contract::login_state_contract(&store).await;
        super::super::contract::token_store_contract(&store).await;
        super::super::contract::group_contract(&store, &store, &store).await;
        super::super::contract::batch_reads_and_positions_contract(&store, &store, &store).await;
    }
}
