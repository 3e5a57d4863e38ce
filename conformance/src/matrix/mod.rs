//! `echo-conform matrix TARGETS.toml`: one run per server of a targets file, side by side where
//! the machine allows, and one matrix of cases × servers as a page, JSON and text.
//!
//! Each target is an `echo-conform run` of its own (its own network namespace and reports), in
//! `OUT/NAME/` (`--report-dir`, plus `run.log` with what it printed). Runs side by side share the
//! machine through [`crate::os::machine`]: a crowd, heavy or alone case of one run never overlaps
//! another run. The exit code is the worst of the runs' (3 over 1 over 0).

pub mod page;
pub mod table;
pub mod targets;

use crate::error::Error;
use crate::flags::MatrixArgs;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use targets::Target;

/// What became of one target.
struct Done {
    target: Target,
    code: i32,
    report: Option<Value>,
    took: Duration,
    skipped: Option<String>,
}

/// Runs the matrix and returns the exit code.
pub fn run(args: &MatrixArgs) -> Result<i32, Error> {
    let started = Instant::now();
    let me = std::env::current_exe()
        .map_err(|e| Error::Environment(format!("cannot find echo-conform itself: {e}")))?;
    let bin = me.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut all = targets::load(&args.targets, &bin)?;
    if !args.only.is_empty() {
        if let Some(o) = args
            .only
            .iter()
            .find(|o| !all.iter().any(|t| &&t.name == o))
        {
            return Err(Error::Usage(format!(
                "--only {o}: no such target in {}",
                args.targets.display()
            )));
        }
        all.retain(|t| args.only.contains(&t.name));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::Io(format!("--out: cannot create {}: {e}", args.out.display())))?;
    let cwd = args
        .targets
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    // A matrix started under a machine lock (CI runs one beside other suites) shares that lock, so
    // its crowds and heavy cases keep the machine from those suites too.
    let lock = std::env::var_os(crate::os::machine::LOCK_ENV)
        .map_or_else(|| args.out.join(".machine.lock"), PathBuf::from);
    // A run mostly waits on its servers (deadlines, designed pauses): two per CPU keep the
    // machine busy, and the lock keeps crowd and heavy cases to themselves.
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| 2 * n.get()),
        usize::from,
    );
    let done = run_all(
        &me,
        &cwd,
        &args.out,
        &lock,
        all,
        jobs.max(1),
        args.target_timeout,
    )?;

    let duration_ms = started.elapsed().as_millis() as u64;
    let rows: Vec<(String, String, Value)> = done
        .iter()
        .filter_map(|d| {
            d.report
                .clone()
                .map(|r| (d.target.name.clone(), d.target.claims.clone(), r))
        })
        .collect();
    let columns: Vec<page::Column> = rows
        .iter()
        .map(|(name, claims, report)| page::Column {
            name,
            claims,
            under_test: args.under_test.contains(name),
            report,
        })
        .collect();
    let data = page::data(&columns, duration_ms);
    let write = |name: &str, text: &str| {
        std::fs::write(args.out.join(name), text).map_err(|e| {
            Error::Io(format!(
                "cannot write {}: {e}",
                args.out.join(name).display()
            ))
        })
    };
    let text = table::render(&rows);
    write("matrix.txt", &text)?;
    write(
        "matrix.json",
        &serde_json::to_string_pretty(&data).unwrap_or_default(),
    )?;
    page::write(&args.out, &data).map_err(|e| {
        Error::Io(format!(
            "cannot write the page in {}: {e}",
            args.out.display()
        ))
    })?;
    println!("{text}");
    println!("{}", summary(&done, duration_ms));
    println!("matrix page: {}", args.out.join("index.html").display());
    Ok(worst(done.iter().map(|d| d.code)))
}

/// The worst of the runs' exit codes: an error of the kit or the environment (2, 4), then a
/// server problem (3), a regression (5), a failed claim (1), success (0).
fn worst(codes: impl Iterator<Item = i32>) -> i32 {
    let rank = |c: i32| match c {
        0 => 0,
        1 => 1,
        5 => 2,
        3 => 3,
        4 => 4,
        _ => 5,
    };
    codes.max_by_key(|c| rank(*c)).unwrap_or(0)
}

/// One line per target: its verdict, exit code, detected profile and run time.
fn summary(done: &[Done], duration_ms: u64) -> String {
    let mut text = format!(
        "{:<16} {:<9} {:>4} {:>8}  detected\n",
        "server", "verdict", "exit", "time"
    );
    for d in done {
        let verdict = match (&d.skipped, d.code) {
            (Some(_), _) => "skipped",
            (None, 0) => "pass",
            (None, 1) => "FAIL",
            (None, 3) => "SERVER",
            (None, 5) => "REGRESSED",
            _ => "ERROR",
        };
        let detected = match &d.skipped {
            Some(why) => why.clone(),
            None => d
                .report
                .as_ref()
                .and_then(|r| r["detected"].as_str().map(String::from))
                .unwrap_or_else(|| "-".into()),
        };
        text.push_str(&format!(
            "{:<16} {verdict:<9} {:>4} {:>7.1}s  {detected}\n",
            d.target.name,
            d.code,
            d.took.as_secs_f64()
        ));
    }
    text.push_str(&format!(
        "{} servers in {:.1} s",
        done.len(),
        duration_ms as f64 / 1000.0
    ));
    text
}

/// A run in progress.
struct Running {
    target: Target,
    child: Child,
    started: Instant,
}

/// Ends every run still going when the matrix stops early (an error or a panic): each runner
/// ends its own servers on SIGTERM; whatever is left of them, re-parented to this process (a
/// subreaper), is killed.
struct Reaper(Vec<Running>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for r in &mut self.0 {
            stop(&mut r.child);
        }
        crate::os::procs::kill_descendants();
    }
}

/// SIGTERM, up to 2 s for the runner to end its servers and exit, then SIGKILL.
fn stop(child: &mut Child) {
    use nix::sys::signal::{kill, Signal};
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(2);
    let exited = crate::os::poll_until(deadline, Duration::from_millis(20), || {
        matches!(child.try_wait(), Ok(Some(_))).then_some(())
    });
    if exited.is_some() {
        return;
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn run_all(
    me: &Path,
    cwd: &Path,
    out: &Path,
    lock: &Path,
    targets: Vec<Target>,
    jobs: usize,
    timeout: u64,
) -> Result<Vec<Done>, Error> {
    let order: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    // The longest runs first (as the last matrix in `out` timed them; new targets before all), so
    // that a long run does not start last and keep the others waiting on it. Among targets never
    // timed (a fresh clone, as in CI), privileged ones first: they also run the `priv.*` cases,
    // which makes them the longest runs of a matrix.
    let mut targets = targets;
    targets.sort_by_key(|t| {
        (
            std::cmp::Reverse(last_duration(out, &t.name).unwrap_or(u64::MAX)),
            !t.root,
        )
    });
    let mut queue: std::collections::VecDeque<Target> = targets.into();
    let mut running = Reaper(Vec::new());
    let mut done: Vec<Done> = Vec::new();
    let is_root = nix::unistd::geteuid().is_root();
    // Bounded: each target starts once, and each run is ended by `timeout` at the latest.
    while !queue.is_empty() || !running.0.is_empty() {
        while running.0.len() < jobs {
            let Some(t) = queue.pop_front() else { break };
            if t.root && !is_root {
                done.push(Done {
                    skipped: Some(
                        "needs root (binds a privileged port or drops privileges)".into(),
                    ),
                    target: t,
                    code: 0,
                    report: None,
                    took: Duration::ZERO,
                });
                continue;
            }
            let child = spawn(me, cwd, out, lock, &t)?;
            eprintln!("matrix: started {}", t.name);
            running.0.push(Running {
                target: t,
                child,
                started: Instant::now(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut i = 0;
        while i < running.0.len() {
            let r = &mut running.0[i];
            let over = r.started.elapsed() > Duration::from_secs(timeout);
            let status = match r.child.try_wait() {
                Ok(Some(s)) => Some(s.code().unwrap_or(3)),
                Ok(None) if over => {
                    stop(&mut r.child);
                    Some(3)
                }
                Ok(None) => None,
                Err(_) => Some(3),
            };
            let Some(code) = status else {
                i += 1;
                continue;
            };
            let r = running.0.remove(i);
            let dir = out.join(&r.target.name);
            let report = std::fs::read_to_string(dir.join("report.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok());
            let took = r.started.elapsed();
            let why = if report.is_none() {
                let tail = std::fs::read_to_string(dir.join("run.log")).unwrap_or_default();
                let last = tail.lines().last().unwrap_or("").to_string();
                if over {
                    format!("ended after the --target-timeout of {timeout} s")
                } else {
                    format!("no report (exit {code}): {last}")
                }
            } else {
                String::new()
            };
            eprintln!(
                "matrix: {} exit {code} in {:.1} s{}",
                r.target.name,
                took.as_secs_f64(),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            );
            done.push(Done {
                target: r.target,
                code,
                report,
                took,
                skipped: None,
            });
        }
    }
    done.sort_by_key(|d| order.iter().position(|n| n == &d.target.name));
    Ok(done)
}

/// How long the target's last run in `out` took, from its report.
fn last_duration(out: &Path, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(out.join(name).join("report.json")).ok()?;
    serde_json::from_str::<Value>(&text).ok()?["duration_ms"].as_u64()
}

/// Starts `echo-conform run` for `t`, its output in `OUT/NAME/run.log`.
fn spawn(me: &Path, cwd: &Path, out: &Path, lock: &Path, t: &Target) -> Result<Child, Error> {
    let dir: PathBuf = out.join(&t.name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let log = std::fs::File::create(dir.join("run.log")).map_err(|e| {
        Error::Io(format!(
            "cannot write {}: {e}",
            dir.join("run.log").display()
        ))
    })?;
    let mut cmd = Command::new(me);
    cmd.arg("run")
        .args(&t.how)
        .args(["--claims", &t.claims])
        .args(&t.args)
        .arg("--report-dir")
        .arg(abs(&dir));
    if let Some(p) = &t.expect_fail {
        cmd.arg("--expect-fail").arg(abs(p));
    }
    if let Some(p) = &t.baseline {
        cmd.arg("--baseline").arg(abs(p));
    }
    cmd.current_dir(cwd)
        .env(crate::os::machine::LOCK_ENV, abs(lock))
        .stdin(Stdio::null())
        .stderr(
            log.try_clone()
                .map_err(|e| Error::Io(format!("run.log: {e}")))?,
        )
        .stdout(log);
    cmd.spawn()
        .map_err(|e| Error::Environment(format!("cannot start {}: {e}", me.display())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_worst_exit_code_wins() {
        assert_eq!(super::worst([0, 1, 0].into_iter()), 1);
        assert_eq!(super::worst([1, 3, 5].into_iter()), 3);
        assert_eq!(super::worst([0, 2].into_iter()), 2);
        assert_eq!(super::worst(std::iter::empty()), 0);
    }
}
