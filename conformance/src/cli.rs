//! The subcommands: each returns the exit code it maps to.

use crate::config::{self, RunConfig, UsageError};
use crate::environment::Environment;
use crate::exit;
use crate::flags::{Command, ExplainArgs, Format, ListArgs, RunArgs, ValidateArgs};
use crate::report::{human, json, RunReport, TargetInfo};
use crate::runner;
use echo_spec::{Case, Claim, Spec, Step};
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
        Command::Schema => {
            print!("{}", echo_spec::json_schema());
            Ok(exit::OK)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("echo-conform: {e}");
            exit::USAGE
        }
    }
}

fn load(dir: Option<&Path>) -> Result<Spec, UsageError> {
    match dir {
        Some(d) => Spec::load_dir(d),
        None => Spec::embedded(),
    }
    .map_err(|e| UsageError(format!("spec error: {e}")))
}

fn run_cmd(args: &RunArgs) -> Result<i32, UsageError> {
    let spec = load(args.spec.as_deref())?;
    let cfg = config::run_config(args, &spec)?;
    let gating = crate::gate::Options::from_args(args, &spec)?;
    if cfg.require_root {
        if let Some(reason) = &cfg.plan.privilege_skip {
            eprintln!("echo-conform: --require-root: the privilege cases cannot run: {reason}");
            return Ok(exit::ENVIRONMENT);
        }
    }
    crate::os::groups::install_cleanup_hooks();
    let started = Instant::now();
    let colour = cfg.output.is_none() && std::io::stdout().is_terminal();
    let live = (cfg.format == Format::Human && gating.repeat == 1).then(|| {
        let out: Box<dyn Write + Send> = match cfg.output {
            Some(_) => Box::new(std::io::sink()),
            None => Box::new(std::io::stdout()),
        };
        human::LiveReporter::new(out, colour)
    });
    let sink = |e| {
        if let Some(l) = &live {
            l.event(e);
        }
    };
    let mut runs = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for _ in 0..gating.repeat {
        let outcome = runner::run(&cfg.plan, &sink);
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                if let Some(l) = &live {
                    l.finish();
                }
                eprintln!("echo-conform: {e}");
                return Ok(exit::SERVER);
            }
        };
        problems.extend(outcome.server_problems);
        runs.push(outcome.results);
    }
    if let Some(l) = &live {
        l.finish();
    }
    let mut results = crate::gate::repeat::fold(runs);
    let gate = gating.judge(&cfg.plan.claims.to_string(), &mut results);
    let outcome = runner::Outcome {
        results,
        server_problems: problems,
    };
    let report = build_report(&cfg, &spec, outcome, started, gate);
    let text = match cfg.format {
        Format::Json => json::render(&report),
        Format::Junit => crate::report::junit::render(&report),
        Format::Tap => crate::report::tap::render(&report),
        Format::Human => {
            let mut t = String::new();
            if cfg.output.is_some() || gating.repeat > 1 {
                for c in &report.cases {
                    t.push_str(&human::case_line(c, false));
                }
            }
            t.push_str(&human::summary(&report, colour));
            t
        }
    };
    match &cfg.output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| {
                UsageError(format!("--output: cannot write {}: {e}", path.display()))
            })?;
            if cfg.format == Format::Human {
                print!("{}", human::summary(&report, colour));
            }
        }
        None => {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }
    if let Some(dir) = &args.report_dir {
        crate::report::dir::write(dir, &report).map_err(|e| {
            UsageError(format!("--report-dir: cannot write {}: {e}", dir.display()))
        })?;
    }
    if let Some(path) = &gating.write_baseline {
        let base = crate::gate::baseline::Baseline::of(&report.claims, &report.cases);
        std::fs::write(path, base.to_text()).map_err(|e| {
            UsageError(format!(
                "--write-baseline: cannot write {}: {e}",
                path.display()
            ))
        })?;
    }
    Ok(report.exit_code)
}

fn build_report(
    cfg: &RunConfig,
    spec: &Spec,
    outcome: runner::Outcome,
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
            mode: if matches!(cfg.plan.target, runner::Target::Launch(_)) {
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
        cases: results,
        server_problems: outcome.server_problems,
        duration_ms: started.elapsed().as_millis() as u64,
        exit_code,
        gate,
    }
}

fn list(args: &ListArgs) -> Result<i32, UsageError> {
    let spec = load(args.spec.as_deref())?;
    let claims = config::claims(&args.claims, None)?;
    if matches!(args.format, Format::Junit | Format::Tap) {
        return Err(UsageError(
            "--format: `list` prints human or json only".into(),
        ));
    }
    if args.trace {
        return crate::trace::list(&spec, args.spec.as_deref(), args.format);
    }
    if args.format == Format::Json {
        let rows: Vec<_> = spec
            .cases
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id, "title": c.title, "level": c.level, "kind": c.kind.name(),
                    "requires": c.requires, "selected": claims.satisfies(&c.requires), "source": c.source,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(exit::OK);
    }
    println!("claims: {claims}");
    for c in &spec.cases {
        let mark = if claims.satisfies(&c.requires) {
            "run"
        } else {
            "n/c"
        };
        let req: Vec<_> = c.requires.iter().map(|r| r.as_str()).collect();
        println!(
            "{mark}  {:<40} {:<6} {:<24} {}",
            c.id,
            c.level.as_str(),
            req.join(","),
            c.title
        );
    }
    Ok(exit::OK)
}

fn explain(args: &ExplainArgs) -> Result<i32, UsageError> {
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
        return Err(UsageError(format!("no case `{}`; {hint}", args.id)));
    };
    print!("{}", describe_case(case));
    Ok(exit::OK)
}

/// A case described for people: what `explain` prints.
pub fn describe_case(case: &Case) -> String {
    let req: Vec<_> = case.requires.iter().map(|r| r.as_str()).collect();
    let mut text = format!(
        "{}\n  title:    {}\n  source:   {}\n  level:    {}\n  requires: {}\n  kind:     {}\n  defined:  {}:{}\n",
        case.id,
        case.title,
        case.source,
        case.level.as_str(),
        if req.is_empty() { "(any server)".to_string() } else { req.join(", ") },
        case.kind.name(),
        case.origin.file,
        case.origin.line
    );
    if let Some(n) = case.rlimit_nofile {
        text.push_str(&format!("  launch:   RLIMIT_NOFILE {n} for the server\n"));
    }
    if case.tags.iter().any(|t| t == crate::config::HEAVY_TAG) {
        text.push_str("  heavy:    runs only with --heavy or a --case glob naming it\n");
    }
    if let echo_spec::CaseKind::Concurrent { clients, .. } = &case.kind {
        text.push_str(&format!(
            "  clients:  {clients} at once, each with its own seed\n"
        ));
    }
    if let Some(p) = case.kind.property() {
        let ops: Vec<_> = p.ops.iter().map(|o| o.as_str()).collect();
        text.push_str(&format!(
            "  property: {} sequences from seed {}, up to {} operations on up to {} connections, payloads up to {} B, {} ms of waiting; operations: open, {}\n",
            p.cases, p.seed, p.max_ops, p.connections, p.max_payload, p.max_wait_ms, ops.join(", ")
        ));
        return text;
    }
    text.push_str("  steps:\n");
    steps_text(case.kind.steps(), 2, &mut text);
    text
}

fn steps_text(steps: &[Step], depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for (i, s) in steps.iter().enumerate() {
        let detail = match s {
            Step::Connect { name } | Step::On { name } | Step::UdpOn { name } => format!(" {name}"),
            Step::ConnectOver { name, family } => format!(" {name} over {}", family.as_str()),
            Step::UdpOpen { name, family } => match family {
                Some(f) => format!(" {name} over {}", f.as_str()),
                None => format!(" {name}"),
            },
            Step::UdpSend { payload } => format!(" one datagram of {}", payload_text(payload)),
            Step::UdpExpectNone { ms } => format!(" {ms} ms"),
            Step::UdpBurst {
                count,
                size,
                in_flight,
                max_loss_pct,
            } => format!(
                " {count} datagrams of {size} B, {in_flight} in flight, at most {max_loss_pct}% lost"
            ),
            Step::Send { payload, chunking } => {
                let what = payload_text(payload);
                let chunks = if chunking.sizes.is_empty() {
                    String::new()
                } else {
                    format!(" in chunks of {:?}", chunking.sizes)
                };
                let pause = if chunking.pause_ms > 0 {
                    format!(" pausing {} ms", chunking.pause_ms)
                } else {
                    String::new()
                };
                format!(" {what}{chunks}{pause}")
            }
            Step::ExpectSilence { ms } | Step::Sleep { ms } | Step::PauseReading { ms } => {
                format!(" {ms} ms")
            }
            Step::SetRcvbuf { bytes } => format!(" {bytes} B"),
            Step::Expect { bytes } => format!(" {:?}", String::from_utf8_lossy(bytes)),
            Step::ExpectExit { status } => format!(" status {status}"),
            Step::ExpectPriv { check } => format!(" {check}"),
            Step::Repeat { times, .. } => format!(" {times} times:"),
            Step::WriteUntilBlocked {
                max_bytes,
                stall_ms,
            } => format!(" up to {max_bytes} B, blocked after {stall_ms} ms without progress"),
            Step::Storm {
                connects,
                burst,
                max_failed,
            } => format!(" {connects} connects, {burst} at a time, at most {max_failed} may fail"),
            Step::Hold { count } => format!(" {count} idle connections"),
            Step::ExpectResources {
                fd_delta,
                threads_delta,
                settle_ms,
            } => format!(
                " fds ≤ baseline + {fd_delta}, threads ≤ baseline + {threads_delta}, within {settle_ms} ms"
            ),
            Step::ExpectRss {
                max_growth_kib,
                max_kib,
            } => {
                let mut parts = Vec::new();
                if let Some(g) = max_growth_kib {
                    parts.push(format!("peak growth ≤ {g} KiB"));
                }
                if let Some(m) = max_kib {
                    parts.push(format!("peak ≤ {m} KiB"));
                }
                format!(" {}", parts.join(", "))
            }
            Step::ExpectCpu { max_ms } => format!(" ≤ {max_ms} ms since the baseline"),
            Step::Signal { signal } | Step::Restart { signal } => format!(" SIG{}", signal.as_str()),
            _ => String::new(),
        };
        out.push_str(&format!("{pad}{i:>2}. {}{detail}\n", s.name()));
        if let Step::Repeat { steps, .. } = s {
            steps_text(steps, depth + 2, out);
        }
    }
}

fn payload_text(payload: &echo_spec::Payload) -> String {
    match payload {
        echo_spec::Payload::Bytes(b) => format!("{} B {:?}", b.len(), String::from_utf8_lossy(b)),
        echo_spec::Payload::Seeded { seed, len } => format!("{len} seeded B (seed {seed})"),
        echo_spec::Payload::AllBytes => "the 256 byte values".into(),
    }
}

fn validate(args: &ValidateArgs) -> Result<i32, UsageError> {
    let spec = load(args.dir.as_deref())?;
    crate::trace::registry(args.dir.as_deref(), &spec)?;
    let files: std::collections::BTreeSet<_> =
        spec.cases.iter().map(|c| c.origin.file.as_str()).collect();
    println!("ok: {} cases in {} files", spec.cases.len(), files.len());
    Ok(exit::OK)
}
