//! The HTTP side of a replay: a request is matched against the script's HTTP steps not yet
//! consumed (method, path, query, headers, cookies, body), answered as scripted, or answered
//! with a diagnostic naming the nearest expected step. WebSocket upgrades go on to `ws.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, UPGRADE};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;

use super::Inner;
use crate::fixture::{Payload, RequestSpec, ResponseSpec, Step, StepKind, truncate};
use crate::pattern::{self, Mismatch, Vars};
use crate::urlencoded;

/// Request bodies larger than this are refused (the client under test is misbehaving).
const MAX_BODY: usize = 16 * 1024 * 1024;

pub(super) type Body = Full<Bytes>;

/// An HTTP request as the matcher sees it.
pub(super) struct Seen<'a> {
    pub(super) method: &'a str,
    pub(super) path: &'a str,
    pub(super) query: BTreeMap<String, String>,
    pub(super) headers: &'a hyper::HeaderMap,
    pub(super) body: &'a [u8],
}

impl Seen<'_> {
    pub(super) fn describe(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        if !self.query.is_empty() {
            s.push('?');
            s.push_str(
                &self
                    .query
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&"),
            );
        }
        if !self.body.is_empty() {
            s.push_str(" body ");
            s.push_str(&truncate(&String::from_utf8_lossy(self.body), 300));
        }
        s
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
}

pub(super) fn ctx(what: &str, m: Mismatch) -> Mismatch {
    Mismatch {
        path: format!("{what}{}", m.path.trim_start_matches('$')),
        why: m.why,
    }
}

pub(super) fn match_pairs(
    what: &str,
    spec: &BTreeMap<String, Value>,
    actual: &BTreeMap<String, String>,
    exact: bool,
    vars: &mut Vars,
) -> Result<(), Mismatch> {
    for (k, p) in spec {
        let Some(a) = actual.get(k) else {
            return Err(Mismatch {
                path: format!("{what}.{k}"),
                why: "missing".into(),
            });
        };
        let p = match p {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        pattern::match_str(&p, a, vars).map_err(|m| ctx(&format!("{what}.{k}"), m))?;
    }
    if exact && let Some(extra) = actual.keys().find(|k| !spec.contains_key(*k)) {
        return Err(Mismatch {
            path: what.into(),
            why: format!("unexpected {extra:?} (match is exact)"),
        });
    }
    Ok(())
}

pub(super) fn match_headers(
    spec: &BTreeMap<String, Value>,
    seen: &Seen<'_>,
    vars: &mut Vars,
) -> Result<(), Mismatch> {
    let actual = spec
        .keys()
        .filter_map(|k| Some((k.clone(), seen.header(k)?)))
        .collect();
    match_pairs("headers", spec, &actual, false, vars)
}

fn match_request(spec: &RequestSpec, seen: &Seen<'_>, vars: &mut Vars) -> Result<(), Mismatch> {
    if !spec.method.eq_ignore_ascii_case(seen.method) {
        return Err(Mismatch {
            path: "method".into(),
            why: format!("expected {}, got {}", spec.method, seen.method),
        });
    }
    pattern::match_str(&spec.path, seen.path, vars).map_err(|m| ctx("path", m))?;
    match_pairs("query", &spec.query, &seen.query, spec.exact, vars)?;
    match_headers(&spec.headers, seen, vars)?;
    if !spec.cookies.is_empty() {
        let cookies = seen
            .headers
            .get_all(hyper::header::COOKIE)
            .iter()
            .flat_map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split(';')
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter_map(|kv| {
                kv.trim()
                    .split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect();
        match_pairs("cookies", &spec.cookies, &cookies, false, vars)?;
    }
    match &spec.body {
        None => Ok(()),
        Some(Payload::Json(p)) => {
            let actual: Value = serde_json::from_slice(seen.body).map_err(|_| Mismatch {
                path: "body".into(),
                why: format!(
                    "expected JSON, got {:?}",
                    truncate(&String::from_utf8_lossy(seen.body), 120)
                ),
            })?;
            pattern::match_value(p, &actual, spec.exact, vars).map_err(|m| ctx("body", m))
        }
        Some(Payload::Text(p)) => pattern::match_str(p, &String::from_utf8_lossy(seen.body), vars)
            .map_err(|m| ctx("body", m)),
        Some(Payload::Binary(b)) => {
            (b.as_slice() == seen.body)
                .then_some(())
                .ok_or_else(|| Mismatch {
                    path: "body".into(),
                    why: format!(
                        "expected {} bytes, got {} different bytes",
                        b.len(),
                        seen.body.len()
                    ),
                })
        }
        Some(Payload::Form(p)) => {
            let form = urlencoded::parse(&String::from_utf8_lossy(seen.body));
            match_pairs("form", p, &form, spec.exact, vars)
        }
    }
}

pub(super) fn text_response(status: StatusCode, text: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub(super) fn build_response(spec: &ResponseSpec, vars: &Vars) -> Result<Response<Body>, String> {
    let (body, content_type) = match &spec.body {
        None => (Vec::new(), None),
        Some(Payload::Json(v)) => (
            serde_json::to_vec(&pattern::substitute(v, vars)?).map_err(|e| e.to_string())?,
            Some("application/json"),
        ),
        Some(Payload::Text(t)) => (
            pattern::substitute_str(t, vars)?.into_bytes(),
            Some("text/plain; charset=utf-8"),
        ),
        Some(Payload::Binary(b)) => (b.clone(), Some("application/octet-stream")),
        Some(Payload::Form(f)) => {
            let s = f
                .iter()
                .map(|(k, v)| Ok(format!("{k}={}", pattern::substitute_str(&text(v), vars)?)))
                .collect::<Result<Vec<_>, String>>()?
                .join("&");
            (s.into_bytes(), Some("application/x-www-form-urlencoded"))
        }
    };
    let mut builder = Response::builder().status(spec.status);
    if let Some(ct) = content_type
        && !spec.headers.contains_key("content-type")
    {
        builder = builder.header(CONTENT_TYPE, ct);
    }
    for (k, v) in &spec.headers {
        builder = builder.header(k.as_str(), pattern::substitute_str(v, vars)?);
    }
    for c in &spec.set_cookies {
        let mut s = format!(
            "{}={}; Path={}",
            c.name,
            pattern::substitute_str(&c.value, vars)?,
            c.path
        );
        if let Some(d) = &c.domain {
            s.push_str("; Domain=");
            s.push_str(d);
        }
        if let Some(m) = c.max_age {
            s.push_str("; Max-Age=");
            s.push_str(&m.to_string());
        }
        if c.http_only {
            s.push_str("; HttpOnly");
        }
        builder = builder.header(hyper::header::SET_COOKIE, s);
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("invalid response: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_upgrade(req: &Request<Incoming>) -> bool {
    let has = |name, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(CONNECTION, "upgrade") && has(UPGRADE, "websocket")
}

/// Why serving a request ends without a response (the `drop` fault).
#[derive(Debug)]
pub(super) struct Dropped;
impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("scripted drop")
    }
}
impl std::error::Error for Dropped {}

pub(super) async fn handle(
    inner: Arc<Inner>,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(urlencoded::parse).unwrap_or_default();
    if is_upgrade(&req) {
        return Ok(super::ws::handle_upgrade(inner, &mut req, &path, query));
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(text_response(
                StatusCode::BAD_REQUEST,
                format!("chat-replay: cannot read body: {e}"),
            ));
        }
    };
    let seen = Seen {
        method: &method,
        path: &path,
        query,
        headers: &parts.headers,
        body: &body,
    };
    let found = {
        let mut st = inner.state();
        st.http_requests += 1;
        let mut found = None;
        for (i, step) in inner.fixture.steps.iter().enumerate() {
            let StepKind::Http { request, response } = &step.kind else {
                continue;
            };
            if st.consumed[i] {
                continue;
            }
            let mut vars = st.vars.clone();
            if match_request(request, &seen, &mut vars).is_ok() {
                st.vars = vars;
                st.consumed[i] = true;
                found = Some((response.clone(), st.vars.clone()));
                break;
            }
        }
        found
    };
    inner.bump();
    let Some((response, vars)) = found else {
        let msg = format!(
            "unexpected request {}: {}",
            seen.describe(),
            nearest_http(&inner, &seen)
        );
        inner.problem(msg.clone());
        return Ok(text_response(
            StatusCode::NOT_IMPLEMENTED,
            format!("chat-replay: {msg}"),
        ));
    };
    if response.drop {
        return Err(Dropped);
    }
    if response.stall {
        let mut shutdown = inner.shutdown.subscribe();
        let _ = shutdown.wait_for(|s| *s).await;
        return Err(Dropped);
    }
    match build_response(&response, &vars) {
        Ok(r) => Ok(r),
        Err(e) => {
            inner.problem(format!(
                "fixture error in the response to {}: {e}",
                seen.describe()
            ));
            Ok(text_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("chat-replay: {e}"),
            ))
        }
    }
}

fn nearest_http(inner: &Inner, seen: &Seen<'_>) -> String {
    let st = inner.state();
    let candidates: Vec<(&Step, &RequestSpec)> = inner
        .fixture
        .steps
        .iter()
        .zip(&st.consumed)
        .filter(|(_, done)| !**done)
        .filter_map(|(s, _)| match &s.kind {
            StepKind::Http { request, .. } => Some((s, request)),
            _ => None,
        })
        .collect();
    if candidates.is_empty() {
        return "no HTTP request was expected any more".into();
    }
    let same_route = |r: &RequestSpec| {
        r.method.eq_ignore_ascii_case(seen.method)
            && pattern::match_str(&r.path, seen.path, &mut st.vars.clone()).is_ok()
    };
    let (step, spec) = candidates
        .iter()
        .find(|(_, r)| same_route(r))
        .or_else(|| candidates.first())
        .copied()
        .expect("invariant: candidates is not empty");
    let why = match_request(spec, seen, &mut st.vars.clone())
        .err()
        .map(|m| m.to_string())
        .unwrap_or_default();
    format!("nearest expected step is {step} ({why})")
}
