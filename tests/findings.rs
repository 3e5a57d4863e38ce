//! Checked-in expected findings of servers nobody here wrote (`seed-servers/expected.toml`,
//! `corpus/expected.toml`): each server runs through the whole spec under its claims, and every
//! claimed case must PASS except the findings listed with their reasons. The list is exact: a new
//! verdict on a real server shows up as a failing test to review, and so does a finding that went
//! away unnoticed.

use crate::util::{conform, Report};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An `expected.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// The servers.
    pub model: Vec<Model>,
}

/// One server and what it is known to fail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Its name, unique in the file.
    pub name: String,
    cmd: String,
    claims: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    root: bool,
    /// Programs that must be on PATH (CI installs them in `.ci/run`).
    #[serde(default)]
    needs: Vec<String>,
    #[serde(default)]
    finding: Vec<Finding>,
}

/// A claimed case the server does not pass, and why that is the server's fault.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Finding {
    case: String,
    grades: Vec<String>,
    classes: Vec<String>,
    /// Text the evidence must hold whenever the case fails: the cause, where the class a client
    /// sees varies with timing (`accept-queue overflow` for a short listen backlog).
    #[serde(default)]
    evidence: Option<String>,
    /// The defect it shows, named here: the listed cases of one defect must fall in one reported
    /// finding, and two defects in two. A case listed without one is not checked this way.
    #[serde(default)]
    defect: Option<String>,
    why: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The expected findings of `dir` (`seed-servers`, `corpus`).
pub fn expected(dir: &str) -> Expected {
    let path = repo().join(dir).join("expected.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Grades that do not fail a claim.
const FINE: &[&str] = &["PASS", "INFO", "SKIP", "NOT-CLAIMED"];

/// Checks `dir/expected.toml`: at least `min` servers, unique names, a port in every command, a
/// reason for every finding.
pub fn check_well_formed(dir: &str, min: usize) {
    let e = expected(dir);
    assert!(e.model.len() >= min, "{} models", e.model.len());
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

/// True when `program` is an executable on PATH.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Runs server `name` of `dir/expected.toml` through the whole spec and compares its failures with
/// the listed findings. A server whose programs are missing is skipped with a printed reason,
/// except under CI, which installs them.
pub fn run_model(dir: &str, name: &str) {
    let e = expected(dir);
    let m = e
        .model
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{dir}/expected.toml has no model `{name}`"));
    if m.root {
        assert!(
            nix::unistd::geteuid().is_root(),
            "`{name}` binds port 7 and needs root (CI is root)"
        );
    }
    let missing: Vec<&String> = m.needs.iter().filter(|p| !on_path(p)).collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{name}` needs {missing:?}, which .ci/run installs"
        );
        eprintln!("SKIP {dir}/{name}: {missing:?} not installed (CI installs it; see .ci/run)");
        return;
    }
    let cmd = m.cmd.replacen(
        &format!("{dir}/"),
        &format!("{}/{dir}/", repo().display()),
        1,
    );
    let mut args = vec![
        "run", "--cmd", &cmd, "--claims", &m.claims, "--format", "json",
    ];
    args.extend(m.args.iter().map(String::as_str));
    // A departure must show in two runs in a row: servers written elsewhere fail at random in
    // places (a relay deadlock, a rate limit tripped early or late), and one run's draw is not a
    // change in the kit. Every departure of the first run is printed either way.
    let run = conform(&args);
    let first = differences(m, name, &run.report());
    if first.is_empty() {
        return;
    }
    eprintln!(
        "{dir}/{name}: the first run departs from the list; running again:\n{}",
        first.values().cloned().collect::<Vec<_>>().join("\n")
    );
    let again = conform(&args);
    let second = differences(m, name, &again.report());
    let both: Vec<&String> = second
        .iter()
        .filter(|(id, _)| first.contains_key(*id))
        .map(|(_, why)| why)
        .collect();
    assert!(
        both.is_empty(),
        "{dir}/{name} (exit {}), in two runs in a row:\n{}",
        again.code(),
        both.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Where `report` departs from `m`'s listed findings: case id → what is wrong.
fn differences(m: &Model, name: &str, report: &Report) -> BTreeMap<String, String> {
    let mut failed: BTreeMap<String, (String, String)> = BTreeMap::new();
    for c in report.cases() {
        let grade = c["grade"].as_str().unwrap_or_default();
        if c["claimed"] == true && !FINE.contains(&grade) {
            let id = c["id"].as_str().unwrap_or_default().to_string();
            let class = c["failure"].as_str().unwrap_or_default().to_string();
            failed.insert(id, (grade.to_string(), class));
        }
    }
    let mut wrong: BTreeMap<String, String> = BTreeMap::new();
    for (id, (grade, class)) in &failed {
        let _ = match m.finding.iter().find(|f| &f.case == id) {
            None => wrong.insert(id.clone(), format!(
                "`{id}` is {grade} {class}, and is not a listed finding of `{name}`: a bug in the kit, or a new finding to list with its evidence\n{:#}",
                report.case(id)
            )),
            Some(f) if !f.grades.contains(grade) => wrong.insert(id.clone(), format!(
                "`{id}` is {grade}, where {:?} is listed", f.grades
            )),
            Some(f) if !class.is_empty() && !f.classes.contains(class) => wrong.insert(id.clone(), format!(
                "`{id}` fails as {class}, where {:?} is listed\n{:#}", f.classes, report.case(id)
            )),
            Some(f) => {
                let shown = report.case(id)["evidence"].as_str().unwrap_or_default().to_string();
                if let Some(cause) = f.evidence.as_deref().filter(|c| !shown.contains(c)) {
                    wrong.insert(id.clone(), format!(
                        "`{id}` fails without `{cause}` in its evidence\n{:#}",
                        report.case(id)
                    ));
                }
                None
            }
        };
    }
    wrong.extend(defects_apart(m, report, &failed));
    for f in &m.finding {
        let passes_sometimes = f.grades.iter().any(|g| FINE.contains(&g.as_str()));
        if !failed.contains_key(&f.case) && !passes_sometimes {
            wrong.insert(f.case.clone(), format!(
                "`{}` is listed as a finding of `{name}` but now gets {}: remove it if the server really passes",
                f.case,
                report.grade(&f.case)
            ));
        }
    }
    wrong
}

/// Where the report's findings depart from the listed defects: each listed defect's failing
/// cases in one reported finding, and no two listed defects in the same one.
fn defects_apart(
    m: &Model,
    report: &Report,
    failed: &BTreeMap<String, (String, String)>,
) -> BTreeMap<String, String> {
    let findings = report.0["findings"].as_array().cloned().unwrap_or_default();
    let finding_of = |id: &str| {
        findings.iter().position(|f| {
            f["cases"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c == id))
        })
    };
    let mut by_defect: BTreeMap<&str, BTreeMap<usize, Vec<&str>>> = BTreeMap::new();
    for f in m.finding.iter().filter(|f| failed.contains_key(&f.case)) {
        let (Some(defect), Some(i)) = (f.defect.as_deref(), finding_of(&f.case)) else {
            continue;
        };
        by_defect
            .entry(defect)
            .or_default()
            .entry(i)
            .or_default()
            .push(&f.case);
    }
    let mut wrong = BTreeMap::new();
    let diagnosis = |i: usize| findings[i]["diagnosis"].as_str().unwrap_or("").to_string();
    for (defect, at) in &by_defect {
        if at.len() > 1 {
            let split: Vec<String> = at
                .iter()
                .map(|(i, cases)| format!("{cases:?} in \"{}\"", diagnosis(*i)))
                .collect();
            wrong.insert(
                format!("defect:{defect}"),
                format!(
                    "the listed defect `{defect}` is split over findings: {}",
                    split.join("; ")
                ),
            );
        }
    }
    let mut owner: BTreeMap<usize, &str> = BTreeMap::new();
    for (defect, at) in &by_defect {
        for i in at.keys() {
            if let Some(other) = owner.insert(*i, defect) {
                wrong.insert(
                    format!("defect:{defect}"),
                    format!(
                        "the listed defects `{other}` and `{defect}` are merged in one finding: \"{}\"",
                        diagnosis(*i)
                    ),
                );
            }
        }
    }
    wrong
}

/// One `#[ignore]`d test per server of `$dir/expected.toml` (each through the whole spec), the
/// well-formedness check of that file with at least `$min` servers, and a check that every server
/// in the file has its test.
macro_rules! findings_tests {
    ($dir:literal, min $min:literal, $($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            #[ignore = "slow: a server through the whole spec (CI runs it with --ignored)"]
            fn $test() {
                crate::findings::run_model($dir, $name);
            }
        )*

        #[test]
        fn the_findings_file_is_well_formed() {
            crate::findings::check_well_formed($dir, $min);
        }

        #[test]
        fn every_server_in_the_file_has_a_test() {
            let tested = [$($name),*];
            for m in crate::findings::expected($dir).model {
                assert!(tested.contains(&m.name.as_str()), "`{}` in {}/expected.toml has no test", m.name, $dir);
            }
        }
    };
}
pub(crate) use findings_tests;
