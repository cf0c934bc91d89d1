//! The secrets check of `cargo xtask fixtures-check`: fixtures are our own invented data and
//! must hold nothing that looks like a credential or a real person's address.
//!
//! Flagged:
//! - a `Cookie`, `Set-Cookie`, `Authorization` or `Proxy-Authorization` key anywhere (cookies
//!   are scripted with the structured `cookies` / `set_cookies` fields instead);
//! - a key that names a secret (`token`, `accTkn`, `password`, `secret`, `api_key`, `NID_AUT`,
//!   `NID_SES`, `fkey`, ...) whose value is not a placeholder;
//! - any cookie value (in `cookies`, `set_cookies` or a header's `saved_cookies`) that is not a
//!   placeholder, whatever the cookie's name;
//! - e-mail addresses outside the reserved example domains (RFC 2606 / RFC 6761);
//! - token-like runs of `[A-Za-z0-9_+=]`: 32 or more characters mixing upper case, lower case
//!   and digits, or 48 or more mixing letters and digits (32-hex ids are not secrets).
//!
//! A value counts as a placeholder when it is empty, a `{{...}}` pattern, or says so (`fake`,
//! `redacted`, `example`, `dummy`, `test`). The `b64` payload of binary frames is exempt (review
//! its `decoded` twin instead).

use serde_json::Value;

use crate::Fixture;

/// One suspicious value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line in the fixture.
    pub line: usize,
    /// What was found, with the JSON path.
    pub what: String,
}

const HEADER_KEYS: &[&str] = &[
    "cookie",
    "set-cookie",
    "authorization",
    "proxy-authorization",
];
const SECRET_KEYS: &[&str] = &[
    "token",
    "tkn",
    "password",
    "passwd",
    "secret",
    "apikey",
    "api_key",
    "nid_aut",
    "nid_ses",
    "fkey",
    "credential",
];
/// The structured cookie fields (`{"name": "value"}` objects, or lists of `{"name", "value"}`):
/// every value there is a secret, whatever its name.
const COOKIE_KEYS: &[&str] = &["cookies", "set_cookies", "saved_cookies"];
const PLACEHOLDER_WORDS: &[&str] = &["fake", "redacted", "example", "dummy", "test", "{{"];
const RESERVED_DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];
const RESERVED_TLDS: &[&str] = &[".example", ".test", ".invalid", ".localhost"];

/// Checks every line of `fixture` (header, steps and expectations).
pub fn check_secrets(fixture: &Fixture) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, raw) in fixture.lines.iter().enumerate() {
        if let Ok(v) = serde_json::from_str::<Value>(raw) {
            walk(&v, "$", i + 1, &mut out);
        }
    }
    out
}

fn is_placeholder(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    // Flags such as `isPassword=false` name a secret without holding one.
    s.is_empty()
        || matches!(lower.as_str(), "true" | "false" | "null" | "0" | "1")
        || PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w))
}

fn walk(v: &Value, path: &str, line: usize, out: &mut Vec<Finding>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{path}.{k}");
                let lower = k.to_ascii_lowercase();
                if HEADER_KEYS.contains(&lower.as_str()) {
                    out.push(Finding {
                        line,
                        what: format!("{p}: a raw {k} header; script cookies with \"cookies\"/\"set_cookies\" and placeholder values"),
                    });
                    continue;
                }
                if lower == "b64" {
                    continue;
                }
                if COOKIE_KEYS.contains(&lower.as_str()) {
                    check_cookies(v, &p, line, out);
                    continue;
                }
                let secret_key = SECRET_KEYS
                    .iter()
                    .any(|s| lower.replace('-', "_").contains(s));
                if secret_key
                    && let Value::String(s) = v
                    && !is_placeholder(s)
                {
                    out.push(Finding {
                        line,
                        what: format!("{p}: a secret-named key with a real-looking value {s:?}"),
                    });
                    continue;
                }
                walk(v, &p, line, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                walk(v, &format!("{path}[{i}]"), line, out);
            }
        }
        Value::String(s) => check_string(s, path, line, out),
        _ => {}
    }
}

/// Cookie values must be placeholders, whatever the cookie is called.
fn check_cookies(v: &Value, path: &str, line: usize, out: &mut Vec<Finding>) {
    let values: Vec<(String, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, v)| (format!("{path}.{k}"), v)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((format!("{path}[{i}].value"), c.get("value")?)))
            .collect(),
        _ => Vec::new(),
    };
    for (p, value) in values {
        if let Value::String(s) = value
            && !is_placeholder(s)
        {
            out.push(Finding {
                line,
                what: format!("{p}: a cookie with a real-looking value {s:?}"),
            });
        }
    }
}

fn check_string(s: &str, path: &str, line: usize, out: &mut Vec<Finding>) {
    for email in emails(s) {
        let domain = email
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let reserved = RESERVED_DOMAINS
            .iter()
            .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
            || RESERVED_TLDS.iter().any(|t| domain.ends_with(t));
        if !reserved {
            out.push(Finding {
                line,
                what: format!("{path}: an e-mail address {email:?} (use @example.com)"),
            });
        }
    }
    if is_placeholder(s) {
        return;
    }
    for run in s.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '='))) {
        if is_token_like(run) {
            out.push(Finding {
                line,
                what: format!(
                    "{path}: a token-like value {:?} (invent a short fake one)",
                    crate::fixture::truncate(run, 40)
                ),
            });
        }
    }
}

/// Base64-like runs mixing upper case, lower case and digits from 32 characters on, or any
/// alphanumeric mix from 48 on. Lower-case 32-hex ids (Chzzk user and channel ids) pass.
fn is_token_like(run: &str) -> bool {
    let upper = run.chars().any(|c| c.is_ascii_uppercase());
    let lower = run.chars().any(|c| c.is_ascii_lowercase());
    let digits = run.chars().any(|c| c.is_ascii_digit());
    (run.len() >= 32 && upper && lower && digits) || (run.len() >= 48 && (upper || lower) && digits)
}

fn emails(s: &str) -> Vec<&str> {
    let is_local = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let is_domain = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
    let mut out = Vec::new();
    for (at, _) in s.match_indices('@') {
        let start = s[..at].rfind(|c| !is_local(c)).map_or(0, |i| i + 1);
        let end = s[at + 1..]
            .find(|c| !is_domain(c))
            .map_or(s.len(), |i| at + 1 + i);
        let domain = s[at + 1..end].trim_end_matches('.');
        if start < at && domain.contains('.') {
            out.push(&s[start..at + 1 + domain.len()]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(line: &str) -> Vec<String> {
        let text = format!("{{\"fixture\":1,\"platform\":\"p\",\"title\":\"t\"}}\n{line}\n");
        let f = Fixture::parse("x.jsonl", &text).unwrap();
        check_secrets(&f)
            .into_iter()
            .map(|f| format!("{}: {}", f.line, f.what))
            .collect()
    }

    #[test]
    fn flags_secrets() {
        let f = findings(r#"{"http":{"path":"/","headers":{"Cookie":"a=b"}},"response":{}}"#);
        assert_eq!(f.len(), 1);
        assert!(f[0].starts_with("2: $.http.headers.Cookie"), "{f:?}");
        assert_eq!(
            findings(r#"{"http":{"path":"/","form":{"email":"alice@gmail.com"}},"response":{}}"#)
                .len(),
            1
        );
        assert_eq!(
            findings(r#"{"http":{"path":"/"},"response":{"json":{"accessToken":"Zx81kq"}}}"#).len(),
            1
        );
        assert_eq!(
            findings(r#"{"http":{"path":"/"},"response":{"json":{"url":"/events/1/QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVph0123"}}}"#).len(),
            1
        );
        assert!(findings(r#"{"http":{"path":"/"},"response":{"json":{"uid":"00000001c0ffee009e3779b10badf00d"}}}"#).is_empty());
    }

    /// Every kind of secret is rejected, wherever it sits: one finding each.
    #[test]
    fn rejects_every_kind_of_secret() {
        for (line, at) in [
            (
                r#"{"http":{"path":"/"},"response":{"headers":{"Set-Cookie":"sid=fake"}}}"#,
                "$.response.headers.Set-Cookie",
            ),
            (
                r#"{"http":{"path":"/","headers":{"authorization":"Bearer fake"}},"response":{}}"#,
                "$.http.headers.authorization",
            ),
            (
                r#"{"http":{"path":"/","form":{"password":"hunter2"}},"response":{}}"#,
                "$.http.form.password",
            ),
            (
                r#"{"http":{"path":"/","query":{"access_token":"abc123"}},"response":{}}"#,
                "$.http.query.access_token",
            ),
            (
                r#"{"http":{"path":"/","cookies":{"NID_AUT":"AbCdEf12"}},"response":{}}"#,
                "$.http.cookies.NID_AUT",
            ),
            (
                r#"{"http":{"path":"/","cookies":{"acct":"t=9f2k&s=77ab"}},"response":{}}"#,
                "$.http.cookies.acct",
            ),
            (
                r#"{"http":{"path":"/"},"response":{"set_cookies":[{"name":"sechatusr","value":"q8Zr2mVx"}]}}"#,
                "$.response.set_cookies[0].value",
            ),
            (
                r#"{"http":{"path":"/"},"response":{"json":{"bdy":{"accTkn":"k29aLq"}}}}"#,
                "$.response.json.bdy.accTkn",
            ),
            (
                r#"{"http":{"path":"/"},"response":{"text":"<input name=\"fkey\" value=\"ok\"> mail carol@naver.com"}}"#,
                "$.response.text",
            ),
            (
                r#"{"http":{"path":"/"},"response":{"json":{"auth":"eyJhbGciOiJIUzI1NiJ9eyJzdWIiOiIxMjM0NTY3ODkwIn0"}}}"#,
                "$.response.json.auth",
            ),
        ] {
            let f = findings(line);
            assert_eq!(f.len(), 1, "{line}: {f:?}");
            assert!(f[0].starts_with(&format!("2: {at}")), "{line}: {f:?}");
        }
        // In the header too (a saved credentials file scripted in the config).
        let text = "{\"fixture\":1,\"platform\":\"p\",\"title\":\"t\",\"config\":{\"saved_cookies\":[{\"name\":\"acct\",\"value\":\"t=9f2k\"}]}}\n";
        let found = check_secrets(&Fixture::parse("x.jsonl", text).unwrap());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].what.starts_with("$.config.saved_cookies[0].value"),
            "{found:?}"
        );
    }

    #[test]
    fn accepts_placeholders_and_example_data() {
        assert!(findings(r#"{"http":{"path":"/","cookies":{"acct":"t=fake-acct-0001&s=fake"}},"response":{"set_cookies":[{"name":"sechatusr","value":"fake-chat-session-0001"}]}}"#).is_empty());
        assert!(findings(r#"{"http":{"path":"/","form":{"email":"bot@example.com","password":"fake-password"}},"response":{}}"#).is_empty());
        assert!(findings(r#"{"http":{"path":"/","cookies":{"acct":"{{any}}"}},"response":{"json":{"accessToken":"fake-access-token-1"}}}"#).is_empty());
        assert!(findings(r#"{"ws_open":"c1","path":"/x","query":{"id":"f47ac10b-58cc-4372-a567-0e02b2c3d479"}}"#).is_empty());
    }
}
