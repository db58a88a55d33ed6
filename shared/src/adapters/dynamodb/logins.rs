//! Pending logins (docs/behaviour/sign-in.md): `TENANT#{t}` / `LOGIN#{state}` with a 10-minute TTL. Taking one is a
//! `DeleteItem` that returns the old item, so two callbacks with one state cannot both get it, and
//! that is conditional on the browser binding, so another browser's callback takes nothing.
//! Accepted SAML assertions: `SAMLASSERTION#{sha256 of the id}`, put only if absent, kept (TTL)
//! until the assertion expires.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::codec::{json_attr, s, unavailable};
use super::{keys, DynamoStore};
use crate::domain::admin_session::AdminSession;
use crate::domain::sso::{LoginState, SessionRecord};
use crate::domain::TenantId;
use crate::ports::{LoginStateStore, StoreError};

use super::keys::{
    admin_session as admin_session_key, assertion as assertion_key, login as key, session as session_key,
};

/// Sessions of either kind: a JSON body under the tenant's partition, expiring (TTL) with it.
impl DynamoStore {
    async fn put_expiring<T: serde::Serialize>(
        &self,
        tenant: &TenantId,
        sk: String,
        record: &T,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(record).map_err(unavailable)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::tenant(tenant)))
            .item("sk", s(sk))
            .item("body", s(body))
            .item("expires_at", AttributeValue::N(expires_at.timestamp().to_string()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_body<T: serde::de::DeserializeOwned>(
        &self,
        tenant: &TenantId,
        sk: String,
    ) -> Result<Option<T>, StoreError> {
        let Some(item) = self.get(keys::tenant(tenant), sk).await? else { return Ok(None) };
        Ok(Some(json_attr(&item, "body")?))
    }

    async fn delete_key(&self, tenant: &TenantId, sk: String) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::tenant(tenant)))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

// TTL deletion lags: an expired record still present is refused when read.
#[async_trait]
impl LoginStateStore for DynamoStore {
    async fn put_admin_session(&self, session: &AdminSession) -> Result<(), StoreError> {
        self.put_expiring(&session.tenant, admin_session_key(&session.sid), session, session.expires_at).await
    }

    async fn get_admin_session(
        &self,
        tenant: &TenantId,
        sid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AdminSession>, StoreError> {
        let found: Option<AdminSession> = self.get_body(tenant, admin_session_key(sid)).await?;
        Ok(found.filter(|x| x.expires_at > now && x.tenant == *tenant).map(|x| x.with_sid(sid)))
    }

    async fn delete_admin_session(&self, tenant: &TenantId, sid: &str) -> Result<(), StoreError> {
        self.delete_key(tenant, admin_session_key(sid)).await
    }

    async fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.put_expiring(&session.tenant, session_key(&session.sid), session, session.expires_at).await
    }

    async fn get_session(
        &self,
        tenant: &TenantId,
        sid: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let found: Option<SessionRecord> = self.get_body(tenant, session_key(sid)).await?;
        Ok(found.filter(|x| x.expires_at > now && x.tenant == *tenant).map(|mut x| {
            x.sid = sid.to_owned();
            x
        }))
    }

    async fn delete_session(&self, tenant: &TenantId, sid: &str) -> Result<(), StoreError> {
        self.delete_key(tenant, session_key(sid)).await
    }

    async fn put_login(&self, login: &LoginState) -> Result<(), StoreError> {
        let body = serde_json::to_string(login).map_err(unavailable)?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::tenant(&login.tenant)))
            .item("sk", s(key(&login.state)))
            .item("body", s(body))
            .item("binding", s(&login.browser_binding))
            .item("expires_at", AttributeValue::N(login.expires_at.timestamp().to_string()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Err(StoreError::AlreadyExists)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn take_login(
        &self,
        tenant: &TenantId,
        state: &str,
        browser_binding: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginState>, StoreError> {
        // Deleted only by the browser that started it: the binding is checked in the same call.
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::tenant(tenant)))
            .key("sk", s(key(state)))
            .condition_expression("attribute_not_exists(pk) OR binding = :b")
            .expression_attribute_values(":b", s(browser_binding))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                return Err(StoreError::VersionConflict)
            }
            Err(e) => return Err(unavailable(e)),
        };
        let Some(item) = out.attributes else { return Ok(None) };
        let login: LoginState = json_attr(&item, "body")?;
        // TTL deletion lags: an expired login still present is refused here. The stored state is
        // only ever a digest key, so the compare is of the caller's own value.
        Ok((login.expires_at > now && login.state == state && login.tenant == *tenant).then_some(login))
    }

    async fn claim_assertion(
        &self,
        tenant: &TenantId,
        assertion_digest: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Put if absent, or if only an expired record (TTL deletion lags) is there.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::tenant(tenant)))
            .item("sk", s(assertion_key(assertion_digest)))
            .item("expires_at", AttributeValue::N(expires_at.timestamp().to_string()))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }
}
