//! Okta profile → learning-platform fields (docs/behaviour/field-mapping.md), with per-field warnings: a value that fails
//! validation skips that field and says why; it never fails the user.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::okta::OktaUser;
use super::tenant::FieldMapping;
use super::user::User;
use super::{Email, OktaUserId, UserId};

pub const DEFAULT_AVATAR_ATTRIBUTE: &str = "avatarUrl";

/// A problem with one field, kept on the user and in the logs (never the value itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldWarning {
    pub field: String,
    pub message: String,
}

/// What to do with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<T> {
    Set(T),
    /// The Okta attribute is absent: the field is cleared (docs/behaviour/admin-api.md).
    Clear,
    /// The Okta value failed validation: the field keeps its value (with a warning).
    Keep,
}

impl<T: Clone> Field<T> {
    fn apply(&self, target: &mut Option<T>) {
        match self {
            Self::Set(v) => *target = Some(v.clone()),
            Self::Clear => *target = None,
            Self::Keep => {}
        }
    }
}

/// Who the Okta profile says the manager is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerRef {
    OktaId(OktaUserId),
    Email(Email),
    /// okta-bridge's own user id (SCIM Enterprise `manager.value`, as Entra sends it).
    Id(UserId),
    /// The SCIM client's `externalId` of the manager (Okta puts its own user id there).
    External(String),
}

impl ManagerRef {
    /// A stable key for pending references: `okta:{id}` or `email:{key}`.
    pub fn key(&self) -> String {
        match self {
            Self::OktaId(id) => format!("okta:{id}"),
            Self::Email(e) => format!("email:{}", e.key()),
            Self::Id(id) => format!("id:{id}"),
            Self::External(x) => format!("ext:{x}"),
        }
    }

    /// The reference a key names (the inverse of [`ManagerRef::key`]).
    pub fn from_key(key: &str) -> Option<Self> {
        match key.split_once(':')? {
            ("okta", id) => OktaUserId::parse(id).ok().map(Self::OktaId),
            ("email", e) => Email::parse(e).ok().map(Self::Email),
            ("id", id) => UserId::parse(id).ok().map(Self::Id),
            ("ext", x) if !x.is_empty() => Some(Self::External(x.to_owned())),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub email: Option<Email>,
    pub first_name: Field<String>,
    pub last_name: Field<String>,
    pub title: Field<String>,
    pub job_title: Field<String>,
    pub avatar_url: Field<String>,
    pub primary_language: Field<String>,
    pub primary_location: Field<String>,
    pub department: Field<String>,
    pub manager: Field<ManagerRef>,
    pub custom_fields: BTreeMap<String, Field<String>>,
    pub warnings: Vec<FieldWarning>,
}

/// The tenant's mapping settings.
#[derive(Debug, Clone, Default)]
pub struct MappingRules<'a> {
    pub avatar_attribute: Option<&'a str>,
    pub custom: &'a [FieldMapping],
}

fn text(user: &OktaUser, attr: &str, max: usize, field: &str, warnings: &mut Vec<FieldWarning>) -> Field<String> {
    match user.attr(attr) {
        None => Field::Clear,
        Some(v) if v.chars().count() > max => {
            warnings
                .push(FieldWarning { field: field.into(), message: format!("{attr} is longer than {max} characters") });
            Field::Keep
        }
        Some(v) => Field::Set(v),
    }
}

pub fn map_profile(user: &OktaUser, rules: &MappingRules<'_>) -> Mapped {
    let mut warnings = Vec::new();
    let email = match user.attr("email") {
        None => {
            warnings.push(FieldWarning { field: "email".into(), message: "email is missing".into() });
            None
        }
        Some(raw) => match Email::parse(&raw) {
            Ok(e) => Some(e),
            Err(_) => {
                warnings.push(FieldWarning { field: "email".into(), message: "email is not a valid address".into() });
                None
            }
        },
    };
    let first_name = text(user, "firstName", 100, "first_name", &mut warnings);
    let last_name = text(user, "lastName", 100, "last_name", &mut warnings);
    let title = text(user, "honorificPrefix", 50, "title", &mut warnings);
    let job_title = text(user, "title", 200, "job_title", &mut warnings);
    let avatar_attr = rules.avatar_attribute.unwrap_or(DEFAULT_AVATAR_ATTRIBUTE);
    let avatar_url = match user.attr(avatar_attr) {
        None => Field::Clear,
        Some(v) if is_web_url(&v) => Field::Set(v),
        Some(_) => {
            warnings.push(FieldWarning {
                field: "avatar_url".into(),
                message: format!("{avatar_attr} is not an http(s) URL"),
            });
            Field::Keep
        }
    };
    let language_source = if user.attr("preferredLanguage").is_some() { "preferredLanguage" } else { "locale" };
    let primary_language = match user.attr(language_source) {
        None => Field::Clear,
        Some(v) => match normalize_language_tag(&v) {
            Some(tag) => Field::Set(tag),
            None => {
                warnings.push(FieldWarning {
                    field: "primary_language".into(),
                    message: format!("{language_source} is not a language tag"),
                });
                Field::Keep
            }
        },
    };
    let location_source = if user.attr("city").is_some() { "city" } else { "countryCode" };
    let primary_location = text(user, location_source, 128, "primary_location", &mut warnings);
    let department = text(user, "department", 200, "primary_team", &mut warnings);
    let manager = match (user.attr("managerId"), user.attr("manager")) {
        (Some(id), _) => match OktaUserId::parse(&id) {
            Ok(id) if id.as_str() == user.id => {
                warnings
                    .push(FieldWarning { field: "manager".into(), message: "a user cannot manage themselves".into() });
                Field::Clear
            }
            Ok(id) => Field::Set(ManagerRef::OktaId(id)),
            Err(_) => {
                warnings
                    .push(FieldWarning { field: "manager".into(), message: "managerId is not an Okta user id".into() });
                Field::Keep
            }
        },
        (None, Some(login)) => match Email::parse(&login) {
            Ok(e) => Field::Set(ManagerRef::Email(e)),
            Err(_) => {
                warnings.push(FieldWarning {
                    field: "manager".into(),
                    message: "manager is not a login or email address".into(),
                });
                Field::Keep
            }
        },
        (None, None) => Field::Clear,
    };
    let mut custom_fields = BTreeMap::new();
    for m in rules.custom {
        let value = match user.attr(&m.okta) {
            None => Field::Clear,
            Some(v) if v.chars().count() > 1024 => {
                warnings.push(FieldWarning {
                    field: m.field.clone(),
                    message: format!("{} is longer than 1024 characters", m.okta),
                });
                Field::Keep
            }
            Some(v) => Field::Set(v),
        };
        custom_fields.insert(m.field.clone(), value);
    }
    Mapped {
        email,
        first_name,
        last_name,
        title,
        job_title,
        avatar_url,
        primary_language,
        primary_location,
        department,
        manager,
        custom_fields,
        warnings,
    }
}

impl Mapped {
    /// Writes the mapped fields onto a user. The manager and team are resolved separately.
    pub fn apply_to(&self, user: &mut User) {
        if let Some(e) = &self.email {
            user.email = e.clone();
        }
        let mut first = Some(user.first_name.clone());
        self.first_name.apply(&mut first);
        user.first_name = first.unwrap_or_default();
        let mut last = Some(user.last_name.clone());
        self.last_name.apply(&mut last);
        user.last_name = last.unwrap_or_default();
        self.title.apply(&mut user.title);
        self.job_title.apply(&mut user.job_title);
        self.avatar_url.apply(&mut user.avatar_url);
        self.primary_language.apply(&mut user.primary_language);
        self.primary_location.apply(&mut user.primary_location);
        self.department.apply(&mut user.primary_team);
        for (field, value) in &self.custom_fields {
            match value {
                Field::Set(v) => {
                    user.custom_fields.insert(field.clone(), v.clone());
                }
                Field::Clear => {
                    user.custom_fields.remove(field);
                }
                Field::Keep => {}
            }
        }
        user.warnings = self.warnings.clone();
    }
}

pub(crate) fn is_web_url(v: &str) -> bool {
    url::Url::parse(v).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// Normalises `en_US`, `EN-us`, `zh-hant-tw` to BCP 47 casing (`en-US`, `zh-Hant-TW`), or `None`.
pub fn normalize_language_tag(raw: &str) -> Option<String> {
    let mut parts = raw.trim().split(['-', '_']);
    let lang = parts.next()?;
    if !(2..=3).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = lang.to_ascii_lowercase();
    for p in parts {
        let norm = match p.len() {
            4 if p.bytes().all(|b| b.is_ascii_alphabetic()) => {
                let mut s = p.to_ascii_lowercase();
                s[..1].make_ascii_uppercase();
                s
            }
            2 if p.bytes().all(|b| b.is_ascii_alphabetic()) => p.to_ascii_uppercase(),
            3 if p.bytes().all(|b| b.is_ascii_digit()) => p.to_owned(),
            5..=8 if p.bytes().all(|b| b.is_ascii_alphanumeric()) => p.to_ascii_lowercase(),
            _ => return None,
        };
        out.push('-');
        out.push_str(&norm);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn okta(profile: serde_json::Value) -> OktaUser {
        serde_json::from_value(serde_json::json!({"id": "00uself", "status": "ACTIVE", "lastUpdated": "2026-01-01T00:00:00Z", "profile": profile})).unwrap()
    }

    #[test]
    fn the_spec_table() {
        let u = okta(
            serde_json::json!({"honorificPrefix": "Dr", "firstName": "Ann", "lastName": "Lee", "email": "Ann@Example.com",
            "avatarUrl": "https://cdn.example.com/a.png", "title": "Engineer", "locale": "en_GB", "preferredLanguage": "fr-ca",
            "countryCode": "GB", "managerId": "00uboss", "manager": "boss@example.com", "department": "Platform", "costCenter": 42}),
        );
        let rules = [
            FieldMapping { okta: "costCenter".into(), field: "cost_center".into() },
            FieldMapping { okta: "division".into(), field: "division".into() },
        ];
        let m = map_profile(&u, &MappingRules { avatar_attribute: None, custom: &rules });
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(m.email.as_ref().unwrap().as_str(), "Ann@Example.com");
        assert_eq!(m.title, Field::Set("Dr".into()));
        assert_eq!(m.job_title, Field::Set("Engineer".into()));
        assert_eq!(m.avatar_url, Field::Set("https://cdn.example.com/a.png".into()));
        assert_eq!(m.primary_language, Field::Set("fr-CA".into()), "preferredLanguage wins over locale");
        assert_eq!(m.primary_location, Field::Set("GB".into()), "countryCode when no city");
        assert_eq!(m.manager, Field::Set(ManagerRef::OktaId(OktaUserId::parse("00uboss").unwrap())), "managerId wins");
        assert_eq!(m.department, Field::Set("Platform".into()));
        assert_eq!(m.custom_fields["cost_center"], Field::Set("42".into()));
        assert_eq!(m.custom_fields["division"], Field::Clear);
    }

    #[test]
    fn fallbacks_and_warnings() {
        let u = okta(
            serde_json::json!({"firstName": "A", "lastName": "B", "email": "not-an-email", "avatarUrl": "javascript:alert(1)",
            "locale": "english please", "city": "Leeds", "countryCode": "GB", "manager": "Boss@Example.com"}),
        );
        let m = map_profile(&u, &MappingRules::default());
        let fields: Vec<_> = m.warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(fields, ["email", "avatar_url", "primary_language"]);
        assert!(m.email.is_none());
        assert_eq!(m.avatar_url, Field::Keep);
        assert_eq!(m.primary_location, Field::Set("Leeds".into()));
        assert_eq!(m.manager, Field::Set(ManagerRef::Email(Email::parse("Boss@Example.com").unwrap())));
        assert!(!format!("{:?}", m.warnings).contains("javascript"), "warnings never carry values");
    }

    #[test]
    fn self_management_is_refused() {
        let m = map_profile(
            &okta(serde_json::json!({"email": "a@b.co", "managerId": "00uself"})),
            &MappingRules::default(),
        );
        assert_eq!(m.manager, Field::Clear);
        assert_eq!(m.warnings[0].field, "manager");
    }

    #[test]
    fn language_tags() {
        assert_eq!(normalize_language_tag("en_US").as_deref(), Some("en-US"));
        assert_eq!(normalize_language_tag("zh-hant-tw").as_deref(), Some("zh-Hant-TW"));
        assert_eq!(normalize_language_tag("es-419").as_deref(), Some("es-419"));
        assert_eq!(normalize_language_tag("EN").as_deref(), Some("en"));
        for bad in ["", "e", "english", "en-", "en-U", "12"] {
            assert_eq!(normalize_language_tag(bad), None, "{bad}");
        }
    }

    #[test]
    fn absent_attributes_clear_fields_and_bad_ones_keep_them() {
        let mut user = User::new(
            crate::domain::UserId::from_random([1; 16]),
            Email::parse("a@b.co").unwrap(),
            "A".into(),
            "B".into(),
            chrono::Utc::now(),
        );
        user.job_title = Some("Old".into());
        user.avatar_url = Some("https://old.example/a.png".into());
        user.custom_fields.insert("cost_center".into(), "1".into());
        let rules = [FieldMapping { okta: "costCenter".into(), field: "cost_center".into() }];
        let m = map_profile(
            &okta(serde_json::json!({"email": "a@b.co", "firstName": "A", "lastName": "B", "avatarUrl": "ftp://x"})),
            &MappingRules { avatar_attribute: None, custom: &rules },
        );
        m.apply_to(&mut user);
        assert_eq!(user.job_title, None);
        assert_eq!(user.avatar_url.as_deref(), Some("https://old.example/a.png"));
        assert!(user.custom_fields.is_empty());
        assert_eq!(user.warnings.len(), 1);
    }
}
