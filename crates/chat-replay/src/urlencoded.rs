//! Query strings and form bodies, both ways: the server decodes what a client sent, the
//! mirror encodes what a script says to send. Encoding is `chatwire_net::encode::percent`,
//! the encoder the clients themselves use, so the workspace has one.

use std::collections::BTreeMap;

use chatwire_net::encode::percent;

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

/// `k=v&k2=v2`, each key and value percent-encoded (RFC 3986 unreserved characters kept,
/// a space as `%20`).
pub(crate) fn join<K: AsRef<str>, V: AsRef<str>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> String {
    let parts: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", percent(k.as_ref()), percent(v.as_ref())))
        .collect();
    parts.join("&")
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

    #[test]
    fn what_join_writes_parse_reads() {
        let joined = join([("text", "hi there & bye/é"), ("k", "a+b=c"), ("", "")]);
        assert_eq!(joined, "text=hi%20there%20%26%20bye%2F%C3%A9&k=a%2Bb%3Dc&=");
        let back = parse(&joined);
        assert_eq!(back["text"], "hi there & bye/é");
        assert_eq!(back["k"], "a+b=c");
        assert_eq!(back[""], "");
    }
}
