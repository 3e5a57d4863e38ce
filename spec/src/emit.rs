//! Renders cases back into the TOML the parser reads, so generated cases (such as a shrunk property
//! counterexample) become ordinary spec files: `parse_file(emit_file(cases))` gives the cases back.
//!
//! ```
//! use echo_spec::{emit_file, parse_file, Case, CaseKind, Level, Origin, Payload, Chunking, Step, Timeouts};
//!
//! let case = Case {
//!     id: "regression.example".into(),
//!     title: "a short exchange".into(),
//!     source: "written by hand".into(),
//!     level: Level::Must,
//!     requires: vec![],
//!     tags: vec![],
//!     timeouts: Timeouts::default(),
//!     rlimit_nofile: None,
//!     kind: CaseKind::Script {
//!         steps: vec![
//!             Step::Connect { name: "main".into() },
//!             Step::Send { payload: Payload::Bytes(b"hi".to_vec()), chunking: Chunking::default() },
//!             Step::ExpectEcho,
//!         ],
//!     },
//!     origin: Origin { file: "example.toml".into(), line: 2 },
//! };
//! let text = emit_file("an example", std::slice::from_ref(&case));
//! let parsed = parse_file("example.toml", &text).unwrap();
//! assert_eq!(parsed[0].kind, case.kind);
//! ```

use crate::model::{Case, CaseKind, Chunking, Payload, Timeouts};
use crate::parse::step_word::emit_step;
use crate::property::PropertyParams;
use std::fmt::Write as _;

/// A whole spec file: a comment (each line prefixed with `# `), then one `[[case]]` table per case.
pub fn emit_file(comment: &str, cases: &[Case]) -> String {
    let mut out = String::new();
    for line in comment.lines() {
        let _ = writeln!(out, "# {line}");
    }
    for case in cases {
        out.push('\n');
        out.push_str(&emit_case(case));
    }
    out
}

/// One `[[case]]` table, its steps one to a line.
pub fn emit_case(case: &Case) -> String {
    let mut out = String::from("[[case]]\n");
    let _ = writeln!(out, "id = {}", quote(&case.id));
    let _ = writeln!(out, "title = {}", quote(&case.title));
    let _ = writeln!(out, "source = {}", quote(&case.source));
    let _ = writeln!(out, "level = {}", quote(case.level.as_str()));
    if !case.requires.is_empty() {
        let claims: Vec<_> = case.requires.iter().map(|c| quote(c.as_str())).collect();
        let _ = writeln!(out, "requires = [{}]", claims.join(", "));
    }
    if !case.tags.is_empty() {
        let tags: Vec<_> = case.tags.iter().map(|t| quote(t)).collect();
        let _ = writeln!(out, "tags = [{}]", tags.join(", "));
    }
    if case.timeouts != Timeouts::default() {
        let _ = writeln!(out, "timeouts = {}", timeouts(&case.timeouts));
    }
    if let Some(n) = case.rlimit_nofile {
        let _ = writeln!(out, "rlimit_nofile = {n}");
    }
    let _ = writeln!(out, "kind = {}", quote(case.kind.name()));
    match &case.kind {
        CaseKind::Concurrent {
            clients,
            stagger_ms,
            ..
        } => {
            let _ = writeln!(out, "clients = {clients}");
            if *stagger_ms > 0 {
                let _ = writeln!(out, "stagger_ms = {stagger_ms}");
            }
        }
        CaseKind::Property { params } => {
            let _ = writeln!(out, "property = {}", property(params));
        }
        CaseKind::Script { .. } | CaseKind::Process { .. } => {}
    }
    let steps = case.kind.steps();
    if !steps.is_empty() {
        out.push_str("steps = [\n");
        for s in steps {
            let _ = writeln!(out, "    {},", emit_step(s));
        }
        out.push_str("]\n");
    }
    out
}

/// The table of a `hold` step: `burst` and `pause_ms` only when given.
pub(crate) fn hold(count: u32, burst: Option<u32>, pause_ms: u64) -> String {
    let mut fields = vec![format!("count = {count}")];
    if let Some(b) = burst {
        fields.push(format!("burst = {b}"));
    }
    if pause_ms > 0 {
        fields.push(format!("pause_ms = {pause_ms}"));
    }
    format!("{{ {} }}", fields.join(", "))
}

/// The table of an `expect_rss` step: the bounds it gives.
pub(crate) fn rss(max_growth_kib: Option<u64>, max_kib: Option<u64>) -> String {
    let fields: Vec<String> = [("max_growth_kib", max_growth_kib), ("max_kib", max_kib)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} = {v}")))
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

pub(crate) fn payload_field(p: &Payload) -> String {
    match p {
        Payload::Bytes(b) => bytes_field(b),
        Payload::Seeded { seed, len } => format!("seeded = {{ seed = {seed}, len = {len} }}"),
        Payload::AllBytes => "all_bytes = true".into(),
    }
}

/// Printable ASCII is written as `text`, anything else as `hex`.
pub(crate) fn bytes_field(b: &[u8]) -> String {
    if !b.is_empty() && b.iter().all(|c| (0x20..0x7f).contains(c)) {
        format!("text = {}", quote(&String::from_utf8_lossy(b)))
    } else {
        let hex: String = b.iter().map(|c| format!("{c:02x}")).collect();
        format!("hex = {}", quote(&hex))
    }
}

pub(crate) fn chunking_fields(c: &Chunking) -> Vec<String> {
    let mut fields = Vec::new();
    match c.sizes.as_slice() {
        [] => {}
        [one] => fields.push(format!("chunk = {one}")),
        many => {
            let sizes: Vec<_> = many.iter().map(u32::to_string).collect();
            fields.push(format!("chunks = [{}]", sizes.join(", ")));
        }
    }
    if c.pause_ms > 0 {
        fields.push(format!("pause_ms = {}", c.pause_ms));
    }
    fields
}

fn timeouts(t: &Timeouts) -> String {
    let fields: Vec<_> = [
        ("no_progress_ms", t.no_progress_ms),
        ("step_ms", t.step_ms),
        ("case_ms", t.case_ms),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.map(|v| format!("{name} = {v}")))
    .collect();
    format!("{{ {} }}", fields.join(", "))
}

fn property(p: &PropertyParams) -> String {
    let ops: Vec<_> = p.ops.iter().map(|o| quote(o.as_str())).collect();
    format!(
        "{{ cases = {}, seed = {}, connections = {}, max_ops = {}, max_payload = {}, max_wait_ms = {}, ops = [{}] }}",
        p.cases,
        p.seed,
        p.connections,
        p.max_ops,
        p.max_payload,
        p.max_wait_ms,
        ops.join(", ")
    )
}

/// A TOML basic string, with quotes, backslashes and control characters escaped.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
