//! The subcommands, wired together: each checks its input, runs its phase of the pipeline and
//! returns the exit code it maps to. Rendering lives in `report/`, grading in `grade`.

use crate::config;
use crate::error::Error;
use crate::exit;
use crate::flags::{
    Command, ExplainArgs, FamilyArg, Format, ListArgs, RunArgs, SchemaArgs, ValidateArgs,
};
use crate::report::{self, human};
use crate::run::{load, Family, Run, RunBuilder, Server};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

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

fn run_cmd(args: &RunArgs) -> Result<i32, Error> {
    let run = builder(args)?.build()?;
    let colour = args.output.is_none() && std::io::stdout().is_terminal();
    let live = (args.format == Format::Human && args.repeat == 1).then(|| {
        let out: Box<dyn Write + Send> = match args.output {
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
    let report = run.execute(&sink);
    if let Some(l) = &live {
        l.finish();
    }
    let report = report?;
    let text = match args.format {
        Format::Json => report::json::render(&report),
        Format::Junit => report::junit::render(&report),
        Format::Tap => report::tap::render(&report),
        Format::Human => {
            let mut t = String::new();
            if args.output.is_some() || args.repeat > 1 {
                for c in &report.cases {
                    t.push_str(&human::case_line(c, false, args.verbose));
                }
            }
            t.push_str(&human::summary(&report, colour, args.verbose));
            t
        }
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| {
                Error::Io(format!("--output: cannot write {}: {e}", path.display()))
            })?;
            if args.format == Format::Human {
                emit(&human::summary(&report, colour, args.verbose))?;
            }
        }
        None => emit(&text)?,
    }
    Ok(report.exit_code)
}

/// The [`Run`] a `run` command line describes: one builder call per flag. The rendering flags
/// (`--format`, `--output`, `--verbose`) and `--no-netns` stay with the command line.
pub fn builder(args: &RunArgs) -> Result<RunBuilder, Error> {
    let server = match (&args.cmd, &args.addr) {
        (Some(cmd), None) => Server::Command(cmd.clone()),
        (None, Some(addr)) => Server::Addr(addr.clone()),
        _ => return Err(Error::Usage("give exactly one of --cmd or --addr".into())),
    };
    // A negative or NaN number of seconds is no `Duration`: refused here, as the builder refuses
    // one out of range.
    let ready_timeout = Duration::try_from_secs_f64(args.ready_timeout).map_err(|_| {
        Error::Usage(format!(
            "--ready-timeout: {} is outside (0, 600]",
            args.ready_timeout
        ))
    })?;
    let mut b = Run::builder(server)
        .allow_remote(args.allow_remote)
        .claims(&args.claims)
        .prefix_regex(&args.prefix_regex)
        .cases(args.cases.clone())
        .levels(config::levels(&args.levels)?)
        .heavy(args.heavy)
        .time_scale(args.time_scale)
        .detect(args.detect)
        .strict(args.strict)
        .jobs(args.jobs)
        .ready_timeout(ready_timeout)
        .privilege_port(args.priv_port)
        .privilege_user(&args.priv_user)
        .privilege_umask(&args.priv_umask)
        .require_root(args.require_root)
        .repeat(args.repeat);
    if let Some(f) = args.family {
        b = b.family(match f {
            FamilyArg::V4 => Family::V4,
            FamilyArg::V6 => Family::V6,
            FamilyArg::Both => Family::Both,
        });
    }
    let paths = [
        (
            &args.spec,
            RunBuilder::spec_dir as fn(RunBuilder, PathBuf) -> RunBuilder,
        ),
        (&args.report_dir, RunBuilder::report_dir),
        (&args.baseline, RunBuilder::baseline),
        (&args.write_baseline, RunBuilder::write_baseline),
        (&args.expect_fail, RunBuilder::expect_fail),
        (&args.emit_regressions, RunBuilder::emit_regressions),
    ];
    for (path, set) in paths {
        if let Some(p) = path {
            b = set(b, p.clone());
        }
    }
    if let Some(t) = &args.transform {
        b = b.transform(t);
    }
    if let Some(r) = &args.ready_line {
        b = b.ready_line(r);
    }
    if let Some(g) = &args.priv_group {
        b = b.privilege_group(g);
    }
    if let Some(s) = args.seed {
        b = b.seed(s);
    }
    if let Some(n) = args.prop_cases {
        b = b.prop_cases(n);
    }
    Ok(b)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::Cli;
    use clap::Parser;

    fn run_args(argv: &[&str]) -> RunArgs {
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Run(args) => args,
            _ => unreachable!("a run command line"),
        }
    }

    #[test]
    fn the_flags_defaults_are_the_builders() {
        let args = run_args(&["echo-conform", "run", "--addr", "127.0.0.1:9"]);
        assert_eq!(builder(&args).expect("valid"), Run::addr("127.0.0.1:9"));
    }

    #[test]
    fn each_flag_maps_onto_its_builder_method() {
        let args = run_args(&[
            "echo-conform",
            "run",
            "--cmd",
            "srv {port}",
            "--claims",
            "sequential",
            "--family",
            "both",
            "--case",
            "echo.*",
            "--level",
            "must,should",
            "--seed",
            "7",
            "--repeat",
            "2",
            "--baseline",
            "b.json",
        ]);
        let want = Run::command("srv {port}")
            .claims("sequential")
            .family(Family::Both)
            .case("echo.*")
            .levels(vec![echo_spec::Level::Must, echo_spec::Level::Should])
            .seed(7)
            .repeat(2)
            .baseline("b.json");
        assert_eq!(builder(&args).expect("valid"), want);
    }
}
