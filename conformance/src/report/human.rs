//! Output for people: a line per case as it finishes, evidence under each failure, a summary.
//! On a terminal: colour, and a status line under the output that names the cases running and
//! for how long (so a case that hangs for a minute shows which one it is); off a terminal, plain
//! lines only.

use super::{CaseResult, Grade, RunReport};
use crate::events::{Attempt, Event};
use crate::gate::GateReport;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The cases running now: when each started, and why.
type Running = BTreeMap<String, (Instant, Attempt)>;

/// Prints events as they come; the summary comes from [`summary`].
pub struct LiveReporter {
    colour: bool,
    verbose: bool,
    bar: Mutex<Option<ProgressBar>>,
    running: Arc<Mutex<Running>>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl LiveReporter {
    /// A reporter writing to `out`; colour and the status line when `tty` is true and stderr is a
    /// terminal; how each failure was confirmed when `verbose`.
    pub fn new(out: Box<dyn Write + Send>, tty: bool, verbose: bool) -> Self {
        LiveReporter {
            colour: tty,
            verbose,
            bar: Mutex::new(None),
            running: Arc::new(Mutex::new(BTreeMap::new())),
            out: Mutex::new(out),
        }
    }

    /// Handles one event.
    pub fn event(&self, event: Event) {
        match event {
            Event::RunStarted { to_run } => {
                if self.colour && std::io::stderr().is_terminal() {
                    let bar = ProgressBar::new(to_run as u64);
                    // The running cases are rendered at every tick, so their ages keep counting
                    // while a case hangs.
                    let running = Arc::clone(&self.running);
                    if let Ok(style) =
                        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {running}")
                    {
                        bar.set_style(style.with_key(
                            "running",
                            move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                                let running = running.lock().unwrap_or_else(|e| e.into_inner());
                                let _ = w.write_str(&running_line(&running));
                            },
                        ));
                    }
                    bar.enable_steady_tick(Duration::from_millis(250));
                    *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
                }
            }
            Event::CaseStarted { id, attempt } => {
                self.running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id, (Instant::now(), attempt));
                self.show_running();
            }
            Event::CaseFinished(r) => {
                self.running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&r.id);
                if r.grade == Grade::NotClaimed {
                    return;
                }
                let text = case_line(&r, self.colour, self.verbose);
                let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
                match bar.as_ref() {
                    Some(b) => {
                        b.inc(1);
                        b.suspend(|| self.write(&text));
                    }
                    None => self.write(&text),
                }
                drop(bar);
                self.show_running();
            }
            Event::ServerDied { status, during } => {
                if self.verbose {
                    let text = format!(
                        "      the server {status} while {} ran; each is run again alone\n",
                        during.join(", ")
                    );
                    self.above_bar(&text);
                }
            }
            Event::Relaunched { .. } | Event::RunFinished { .. } => {}
        }
    }

    /// Redraws the status line at once (it also redraws on every tick).
    fn show_running(&self) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            b.tick();
        }
    }

    fn above_bar(&self, text: &str) {
        let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        match bar.as_ref() {
            Some(b) => b.suspend(|| self.write(text)),
            None => self.write(text),
        }
    }

    /// Removes the status line.
    pub fn finish(&self) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            b.finish_and_clear();
        }
    }

    fn write(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// The status line: the cases running now, the longest-running first, with their age.
fn running_line(running: &Running) -> String {
    let mut items: Vec<_> = running.iter().collect();
    items.sort_by_key(|(_, (t, _))| *t);
    let text: Vec<String> = items
        .iter()
        .take(3)
        .map(|(id, (t, attempt))| {
            let why = match attempt {
                Attempt::Scheduled => "",
                Attempt::Confirm => " (alone)",
                Attempt::Attribution => " (attribution)",
            };
            format!("{id}{why} {}s", t.elapsed().as_secs())
        })
        .collect();
    let more = running.len().saturating_sub(3);
    let mut line = format!("running: {}", text.join(", "));
    if more > 0 {
        line.push_str(&format!(" +{more}"));
    }
    line
}

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// One case as a line ending in a newline (plus its evidence, indented, for FAIL and SKIP); with
/// `verbose`, how its failure was confirmed too.
pub fn case_line(r: &CaseResult, colour: bool, verbose: bool) -> String {
    let (label, code) = match r.grade {
        Grade::Pass => ("PASS", "32"),
        Grade::Fail => ("FAIL", "31;1"),
        Grade::Skip => ("SKIP", "33"),
        Grade::NotClaimed => ("N/C", "2"),
        Grade::Info => ("INFO", "36"),
        Grade::Flaky => ("FLAKY", "35"),
        Grade::XFail => ("XFAIL", "33"),
        Grade::XPass => ("XPASS", "33;1"),
    };
    let unclaimed = if r.claimed { "" } else { " (not claimed)" };
    let level = if r.grade.is_failing() && r.claimed {
        format!("{} ", r.level.as_str().to_ascii_uppercase())
    } else {
        String::new()
    };
    let kind = r
        .failure
        .map(|k| format!(" [{}]", k.label()))
        .unwrap_or_default();
    let seed = match (r.seed, r.prop_cases) {
        (Some(seed), Some(n)) => format!(" (seed {seed}, {n} cases)"),
        (Some(seed), None) => format!(" (seed {seed})"),
        _ => String::new(),
    };
    let mut line = format!(
        "{} {:<40} {:>6} ms  {level}{}{seed}{unclaimed}{kind}\n",
        paint(&format!("{label:<5}"), code, colour),
        r.id,
        r.duration_ms,
        r.title
    );
    if let Some(e) = &r.evidence {
        if r.grade != Grade::Pass && (r.claimed || r.grade == Grade::Skip) {
            line.push_str(&crate::text::indent(e));
            line.push('\n');
        }
    }
    if let (true, Some(a)) = (verbose, &r.attribution) {
        line.push_str(&crate::text::indent(a));
        line.push('\n');
    }
    for n in &r.notes {
        line.push_str(&format!("      measured: {n}\n"));
    }
    line
}

/// The closing summary; with `verbose`, what attribution tried and spent too.
pub fn summary(report: &RunReport, colour: bool, verbose: bool) -> String {
    let mut text = report.environment.summary_line();
    for p in &report.server_problems {
        text.push_str(&paint(&format!("server: {p}\n"), "31;1", colour));
    }
    let confirmed = report
        .cases
        .iter()
        .filter(|c| c.attribution.is_some())
        .count();
    if confirmed > 0 {
        text.push_str(&format!(
            "{confirmed} failure(s) seen beside other cases were confirmed on fresh instances with \
             nothing else running (--verbose shows each)\n"
        ));
    }
    for n in &report.run_notes {
        text.push_str(&format!("note: {n}\n"));
    }
    if verbose {
        for n in &report.attribution {
            text.push_str(&format!("note: {n}\n"));
        }
    }
    let n = |g: Grade| report.summary.get(&g).copied().unwrap_or(0);
    let unclaimed: Vec<_> = report
        .cases
        .iter()
        .filter(|c| !c.claimed && c.grade != Grade::NotClaimed)
        .collect();
    text.push_str(&format!(
        "\n{} passed, {} failed, {} skipped, {} info, {} not claimed — claims: {} — {:.1} s\n",
        n(Grade::Pass),
        n(Grade::Fail),
        n(Grade::Skip),
        n(Grade::Info),
        n(Grade::NotClaimed),
        report.claims,
        report.duration_ms as f64 / 1000.0
    ));
    if !unclaimed.is_empty() {
        let failed = unclaimed.iter().filter(|c| c.grade == Grade::Fail).count();
        text.push_str(&format!(
            "unclaimed cases run by --detect: {} passed, {failed} failed\n",
            unclaimed.len() - failed
        ));
    }
    if let Some(d) = &report.detected {
        text.push_str(&format!("detected profile: {d}\n"));
    }
    if let Some(g) = &report.gate {
        text.push_str(&gate_summary(g));
    }
    text.push_str(&findings_text(report));
    let verdict = super::verdict_text(report);
    let code = if report.exit_code == 0 {
        "32;1"
    } else {
        "31;1"
    };
    text.push_str(&format!(
        "verdict: {} (exit {})\n",
        paint(&verdict, code, colour),
        report.exit_code
    ));
    text
}

/// The findings, each with its diagnosis, primary case, the count of cases it explains and its
/// fix; empty when there are none.
pub fn findings_text(report: &RunReport) -> String {
    let findings = &report.findings;
    if findings.is_empty() {
        return String::new();
    }
    let mut text = format!(
        "\n{} found:\n",
        match findings.len() {
            1 => "1 defect".to_string(),
            n => format!("{n} defects"),
        }
    );
    for (i, f) in findings.iter().enumerate() {
        let others = f.cases.len() - 1;
        let more = match others {
            0 => String::new(),
            1 => " and 1 more case".to_string(),
            n => format!(" and {n} more cases"),
        };
        text.push_str(&format!(
            "  {}. [{}] {}\n     shown by {}{more}; alone: echo-conform run --{} '{}' --claims {} --case {}\n",
            i + 1,
            f.level_label(),
            f.diagnosis,
            f.primary,
            report.target.mode,
            report.target.value.replace('\'', "'\\''"),
            report.claims,
            f.primary
        ));
        if let Some(fix) = &f.fix {
            text.push_str(&format!("     fix: {fix}\n"));
        }
        if others > 0 {
            text.push_str(&format!("     also: {}\n", f.cases[1..].join(", ")));
        }
    }
    text
}

/// The gating section of the human summary; empty when there is nothing to say.
pub fn gate_summary(g: &GateReport) -> String {
    let mut text = String::new();
    let list = |title: &str, ids: &[String], text: &mut String| {
        if !ids.is_empty() {
            text.push_str(&format!("{title} ({}):\n", ids.len()));
            for id in ids {
                text.push_str(&format!("    {id}\n"));
            }
        }
    };
    if g.repeat > 1 {
        text.push_str(&format!("each case ran {} times\n", g.repeat));
    }
    list("FLAKY, passed only some runs", &g.flaky, &mut text);
    if let Some(b) = &g.baseline {
        text.push_str(&format!("baseline: {b}\n"));
        list(
            "REGRESSIONS, passed in the baseline and fail now",
            &g.regressions,
            &mut text,
        );
        list(
            "known failures, failing in the baseline too (not gating)",
            &g.known_failures,
            &mut text,
        );
        list(
            "new cases, not in the baseline (gating as usual)",
            &g.new_cases,
            &mut text,
        );
        list(
            "IMPROVEMENTS, failing in the baseline and passing now",
            &g.improvements,
            &mut text,
        );
        if !g.improvements.is_empty() {
            text.push_str(&format!(
                "    to bake them in: re-run with --write-baseline {b}\n"
            ));
        }
    }
    for e in &g.expected {
        match e.grade {
            Grade::XPass => text.push_str(&format!(
                "XPASS {}: listed in --expect-fail ({}) but passed; remove it from the list\n",
                e.id, e.reason
            )),
            _ => text.push_str(&format!("XFAIL {}: expected failure: {}\n", e.id, e.reason)),
        }
    }
    for n in &g.notes {
        text.push_str(&format!("note: {n}\n"));
    }
    text
}
