//! Placeholders, partial matching and substitution.
//!
//! In expectations (client→server frames, HTTP requests): `{{any}}` accepts any value,
//! `{{capture:name}}` accepts any value and remembers it, `{{name}}` must equal a remembered
//! value. In server payloads: `{{name}}` is replaced by the remembered value (its JSON type is
//! kept when the placeholder is the whole string), `{{str:name}}` by its text, and the built-ins
//! `{{http_base}}` / `{{ws_base}}` by the replay server's own URLs.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// Variables: captured values plus the built-ins.
pub type Vars = BTreeMap<String, Value>;

/// Why a value does not match its pattern: where (a JSON path) and what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `$.bdy.msg`, `query.roomid`, ...
    pub path: String,
    /// What differs.
    pub why: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path, self.why)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(String),
    Any,
    Capture(String),
    Var(String),
    Str(String),
}

fn tokenize(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        let inner = rest[start + 2..start + 2 + len].trim();
        if !rest[..start].is_empty() {
            out.push(Token::Lit(rest[..start].to_owned()));
        }
        out.push(if inner == "any" {
            Token::Any
        } else if let Some(name) = inner.strip_prefix("capture:") {
            Token::Capture(name.trim().to_owned())
        } else if let Some(name) = inner.strip_prefix("str:") {
            Token::Str(name.trim().to_owned())
        } else {
            Token::Var(inner.to_owned())
        });
        rest = &rest[start + 2 + len + 2..];
    }
    if !rest.is_empty() {
        out.push(Token::Lit(rest.to_owned()));
    }
    out
}

/// True when the string contains at least one placeholder.
pub fn has_placeholder(s: &str) -> bool {
    tokenize(s).iter().any(|t| !matches!(t, Token::Lit(_)))
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Matches `actual` against `pattern`. Objects match partially unless `exact`; arrays must have
/// the same length. On success, new captures are added to `vars`; on failure `vars` is unchanged.
pub fn match_value(
    pattern: &Value,
    actual: &Value,
    exact: bool,
    vars: &mut Vars,
) -> Result<(), Mismatch> {
    let mut scratch = vars.clone();
    match_at(pattern, actual, exact, &mut scratch, &mut String::from("$"))?;
    *vars = scratch;
    Ok(())
}

/// Matches a string (a path, a query value, a header, a text frame) against a string pattern.
pub fn match_str(pattern: &str, actual: &str, vars: &mut Vars) -> Result<(), Mismatch> {
    let mut scratch = vars.clone();
    if match_tokens(&tokenize(pattern), actual, &mut scratch) {
        *vars = scratch;
        Ok(())
    } else {
        Err(Mismatch {
            path: "$".into(),
            why: format!(
                "expected {pattern:?}, got {:?}",
                crate::fixture::truncate(actual, 200)
            ),
        })
    }
}

fn match_at(
    pattern: &Value,
    actual: &Value,
    exact: bool,
    vars: &mut Vars,
    path: &mut String,
) -> Result<(), Mismatch> {
    let fail = |path: &str, why: String| {
        Err(Mismatch {
            path: path.to_owned(),
            why,
        })
    };
    match pattern {
        Value::String(p) => {
            let tokens = tokenize(p);
            if let [single] = tokens.as_slice() {
                match single {
                    Token::Any => return Ok(()),
                    Token::Capture(name) => {
                        vars.insert(name.clone(), actual.clone());
                        return Ok(());
                    }
                    Token::Var(name) => {
                        return match vars.get(name) {
                            None => fail(path, format!("{{{{{name}}}}} was never captured")),
                            Some(v) if v == actual => Ok(()),
                            Some(v) => fail(
                                path,
                                format!("expected captured {name} = {v}, got {actual}"),
                            ),
                        };
                    }
                    Token::Str(_) | Token::Lit(_) => {}
                }
            }
            match actual {
                Value::String(a) if match_tokens(&tokens, a, vars) => Ok(()),
                _ => fail(path, format!("expected {pattern}, got {}", short(actual))),
            }
        }
        Value::Object(pmap) => {
            let Value::Object(amap) = actual else {
                return fail(path, format!("expected an object, got {}", short(actual)));
            };
            for (k, pv) in pmap {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                match amap.get(k) {
                    None => {
                        let r = fail(path, "missing".into());
                        path.truncate(len);
                        return r;
                    }
                    Some(av) => {
                        let r = match_at(pv, av, exact, vars, path);
                        path.truncate(len);
                        r?;
                    }
                }
            }
            if exact && let Some(extra) = amap.keys().find(|k| !pmap.contains_key(*k)) {
                return fail(path, format!("unexpected key {extra:?} (match is exact)"));
            }
            Ok(())
        }
        Value::Array(parr) => {
            let Value::Array(aarr) = actual else {
                return fail(path, format!("expected an array, got {}", short(actual)));
            };
            if parr.len() != aarr.len() {
                return fail(
                    path,
                    format!("expected {} elements, got {}", parr.len(), aarr.len()),
                );
            }
            for (i, (pv, av)) in parr.iter().zip(aarr).enumerate() {
                let len = path.len();
                path.push('[');
                path.push_str(&i.to_string());
                path.push(']');
                let r = match_at(pv, av, exact, vars, path);
                path.truncate(len);
                r?;
            }
            Ok(())
        }
        Value::Number(p) => match actual {
            Value::Number(a) if a.as_f64() == p.as_f64() => Ok(()),
            _ => fail(path, format!("expected {pattern}, got {}", short(actual))),
        },
        _ if pattern == actual => Ok(()),
        _ => fail(path, format!("expected {pattern}, got {}", short(actual))),
    }
}

fn short(v: &Value) -> String {
    crate::fixture::truncate(&v.to_string(), 120)
}

/// Backtracking match of placeholder tokens against a string.
fn match_tokens(tokens: &[Token], actual: &str, vars: &mut Vars) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return actual.is_empty();
    };
    match first {
        Token::Lit(l) => actual
            .strip_prefix(l.as_str())
            .is_some_and(|a| match_tokens(rest, a, vars)),
        Token::Var(name) | Token::Str(name) => {
            let Some(v) = vars.get(name) else {
                return false;
            };
            let text = text_of(v);
            actual
                .strip_prefix(text.as_str())
                .is_some_and(|a| match_tokens(rest, a, vars))
        }
        Token::Any | Token::Capture(_) => {
            // Shortest first, so `{{any}}&x` stops at the first `&x`.
            let mut ends: Vec<usize> = actual.char_indices().map(|(i, _)| i).collect();
            ends.push(actual.len());
            for end in ends {
                let mut trial = vars.clone();
                if let Token::Capture(name) = first {
                    trial.insert(name.clone(), Value::String(actual[..end].to_owned()));
                }
                if match_tokens(rest, &actual[end..], &mut trial) {
                    *vars = trial;
                    return true;
                }
            }
            false
        }
    }
}

/// Replaces placeholders in a server payload. Unknown names are an error naming them.
pub fn substitute(template: &Value, vars: &Vars) -> Result<Value, String> {
    Ok(match template {
        Value::String(s) => {
            let tokens = tokenize(s);
            if let [Token::Var(name)] = tokens.as_slice() {
                vars.get(name).cloned().ok_or_else(|| unknown(name))?
            } else {
                Value::String(substitute_tokens(&tokens, vars)?)
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| substitute(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), substitute(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Replaces placeholders in a string (every value rendered as text).
pub fn substitute_str(s: &str, vars: &Vars) -> Result<String, String> {
    substitute_tokens(&tokenize(s), vars)
}

fn substitute_tokens(tokens: &[Token], vars: &Vars) -> Result<String, String> {
    let mut out = String::new();
    for t in tokens {
        match t {
            Token::Lit(l) => out.push_str(l),
            Token::Var(name) | Token::Str(name) => {
                out.push_str(&text_of(vars.get(name).ok_or_else(|| unknown(name))?));
            }
            Token::Any | Token::Capture(_) => {
                return Err(
                    "{{any}} and {{capture:..}} belong in expectations, not in server payloads"
                        .into(),
                );
            }
        }
    }
    Ok(out)
}

fn unknown(name: &str) -> String {
    format!("{{{{{name}}}}} is not a captured value or a built-in (http_base, ws_base)")
}

/// Turns an expectation into a concrete value a client could send: `{{any}}` becomes `"any"`,
/// `{{capture:x}}` a generated `"x-1"` (remembered), `{{x}}` the remembered value. Used by the
/// mirror client that checks a fixture plays through.
pub fn instantiate(pattern: &Value, vars: &mut Vars) -> Value {
    match pattern {
        Value::String(s) => {
            let tokens = tokenize(s);
            match tokens.as_slice() {
                [Token::Var(name)] => vars.get(name).cloned().unwrap_or(Value::Null),
                _ => Value::String(instantiate_str_tokens(&tokens, vars)),
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| instantiate(v, vars)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), instantiate(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// [`instantiate`] for string patterns.
pub fn instantiate_str(s: &str, vars: &mut Vars) -> String {
    instantiate_str_tokens(&tokenize(s), vars)
}

fn instantiate_str_tokens(tokens: &[Token], vars: &mut Vars) -> String {
    let mut out = String::new();
    for t in tokens {
        match t {
            Token::Lit(l) => out.push_str(l),
            Token::Any => out.push_str("any"),
            Token::Capture(name) => {
                let v = format!("{name}-1");
                vars.insert(name.clone(), Value::String(v.clone()));
                out.push_str(&v);
            }
            Token::Var(name) | Token::Str(name) => {
                out.push_str(&vars.get(name).map(text_of).unwrap_or_default());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn partial_and_exact() {
        let mut vars = Vars::new();
        let p = json!({"cmd": 100, "bdy": {"uid": "{{any}}"}});
        assert!(
            match_value(
                &p,
                &json!({"cmd": 100, "tid": 1, "bdy": {"uid": null, "x": 1}}),
                false,
                &mut vars
            )
            .is_ok()
        );
        let e = match_value(
            &p,
            &json!({"cmd": 100, "tid": 1, "bdy": {"uid": 1}}),
            true,
            &mut vars,
        )
        .unwrap_err();
        assert_eq!(e.path, "$");
        assert!(e.why.contains("\"tid\""), "{e}");
        let e = match_value(
            &p,
            &json!({"cmd": 101, "bdy": {"uid": 1}}),
            false,
            &mut vars,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "at $.cmd: expected 100, got 101");
        let e = match_value(&p, &json!({"cmd": 100, "bdy": {}}), false, &mut vars).unwrap_err();
        assert_eq!(e.to_string(), "at $.bdy.uid: missing");
        assert!(match_value(&json!(1.0), &json!(1), false, &mut vars).is_ok());
    }

    #[test]
    fn captures_and_reuse() {
        let mut vars = Vars::new();
        match_value(
            &json!({"sid": "{{capture:sid}}"}),
            &json!({"sid": 42}),
            false,
            &mut vars,
        )
        .unwrap();
        assert_eq!(vars["sid"], json!(42));
        assert!(
            match_value(
                &json!({"sid": "{{sid}}"}),
                &json!({"sid": 42}),
                false,
                &mut vars
            )
            .is_ok()
        );
        assert!(
            match_value(
                &json!({"sid": "{{sid}}"}),
                &json!({"sid": 43}),
                false,
                &mut vars
            )
            .is_err()
        );
        // A failed match leaves no half-made captures behind.
        let before = vars.clone();
        assert!(
            match_value(
                &json!({"a": "{{capture:a}}", "b": 1}),
                &json!({"a": 1, "b": 2}),
                false,
                &mut vars
            )
            .is_err()
        );
        assert_eq!(vars, before);
        // Inside strings.
        match_str("/events/{{capture:room}}/x", "/events/12345/x", &mut vars).unwrap();
        assert_eq!(vars["room"], json!("12345"));
        assert!(match_str("Bearer {{any}}", "Basic abc", &mut vars).is_err());
        assert!(match_str("a{{any}}c{{any}}", "abcbc", &mut vars).is_ok());
    }

    #[test]
    fn substitution_keeps_types() {
        let mut vars = Vars::new();
        vars.insert("tid".into(), json!(3));
        vars.insert("ws_base".into(), json!("ws://127.0.0.1:9"));
        let out = substitute(
            &json!({"tid": "{{tid}}", "s": "{{str:tid}}", "url": "{{ws_base}}/chat"}),
            &vars,
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"tid": 3, "s": "3", "url": "ws://127.0.0.1:9/chat"})
        );
        let err = substitute(&json!("{{nope}}"), &vars).unwrap_err();
        assert!(err.contains("{{nope}}"), "{err}");
        assert!(substitute(&json!("{{any}}"), &vars).is_err());
    }

    #[test]
    fn instantiate_generates_and_reuses() {
        let mut vars = Vars::new();
        let v = instantiate(&json!({"a": "{{capture:x}}", "b": "{{any}}"}), &mut vars);
        assert_eq!(v, json!({"a": "x-1", "b": "any"}));
        assert_eq!(instantiate(&json!("{{x}}"), &mut vars), json!("x-1"));
    }
}
