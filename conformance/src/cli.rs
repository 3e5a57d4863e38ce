//! The subcommands, wired together: each checks its input, runs its phase of the pipeline and
//! returns the exit code it maps to. Rendering lives in `report/`, grading in `grade`.

use crate::config;
use crate::error::Error;
use crate::exit;
use crate::flags::{Command, ExplainArgs, Format, ListArgs, RunArgs, SchemaArgs, ValidateArgs};
use crate::report::{self, human};
use echo_spec::Spec;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

/// Runs one parsed command line and returns the process exit code.
pub fn run(command: Command) -> i32 {
    let result = match command {
        Command::Run(args) => run_cmd(&args),
        Command::List(args) => list(&args),
        Command::Explain(args) => explain(&args),
        Command::Validate(args) => validate(&args),
        Command::Schema(args) => schema(&args),
        Command::Matrix(args) => crate::matrix::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("echo-conform: {e}");
            e.exit_code()
        }
    }
}

/// Writes `text` to stdout. A reader that went away (`| head`) ends the command quietly with 0,
/// after every server the run started has been ended.
fn emit(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if crate::error::is_broken_pipe(&e) => {
            crate::os::groups::kill_all();
            std::process::exit(exit::OK)
        }
        Err(e) => Err(Error::Io(format!("cannot write to stdout: {e}"))),
    }
}

/// Prints the JSON Schema of spec files, or of the JSON report under `--report`.
fn schema(args: &SchemaArgs) -> Result<i32, Error> {
    let text = if args.report {
        report::schema::json()
    } else {
        echo_spec::json_schema()
    };
    emit(&text)?;
    Ok(exit::OK)
}

/// The spec in `dir`, or the embedded one when `None`.
pub fn load(dir: Option<&Path>) -> Result<Spec, Error> {
    match dir {
        Some(d) => Spec::load_dir(d),
        None => Spec::embedded(),
    }
    .map_err(|e| Error::Spec(format!("spec error: {e}")))
}

fn run_cmd(args: &RunArgs) -> Result<i32, Error> {
    let spec = load(args.spec.as_deref())?;
    let cfg = config::run_config(args, &spec)?;
    let repeat = args.repeat;
    let colour = cfg.output.is_none() && std::io::stdout().is_terminal();
    let live = (cfg.format == Format::Human && repeat == 1).then(|| {
        let out: Box<dyn Write + Send> = match cfg.output {
            Some(_) => Box::new(std::io::sink()),
            None => Box::new(std::io::stdout()),
        };
        human::LiveReporter::new(out, colour, args.verbose)
    });
    let sink = |e| {
        if let Some(l) = &live {
            l.event(e);
        }
    };
    let (report, gating) = evaluate(args, &spec, &cfg, &sink).inspect_err(|_| {
        if let Some(l) = &live {
            l.finish();
        }
    })?;
    if let Some(l) = &live {
        l.finish();
    }
    let text = match cfg.format {
        Format::Json => report::json::render(&report),
        Format::Junit => report::junit::render(&report),
        Format::Tap => report::tap::render(&report),
        Format::Human => {
            let mut t = String::new();
            if cfg.output.is_some() || repeat > 1 {
                for c in &report.cases {
                    t.push_str(&human::case_line(c, false, args.verbose));
                }
            }
            t.push_str(&human::summary(&report, colour, args.verbose));
            t
        }
    };
    match &cfg.output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| {
                Error::Io(format!("--output: cannot write {}: {e}", path.display()))
            })?;
            if cfg.format == Format::Human {
                emit(&human::summary(&report, colour, args.verbose))?;
            }
        }
        None => emit(&text)?,
    }
    write_files(args, &report, &gating)?;
    Ok(report.exit_code)
}

/// Writes what `--report-dir` and `--write-baseline` ask for, after a run; the CLI and the
/// harness both call it.
pub fn write_files(
    args: &RunArgs,
    report: &report::RunReport,
    gating: &crate::gate::Options,
) -> Result<(), Error> {
    if let Some(dir) = &args.report_dir {
        report::dir::write(dir, report)
            .map_err(|e| Error::Io(format!("--report-dir: cannot write {}: {e}", dir.display())))?;
    }
    if let Some(path) = &gating.write_baseline {
        let base = crate::gate::baseline::Baseline::of(&report.claims, &report.cases);
        std::fs::write(path, base.to_text()).map_err(|e| {
            Error::Io(format!(
                "--write-baseline: cannot write {}: {e}",
                path.display()
            ))
        })?;
    }
    Ok(())
}

/// Runs a checked `run` invocation through the whole pipeline (execute, `--repeat`, the gate)
/// and returns its report, with the gating options it applied. The CLI renders the report; the
/// harness crate turns its cases into test trials. `sink` sees every event as it happens.
pub fn evaluate(
    args: &RunArgs,
    spec: &Spec,
    cfg: &config::RunConfig,
    sink: crate::events::Sink<'_>,
) -> Result<(report::RunReport, crate::gate::Options), Error> {
    let gating = crate::gate::Options::from_args(args, spec)?;
    if cfg.require_root {
        if let Some(reason) = &cfg.plan.privilege_skip {
            return Err(Error::Environment(format!(
                "--require-root: the privilege cases cannot run: {reason}"
            )));
        }
    }
    crate::os::groups::install_cleanup_hooks();
    let started = Instant::now();
    let mut runs = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut attribution: Vec<String> = Vec::new();
    for _ in 0..gating.repeat {
        let outcome = crate::execute::run(&cfg.plan, sink)?;
        problems.extend(outcome.server_problems);
        notes.extend(outcome.notes);
        attribution.extend(outcome.attribution);
        runs.push(outcome.results);
    }
    let mut results = crate::gate::repeat::fold(runs);
    let gate = gating.judge(&cfg.plan.claims.to_string(), &mut results);
    let outcome = crate::execute::Outcome {
        results,
        server_problems: problems,
        notes,
        attribution,
    };
    Ok((report::build(cfg, spec, outcome, started, gate), gating))
}

fn list(args: &ListArgs) -> Result<i32, Error> {
    let spec = load(args.spec.as_deref())?;
    let claims = config::claims(&args.claims, None)?;
    if matches!(args.format, Format::Junit | Format::Tap) {
        return Err(Error::Usage(
            "--format: `list` prints human or json only".into(),
        ));
    }
    if args.trace {
        let text = crate::trace::list(&spec, args.spec.as_deref(), args.format)?;
        emit(&text)?;
        return Ok(exit::OK);
    }
    let text = match args.format {
        Format::Json => report::catalog::list_json(&spec, &claims),
        _ => report::catalog::list_text(&spec, &claims),
    };
    emit(&text)?;
    Ok(exit::OK)
}

fn explain(args: &ExplainArgs) -> Result<i32, Error> {
    let spec = load(args.spec.as_deref())?;
    // `ID@ipv6` (a report's second-family copy) explains the case itself.
    let id = args
        .id
        .strip_suffix("@ipv6")
        .or_else(|| args.id.strip_suffix("@ipv4"))
        .unwrap_or(&args.id);
    let Some(case) = spec.get(id) else {
        let near: Vec<_> = spec
            .cases
            .iter()
            .filter(|c| c.id.starts_with(args.id.split('.').next().unwrap_or("")))
            .map(|c| c.id.as_str())
            .collect();
        let hint = if near.is_empty() {
            "see `echo-conform list`".to_string()
        } else {
            format!("cases nearby: {}", near.join(", "))
        };
        return Err(Error::Usage(format!("no case `{}`; {hint}", args.id)));
    };
    emit(&report::catalog::describe_case(case))?;
    Ok(exit::OK)
}

fn validate(args: &ValidateArgs) -> Result<i32, Error> {
    let spec = load(args.dir.as_deref())?;
    crate::trace::registry(args.dir.as_deref(), &spec)?;
    let files: std::collections::BTreeSet<_> =
        spec.cases.iter().map(|c| c.origin.file.as_str()).collect();
    emit(&format!(
        "ok: {} cases in {} files\n",
        spec.cases.len(),
        files.len()
    ))?;
    Ok(exit::OK)
}
