//! Paging a tenant's users. They live in segments walked in a fixed order: the tenant's
//! partition (users written by earlier builds and not since), then each of the
//! [`keys::USER_SHARDS`] user partitions, each in id order. A page's cursor is the segment and
//! the last id in it, so paging stays stable under concurrent writes: a user never changes
//! segment but by its first write on this layout, which moves it from the first segment to a
//! shard (listed twice in an import at most once, and never missed).
use super::codec::{from_item, s, unavailable, Item};
use super::{keys, DynamoStore, GSI1};
use crate::domain::user::{User, UserStatus};
use crate::domain::{TenantId, UserId};
use crate::ports::{cursor, Page, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Legacy,
    Shard(u64),
}

impl Segment {
    fn pk(self, tenant: &TenantId) -> String {
        match self {
            Self::Legacy => keys::tenant(tenant),
            Self::Shard(n) => keys::users(tenant, n),
        }
    }

    fn next(self) -> Option<Self> {
        match self {
            Self::Legacy => Some(Self::Shard(0)),
            Self::Shard(n) if n + 1 < keys::USER_SHARDS => Some(Self::Shard(n + 1)),
            Self::Shard(_) => None,
        }
    }

    /// The segment a stored item is in, from its `pk`.
    fn of(tenant: &TenantId, item: &Item) -> Result<Self, StoreError> {
        let pk = item.get("pk").and_then(|v| v.as_s().ok()).ok_or(StoreError::InvalidCursor)?;
        if *pk == keys::tenant(tenant) {
            return Ok(Self::Legacy);
        }
        (0..keys::USER_SHARDS)
            .find(|n| *pk == keys::users(tenant, *n))
            .map(Self::Shard)
            .ok_or_else(|| unavailable(std::io::Error::other("a user item outside the tenant's user partitions")))
    }
}

/// Where a page of users ended.
pub(super) struct Position {
    segment: Segment,
    id: UserId,
}

impl Position {
    fn encode(&self) -> String {
        let segment = match self.segment {
            Segment::Legacy => "L".to_owned(),
            Segment::Shard(n) => n.to_string(),
        };
        cursor::encode(&format!("{segment}:{}", self.id))
    }

    /// A cursor of this layout (`segment:id`), or of earlier builds (a bare id: the first segment).
    pub(super) fn decode(c: &str) -> Result<Self, StoreError> {
        let raw = cursor::decode(c)?;
        let (segment, id) = match raw.split_once(':') {
            Some(("L", id)) => (Segment::Legacy, id),
            Some((n, id)) => match n.parse::<u64>() {
                Ok(n) if n < keys::USER_SHARDS => (Segment::Shard(n), id),
                _ => return Err(StoreError::InvalidCursor),
            },
            None => (Segment::Legacy, raw.as_str()),
        };
        Ok(Self { segment, id: UserId::parse(id).map_err(|_| StoreError::InvalidCursor)? })
    }
}

impl DynamoStore {
    /// Every user of the tenant, segment by segment, from `after`.
    pub(super) async fn walk_segments(
        &self,
        tenant: &TenantId,
        after: Option<Position>,
        limit: usize,
    ) -> Result<Page<User>, StoreError> {
        let (mut segment, mut from) = match after {
            Some(p) => (p.segment, Some(p.id)),
            None => (Segment::Legacy, None),
        };
        let mut items: Vec<User> = Vec::new();
        let mut last: Option<Position> = None;
        loop {
            let want = limit - items.len();
            let pk = segment.pk(tenant);
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p AND begins_with(sk, :u)")
                .expression_attribute_values(":p", s(pk.clone()))
                .expression_attribute_values(":u", s("USER#"))
                .limit(want as i32 + 1);
            if let Some(id) = &from {
                q = q.exclusive_start_key("pk", s(pk)).exclusive_start_key("sk", s(keys::user(id.as_str())));
            }
            let out = q.send().await.map_err(unavailable)?;
            let cut_short = out.last_evaluated_key.is_some();
            let mut got: Vec<User> =
                out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<_, _>>()?;
            let full = got.len() > want;
            got.truncate(want);
            if let Some(u) = got.last() {
                last = Some(Position { segment, id: u.id.clone() });
            }
            items.extend(got);
            if full || items.len() == limit {
                return Ok(Page { items, next: last.map(|p| p.encode()) });
            }
            if cut_short {
                // The 1 MB response limit: go on in this segment after its last user.
                from = last.as_ref().filter(|p| p.segment == segment).map(|p| p.id.clone());
                if from.is_some() {
                    continue;
                }
            }
            match segment.next() {
                Some(next) => (segment, from) = (next, None),
                None => return Ok(Page { items, next: None }),
            }
        }
    }

    /// The users of one status, on `gsi1`, in id order.
    pub(super) async fn list_by_status(
        &self,
        tenant: &TenantId,
        status: UserStatus,
        after: Option<Position>,
        limit: usize,
    ) -> Result<Page<User>, StoreError> {
        let index = keys::status_index(tenant, status);
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(index.clone()))
            .limit(limit as i32 + 1);
        if let Some(p) = &after {
            q = q
                .exclusive_start_key("gsi1pk", s(index))
                .exclusive_start_key("gsi1sk", s(keys::user(p.id.as_str())))
                .exclusive_start_key("pk", s(p.segment.pk(tenant)))
                .exclusive_start_key("sk", s(keys::user(p.id.as_str())));
        }
        let out = q.send().await.map_err(unavailable)?;
        let more_pages = out.last_evaluated_key.is_some();
        let mut raw = out.items.unwrap_or_default();
        let full = raw.len() > limit;
        raw.truncate(limit);
        let last = match raw.last() {
            Some(item) => Some(Segment::of(tenant, item)?),
            None => None,
        };
        let items: Vec<User> = raw.into_iter().map(from_item).collect::<Result<_, _>>()?;
        let next = match (last, items.last()) {
            // A full page, or one the 1 MB response limit cut short: continue after its last user.
            (Some(segment), Some(u)) if full || more_pages => Some(Position { segment, id: u.id.clone() }.encode()),
            _ => None,
        };
        Ok(Page { items, next })
    }
}
