//! The event-schema oracle: every normalised event the fixtures record (the `core` beside
//! each typed event), and every one `cargo xtask demo` produces (it runs the demo first),
//! validated against `docs/events.schema.json` by Python's `jsonschema`, a validator we did
//! not write.

use serde_json::{Value, json};

use super::{Case, Env};
use crate::fixtures::find_fixtures;
use crate::project_root;

/// Every `core` form in the fixtures, with where it is (`fixture:line`).
fn core_forms() -> Result<Vec<(String, Value)>, String> {
    let root = project_root().join("fixtures");
    let mut out = Vec::new();
    for path in find_fixtures(std::slice::from_ref(&root)) {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
        for (i, line) in text.lines().enumerate() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if let Some(core) = v["expect"].get("core").filter(|c| !c.is_null()) {
                out.push((format!("{name}:{}", i + 1), core.clone()));
            }
        }
    }
    Ok(out)
}

/// Runs `cargo xtask demo` in-process and returns the normalised events it wrote.
fn demo_forms() -> Result<Vec<(String, Value)>, String> {
    crate::demo::run(&[]).map_err(|e| format!("the demo failed: {e}"))?;
    let path = project_root().join(crate::demo::CORE_EVENTS);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map(|v| (format!("demo:{}", i + 1), v))
                .map_err(|e| format!("demo line {}: {e}", i + 1))
        })
        .collect()
}

pub(crate) fn run(env: &Env) -> Result<Vec<Case>, String> {
    let mut forms = core_forms()?;
    let demo = demo_forms()?;
    if demo.len() < 50 {
        return Err(format!(
            "the demo produced only {} normalised events",
            demo.len()
        ));
    }
    forms.extend(demo);
    if forms.len() < 100 {
        return Err(format!(
            "only {} normalised events in the fixtures; the runners record one per event",
            forms.len()
        ));
    }
    let dir = env.dir.join("schema");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let events = dir.join("core-events.jsonl");
    let mut text = String::new();
    for (_, v) in &forms {
        text.push_str(&v.to_string());
        text.push('\n');
    }
    std::fs::write(&events, text).map_err(|e| e.to_string())?;
    let schema = project_root().join("docs/events.schema.json");
    let verdicts = env.python_json(
        "schema_oracle.py",
        &[&schema.to_string_lossy(), &events.to_string_lossy()],
    )?;
    let verdicts = verdicts.as_array().cloned().unwrap_or_default();
    if verdicts.len() != forms.len() {
        return Err(format!(
            "schema_oracle.py answered {} verdicts for {} events",
            verdicts.len(),
            forms.len()
        ));
    }
    Ok(forms
        .into_iter()
        .zip(verdicts)
        .map(|((id, _), verdict)| Case::new(id, json!("valid"), Ok(verdict)))
        .collect())
}
