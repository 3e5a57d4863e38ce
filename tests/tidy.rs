//! Tidiness rules that keep the tree navigable, checked on every `cargo test`: each Rust file says
//! what it holds in a `//!` header, the crates depend on each other one way only, and every path
//! that ARCHITECTURE.md names exists.

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
