//! The org's model and its rules: the clock it stamps, the System Log events a change makes, the
//! rate limit and injected faults every API request passes through, and how users read on the wire.
use super::*;

impl Org {
    pub(super) fn tick(&mut self) -> DateTime<Utc> {
        // Strictly increasing lastUpdated, even within one millisecond.
        let now = Utc::now().max(self.last_updated + chrono::Duration::milliseconds(1));
        self.last_updated = now;
        now
    }

    pub(super) fn event(&mut self, event_type: &str, user_id: &str, with_app: bool) {
        let user = &self.users[user_id];
        let login = user["profile"]["login"].clone();
        let mut targets = vec![];
        if with_app {
            targets.push(json!({"id": format!("0ua{}", &user_id[3..]), "type": "AppUser", "alternateId": login, "displayName": "app user", "detailEntry": null}));
            targets.push(json!({"id": self.app_id, "type": "AppInstance", "alternateId": "Learning Platform", "displayName": "Learning Platform", "detailEntry": null}));
        }
        targets.push(
            json!({"id": user_id, "type": "User", "alternateId": login, "displayName": "user", "detailEntry": null}),
        );
        let published = self.tick();
        self.events.push(json!({
            "uuid": uuid::Uuid::new_v4().to_string(), "published": ts(published), "eventType": event_type, "version": "0",
            "displayMessage": event_type, "severity": "INFO",
            "actor": {"id": "00uadmin0000000000x1", "type": "User", "alternateId": "admin@okta-sim.example", "displayName": "Sim Admin", "detailEntry": null},
            "outcome": {"result": "SUCCESS", "reason": null}, "target": targets,
            "transaction": {"type": "WEB", "id": uuid::Uuid::new_v4().simple().to_string(), "detail": {}},
        }));
    }

    /// Rate limiting and faults for one API request: `Err(response)` to answer instead.
    pub(super) fn admit(&mut self) -> Result<HeaderMap, Box<Response>> {
        self.requests += 1;
        let now = Utc::now();
        if now >= self.rate_reset {
            self.rate_reset = now + chrono::Duration::from_std(self.rate_window).unwrap_or_default();
            self.rate_remaining = self.rate_limit;
        }
        let mut headers = HeaderMap::new();
        let fault = self.faults.pop_front();
        let limited = self.rate_remaining == 0 || fault == Some(Fault::RateLimited);
        if !limited {
            self.rate_remaining -= 1;
        }
        let reset = if fault == Some(Fault::RateLimited) {
            (now + chrono::Duration::seconds(1)).timestamp()
        } else {
            self.rate_reset.timestamp() + 1
        };
        headers.insert("x-rate-limit-limit", HeaderValue::from(self.rate_limit));
        headers.insert("x-rate-limit-remaining", HeaderValue::from(if limited { 0 } else { self.rate_remaining }));
        headers.insert("x-rate-limit-reset", HeaderValue::from(reset));
        headers.insert(
            "x-okta-request-id",
            HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string()).expect("ascii"),
        );
        headers.insert(
            "date",
            HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).expect("ascii"),
        );
        if limited {
            let mut r = okta_error(
                StatusCode::TOO_MANY_REQUESTS,
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
            );
            r.headers_mut().extend(headers);
            return Err(Box::new(r));
        }
        match fault {
            Some(Fault::ServerError) => {
                let mut r = okta_error(StatusCode::INTERNAL_SERVER_ERROR, "E0000009", "Internal Server Error");
                r.headers_mut().extend(headers);
                Err(Box::new(r))
            }
            Some(Fault::Garbage) => Err(Box::new((StatusCode::OK, headers, "<html>not json").into_response())),
            Some(Fault::Delay(d)) => {
                headers.insert("x-sim-delay-ms", HeaderValue::from(d.as_millis() as u64));
                Ok(headers)
            }
            _ => Ok(headers),
        }
    }

    pub(super) fn find(&self, id_or_login: &str) -> Option<&Value> {
        self.users.get(id_or_login).or_else(|| {
            self.users
                .values()
                .find(|u| u["profile"]["login"].as_str().is_some_and(|l| l.eq_ignore_ascii_case(id_or_login)))
        })
    }

    pub(super) fn app_user(&self, user: &Value, expand: bool) -> Value {
        let id = user["id"].as_str().unwrap_or_default();
        let mut app_user = json!({
            "id": id, "externalId": null, "created": user["created"], "lastUpdated": user["lastUpdated"],
            "scope": "USER", "status": "ACTIVE", "syncState": "DISABLED",
            "credentials": {"userName": user["profile"]["login"]},
            "profile": {"email": user["profile"]["email"]},
            "_links": {"app": {"href": format!("/api/v1/apps/{}", self.app_id)}, "user": {"href": format!("/api/v1/users/{id}")}},
        });
        if expand {
            app_user["_embedded"] = json!({"user": user});
        }
        app_user
    }
}
