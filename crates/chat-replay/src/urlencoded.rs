//! Query strings and form bodies as the server decodes what a client sent.

use std::collections::BTreeMap;

/// Decodes `a=b&c=d` (percent-escapes and `+`); the last of repeated keys wins.
pub(crate) fn parse(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Undoes percent-escapes and `+`; a `%` not followed by two hex digits stays as it is.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_plus_and_keeps_the_last_repeated_key() {
        let mut want = BTreeMap::new();
        want.insert("a".to_owned(), "3".to_owned());
        want.insert("b".to_owned(), String::new());
        want.insert("c".to_owned(), "%zz%4".to_owned());
        want.insert("t".to_owned(), "hi there/é".to_owned());
        assert_eq!(parse("a=1+2&b&a=3&&c=%zz%4&t=hi+there%2F%C3%A9"), want);
    }
}
