//! No process is left behind: after a passing run against `prefork` (a master and 20 workers), after a
//! failing run, and after the runner itself is interrupted with SIGINT mid-case.
//!
//! Each test launches the server through a uniquely named link to `echo-server`, so every process of
//! the run (forked workers inherit the command line) can be found in `/proc`, whatever its port.

use crate::util::{
    bin, describe, exit, marked_server, procs_matching, wait_gone, MarkedServer, Proc,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the runner may take to have ended the server's group once it has exited itself: none.
/// Killed processes are reaped at once; zombies are not counted.
const NO_GRACE: Duration = Duration::from_millis(0);

/// Runs `echo-conform run` against the marked server, watching `/proc` while it runs; returns the exit
/// code, the most processes seen at once, and the server's process group.
fn run_watched(server: &MarkedServer, model: &str, args: &[&str]) -> (i32, usize, Option<i32>) {
    let marker = server.path.to_string_lossy().into_owned();
    let mut cmd = Command::new(bin("echo-conform"));
    cmd.args(["run", "--cmd"])
        .arg(format!("{marker} --model {model} --port {{port}}"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawning echo-conform");
    let pid = child.id();
    let mut most = 0;
    let mut pgid = None;
    let watcher = std::thread::spawn(move || {
        let mut child = child;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(_status) = child.try_wait().expect("try_wait") {
                return child.wait_with_output().expect("collecting output");
            }
            assert!(
                Instant::now() < deadline,
                "echo-conform (pid {pid}) ran over 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    while !watcher.is_finished() {
        let seen: Vec<Proc> = procs_matching(&marker, None);
        if seen.len() > most {
            most = seen.len();
        }
        if pgid.is_none() {
            pgid = seen.first().map(|p| p.pgid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = watcher.join().expect("the watcher thread");
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("echo-conform died by a signal\n{}", describe(&cmd, &out)));
    let left = wait_gone(&marker, pgid, NO_GRACE);
    assert!(
        left.is_empty(),
        "processes left behind: {left:#?}\n{}",
        describe(&cmd, &out)
    );
    (code, most, pgid)
}

#[test]
fn prefork_run_leaves_no_worker_behind() {
    let server = marked_server("prefork");
    let (code, most, pgid) = run_watched(
        &server,
        "prefork",
        &[
            "--claims",
            "oneshot",
            "--case",
            "echo.*",
            "--case",
            "lifecycle.connect-close.200",
        ],
    );
    assert_eq!(code, exit::OK);
    assert!(pgid.is_some(), "the server was never seen running");
    assert_eq!(
        most, 21,
        "a prefork master and its 20 workers should all have been seen"
    );
}

#[test]
fn failing_run_leaves_nothing_behind() {
    let server = marked_server("failing");
    let (code, most, _) = run_watched(
        &server,
        "sequential",
        &[
            "--case",
            "echo.stream.*",
            "--case",
            "stream.half-close.flush-then-eof",
        ],
    );
    assert_eq!(code, exit::CASE_FAILED);
    assert!(most >= 1, "the server was never seen running");
}

#[test]
fn sigint_mid_run_stops_the_server_and_the_runner_promptly() {
    let server = marked_server("sigint");
    let marker = server.path.to_string_lossy().into_owned();
    let mut cmd = Command::new(bin("echo-conform"));
    cmd.args(["run", "--cmd"])
        .arg(format!("{marker} --model tokio --port {{port}}"))
        .args(["--case", "stream.idle-pause"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning echo-conform");
    // Wait for the server to be up, then well into the case's 2 s idle pause.
    let deadline = Instant::now() + Duration::from_secs(10);
    let pgid = loop {
        if let Some(p) = procs_matching(&marker, None).first() {
            break p.pgid;
        }
        assert!(Instant::now() < deadline, "the server never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the run ended before SIGINT"
    );
    let sent = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("sending SIGINT");
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if sent.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!("echo-conform did not exit within 5 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().expect("collecting output");
    let left = wait_gone(&marker, Some(pgid), NO_GRACE);
    assert!(
        left.is_empty(),
        "processes left behind: {left:#?}\n{}",
        describe(&cmd, &out)
    );
    // 128 + SIGINT, as a shell reports an interrupted command.
    assert_eq!(status.code(), Some(130), "{}", describe(&cmd, &out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted"),
        "{}",
        describe(&cmd, &out)
    );
}

/// A server that double-forks a daemon into a session of its own: the runner (a child subreaper,
/// and following its environment mark) finds it, says so in the run's notes, and ends it.
#[test]
fn a_daemonized_helper_is_found_and_ended() {
    let needle = "--mutant daemonize-leak";
    let run = crate::util::conform(&[
        "run",
        "--cmd",
        &crate::util::mutant_cmd("daemonize-leak"),
        "--case",
        "echo.text.short",
        "--format",
        "json",
    ]);
    assert_eq!(run.code(), exit::OK, "{run}");
    let notes = run.report().0["run_notes"].to_string();
    assert!(
        notes.contains("left the process group of the server") && notes.contains("by setsid"),
        "{notes}"
    );
    let left = crate::util::procs_containing(needle);
    assert!(left.is_empty(), "the daemon outlived the run: {left:#?}");
}
