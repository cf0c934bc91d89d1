//! MSRV honesty. Only one toolchain is installed, so the crates cannot be built with the
//! declared minimum Rust; what can be checked is that no dependency in the lockfile graph
//! declares a `rust-version` above the workspace's (cargo would refuse to build it on that
//! Rust), and that clippy's `incompatible_msrv`, which flags standard-library APIs newer than
//! the MSRV in our own code, works from the same number.

use std::cmp::Ordering;

use serde_json::Value;

use crate::{cargo, project_root, stdout_of};

/// A `rust-version`: `1.88` or `1.88.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RustVersion(u32, u32, u32);

impl RustVersion {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let mut parts = s.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        parts.next().is_none().then_some(Self(major, minor, patch))
    }
}

impl std::fmt::Display for RustVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.2 == 0 {
            write!(f, "{}.{}", self.0, self.1)
        } else {
            write!(f, "{}.{}.{}", self.0, self.1, self.2)
        }
    }
}

/// The dependencies (not workspace members) of `metadata` that declare a `rust-version` above
/// the lowest one of the members, as `(name version, its rust-version)`, highest first; and
/// that lowest member version.
pub(crate) fn too_new(
    metadata: &Value,
) -> Result<(RustVersion, Vec<(String, RustVersion)>), String> {
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata lists no packages")?;
    let version = |p: &Value| p["rust_version"].as_str().and_then(RustVersion::parse);
    let msrv = packages
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(&id)))
        .map(|p| {
            version(p).ok_or_else(|| {
                format!(
                    "workspace member {} declares no rust-version",
                    p["name"].as_str().unwrap_or("?")
                )
            })
        })
        .min_by(|a, b| match (a, b) {
            (Ok(a), Ok(b)) => a.cmp(b),
            (Err(_), _) => Ordering::Less,
            (_, Err(_)) => Ordering::Greater,
        })
        .ok_or("cargo metadata lists no workspace member")??;
    let mut over: Vec<(String, RustVersion)> = packages
        .iter()
        .filter(|p| !p["id"].as_str().is_some_and(|id| members.contains(&id)))
        .filter_map(|p| {
            let v = version(p).filter(|v| *v > msrv)?;
            Some((
                format!(
                    "{} {}",
                    p["name"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?")
                ),
                v,
            ))
        })
        .collect();
    over.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok((msrv, over))
}

fn metadata(manifest: &str) -> Result<Value, String> {
    let mut c = cargo();
    // Every feature (the networked ones too: only metadata is read) and every platform.
    c.args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--all-features",
        "--manifest-path",
        manifest,
    ]);
    let out = stdout_of(c, "cargo metadata")?;
    serde_json::from_str(&out).map_err(|e| format!("cargo metadata: {e}"))
}

/// The `msrv` of `clippy.toml`, when it sets one.
fn clippy_msrv() -> Result<Option<RustVersion>, String> {
    let path = project_root().join("clippy.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(v) = line.strip_prefix("msrv").map(str::trim_start)
            && let Some(v) = v.strip_prefix('=')
        {
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            return RustVersion::parse(v)
                .map(Some)
                .ok_or_else(|| format!("{}: msrv {v:?} is not a version", path.display()));
        }
    }
    Ok(None)
}

/// The CI step: the workspace and the fuzz workspace (its own lockfile).
pub(crate) fn check() -> Result<(), String> {
    let mut problems = Vec::new();
    let mut workspace_msrv = None;
    for manifest in ["Cargo.toml", "fuzz/Cargo.toml"] {
        let (msrv, over) = too_new(&metadata(manifest)?)?;
        println!("{manifest}: rust-version {msrv}");
        workspace_msrv.get_or_insert(msrv);
        for (package, v) in over {
            problems.push(format!(
                "{manifest}: {package} needs Rust {v}, above rust-version {msrv}"
            ));
        }
    }
    if let (Some(clippy), Some(msrv)) = (clippy_msrv()?, workspace_msrv)
        && clippy != msrv
    {
        problems.push(format!(
            "clippy.toml sets msrv {clippy}, but rust-version is {msrv}: incompatible_msrv \
             would check against the wrong version"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "raise rust-version to the true floor (or pick older dependencies):\n  {}",
            problems.join("\n  ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        let v = |s| RustVersion::parse(s).unwrap();
        assert_eq!(v("1.88"), v("1.88.0"));
        assert!(v("1.89.0") > v("1.88"));
        assert!(v("1.100") > v("1.99.9"));
        assert_eq!(RustVersion::parse("1.x"), None);
        assert_eq!(RustVersion::parse("1.2.3.4"), None);
        assert_eq!(v("1.88").to_string(), "1.88");
    }

    #[test]
    fn dependencies_above_the_workspace_are_reported() {
        let meta = json!({
            "workspace_members": ["ours 0.1.0", "tool 0.1.0"],
            "packages": [
                {"id": "ours 0.1.0", "name": "ours", "version": "0.1.0", "rust_version": "1.89"},
                {"id": "tool 0.1.0", "name": "tool", "version": "0.1.0", "rust_version": "1.89"},
                {"id": "old 1.0.0", "name": "old", "version": "1.0.0", "rust_version": "1.70"},
                {"id": "none 1.0.0", "name": "none", "version": "1.0.0", "rust_version": null},
                {"id": "same 1.0.0", "name": "same", "version": "1.0.0", "rust_version": "1.89.0"},
                {"id": "new 2.0.0", "name": "new", "version": "2.0.0", "rust_version": "1.90.0"},
                {"id": "newer 3.0.0", "name": "newer", "version": "3.0.0", "rust_version": "1.91"},
            ],
        });
        let (msrv, over) = too_new(&meta).unwrap();
        assert_eq!(msrv.to_string(), "1.89");
        let names: Vec<&str> = over.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["newer 3.0.0", "new 2.0.0"]);
    }
}
