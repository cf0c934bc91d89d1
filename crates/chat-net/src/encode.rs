//! Percent and form encoding (RFC 3986 unreserved characters kept, everything else `%XX`).

use std::fmt::Write as _;

/// Percent-encodes a path segment or a query value: `a b/c` → `a%20b%2Fc`.
pub fn percent(s: &str) -> String {
    encode(s, false)
}

/// The `application/x-www-form-urlencoded` body of `fields` (spaces as `+`).
pub fn form(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode(k, true));
        out.push('=');
        out.push_str(&encode(v, true));
    }
    out
}

fn encode(s: &str, plus_for_space: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' if plus_for_space => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_browsers() {
        assert_eq!(percent("a b/c~é"), "a%20b%2Fc~%C3%A9");
        assert_eq!(
            form(&[("text", "hi there & bye"), ("fkey", "x1")]),
            "text=hi+there+%26+bye&fkey=x1"
        );
        assert_eq!(form(&[]), "");
    }
}
