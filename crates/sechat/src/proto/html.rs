//! Just enough HTML: text of rendered messages, and the few values scraped from pages.

/// Decodes the HTML entities of `s` (named ones chat uses, and numeric ones).
pub(crate) fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        // Byte search: slicing at byte 12 could cut a multi-byte character (found by fuzzing).
        let Some(end) = rest.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            "rarr" => Some('→'),
            "larr" => Some('←'),
            "hellip" => Some('…'),
            "mdash" => Some('—'),
            "ndash" => Some('–'),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        if let Some(c) = decoded {
            out.push(c);
            rest = &rest[end + 1..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The plain text of a rendered chat message: tags dropped, `<br>` as newlines, entities
/// decoded.
pub(crate) fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find('>') else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let tag = rest[i + 1..i + end].trim().to_ascii_lowercase();
        if tag.starts_with("br") {
            out.push('\n');
        }
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    let text = decode_entities(&out);
    // `line <br> line` renders with spaces around the break.
    text.split('\n')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// The value of attribute `name` in a tag's text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut search = tag;
    while let Some(i) = search.find(name) {
        let before_ok = i == 0 || search.as_bytes()[i - 1].is_ascii_whitespace();
        let after = search[i + name.len()..].trim_start();
        if before_ok && let Some(after) = after.strip_prefix('=') {
            let after = after.trim_start();
            let quote = after.chars().next()?;
            if quote == '"' || quote == '\'' {
                let end = after[1..].find(quote)?;
                return Some(&after[1..=end]);
            }
            let end = after
                .find(|c: char| c.is_ascii_whitespace() || c == '>')
                .unwrap_or(after.len());
            return Some(&after[..end]);
        }
        search = &search[i + name.len()..];
    }
    None
}

/// The tags (text between `<` and `>`) named `name`, in order.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = html;
    let open = format!("<{name}");
    while let Some(i) = rest.to_ascii_lowercase().find(&open) {
        let Some(end) = rest[i..].find('>') else {
            break;
        };
        out.push(&rest[i..=i + end]);
        rest = &rest[i + end + 1..];
    }
    out
}

/// The `fkey` of a page: an `<input>` named or with id `fkey`, searched within the element
/// with id `within` when given; else the `"fkey":"..."` of the page's script.
pub(crate) fn fkey(html: &str, within: Option<&str>) -> Option<String> {
    let scope = within
        .and_then(|id| {
            let start = html
                .find(&format!("id=\"{id}\""))
                .or_else(|| html.find(&format!("id='{id}'")))?;
            Some(&html[start..])
        })
        .unwrap_or(html);
    for tag in tags(scope, "input") {
        if (attr(tag, "name") == Some("fkey") || attr(tag, "id") == Some("fkey"))
            && let Some(v) = attr(tag, "value").filter(|v| !v.is_empty())
        {
            return Some(v.to_owned());
        }
    }
    let i = html.find("\"fkey\":\"")?;
    let rest = &html[i + 8..];
    let end = rest.find('"')?;
    Some(rest[..end].to_owned()).filter(|v| !v.is_empty())
}

/// What the chat page's top bar says about who is logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TopBar {
    /// `/users/<id>/<slug>`.
    User(u64),
    /// A log-in link (to stackexchange.com): not logged in.
    LoggedOut,
    /// No top bar found.
    Missing,
}

/// Reads the first link of `.topbar-menu-links`.
pub(crate) fn topbar_user(html: &str) -> TopBar {
    let Some(i) = html.find("topbar-menu-links") else {
        return TopBar::Missing;
    };
    let Some(a) = tags(&html[i..], "a").into_iter().next() else {
        return TopBar::Missing;
    };
    let Some(href) = attr(a, "href") else {
        return TopBar::Missing;
    };
    let path = href
        .strip_prefix("https://")
        .or_else(|| href.strip_prefix("http://"))
        .map_or(href, |rest| rest.find('/').map_or("", |p| &rest[p..]));
    if href.contains("stackexchange.com/users/login")
        || (href.starts_with("http") && href.contains("//stackexchange.com"))
    {
        return TopBar::LoggedOut;
    }
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next().and_then(|id| id.parse().ok())) {
        (Some("users"), Some(id)) => TopBar::User(id),
        _ => TopBar::LoggedOut,
    }
}

/// The string value of `var <name> = '<value>';` in an upload answer (`None` when absent or
/// `null`).
fn js_var(html: &str, name: &str) -> Option<String> {
    let key = format!("var {name} = ");
    let i = html.find(&key)?;
    let rest = html[i + key.len()..].trim_start();
    let quote = rest.chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let end = rest[1..].find(quote)?;
    Some(decode_entities(&rest[1..=end]).replace("\\/", "/"))
}

/// The uploaded image's URL, or the server's error text.
pub(crate) fn upload_result(html: &str) -> Result<String, String> {
    if let Some(error) = js_var(html, "error") {
        return Err(error);
    }
    js_var(html, "result").ok_or_else(|| "the upload answer has no result".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text() {
        assert_eq!(
            to_text("hello &lt;world&gt; &amp; friends"),
            "hello <world> & friends"
        );
        assert_eq!(
            to_text("<div class='full'>line one <br> line two</div>"),
            "line one\nline two"
        );
        assert_eq!(
            to_text("it&#39;s &#x263A; &bogus; & done"),
            "it's ☺ &bogus; & done"
        );
        assert_eq!(
            to_text("&rarr; <i><a href=\"x\">2 messages</a> moved</i>"),
            "→ 2 messages moved"
        );
    }

    #[test]
    fn entity_scan_never_cuts_a_character() {
        // Byte 12 falls inside a multi-byte character: this panicked.
        assert_eq!(decode_entities("&aaaaaaaaaa가;"), "&aaaaaaaaaa가;");
        let cyrillic = "&lt\u{434}\u{434}\u{434}\u{434}\u{434};";
        assert_eq!(to_text(cyrillic), cyrillic);
        assert_eq!(decode_entities("&#x263A;가"), "☺가");
    }

    #[test]
    fn fkeys() {
        let page = r#"<form id="search"><input name="fkey" value="wrong"></form><form id="login-form"><input type="hidden" name="fkey" value="fake-login-fkey"></form>"#;
        assert_eq!(
            fkey(page, Some("login-form")).as_deref(),
            Some("fake-login-fkey")
        );
        assert_eq!(fkey(page, None).as_deref(), Some("wrong"));
        assert_eq!(
            fkey(
                r#"<input id="fkey" name="fkey" type="hidden" value="fake-chat-fkey" />"#,
                None
            )
            .as_deref(),
            Some("fake-chat-fkey")
        );
        assert_eq!(
            fkey(
                r#"StackExchange.init({"user":{"fkey":"fake-script-fkey"}})"#,
                Some("login-form")
            )
            .as_deref(),
            Some("fake-script-fkey")
        );
        assert_eq!(fkey("<p>nothing</p>", None), None);
    }

    #[test]
    fn topbar() {
        assert_eq!(
            topbar_user(
                r#"<div class="topbar-menu-links"><a href="/users/200002/examplebot">ExampleBot</a></div>"#
            ),
            TopBar::User(200002)
        );
        assert_eq!(
            topbar_user(
                r#"<div class="topbar-menu-links"><a href="https://stackexchange.com/users/login?returnurl=x">log in</a></div>"#
            ),
            TopBar::LoggedOut
        );
        assert_eq!(topbar_user("<html></html>"), TopBar::Missing);
    }

    #[test]
    fn uploads() {
        let ok = "<script type=\"text/javascript\">\n var error = null;\n var result = 'https://i.sstatic.net/AbCdE.png';\n</script>";
        assert_eq!(
            upload_result(ok).unwrap(),
            "https://i.sstatic.net/AbCdE.png"
        );
        let bad = "<script>var error = 'Image too large';\nvar result = null;</script>";
        assert_eq!(upload_result(bad).unwrap_err(), "Image too large");
    }
}
