//! The table's key layout (docs/data-model.md). Everything of a tenant lives under keys that start
//! with its id, and every key is built from the tenant the caller named, never from stored or
//! client-supplied keys. Pure: the DynamoDB adapter builds its requests from it, and the DynamoDB
//! model of the benchmarks (`fakes::DynamoModel`) charges its requests by it.
use crate::domain::user::UserStatus;
use crate::domain::TenantId;

pub fn tenant(t: &TenantId) -> String {
    format!("TENANT#{t}")
}
pub const CONFIG: &str = "CONFIG";
pub const TENANTS_INDEX: &str = "TENANTS";
pub fn user(id: &str) -> String {
    format!("USER#{id}")
}
/// A tenant's users are spread over this many partitions, by a digest of the id (so one
/// tenant's user writes are not one partition's). Users written by earlier builds stay in the
/// tenant's partition (`TENANT#{t}` / `USER#{id}`) until their next write moves them.
pub const USER_SHARDS: u64 = 8;
pub fn user_shard(id: &str) -> u64 {
    let digest = crate::domain::secret::sha256_hex(format!("user-shard:{id}").as_bytes());
    u64::from_str_radix(&digest[..8], 16).unwrap_or(0) % USER_SHARDS
}
/// One of a tenant's user partitions.
pub fn users(t: &TenantId, shard: u64) -> String {
    format!("TENANT#{t}#USERS#{shard}")
}
/// The partition a user lives in.
pub fn user_pk(t: &TenantId, id: &str) -> String {
    users(t, user_shard(id))
}
pub fn status_index(t: &TenantId, s: UserStatus) -> String {
    format!("TENANT#{t}#STATUS#{}", s.as_str())
}
pub fn email(key: &str) -> String {
    format!("EMAIL#{key}")
}
pub fn okta(id: &str) -> String {
    format!("OKTA#{id}")
}
/// A SCIM `externalId` claim: a digest, so no value can collide with another key's shape.
pub fn external(id: &str) -> String {
    format!("EXTID#{}", crate::domain::secret::sha256_hex(id.as_bytes()))
}
/// A userName claim (every user's effective userName: a client's, else the email).
pub fn user_name(key: &str) -> String {
    format!("UNAME#{}", crate::domain::secret::sha256_hex(key.as_bytes()))
}
pub fn group(id: &str) -> String {
    format!("GROUP#{id}")
}
/// A group's members: one partition per group, one item per member.
pub fn members(t: &TenantId, group: &str) -> String {
    format!("TENANT#{t}#GROUP#{group}")
}
pub fn member(key: &str) -> String {
    format!("MEMBER#{key}")
}
/// The change records of earlier builds (numbers up to the counter's `legacy`), and that
/// counter (`COUNTER`).
pub fn changes(t: &TenantId) -> String {
    format!("TENANT#{t}#CHANGES")
}
/// Change records spread over this many partitions, by number.
pub const CHANGE_SHARDS: u64 = 8;
/// The partition of change record `seq`: the single one of earlier builds for numbers up to
/// `legacy`, else one of [`CHANGE_SHARDS`] by the number (consecutive numbers never share one).
pub fn change_record(t: &TenantId, seq: u64, legacy: u64) -> String {
    if seq <= legacy {
        changes(t)
    } else {
        format!("TENANT#{t}#CHANGES#{}", seq % CHANGE_SHARDS)
    }
}
pub const COUNTER: &str = "COUNTER";
/// The tenant's change-number counter: its own partition, moved by atomic `ADD`s outside the
/// entity transactions (the log's partition keeps only change records and voids).
pub fn change_counter(t: &TenantId) -> String {
    format!("TENANT#{t}#CHANGESEQ")
}
/// The tenant's count of SCIM-visible users, in shards, each its own partition (so the count's
/// writes spread like the users'), `sk` = [`USER_COUNT`].
pub fn user_count_shard(t: &TenantId, n: u64) -> String {
    format!("TENANT#{t}#USERCOUNT#{n:02}")
}
pub const USER_COUNT_SHARDS: u64 = 8;
pub const USER_COUNT: &str = "COUNT";
/// The count shard a user is counted in (by a digest of the id).
pub fn user_count(t: &TenantId, user_id: &str) -> String {
    let digest = crate::domain::secret::sha256_hex(user_id.as_bytes());
    user_count_shard(t, u64::from_str_radix(&digest[..8], 16).unwrap_or(0) % USER_COUNT_SHARDS)
}
/// A uniqueness claim: its own partition (so a tenant's claims spread instead of sharing the
/// tenant's), `sk` = [`CLAIM`].
pub fn claim(t: &TenantId, claim_key: &str) -> String {
    format!("TENANT#{t}#{claim_key}")
}
pub const CLAIM: &str = "CLAIM";
/// Positions of paged walks (SCIM `startIndex`), each `sk` an index, kept an hour.
pub fn list_positions(t: &TenantId, list: &str) -> String {
    format!("TENANT#{t}#LISTPOS#{}", &crate::domain::secret::sha256_hex(list.as_bytes())[..32])
}
pub fn team(key: &str) -> String {
    format!("TEAM#{key}")
}
/// Each pending reference is its own small partition, keyed by a digest of the reference (so
/// no character of an email address can make one reference's key match another's); the
/// tenant's pending references are also on `gsi1` for counting.
pub fn pending(t: &TenantId, reference: &str) -> String {
    format!("TENANT#{t}#PENDING#{}", &crate::domain::secret::sha256_hex(reference.as_bytes())[..32])
}
/// What waits on a pending reference, as the reference's `sk`.
pub fn waiting(w: &crate::domain::team::Waiting) -> String {
    use crate::domain::team::Waiting;
    match w {
        Waiting::UserManager(id) => format!("user:{id}"),
        Waiting::TeamManager(key) => format!("team:{key}"),
        Waiting::UserApprover(id) => format!("approver:{id}"),
        Waiting::GroupMember(id) => format!("member:{id}"),
    }
}
pub fn pending_index(t: &TenantId) -> String {
    format!("TENANT#{t}#PENDING")
}
pub fn dedupe(key: &str) -> String {
    format!("DEDUPE#{key}")
}
pub fn sync_run(id: &str) -> String {
    format!("SYNCRUN#{id}")
}
pub const SYNC_LEASE: &str = "SYNCLEASE";
/// One partition per list of a run; the seen ids keep the key they always had.
pub fn sync_list(t: &TenantId, run: &str, list: crate::domain::sync_run::RunList) -> String {
    use crate::domain::sync_run::RunList;
    match list {
        RunList::Seen => format!("TENANT#{t}#SYNCSEEN#{run}"),
        other => format!("TENANT#{t}#SYNCLIST#{run}#{}", other.as_str()),
    }
}
pub fn chunk(n: u64) -> String {
    format!("{n:010}")
}
pub fn seq(n: u64) -> String {
    format!("{n:020}")
}
/// The tenant's activity status (health): latest instants.
pub const ACTIVITY: &str = "ACTIVITY";
/// The tenant's hourly activity counters: `ACTIVITY#H#{yyyymmddhh}`.
pub const ACTIVITY_BUCKET_PREFIX: &str = "ACTIVITY#H#";
pub fn activity_bucket(hour: &str) -> String {
    format!("{ACTIVITY_BUCKET_PREFIX}{hour}")
}
/// A sign-in in flight, by a digest of its state.
pub fn login(state: &str) -> String {
    format!("LOGIN#{}", crate::domain::secret::sha256_hex(state.as_bytes()))
}
/// An accepted SAML assertion, by the digest of its id.
pub fn assertion(digest: &str) -> String {
    format!("SAMLASSERTION#{digest}")
}
/// A single sign-on session, by a digest of its id.
pub fn session(sid: &str) -> String {
    format!("SESSION#{}", crate::domain::secret::sha256_hex(sid.as_bytes()))
}
/// An integration-page session, by a digest of its id.
pub fn admin_session(sid: &str) -> String {
    format!("ADMINSESSION#{}", crate::domain::secret::sha256_hex(sid.as_bytes()))
}
/// An API token record: found by the digest of a presented value, before its tenant is known.
pub fn token(sha256: &str) -> String {
    format!("TOKEN#{sha256}")
}
pub const TOKEN: &str = "TOKEN";
/// A tenant's token records of one kind, on `gsi1`, by creation time.
pub fn token_index(t: &TenantId, kind: crate::domain::api_token::TokenKind) -> String {
    format!("TENANT#{t}#TOKENS#{}", kind.as_str())
}
