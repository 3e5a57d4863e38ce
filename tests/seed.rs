//! The seed-faithful Python models (`seed-servers/`) against the whole spec, each under the claims
//! its model makes. Every claimed case must PASS except the true findings listed, with their
//! reasons, in `seed-servers/expected.toml`, and the list must be exact: a new case that wrongly
//! fails a faithful model breaks the build, and so does a finding that went away unnoticed.
//!
//! A model runs for one to three minutes, so these tests are `#[ignore]`d in an ordinary
//! `cargo test`; CI runs them with `cargo test --workspace -- --ignored`.

use crate::util::{conform, Report};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `seed-servers/expected.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    model: Vec<Model>,
}

/// One seed model and what it is known to fail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Model {
    name: String,
    cmd: String,
    claims: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    root: bool,
    #[serde(default)]
    finding: Vec<Finding>,
}

/// A claimed case the model does not pass, and why that is the model's fault.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Finding {
    case: String,
    grades: Vec<String>,
    classes: Vec<String>,
    why: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

fn expected() -> Expected {
    let path = repo().join("seed-servers/expected.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Grades that do not fail a claim.
const FINE: &[&str] = &["PASS", "INFO", "SKIP", "NOT-CLAIMED"];

#[test]
fn the_expected_findings_file_is_well_formed() {
    let e = expected();
    assert!(e.model.len() >= 8, "{} models", e.model.len());
    let mut names: Vec<&str> = e.model.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), e.model.len(), "model names are unique");
    for m in &e.model {
        assert!(m.cmd.contains("{port}"), "{}: cmd has no {{port}}", m.name);
        for f in &m.finding {
            assert!(!f.grades.is_empty(), "{}/{}: no grades", m.name, f.case);
            assert!(
                f.why.len() > 40,
                "{}/{}: a finding needs its reason",
                m.name,
                f.case
            );
        }
    }
}

fn run_model(name: &str) {
    let e = expected();
    let m = e
        .model
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("seed-servers/expected.toml has no model `{name}`"));
    if m.root {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the seed model `{name}` binds port 7 and needs root (CI is root)"
        );
    }
    let cmd = m.cmd.replacen(
        "seed-servers/",
        &format!("{}/seed-servers/", repo().display()),
        1,
    );
    let mut args = vec![
        "run", "--cmd", &cmd, "--claims", &m.claims, "--format", "json",
    ];
    args.extend(m.args.iter().map(String::as_str));
    let run = conform(&args);
    let report: Report = run.report();
    let mut failed: BTreeMap<String, (String, String)> = BTreeMap::new();
    for c in report.cases() {
        let grade = c["grade"].as_str().unwrap_or_default();
        if c["claimed"] == true && !FINE.contains(&grade) {
            let id = c["id"].as_str().unwrap_or_default().to_string();
            let class = c["failure"].as_str().unwrap_or_default().to_string();
            failed.insert(id, (grade.to_string(), class));
        }
    }
    let mut wrong = Vec::new();
    for (id, (grade, class)) in &failed {
        match m.finding.iter().find(|f| &f.case == id) {
            None => wrong.push(format!(
                "`{id}` is {grade} {class}, and is not a listed finding of `{name}`: a bug in the case, or a new finding to list with its evidence\n{:#}",
                report.case(id)
            )),
            Some(f) if !f.grades.contains(grade) => wrong.push(format!(
                "`{id}` is {grade}, where {:?} is listed", f.grades
            )),
            Some(f) if !class.is_empty() && !f.classes.contains(class) => wrong.push(format!(
                "`{id}` fails as {class}, where {:?} is listed\n{:#}", f.classes, report.case(id)
            )),
            Some(_) => {}
        }
    }
    for f in &m.finding {
        let passes_sometimes = f.grades.iter().any(|g| FINE.contains(&g.as_str()));
        if !failed.contains_key(&f.case) && !passes_sometimes {
            wrong.push(format!(
                "`{}` is listed as a finding of `{name}` but now gets {}: remove it if the seed program really passes",
                f.case,
                report.grade(&f.case)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "seed model `{name}` (exit {}):\n{}",
        run.code(),
        wrong.join("\n")
    );
}

macro_rules! seed_models {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            #[ignore = "slow: a seed model through the whole spec (CI runs it with --ignored)"]
            fn $test() {
                run_model($name);
            }
        )*
    };
}

seed_models! {
    basic => "basic",
    loop_ => "loop",
    socketserver_upper => "socketserver_upper",
    threading_server => "threading_server",
    prefork => "prefork",
    selectors_select => "selectors-select",
    selectors_poll => "selectors-poll",
    selectors_epoll => "selectors-epoll",
    selectors_default => "selectors-default",
    selectors_as_printed => "selectors-as-printed",
    privdrop => "privdrop",
}

#[test]
fn every_model_in_the_file_has_a_test() {
    let tested = [
        "basic",
        "loop",
        "socketserver_upper",
        "threading_server",
        "prefork",
        "selectors-select",
        "selectors-poll",
        "selectors-epoll",
        "selectors-default",
        "selectors-as-printed",
        "privdrop",
    ];
    for m in expected().model {
        assert!(
            tested.contains(&m.name.as_str()),
            "model `{}` has no test",
            m.name
        );
    }
}
