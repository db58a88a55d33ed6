//! Okta's wire formats that the domain reasons about: users, app assignments and event-hook
//! deliveries (docs/okta-wire.md §1–2). Parsing is tolerant: unknown fields are ignored and the nulls
//! that preview deliveries carry are accepted.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An Okta user (`GET /api/v1/users/{id}`, or `_embedded.user` of an app user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OktaUser {
    pub id: String,
    pub status: String,
    #[serde(rename = "lastUpdated")]
    pub last_updated: DateTime<Utc>,
    #[serde(default)]
    pub profile: Map<String, Value>,
}

/// What an Okta user's status means for the learning platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OktaLifecycle {
    /// `ACTIVE`, `PROVISIONED`, `STAGED`, `RECOVERY`, `LOCKED_OUT`, `PASSWORD_EXPIRED`: a person who
    /// belongs in the learning platform if assigned.
    Active,
    Suspended,
    Deprovisioned,
}

impl OktaUser {
    pub fn lifecycle(&self) -> OktaLifecycle {
        match self.status.as_str() {
            "SUSPENDED" => OktaLifecycle::Suspended,
            "DEPROVISIONED" => OktaLifecycle::Deprovisioned,
            _ => OktaLifecycle::Active,
        }
    }

    /// A profile attribute as a trimmed, non-empty string (numbers and booleans as text).
    pub fn attr(&self, name: &str) -> Option<String> {
        profile_text(self.profile.get(name)?)
    }
}

/// A profile value as text: strings trimmed, numbers and booleans printed, arrays joined with ", ";
/// empty and null values are absent.
pub fn profile_text(v: &Value) -> Option<String> {
    let text = match v {
        Value::Null => return None,
        Value::String(s) => s.trim().to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().filter_map(profile_text).collect::<Vec<_>>().join(", "),
        Value::Object(_) => v.to_string(),
    };
    (!text.is_empty()).then_some(text)
}

/// An app assignment (`GET /api/v1/apps/{appId}/users/{userId}`); `id` is the Okta user id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppUser {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default, rename = "_embedded", skip_serializing_if = "Option::is_none")]
    pub embedded: Option<AppUserEmbedded>,
}

/// An app integration (`GET /api/v1/apps/{appId}`), as far as the bridge checks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OktaApp {
    pub id: String,
    /// `ACTIVE` or `INACTIVE`.
    #[serde(default)]
    pub status: Option<String>,
    /// `OPENID_CONNECT`, `SAML_2_0`, ...
    #[serde(default, rename = "signOnMode")]
    pub sign_on_mode: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// What "Connect to Okta" compares with our URLs (redirect URIs, ACS URL, audience).
    #[serde(default)]
    pub settings: AppSettings,
    /// The OIDC client id (`credentials.oauthClient.client_id`).
    #[serde(default)]
    pub credentials: AppCredentials,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppSettings {
    #[serde(default, rename = "oauthClient", skip_serializing_if = "Option::is_none")]
    pub oauth_client: Option<OAuthClientSettings>,
    #[serde(default, rename = "signOn", skip_serializing_if = "Option::is_none")]
    pub sign_on: Option<SamlSignOnSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OAuthClientSettings {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

/// A SAML 2.0 app's sign-on settings, as Okta's Apps API names them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SamlSignOnSettings {
    #[serde(default, rename = "ssoAcsUrl", skip_serializing_if = "Option::is_none")]
    pub sso_acs_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppCredentials {
    #[serde(default, rename = "oauthClient", skip_serializing_if = "Option::is_none")]
    pub oauth_client: Option<OAuthClientCredentials>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OAuthClientCredentials {
    #[serde(default)]
    pub client_id: Option<String>,
}

/// An event hook as Okta's Event Hooks API returns it (docs/okta-wire.md §1.1), as far as the
/// bridge reads it. The auth header's value is write-only in Okta and never comes back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventHook {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// `ACTIVE` or `INACTIVE`.
    #[serde(default)]
    pub status: String,
    /// `VERIFIED` or `UNVERIFIED`.
    #[serde(default, rename = "verificationStatus")]
    pub verification_status: String,
    #[serde(default)]
    pub events: EventHookEvents,
    #[serde(default)]
    pub channel: EventHookChannel,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventHookEvents {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub items: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EventHookChannel {
    #[serde(default)]
    pub config: EventHookChannelConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EventHookChannelConfig {
    #[serde(default)]
    pub uri: String,
    #[serde(default, rename = "authScheme")]
    pub auth_scheme: Option<EventHookAuthScheme>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EventHookAuthScheme {
    #[serde(default)]
    pub key: String,
}

impl EventHook {
    pub fn uri(&self) -> &str {
        &self.channel.config.uri
    }
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }
    pub fn is_verified(&self) -> bool {
        self.verification_status == "VERIFIED"
    }
    /// The events of [`HANDLED_EVENT_TYPES`] it does not subscribe to.
    pub fn missing_events(&self) -> Vec<&'static str> {
        HANDLED_EVENT_TYPES.iter().copied().filter(|e| !self.events.items.iter().any(|i| i == e)).collect()
    }
}

/// What the bridge asks Okta to create (or update) an event hook with: our URL, our header and
/// secret, every event of [`HANDLED_EVENT_TYPES`].
#[derive(Debug, Clone)]
pub struct EventHookSpec {
    pub name: String,
    pub uri: String,
    pub auth_header: String,
    pub secret: crate::domain::Secret,
}

impl EventHookSpec {
    /// The body of `POST /api/v1/eventHooks` (and `PUT /api/v1/eventHooks/{id}`).
    pub fn to_okta(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "events": {"type": "EVENT_TYPE", "items": HANDLED_EVENT_TYPES},
            "channel": {"type": "HTTP", "version": "1.0.0", "config": {
                "uri": self.uri,
                "headers": [],
                "authScheme": {"type": "HEADER", "key": self.auth_header, "value": self.secret.expose()},
            }},
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppUserEmbedded {
    #[serde(default)]
    pub user: Option<OktaUser>,
}

/// The event types the receiver turns into jobs (docs/behaviour/event-hooks.md, plus suspend/unsuspend, which Okta
/// lists as hook-eligible and which change what the learning platform must show).
pub const HANDLED_EVENT_TYPES: [&str; 11] = [
    "application.user_membership.add",
    "application.user_membership.remove",
    "group.user_membership.add",
    "group.user_membership.remove",
    "user.account.update_profile",
    "user.lifecycle.deactivate",
    "user.lifecycle.reactivate",
    "user.lifecycle.activate",
    "user.lifecycle.delete.initiated",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
];

/// An event-hook delivery envelope (docs/okta-wire.md §1.3).
#[derive(Debug, Clone, Deserialize)]
pub struct HookDelivery {
    #[serde(default, rename = "eventId")]
    pub event_id: Option<String>,
    #[serde(default)]
    pub data: Option<HookData>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HookData {
    #[serde(default)]
    pub events: Option<Vec<HookEvent>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HookEvent {
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, rename = "eventType")]
    pub event_type: Option<String>,
    #[serde(default)]
    pub target: Option<Vec<HookTarget>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HookTarget {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not an Okta event hook delivery (no data.events array)")]
    NotADelivery,
    #[error("a delivery may carry at most {MAX_EVENTS_PER_DELIVERY} events")]
    TooManyEvents,
    #[error("eventId is longer than {MAX_HOOK_ID_LEN} characters")]
    IdTooLong,
}

/// Most events one delivery may carry. Okta does not document its batch size (docs/okta-wire.md §7);
/// its deliveries are "amalgamated" events close in time, far fewer than this.
pub const MAX_EVENTS_PER_DELIVERY: usize = 1000;
/// Longest `eventId` or event `uuid` kept as a dedupe key (Okta's are 36-character UUIDs).
pub const MAX_HOOK_ID_LEN: usize = 128;

impl HookDelivery {
    pub fn parse(body: &[u8]) -> Result<Self, DeliveryError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| DeliveryError::NotJson(format!("line {} column {}", e.line(), e.column())))?;
        if !value.get("data").and_then(|d| d.get("events")).is_some_and(Value::is_array) {
            return Err(DeliveryError::NotADelivery);
        }
        if value["data"]["events"].as_array().is_some_and(|e| e.len() > MAX_EVENTS_PER_DELIVERY) {
            return Err(DeliveryError::TooManyEvents);
        }
        let event_id = value.get("eventId").and_then(Value::as_str).map(str::to_owned);
        if event_id.as_ref().is_some_and(|id| id.len() > MAX_HOOK_ID_LEN) {
            return Err(DeliveryError::IdTooLong);
        }
        // Each event is read on its own, so one odd event (an overlong uuid included) does not
        // reject its batch-mates.
        let events = value["data"]["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .map(|e| serde_json::from_value::<HookEvent>(e.clone()).unwrap_or_else(|_| HookEvent::unreadable()))
                    .map(|e| {
                        if e.uuid.as_ref().is_some_and(|u| u.len() > MAX_HOOK_ID_LEN) {
                            HookEvent::unreadable()
                        } else {
                            e
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self { event_id, data: Some(HookData { events: Some(events) }) })
    }

    pub fn events(&self) -> &[HookEvent] {
        self.data.as_ref().and_then(|d| d.events.as_deref()).unwrap_or_default()
    }
}

impl HookEvent {
    fn unreadable() -> Self {
        Self { uuid: None, published: None, event_type: None, target: None }
    }

    pub fn is_handled(&self) -> bool {
        self.event_type.as_deref().is_some_and(|t| HANDLED_EVENT_TYPES.contains(&t))
    }

    /// The ids of every `User` target, found by type (never by position).
    pub fn user_targets(&self) -> impl Iterator<Item = &str> {
        self.target
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter(|t| t.kind.as_deref() == Some("User"))
            .filter_map(|t| t.id.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_ADD: &str = r#"{"eventType":"com.okta.event_hook","eventId":"3f0c","data":{"events":[
      {"uuid":"a6b1","published":"2026-11-20T09:14:02.881Z","eventType":"application.user_membership.add","extra":1,
       "target":[{"id":"0ua9","type":"AppUser"},{"id":"0oa1","type":"AppInstance"},{"id":"00u1","type":"User"}]},
      {"uuid":"b7c2","published":"2026-11-20T09:14:03Z","eventType":"user.session.start","target":[{"id":"00u2","type":"User"}]},
      {"uuid":"c8d3","eventType":"group.user_membership.add","actor":null,"target":null}]}}"#;

    #[test]
    fn targets_by_type_and_tolerant_parsing() {
        let d = HookDelivery::parse(APP_ADD.as_bytes()).unwrap();
        assert_eq!(d.event_id.as_deref(), Some("3f0c"));
        let events = d.events();
        assert_eq!(events.len(), 3);
        assert!(events[0].is_handled());
        assert_eq!(events[0].user_targets().collect::<Vec<_>>(), ["00u1"]);
        assert!(!events[1].is_handled());
        assert!(events[2].is_handled());
        assert_eq!(events[2].user_targets().count(), 0, "preview deliveries have null targets");
    }

    #[test]
    fn malformed_bodies() {
        assert!(matches!(HookDelivery::parse(b"{"), Err(DeliveryError::NotJson(_))));
        assert_eq!(HookDelivery::parse(b"[]").unwrap_err(), DeliveryError::NotADelivery);
        assert_eq!(HookDelivery::parse(br#"{"data":{"events":{}}}"#).unwrap_err(), DeliveryError::NotADelivery);
        let odd = HookDelivery::parse(br#"{"data":{"events":[{"uuid":5,"target":"x"}]}}"#).unwrap();
        assert_eq!(odd.events().len(), 1);
        assert!(!odd.events()[0].is_handled());
    }

    #[test]
    fn lifecycle_and_attributes() {
        let u: OktaUser = serde_json::from_str(
            r#"{"id":"00u1","status":"DEPROVISIONED","lastUpdated":"2026-01-01T00:00:00.000Z",
            "profile":{"firstName":"  Ann ","costCenter":10,"tags":["a","b"],"empty":"","nothing":null}}"#,
        )
        .unwrap();
        assert_eq!(u.lifecycle(), OktaLifecycle::Deprovisioned);
        assert_eq!(u.attr("firstName").as_deref(), Some("Ann"));
        assert_eq!(u.attr("costCenter").as_deref(), Some("10"));
        assert_eq!(u.attr("tags").as_deref(), Some("a, b"));
        assert_eq!(u.attr("empty"), None);
        assert_eq!(u.attr("nothing"), None);
        assert_eq!(u.attr("missing"), None);
    }
}
