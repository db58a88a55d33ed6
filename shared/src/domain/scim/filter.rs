//! SCIM filters (RFC 7644 §3.4.2.2): the whole grammar — `eq ne co sw ew gt ge lt le pr`, `and`,
//! `or`, `not`, parentheses, value paths such as `emails[type eq "work" and primary eq true]`,
//! schema-URN-qualified attribute names — parsed into a tree, evaluated against a JSON resource,
//! and searched for the equality the store can answer with a key lookup instead of a scan.
//!
//! Attribute names compare case-insensitively. String comparison is case-insensitive except for
//! the attributes the RFC marks `caseExact` (`id`, `externalId`, `meta.version`...), so
//! `userName eq "ANN@x"` finds `ann@x`.
use std::fmt;

use serde_json::Value;

/// Longest filter accepted (a guard against pathological input; Okta's are tiny).
pub const MAX_FILTER_LEN: usize = 4096;
const MAX_DEPTH: usize = 32;

/// `urn:…:User:name.givenName` → uri `urn:…:User`, attr `name`, sub `givenname` (lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub uri: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare(AttrPath, CompareOp, Value),
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]` (optionally `.value` after it in a PATCH path, not in a filter).
    ValuePath(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at character {at}: {reason}")]
pub struct FilterError {
    pub at: usize,
    pub reason: String,
}

fn err<T>(at: usize, reason: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError { at, reason: reason.into() })
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$'
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start_matches([' ', '\t', '\n', '\r']);
        self.pos = self.src.len() - trimmed.len();
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A word (letters, digits, `_-$:.`), without consuming it.
    fn peek_word(&self) -> &'a str {
        let rest = self.rest();
        let end = rest.find(|c: char| !(is_name_char(c) || c == ':' || c == '.')).unwrap_or(rest.len());
        &rest[..end]
    }

    fn keyword(&mut self, kw: &str) -> bool {
        let w = self.peek_word();
        if w.eq_ignore_ascii_case(kw) {
            self.pos += w.len();
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(self.pos, "the filter nests too deeply");
        }
        Ok(())
    }

    // FILTER = term *("or" term); term = factor *("and" factor)
    fn or(&mut self) -> Result<Filter, FilterError> {
        self.enter()?;
        let mut left = self.and()?;
        loop {
            self.skip_ws();
            if self.keyword("or") {
                self.skip_ws();
                let right = self.and()?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.factor()?;
        loop {
            self.skip_ws();
            let save = self.pos;
            if self.keyword("and") {
                self.skip_ws();
                let right = self.factor()?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                self.pos = save;
                break;
            }
        }
        Ok(left)
    }

    /// The rest of `( FILTER )` or `[ FILTER ]` after its opening bracket.
    fn group(&mut self, close: char) -> Result<Filter, FilterError> {
        self.enter()?;
        let inner = self.or()?;
        self.skip_ws();
        if !self.eat(close) {
            return err(self.pos, format!("expected `{close}`"));
        }
        self.depth -= 1;
        Ok(inner)
    }

    fn factor(&mut self) -> Result<Filter, FilterError> {
        self.skip_ws();
        if self.eat('(') {
            return self.group(')');
        }
        let save = self.pos;
        if self.keyword("not") {
            self.skip_ws();
            if self.eat('(') {
                return Ok(Filter::Not(Box::new(self.group(')')?)));
            }
            // An attribute that happens to be called `not`.
            self.pos = save;
        }
        self.attr_exp()
    }

    fn attr_path(&mut self) -> Result<AttrPath, FilterError> {
        let start = self.pos;
        let word = self.peek_word();
        if word.is_empty() || !word.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return err(start, "expected an attribute name");
        }
        self.pos += word.len();
        parse_attr_path(word).ok_or(FilterError { at: start, reason: format!("`{word}` is not an attribute path") })
    }

    fn attr_exp(&mut self) -> Result<Filter, FilterError> {
        let path = self.attr_path()?;
        if self.eat('[') {
            if path.sub.is_some() {
                return err(self.pos, "a value filter follows a multi-valued attribute, not a sub-attribute");
            }
            return Ok(Filter::ValuePath(path, Box::new(self.group(']')?)));
        }
        if !self.rest().starts_with([' ', '\t']) {
            return err(self.pos, "expected an operator after the attribute");
        }
        self.skip_ws();
        let at = self.pos;
        let word = self.peek_word();
        if word.eq_ignore_ascii_case("pr") {
            self.pos += word.len();
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(word).ok_or(FilterError { at, reason: format!("`{word}` is not an operator") })?;
        self.pos += word.len();
        if !self.rest().starts_with([' ', '\t']) {
            return err(self.pos, "expected a value after the operator");
        }
        self.skip_ws();
        let value = self.value()?;
        Ok(Filter::Compare(path, op, value))
    }

    /// A JSON string, number, `true`, `false` or `null` (keywords case-insensitive, as clients send them).
    fn value(&mut self) -> Result<Value, FilterError> {
        let at = self.pos;
        let rest = self.rest();
        if rest.starts_with('"') {
            let bytes = rest.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => {
                        let lit = &rest[..=i];
                        self.pos += i + 1;
                        return serde_json::from_str(lit).or_else(|_| err(at, "invalid string literal"));
                    }
                    _ => i += 1,
                }
            }
            return err(at, "unterminated string");
        }
        let end = rest.find([' ', '\t', ')', ']']).unwrap_or(rest.len());
        let word = &rest[..end];
        let value = match word.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            _ => match number(word) {
                Some(n) => Value::Number(n),
                None => return err(at, "expected a string, number, true, false or null"),
            },
        };
        self.pos += word.len();
        Ok(value)
    }
}

/// A JSON number, read exactly: integers as integers, the rest by Rust's correctly rounded float
/// parser (serde_json's default one is not, so a printed filter could parse back to another number;
/// the fuzzer found that).
fn number(word: &str) -> Option<serde_json::Number> {
    serde_json::from_str::<serde_json::Number>(word).ok()?;
    if let Ok(i) = word.parse::<i64>() {
        return Some(i.into());
    }
    if let Ok(u) = word.parse::<u64>() {
        return Some(u.into());
    }
    serde_json::Number::from_f64(word.parse::<f64>().ok()?)
}

/// `name`, `name.sub`, or `urn:…:Resource:name[.sub]` (the URN ends at the last `:`).
pub fn parse_attr_path(raw: &str) -> Option<AttrPath> {
    let (uri, local) = match raw.rfind(':') {
        Some(i) if raw[..i].to_ascii_lowercase().starts_with("urn:") => (Some(raw[..i].to_owned()), &raw[i + 1..]),
        Some(_) => return None,
        None => (None, raw),
    };
    let mut parts = local.split('.');
    let attr = parts.next()?;
    let sub = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let valid =
        |s: &str| !s.is_empty() && s.starts_with(|c: char| c.is_ascii_alphabetic()) && s.chars().all(is_name_char);
    if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
        return None;
    }
    Some(AttrPath { uri, attr: attr.to_ascii_lowercase(), sub: sub.map(str::to_ascii_lowercase) })
}

/// Parses a whole filter.
pub fn parse(src: &str) -> Result<Filter, FilterError> {
    if src.len() > MAX_FILTER_LEN {
        return err(0, format!("the filter is longer than {MAX_FILTER_LEN} characters"));
    }
    let mut p = Parser { src, pos: 0, depth: 0 };
    let f = p.or()?;
    p.skip_ws();
    if p.pos != src.len() {
        return err(p.pos, "unexpected text after the filter");
    }
    Ok(f)
}

/// A PATCH operation's `path` (RFC 7644 §3.5.2): `attr`, `attr.sub`, a URN-qualified attribute,
/// or a value-filter path `attr[filter]` optionally followed by `.sub`
/// (`members[value eq "2819c223"]`, `emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter.
    pub sub: Option<String>,
}

pub fn parse_patch_path(src: &str) -> Result<PatchPath, FilterError> {
    if src.len() > MAX_FILTER_LEN {
        return err(0, format!("the path is longer than {MAX_FILTER_LEN} characters"));
    }
    let src = src.trim();
    let mut p = Parser { src, pos: 0, depth: 0 };
    let attr = p.attr_path()?;
    if !p.eat('[') {
        if p.pos != src.len() {
            return err(p.pos, "unexpected text after the path");
        }
        return Ok(PatchPath { attr, filter: None, sub: None });
    }
    if attr.sub.is_some() {
        return err(p.pos, "a value filter follows a multi-valued attribute, not a sub-attribute");
    }
    let filter = p.group(']')?;
    let sub = if p.eat('.') {
        let start = p.pos;
        let word = p.peek_word();
        let ok =
            !word.is_empty() && word.starts_with(|c: char| c.is_ascii_alphabetic()) && word.chars().all(is_name_char);
        if !ok {
            return err(start, "expected a sub-attribute after `].`");
        }
        p.pos += word.len();
        Some(word.to_ascii_lowercase())
    } else {
        None
    };
    if p.pos != src.len() {
        return err(p.pos, "unexpected text after the path");
    }
    Ok(PatchPath { attr, filter: Some(filter), sub })
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        write!(f, "{}", self.attr)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compare(p, op, v) => write!(f, "{p} {} {v}", op.as_str()),
            Self::Present(p) => write!(f, "{p} pr"),
            // Only the parentheses the tree needs (`and` binds tighter; both group to the left), so
            // a long flat chain prints flat and parses back within the nesting limit (the fuzzer
            // found a 17-term chain whose fully parenthesised print was refused as too deep).
            Self::And(a, b) => {
                let left = if matches!(**a, Self::Or(..)) { format!("({a})") } else { a.to_string() };
                let right = if matches!(**b, Self::And(..) | Self::Or(..)) { format!("({b})") } else { b.to_string() };
                write!(f, "{left} and {right}")
            }
            Self::Or(a, b) => {
                let right = if matches!(**b, Self::Or(..)) { format!("({b})") } else { b.to_string() };
                write!(f, "{a} or {right}")
            }
            Self::Not(a) => write!(f, "not ({a})"),
            Self::ValuePath(p, inner) => write!(f, "{p}[{inner}]"),
        }
    }
}

/// Attributes whose string values compare case-sensitively (RFC 7643 `caseExact: true`).
fn case_exact(attr: &str, sub: Option<&str>) -> bool {
    matches!((attr, sub), ("id", None) | ("externalid", None) | ("meta", Some("version")) | ("password", None))
}

/// A JSON object's member by case-insensitive name.
pub(crate) fn member<'v>(obj: &'v Value, name: &str) -> Option<&'v Value> {
    obj.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// The resource's object an attribute path starts from (an extension's, when the path names one).
fn base<'v>(resource: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    match &path.uri {
        Some(uri) if !is_core_schema(uri) => member(resource, uri),
        _ => Some(resource),
    }
}

pub(crate) fn is_core_schema(uri: &str) -> bool {
    uri.eq_ignore_ascii_case("urn:ietf:params:scim:schemas:core:2.0:User")
        || uri.eq_ignore_ascii_case("urn:ietf:params:scim:schemas:core:2.0:Group")
}

/// Every value an attribute path reaches (multi-valued attributes fan out).
fn values<'v>(resource: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let Some(top) = base(resource, path).and_then(|b| member(b, &path.attr)) else { return vec![] };
    let items: Vec<&Value> = match top {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    match &path.sub {
        None => items
            .into_iter()
            // A bare multi-valued complex attribute compares by its `value` (RFC 7644 §3.4.2.2).
            .map(|v| if v.is_object() { member(v, "value").unwrap_or(v) } else { v })
            .collect(),
        Some(sub) => items.into_iter().filter_map(|v| member(v, sub)).collect(),
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (actual, expected) {
        (Value::String(a), Value::String(b)) => {
            if !exact {
                let (a, b) = (a.to_lowercase(), b.to_lowercase());
                return string_op(&a, op, &b);
            }
            return string_op(a, op, b);
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64().zip(b.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ordering) {
        (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
        (CompareOp::Ne, o) => o != Some(Ordering::Equal),
        (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
        (CompareOp::Ge, Some(o)) => o != Ordering::Less,
        (CompareOp::Lt, Some(o)) => o == Ordering::Less,
        (CompareOp::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

fn string_op(a: &str, op: CompareOp, b: &str) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

impl Filter {
    /// Does the resource (its SCIM JSON) match?
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Self::Compare(path, CompareOp::Ne, expected) => {
                let exact = case_exact(&path.attr, path.sub.as_deref());
                values(resource, path).iter().all(|v| compare(v, CompareOp::Ne, expected, exact))
            }
            Self::Compare(path, op, expected) => {
                let exact = case_exact(&path.attr, path.sub.as_deref());
                values(resource, path).iter().any(|v| compare(v, *op, expected, exact))
            }
            Self::Present(path) => values(resource, path).into_iter().any(present),
            Self::And(a, b) => a.matches(resource) && b.matches(resource),
            Self::Or(a, b) => a.matches(resource) || b.matches(resource),
            Self::Not(a) => !a.matches(resource),
            Self::ValuePath(path, inner) => {
                let Some(top) = base(resource, path).and_then(|b| member(b, &path.attr)) else { return false };
                match top {
                    Value::Array(items) => items.iter().any(|item| inner.matches(item)),
                    item => inner.matches(item),
                }
            }
        }
    }

    /// An equality the store can answer by key, if the filter requires one: `attr eq "value"` for
    /// `attr` in `keys` (given as `attr` or `attr.sub`, lowercase), alone or inside a top-level
    /// `and`. `emails[value eq "x"]` counts as `emails.value eq "x"`.
    pub fn key_lookup(&self, keys: &[&str]) -> Option<(String, String)> {
        match self {
            Self::Compare(path, CompareOp::Eq, Value::String(v)) => {
                let name = match &path.sub {
                    Some(sub) => format!("{}.{sub}", path.attr),
                    None => path.attr.clone(),
                };
                keys.contains(&name.as_str()).then(|| (name, v.clone()))
            }
            Self::ValuePath(path, inner) => match inner.as_ref() {
                Self::Compare(p, CompareOp::Eq, Value::String(v)) if p.uri.is_none() && p.sub.is_none() => {
                    let name = format!("{}.{}", path.attr, p.attr);
                    keys.contains(&name.as_str()).then(|| (name, v.clone()))
                }
                _ => None,
            },
            Self::And(a, b) => a.key_lookup(keys).or_else(|| b.key_lookup(keys)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "usr_ABC", "externalId": "00uExt", "userName": "Ann.Lee@Example.com",
            "name": {"givenName": "Ann", "familyName": "Lee"}, "active": true, "title": "Engineer",
            "emails": [{"value": "ann@example.com", "type": "work", "primary": true},
                       {"value": "ann@home.example", "type": "home"}],
            "meta": {"lastModified": "2026-11-25T10:00:00Z", "version": "W/\"3\""},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops", "manager": {"value": "usr_M"}}
        })
    }

    fn m(filter: &str) -> bool {
        parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}")).matches(&user())
    }

    #[test]
    fn numbers_print_and_parse_back_exactly() {
        // Found by the fuzzer: serde_json's default float parsing is not correctly rounded.
        for src in ["pe eq 73e73", "x gt 0.1", "x lt -2.5E-3", "x eq 18446744073709551615", "x eq -9223372036854775808"]
        {
            let f = parse(src).unwrap();
            assert_eq!(parse(&f.to_string()).unwrap(), f, "{src}");
        }
        assert!(parse("x eq 1e999").is_err(), "not a finite number");
    }

    #[test]
    fn long_flat_chains_print_flat_and_parse_back() {
        let chain = (0..40).map(|i| format!("a{i} eq {i}")).collect::<Vec<_>>().join(" and ");
        let f = parse(&chain).unwrap();
        assert_eq!(f.to_string(), chain);
        for src in [
            "a eq 1 and (b eq 2 or c eq 3)",
            "a eq 1 or b eq 2 and c eq 3",
            "(a eq 1 or b eq 2) and c eq 3",
            "a eq 1 and (b eq 2 and c eq 3)",
            "a eq 1 or (b eq 2 or c eq 3)",
            "not (a eq 1 or b eq 2) and c pr",
        ] {
            let f = parse(src).unwrap();
            assert_eq!(parse(&f.to_string()).unwrap(), f, "{src} printed as {f}");
        }
    }

    #[test]
    fn rfc_7644_examples_parse_and_evaluate() {
        assert!(m(r#"userName eq "ann.lee@example.com""#), "userName is case-insensitive");
        assert!(m(r#"USERNAME Eq "ANN.LEE@EXAMPLE.COM""#), "names and operators too");
        assert!(m(r#"name.familyName co "ee""#));
        assert!(m(r#"userName sw "ann""#) && m(r#"userName ew "COM""#));
        assert!(m("title pr") && !m("nickName pr"));
        assert!(m(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#));
        assert!(
            m(r#"meta.lastModified ge "2026-11-25T10:00:00Z""#) && !m(r#"meta.lastModified lt "2026-01-01T00:00:00Z""#)
        );
        assert!(m(r#"title pr and userType eq "Employee" or active eq true"#));
        assert!(m(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!m(r#"emails[type eq "work" and value co "@home"]"#), "both on the same email");
        assert!(m(r#"emails co "@home.example""#), "a bare multi-valued attribute compares by value");
        assert!(m(r#"emails.type eq "home""#));
        assert!(m(r#"not (title eq "Manager")"#) && !m(r#"not(title eq "Engineer")"#));
        assert!(m(r#"(title eq "x" or title eq "Engineer") and active eq true"#));
        assert!(m(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "ops""#));
        assert!(m(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "usr_M""#));
        assert!(m(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "Ann""#));
        assert!(m(r#"id eq "usr_ABC""#) && !m(r#"id eq "usr_abc""#), "id is caseExact");
        assert!(!m(r#"externalId eq "00uext""#), "externalId is caseExact");
        assert!(m("active eq True") && m("active ne false"));
        assert!(m(r#"title ne "Manager""#) && !m(r#"emails.type ne "home""#));
    }

    #[test]
    fn bad_filters_say_where() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName eq "unterminated"#,
            r#"userName xx "a""#,
            r#"userName eq "a" and"#,
            r#"(userName eq "a""#,
            r#"emails[type eq "work""#,
            r#"userName eq "a" )"#,
            "userName eq bare",
            r#"name.a.b eq "x""#,
            r#"1abc eq "x""#,
            r#"userName eq"a""#,
            r#"foo:bar eq "x""#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(parse(&"(".repeat(100)).is_err(), "deep nesting is refused, not a stack overflow");
        assert!(parse(&"a".repeat(MAX_FILTER_LEN + 1)).is_err());
    }

    #[test]
    fn key_lookups_are_found_for_the_store() {
        let keys = ["username", "externalid", "id", "emails.value"];
        let k = |f: &str| parse(f).unwrap().key_lookup(&keys);
        assert_eq!(k(r#"userName eq "a@x""#), Some(("username".into(), "a@x".into())));
        assert_eq!(k(r#"externalId eq "00u1" and active eq true"#), Some(("externalid".into(), "00u1".into())));
        assert_eq!(k(r#"emails[value eq "a@x"]"#), Some(("emails.value".into(), "a@x".into())));
        assert_eq!(k(r#"emails.value eq "a@x""#), Some(("emails.value".into(), "a@x".into())));
        assert_eq!(k(r#"userName eq "a" or userName eq "b""#), None, "an or needs both");
        assert_eq!(k(r#"userName co "a""#), None);
        assert_eq!(k(r#"title eq "a""#), None);
    }

    #[test]
    fn patch_paths_of_okta_entra_and_the_rfc() {
        let p = parse_patch_path(r#"members[value eq "89bb1940-b905"]"#).unwrap();
        assert_eq!(p.attr.attr, "members");
        assert_eq!(p.filter.unwrap().key_lookup(&["value"]), Some(("value".into(), "89bb1940-b905".into())));
        let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!((p.attr.attr.as_str(), p.sub.as_deref()), ("emails", Some("value")));
        let p = parse_patch_path("name.givenName").unwrap();
        assert_eq!((p.attr.attr.as_str(), p.attr.sub.as_deref(), p.filter), ("name", Some("givenname"), None));
        let p = parse_patch_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager").unwrap();
        assert_eq!(p.attr.uri.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert!(parse_patch_path("active").is_ok() && parse_patch_path(" Members ").is_ok());
        for bad in ["", "members[", "members[value eq \"x\"", "members[value eq \"x\"].", "name.a.b", "a b", "members]"]
        {
            assert!(parse_patch_path(bad).is_err(), "{bad:?}");
        }
    }

    fn arb_path() -> impl Strategy<Value = AttrPath> {
        (
            prop::option::of(Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned())),
            "[a-z][a-z0-9]{0,6}",
            prop::option::of("[a-z][a-z0-9]{0,4}"),
        )
            .prop_map(|(uri, attr, sub)| AttrPath { uri, attr, sub })
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
            (-1000i64..1000).prop_map(|n| json!(n)),
            "[ -~]{0,12}".prop_map(Value::String),
        ]
    }

    fn arb_filter() -> impl Strategy<Value = Filter> {
        let op = prop_oneof![
            Just(CompareOp::Eq),
            Just(CompareOp::Ne),
            Just(CompareOp::Co),
            Just(CompareOp::Sw),
            Just(CompareOp::Ew),
            Just(CompareOp::Gt),
            Just(CompareOp::Ge),
            Just(CompareOp::Lt),
            Just(CompareOp::Le),
        ];
        let leaf = prop_oneof![
            (arb_path(), op, arb_value()).prop_map(|(p, o, v)| Filter::Compare(p, o, v)),
            arb_path().prop_map(Filter::Present),
        ];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.clone().prop_map(|a| Filter::Not(Box::new(a))),
                ("[a-z]{1,6}", inner)
                    .prop_map(|(attr, f)| Filter::ValuePath(AttrPath { uri: None, attr, sub: None }, Box::new(f))),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Any input: a filter or a clear error, never a panic.
        #[test]
        fn never_panics_on_any_input(input in "\\PC{0,80}") {
            let _ = parse(&input).map(|f| f.matches(&user()));
        }

        /// Inputs made of the grammar's own pieces, in any order.
        #[test]
        fn never_panics_on_near_misses(parts in prop::collection::vec(prop_oneof![
            Just("userName"), Just(" eq "), Just("\"a\""), Just(" and "), Just(" or "), Just("not"),
            Just("("), Just(")"), Just("["), Just("]"), Just(" pr"), Just("emails"), Just("."), Just(":"),
            Just("true"), Just("1e3"), Just("\\\""), Just(" "),
        ], 0..16)) {
            let _ = parse(&parts.concat());
        }

        /// PATCH paths: any input gives a path or a clear error, never a panic.
        #[test]
        fn patch_paths_never_panic(input in "\\PC{0,60}") {
            let _ = parse_patch_path(&input);
        }

        /// What we print, we parse back to the same tree.
        #[test]
        fn printing_and_parsing_round_trip(f in arb_filter()) {
            let printed = f.to_string();
            prop_assert_eq!(parse(&printed), Ok(f), "{}", printed);
        }
    }
}
