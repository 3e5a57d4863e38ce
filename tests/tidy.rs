//! Tidiness rules that keep the tree navigable, checked on every `cargo test`: each Rust file says
//! what it holds in a `//!` header, and that header names no issue and quotes no benchmark figure;
//! no function or file grows past its size limit unless the allowlist here names it; the crates
//! depend on each other one way only; and every path that ARCHITECTURE.md names exists.

use std::path::{Path, PathBuf};

/// The repository root (the workspace holds the tests crate one level down).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// Every file under `dir` whose name ends in `ext`, skipping build output and hidden folders.
fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                files_under(&path, ext, out);
            }
        } else if name.ends_with(ext) {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let root = root();
    let mut files = Vec::new();
    files_under(&root, ".rs", &mut files);
    assert!(files.len() > 50, "found only {} .rs files", files.len());
    let bare: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.starts_with("//!")
        })
        .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        bare.is_empty(),
        "these files do not start with a `//!` line saying what they hold: {bare:#?}"
    );
}

/// The names of the workspace crates that `manifest` depends on, in any dependency table.
fn kit_dependencies(manifest: &Path) -> Vec<String> {
    let text =
        std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let doc: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut names = Vec::new();
    for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(deps) = doc.get(table).and_then(|t| t.as_table()) {
            names.extend(
                deps.keys()
                    .filter(|k| k.starts_with("echo-"))
                    .map(|k| k.to_string()),
            );
        }
    }
    names
}

#[test]
fn the_crate_graph_points_one_way() {
    let root = root();
    let rules: &[(&str, &[&str])] = &[
        // The reference servers stand alone: a server must not share code with its judge.
        (
            "reference-servers",
            &[
                "echo-spec",
                "echo-clients",
                "echo-conform",
                "echo-accounts",
                "echo-conform-harness",
            ],
        ),
        // The account look-ups are a leaf, shared by the runner and nothing that serves.
        (
            "accounts",
            &["echo-spec", "echo-clients", "echo-conform", "echo-servers"],
        ),
        // The example server is a user's crate: it knows the harness, and only in its tests.
        ("examples/threaded-echo", &["echo-conform", "echo-servers"]),
        // The spec is data and knows nobody.
        ("spec", &["echo-clients", "echo-conform", "echo-servers"]),
        // The client library is usable without the runner.
        ("clients", &["echo-conform", "echo-servers"]),
    ];
    for (dir, forbidden) in rules {
        let deps = kit_dependencies(&root.join(dir).join("Cargo.toml"));
        let bad: Vec<&String> = deps
            .iter()
            .filter(|d| forbidden.contains(&d.as_str()))
            .collect();
        assert!(bad.is_empty(), "`{dir}` must not depend on {bad:?}");
    }
}

/// The tokens in backticks in `text` that look like repository paths.
fn named_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for (i, token) in line.split('`').enumerate() {
            let looks_like_path = token.contains('/')
                || [".rs", ".toml", ".md", ".py"]
                    .iter()
                    .any(|e| token.ends_with(e));
            let is_other = token.contains(char::is_whitespace)
                || token.contains("::")
                || token.contains("://")
                || token.starts_with('/')
                // Outside the repository (`../shared/`): not this tree's to keep.
                || token.starts_with("../")
                || token.starts_with('-')
                || token.starts_with("target/")
                || token.contains(['*', '{', '<', '$', '(', '=']);
            if i % 2 == 1 && looks_like_path && !is_other {
                out.push(token.trim_end_matches('/').to_string());
            }
        }
    }
    out
}

#[test]
fn every_path_in_the_architecture_page_exists() {
    let root = root();
    let page = root.join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(&page).expect("ARCHITECTURE.md exists");
    let paths = named_paths(&text);
    assert!(
        paths.len() > 20,
        "found only {} paths: {paths:?}",
        paths.len()
    );
    // A bare file name is looked up in each crate's source folder too.
    let bases: Vec<PathBuf> = [
        "",
        "spec/src",
        "clients/src",
        "conformance/src",
        "reference-servers/src",
        "xtask/src",
        "tests",
    ]
    .iter()
    .map(|b| root.join(b))
    .collect();
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| !bases.iter().any(|b| b.join(p.as_str()).exists()))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:#?}"
    );
}

#[test]
fn every_case_has_one_row_in_the_applicability_audit() {
    let path = root().join("spec/APPLICABILITY.md");
    let text = std::fs::read_to_string(&path).expect("spec/APPLICABILITY.md exists");
    let rows: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let spec = echo_spec::Spec::embedded().expect("the embedded spec");
    let mut missing = Vec::new();
    for case in &spec.cases {
        match rows.iter().filter(|r| **r == case.id).count() {
            1 => {}
            n => missing.push(format!("`{}` has {n} rows", case.id)),
        }
    }
    for r in &rows {
        if spec.get(r).is_none() {
            missing.push(format!("`{r}` is not a case"));
        }
    }
    assert!(missing.is_empty(), "spec/APPLICABILITY.md: {missing:#?}");
    assert!(
        !text.contains("**OPEN:**"),
        "spec/APPLICABILITY.md has a case that a correct server of a profile it applies to fails"
    );
}

/// Every `.rs` file of the repository, as (path relative to the root with `/`, full path).
fn rust_files() -> Vec<(String, PathBuf)> {
    let root = root();
    let mut files = Vec::new();
    files_under(&root, ".rs", &mut files);
    let mut out: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(&root).unwrap_or(&f);
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            (rel.join("/"), f)
        })
        .collect();
    out.sort();
    out
}

/// What a `//!` header must not hold: issue and pull-request numbers (`issue 19`, `#19`, `PR 7`)
/// and benchmark figures (`GB/s`, `MB/s`, `180k/s`, `req/s`, `ops/s`, `messages/s`). A header
/// says what the file is; history goes to the issue tracker and measurements to `docs/`.
const HEADER_FORBIDDEN: &[(&str, &str)] = &[
    (r"(?i)\bissues?\s+#?\d+", "an issue number"),
    (r"(?:^|[\s(\[,;])#\d+\b", "an issue number"),
    (r"\b(?:PR|pull request)\s+#?\d+", "a pull-request number"),
    (
        r"(?i)\d\s*k/s|\b(?:gb|mb|req|ops|messages)/s\b",
        "a benchmark figure",
    ),
];

#[test]
fn module_headers_name_no_issue_and_quote_no_figure() {
    let rules: Vec<(regex::Regex, &str)> = HEADER_FORBIDDEN
        .iter()
        .map(|(re, what)| (regex::Regex::new(re).expect("a valid regex"), *what))
        .collect();
    let files = rust_files();
    assert!(files.len() > 50, "found only {} .rs files", files.len());
    let mut hits = Vec::new();
    for (rel, path) in &files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let Some(doc) = line.trim_start().strip_prefix("//!") else {
                continue;
            };
            for (re, what) in &rules {
                if let Some(m) = re.find(doc) {
                    hits.push(format!(
                        "{rel}:{}: {what} (`{}`): {}",
                        n + 1,
                        m.as_str().trim(),
                        doc.trim()
                    ));
                }
            }
        }
    }
    for hit in &hits {
        eprintln!("{hit}");
    }
    assert!(
        hits.is_empty(),
        "a `//!` header says what the file is, with no issue numbers or benchmark figures \
         (history goes to the tracker, figures to docs/): {hits:#?}"
    );
}

/// The longest a function may be, from its `fn` line to its closing brace.
const MAX_FN_LINES: usize = 120;

/// The longest a source file may be, test code left out.
const MAX_FILE_LINES: usize = 500;

/// The functions longer than [`MAX_FN_LINES`] today: path, function name, and why it stays for
/// now. Remove a line when its function is split; the test fails until you do.
const LONG_FUNCTIONS: &[(&str, &str, &str)] = &[
    (
        "clients/src/load/uring/per_request.rs",
        "per_request",
        "measured only since `pub(in PATH)` is read; to split into ring set-up, submit and reap",
    ),
    (
        "clients/src/load/uring/ping_pong.rs",
        "ping_pong",
        "measured only since `pub(in PATH)` is read; to split into ring set-up, submit and reap",
    ),
];

/// The files longer than [`MAX_FILE_LINES`] today, test code left out: path, and why it stays
/// for now. Remove a line when its file is split; the test fails until you do.
const LONG_FILES: &[(&str, &str)] = &[];

/// The lines of `text` that are not test code: an item marked `#[cfg(test)]` (with any
/// attributes after the mark) is left out, from the mark to the end of the item. An item ends
/// on its own line when that line ends with `;` (`mod tests;`), else at the first later line
/// that is a lone `}` at the item's indentation, which rustfmt's layout guarantees. Returns the
/// 1-based line number beside each kept line.
fn non_test_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "#[cfg(test)]" {
            kept.push((i + 1, lines[i]));
            i += 1;
            continue;
        }
        let mut item = i + 1;
        while item < lines.len() && lines[item].trim_start().starts_with("#[") {
            item += 1;
        }
        let Some(head) = lines.get(item) else { break };
        i = if head.trim_end().ends_with(';') {
            item + 1
        } else {
            closing_line(&lines, item).map_or(lines.len(), |end| end + 1)
        };
    }
    kept
}

/// The leading whitespace of `line`.
fn indent(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// The index of the line that closes the item starting at `lines[start]`: the first later line
/// that is a lone `}` at the same indentation.
fn closing_line(lines: &[&str], start: usize) -> Option<usize> {
    let close = format!("{}}}", indent(lines[start]));
    (start + 1..lines.len()).find(|&j| lines[j].trim_end() == close)
}

/// The name of the function a line declares, if it does: `fn NAME` after only qualifiers
/// (`pub`, `pub(crate)`, `pub(in PATH)`, `const`, `async`, `unsafe`, `extern "C"`).
fn declared_fn(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("fn ") {
            let name = r
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()?;
            return (!name.is_empty()).then_some(name);
        }
        // A restricted visibility (`pub(crate)`, `pub(in crate::load)`) runs to its `)`, spaces
        // and all.
        if rest.starts_with("pub(") {
            let close = rest.find(')')?;
            rest = rest[close + 1..].trim_start();
            continue;
        }
        let word = rest.split_whitespace().next()?;
        let qualifier = ["pub", "const", "async", "unsafe", "extern", "default"].contains(&word)
            || word == "\"C\"";
        if !qualifier {
            return None;
        }
        rest = rest[word.len()..].trim_start();
    }
}

/// Each function in `lines` (kept lines with their numbers) with its length in lines, from the
/// `fn` line to its closing brace. A signature that reaches a line ending in `;` before one
/// ending in `{` has no body and is skipped; a body that opens and closes on the `fn` line is
/// one line long; otherwise the body ends at the first later line that is a lone `}` at the
/// `fn` line's indentation.
fn functions<'a>(lines: &[(usize, &'a str)]) -> Vec<(&'a str, usize, usize)> {
    let text: Vec<&str> = lines.iter().map(|(_, l)| *l).collect();
    let mut out = Vec::new();
    for (k, line) in text.iter().enumerate() {
        let Some(name) = declared_fn(line) else {
            continue;
        };
        if line.contains('{') && line.trim_end().ends_with('}') {
            out.push((name, lines[k].0, 1));
            continue;
        }
        let opens = text[k..]
            .iter()
            .map(|l| l.trim_end())
            .find(|l| l.ends_with('{') || l.ends_with(';'))
            .is_some_and(|l| l.ends_with('{'));
        if !opens {
            continue;
        }
        if let Some(end) = closing_line(&text, k) {
            out.push((name, lines[k].0, lines[end].0 - lines[k].0 + 1));
        }
    }
    out
}

/// True for a file that is test code as a whole: the tests crate, a `tests/` folder, `tests.rs`.
fn is_test_file(rel: &str) -> bool {
    rel.starts_with("tests/") || rel.contains("/tests/") || rel.ends_with("/tests.rs")
}

#[test]
fn no_function_or_file_grows_past_its_limit() {
    // (lines, path, function name, first line) for every function; (lines, path) for every file.
    let mut fns: Vec<(usize, String, String, usize)> = Vec::new();
    let mut files: Vec<(usize, String)> = Vec::new();
    for (rel, path) in rust_files() {
        if is_test_file(&rel) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let kept = non_test_lines(&text);
        files.push((kept.len(), rel.clone()));
        for (name, line, len) in functions(&kept) {
            fns.push((len, rel.clone(), name.to_string(), line));
        }
    }
    assert!(files.len() > 50, "measured only {} files", files.len());
    fns.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    eprintln!("the ten longest functions (limit {MAX_FN_LINES} lines):");
    for (len, rel, name, line) in fns.iter().take(10) {
        eprintln!("  {len:5}  {rel}:{line} {name}");
    }
    eprintln!("the ten longest files, test code left out (limit {MAX_FILE_LINES} lines):");
    for (len, rel) in files.iter().take(10) {
        eprintln!("  {len:5}  {rel}");
    }

    let mut problems = Vec::new();
    let long_fns: Vec<&(usize, String, String, usize)> =
        fns.iter().filter(|f| f.0 > MAX_FN_LINES).collect();
    for (len, rel, name, line) in &long_fns {
        if !LONG_FUNCTIONS.iter().any(|(p, n, _)| p == rel && n == name) {
            problems.push(format!(
                "{rel}:{line}: fn {name} is {len} lines, over {MAX_FN_LINES}: split it"
            ));
        }
    }
    for (p, n, _) in LONG_FUNCTIONS {
        if !long_fns
            .iter()
            .any(|(_, rel, name, _)| rel == p && name == n)
        {
            problems.push(format!(
                "{p}: fn {n} is no longer over {MAX_FN_LINES} lines (or is gone): \
                 take it off LONG_FUNCTIONS"
            ));
        }
    }
    let long_files: Vec<&(usize, String)> = files.iter().filter(|f| f.0 > MAX_FILE_LINES).collect();
    for (len, rel) in &long_files {
        if !LONG_FILES.iter().any(|(p, _)| p == rel) {
            problems.push(format!(
                "{rel}: {len} lines of non-test code, over {MAX_FILE_LINES}: split it"
            ));
        }
    }
    for (p, _) in LONG_FILES {
        if !long_files.iter().any(|(_, rel)| rel == p) {
            problems.push(format!(
                "{p} is no longer over {MAX_FILE_LINES} lines (or is gone): take it off LONG_FILES"
            ));
        }
    }
    assert!(problems.is_empty(), "size limits: {problems:#?}");
}

#[test]
fn the_size_measure_skips_test_items_and_finds_function_ends() {
    let text = "\
fn short() -> u8 { 1 }

pub(crate) async fn long(
    a: u8,
) -> u8 {
    if a > 0 {
        a
    } else {
        0
    }
}

trait T {
    fn declared(
        &self,
    ) -> u8;
}

#[cfg(test)]
mod elsewhere;

#[cfg(test)]
#[allow(dead_code)]
mod tests {
    fn hidden() {}
}

fn after() {
    let _ = 1;
}
";
    let kept = non_test_lines(text);
    assert!(kept
        .iter()
        .all(|(_, l)| !l.contains("hidden") && !l.contains("elsewhere")));
    assert_eq!(kept.len(), text.lines().count() - 7);
    let found = functions(&kept);
    assert_eq!(
        found,
        vec![("short", 1, 1), ("long", 3, 9), ("after", 28, 3)]
    );
}

/// The lines of `rel`'s non-test code (in the files `rust_files` gives) that hold any of
/// `needles`, as "path:line: text".
fn lines_holding(files: &[(String, PathBuf)], needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    for (rel, path) in files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for (n, line) in non_test_lines(&text) {
            let code = line.split("//").next().unwrap_or("");
            if needles.iter().any(|needle| code.contains(needle)) {
                hits.push(format!("{rel}:{n}: {}", line.trim()));
            }
        }
    }
    hits
}

/// The library and the harness take typed settings (`echo_conform::Run`); only the command line
/// (`flags.rs`, `cli.rs`, `main.rs`) parses flags, and the matrix, which starts a child
/// `echo-conform run` per target, writes them.
#[test]
fn only_the_cli_handles_command_lines() {
    let cli = [
        "conformance/src/flags.rs",
        "conformance/src/cli.rs",
        "conformance/src/main.rs",
    ];
    let files: Vec<(String, PathBuf)> = rust_files()
        .into_iter()
        .filter(|(rel, _)| {
            (rel.starts_with("conformance/src/") || rel.starts_with("harness/src/"))
                && !cli.contains(&rel.as_str())
                && !rel.starts_with("conformance/src/matrix/")
        })
        .collect();
    assert!(files.len() > 40, "found only {} files", files.len());
    let hits = lines_holding(
        &files,
        &[
            "clap",
            "RunArgs",
            "try_parse_from",
            "env::args",
            "flags::Cli",
        ],
    );
    assert!(
        hits.is_empty(),
        "command-line handling outside the CLI (use echo_conform::Run's builder):\n{}",
        hits.join("\n")
    );
}

/// `report` renders what `gate` decided; `gate` never reaches back into `report`.
#[test]
fn gate_does_not_import_report() {
    let files: Vec<(String, PathBuf)> = rust_files()
        .into_iter()
        .filter(|(rel, _)| rel.starts_with("conformance/src/gate/"))
        .collect();
    assert!(!files.is_empty(), "no gate module found");
    let hits = lines_holding(&files, &["crate::report", "super::report"]);
    assert!(hits.is_empty(), "gate imports report:\n{}", hits.join("\n"));
}

/// The runner waits for a condition only through `os::poll_until`, whose loop is bounded by its
/// deadline. The other sleeps, each with why it is not such a wait.
const SLEEPS: &[(&str, &str)] = &[
    ("conformance/src/os/mod.rs", "poll_until itself"),
    (
        "conformance/src/matrix/mod.rs",
        "the matrix's scheduler tick, bounded by its targets' timeouts",
    ),
    (
        "conformance/src/execute/steps.rs",
        "a concurrent case's client starting at its stagger offset, not a wait",
    ),
];

#[test]
fn the_runner_waits_only_through_poll_until() {
    let files: Vec<(String, PathBuf)> = rust_files()
        .into_iter()
        .filter(|(rel, _)| rel.starts_with("conformance/src/"))
        .collect();
    let hits: Vec<String> = lines_holding(&files, &["thread::sleep"])
        .into_iter()
        .filter(|hit| {
            !SLEEPS
                .iter()
                .any(|(path, _)| hit.starts_with(&format!("{path}:")))
        })
        .collect();
    assert!(
        hits.is_empty(),
        "a sleep outside poll_until (wait with os::poll_until, or add the file to SLEEPS with why):\n{}",
        hits.join("\n")
    );
}

#[test]
fn a_function_is_found_behind_any_visibility() {
    assert_eq!(declared_fn("pub fn a() {"), Some("a"));
    assert_eq!(declared_fn("    pub(crate) async fn b(x: u8) {"), Some("b"));
    assert_eq!(declared_fn("pub(in crate::load) fn c("), Some("c"));
    assert_eq!(
        declared_fn("pub(super) unsafe extern \"C\" fn d()"),
        Some("d")
    );
    assert_eq!(declared_fn("let f = fn_ptr;"), None);
}
