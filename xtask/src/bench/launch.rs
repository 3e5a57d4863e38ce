//! Starting and stopping what the benchmark measures: servers pinned to CPU 0, the load client
//! (and ab) pinned to CPU 1, where `taskset` exists.

use anyhow::{bail, Context};
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True when `taskset` can pin processes.
pub fn can_pin() -> bool {
    Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn pinned(cpu: &str, argv: &[String], pin: bool) -> Command {
    if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", cpu]).args(argv);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    }
}

/// A free port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `argv` (with `{port}` replaced) in its own process group and waits until it accepts.
/// Readiness by connecting is acceptable here, unlike in the runner: the benchmark starts only
/// servers that serve forever, so a probe spends nothing the measurement needs.
pub fn start(argv: &[String], pin: bool) -> anyhow::Result<(Child, u16)> {
    let port = free_port()?;
    let argv: Vec<String> = argv
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect();
    let child = pinned("0", &argv, pin)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .with_context(|| format!("start `{}`", argv.join(" ")))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_millis(200),
    )
    .is_err()
    {
        if Instant::now() > deadline {
            let mut child = child;
            stop(&mut child);
            bail!("`{}`: not listening on {port} after 10 s", argv.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((child, port))
}

/// SIGTERM to the whole group, then SIGKILL after 3 s.
pub fn stop(child: &mut Child) {
    let pg = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
}

/// Runs `echo-load` once against `port`, reporting on the server's group `pgid`.
pub fn load(
    bin: &Path,
    port: u16,
    pgid: u32,
    flags: &str,
    seconds: f64,
    pin: bool,
) -> anyhow::Result<Value> {
    let mut argv = vec![
        bin.join("echo-load").display().to_string(),
        "--addr".into(),
        format!("127.0.0.1:{port}"),
        "--seconds".into(),
        seconds.to_string(),
        "--server-pgid".into(),
        pgid.to_string(),
    ];
    argv.extend(flags.split_whitespace().map(String::from));
    let out = pinned("1", &argv, pin).output().context("run echo-load")?;
    if !out.status.success() {
        bail!("echo-load failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("echo-load printed bad JSON")
}

/// Runs `ab -n N -c C` once against `port`; returns its requests per second and failed count.
pub fn ab(port: u16, n: u32, c: u32, pin: bool) -> anyhow::Result<(f64, u64)> {
    let argv: Vec<String> = [
        "ab",
        "-q",
        "-r",
        "-s",
        "5",
        "-n",
        &n.to_string(),
        "-c",
        &c.to_string(),
        &format!("http://127.0.0.1:{port}/"),
    ]
    .map(String::from)
    .to_vec();
    let out = pinned("1", &argv, pin).output().context("run ab")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    match field("Requests per second") {
        Some(rps) => Ok((rps, field("Failed requests").unwrap_or(0.0) as u64)),
        None => bail!(
            "ab printed no rate: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// True when `ab` (apache2-utils) is installed.
pub fn has_ab() -> bool {
    Command::new("ab")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
