//! `echo-conform list --trace`: each requirement (RFC 862, privilege rules, seed models, design
//! rules) with the cases that check it, requirements without a case, and cases covered by none.

use crate::config::UsageError;
use crate::flags::Format;
use echo_spec::{Requirements, Spec};
use std::path::Path;

/// The registry for a spec: `DIR/requirements.toml` under `--spec DIR` (none when absent), else the
/// embedded one; checked against the spec, so a pattern matching no case is a usage error.
pub fn registry(dir: Option<&Path>, spec: &Spec) -> Result<Option<Requirements>, UsageError> {
    let reg = match dir {
        Some(d) => Requirements::load_dir(d),
        None => Requirements::embedded().map(Some),
    }
    .map_err(|e| UsageError(format!("requirements error: {e}")))?;
    if let Some(r) = &reg {
        r.check(spec)
            .map_err(|e| UsageError(format!("requirements error: {e}")))?;
    }
    Ok(reg)
}

/// The traceability listing, as text or JSON.
pub fn list(spec: &Spec, dir: Option<&Path>, format: Format) -> Result<String, UsageError> {
    let Some(reg) = registry(dir, spec)? else {
        let d = dir.map(|d| d.display().to_string()).unwrap_or_default();
        return Err(UsageError(format!(
            "--trace: {d} has no {}",
            echo_spec::REQUIREMENTS_FILE
        )));
    };
    let uncovered = reg.uncovered(spec);
    if format == Format::Json {
        let reqs: Vec<_> = reg
            .items
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "text": r.text, "source": r.source,
                    "patterns": r.cases, "cases": reg.cases_of(r, spec),
                })
            })
            .collect();
        let without: Vec<&str> = reg
            .items
            .iter()
            .filter(|r| reg.cases_of(r, spec).is_empty())
            .map(|r| r.id.as_str())
            .collect();
        let doc = serde_json::json!({
            "requirements": reqs,
            "requirements_without_case": without,
            "cases_without_requirement": uncovered,
        });
        return Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ));
    }
    Ok(text(&reg, spec))
}

/// The listing for people.
pub fn text(reg: &Requirements, spec: &Spec) -> String {
    let mut out = String::new();
    let mut without = Vec::new();
    for r in &reg.items {
        let cases = reg.cases_of(r, spec);
        if cases.is_empty() {
            out.push_str(&format!("{:<48} NO CASE\n", r.id));
        } else {
            out.push_str(&format!("{}\n", r.id));
        }
        out.push_str(&format!("    {}\n    source: {}\n", r.text, r.source));
        for c in &cases {
            out.push_str(&format!("    - {c}\n"));
        }
        if cases.is_empty() {
            without.push(r.id.as_str());
        }
    }
    let uncovered = reg.uncovered(spec);
    out.push_str(&format!(
        "\n{} requirements, {} without a case:\n",
        reg.items.len(),
        without.len()
    ));
    for w in &without {
        out.push_str(&format!("    {w}\n"));
    }
    out.push_str(&format!(
        "{} cases, {} covered by no requirement:\n",
        spec.cases.len(),
        uncovered.len()
    ));
    for u in &uncovered {
        out.push_str(&format!("    {u}\n"));
    }
    out
}
