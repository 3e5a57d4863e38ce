//! The reporters: a finished run as one [`RunReport`] ([`build`]), and its renderings for people
//! (`human`, live from events and as a summary; `catalog` for `list` and `explain`) and for
//! machines (`json`, `junit`, `tap`, `html`; `dir` writes them all). `schema` is the JSON
//! Schema of the `json` rendering, generated from these types.

pub mod catalog;
pub mod dir;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod schema;
pub mod tap;

pub use crate::outcome::{CaseResult, Grade};

use crate::config::RunConfig;
use crate::environment::Environment;
use crate::execute::Outcome;
use crate::plan::Target;
use echo_spec::{Claim, Spec};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// How the server was reached.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TargetInfo {
    /// `cmd` or `addr`.
    #[schemars(extend("enum" = ["cmd", "addr"]))]
    pub mode: &'static str,
    /// The command line or the address.
    pub value: String,
}

/// A whole run.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunReport {
    /// The server under test.
    pub target: TargetInfo,
    /// The machine and runner.
    pub environment: Environment,
    /// The claims the server was tested against.
    pub claims: String,
    /// Under `--detect`: the strongest claim set the server met.
    pub detected: Option<String>,
    /// Count of cases per grade.
    #[schemars(extend("propertyNames" = { "$ref": "#/$defs/Grade" }))]
    pub summary: BTreeMap<Grade, usize>,
    /// Every case, in spec order.
    pub cases: Vec<CaseResult>,
    /// The claimed failures grouped by cause: one finding per distinct defect.
    pub findings: Vec<crate::findings::Finding>,
    /// Problems with the server process itself (did not start, crashed): each its `kind`, its
    /// fields and `text`, the line the human report prints.
    #[serde(serialize_with = "crate::notes::with_text")]
    #[schemars(with = "Vec<crate::notes::WithText<crate::notes::ServerProblem>>")]
    pub server_problems: Vec<crate::notes::ServerProblem>,
    /// Facts of the run that belong to no single case (a server process that left its group),
    /// written as `server_problems` are.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "crate::notes::with_text"
    )]
    #[schemars(with = "Vec<crate::notes::WithText<crate::notes::RunNote>>")]
    pub run_notes: Vec<crate::notes::RunNote>,
    /// What attribution tried and spent: the failures run again alone, and the launches and time
    /// that took.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attribution: Vec<String>,
    /// Wall-clock duration of the run.
    pub duration_ms: u64,
    /// The exit code the run maps to.
    pub exit_code: i32,
    /// What `--baseline`, `--expect-fail` and `--repeat` made of the results, when any was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<crate::gate::GateReport>,
}

impl RunReport {
    /// Counts the grades of `cases` (claimed cases only; unclaimed runs are reported apart).
    pub fn summarise(cases: &[CaseResult]) -> BTreeMap<Grade, usize> {
        let mut summary = BTreeMap::new();
        for c in cases {
            *summary.entry(crate::grade::summary_grade(c)).or_insert(0) += 1;
        }
        summary
    }
}

/// The report of a finished run: results, the environment, `--detect`'s profile and the exit code.
pub fn build(
    cfg: &RunConfig,
    spec: &Spec,
    outcome: Outcome,
    started: Instant,
    gate: Option<crate::gate::GateReport>,
) -> RunReport {
    let results = outcome.results;
    let exit_code = crate::gate::exit_code(
        &results,
        &outcome.server_problems,
        cfg.strict,
        gate.as_ref(),
    );
    let privilege = if cfg.plan.claims.contains(Claim::Privileged) {
        Claim::Privileged
    } else {
        Claim::Unprivileged
    };
    let detected = cfg.plan.detect.then(|| {
        crate::detect::strongest(
            &spec.cases,
            &results,
            &cfg.plan.claims,
            cfg.transform_claim,
            privilege,
        )
    });
    RunReport {
        target: TargetInfo {
            mode: if matches!(cfg.plan.target, Target::Launch(_)) {
                "cmd"
            } else {
                "addr"
            },
            value: cfg.target_text.clone(),
        },
        environment: Environment {
            privilege_target: cfg.privilege.clone().ok(),
            privilege_skip: cfg.plan.privilege_skip.clone(),
            ..Environment::probe(cfg.plan.time_scale)
        },
        claims: cfg.plan.claims.to_string(),
        detected,
        summary: RunReport::summarise(&results),
        findings: crate::findings::group(&results),
        cases: results,
        server_problems: outcome.server_problems,
        run_notes: outcome.notes,
        attribution: outcome.attribution,
        duration_ms: started.elapsed().as_millis() as u64,
        exit_code,
        gate,
    }
}

/// The verdict of a run in plain words, from its exit code and its findings.
pub fn verdict_text(report: &RunReport) -> String {
    let deaths: Vec<&crate::findings::Finding> = report
        .findings
        .iter()
        .filter(|f| matches!(f.signature, crate::cause::Signature::Died { .. }))
        .collect();
    let did_not_start = report
        .findings
        .iter()
        .any(|f| f.signature == crate::cause::Signature::DidNotStart);
    let defects = match report.findings.len() {
        0 => String::new(),
        1 => ": 1 defect".to_string(),
        n => format!(": {n} defects"),
    };
    match report.exit_code {
        crate::exit::OK => "conformant to the claimed profile".into(),
        crate::exit::CASE_FAILED => format!("NOT conformant{defects}"),
        crate::exit::SERVER if did_not_start && deaths.is_empty() => {
            "the server did not start, or never became ready".into()
        }
        crate::exit::SERVER if !deaths.is_empty() => {
            let cases: usize = deaths.iter().map(|f| f.cases.len()).sum();
            let how: Vec<String> = deaths
                .iter()
                .map(|f| match &f.signature {
                    crate::cause::Signature::Died {
                        exception: Some(e), ..
                    } => format!("`{e}`"),
                    crate::cause::Signature::Died { ending, .. } => ending.clone(),
                    _ => String::new(),
                })
                .collect();
            format!(
                "NOT conformant: the server crashed in {cases} case(s) ({}){defects}",
                how.join(", ")
            )
        }
        crate::exit::SERVER => {
            format!("NOT conformant: the server crashed or left processes behind{defects}")
        }
        crate::exit::ENVIRONMENT => "the environment cannot run a required case".into(),
        crate::exit::REGRESSION => {
            format!("REGRESSION: a case that passed in the baseline now fails{defects}")
        }
        c => format!("exit {c}"),
    }
}
