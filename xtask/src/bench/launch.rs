//! Starting and stopping what the benchmark measures: servers pinned to CPU 0, the load client
//! (and ab) pinned to CPU 1, where `taskset` exists. A TCP server is ready when it accepts; a
//! UDP-only server when its socket appears in `/proc/net/udp` or `/proc/net/udp6`.

use anyhow::{bail, Context};
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Two CPUs this process may run on (server, client), when `taskset` exists and at least two are
/// allowed; `None` means no pinning.
pub fn pin_cpus() -> Option<(usize, usize)> {
    let has_taskset = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_taskset {
        return None;
    }
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
    let allowed: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .take(2)
        .collect();
    match allowed[..] {
        [a, b] => Some((a, b)),
        _ => None,
    }
}

/// Which CPU a process is pinned to: the server's or the client's.
#[derive(Debug, Clone, Copy)]
pub enum Side {
    /// The server under test.
    Server,
    /// The load client (or ab).
    Client,
}

fn pinned(side: Side, argv: &[String], pin: Option<(usize, usize)>) -> Command {
    match pin {
        Some((server, client)) => {
            let cpu = match side {
                Side::Server => server,
                Side::Client => client,
            };
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).args(argv);
            c
        }
        None => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    }
}

/// A running server: stopped (its whole group) when dropped, so an error or a panic in the
/// benchmark never leaves one behind; a parent-death signal covers Ctrl-C.
pub struct Running {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Running {
    /// Its process group (the pid of the process started).
    pub fn pgid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A free TCP port on 127.0.0.1, or a free UDP one when `udp`.
pub fn free_port(udp: bool) -> anyhow::Result<u16> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    Ok(if udp {
        std::net::UdpSocket::bind(addr)?.local_addr()?.port()
    } else {
        std::net::TcpListener::bind(addr)?.local_addr()?.port()
    })
}

/// True when the `echo-server` in `bin` takes `--udp` (its help mentions it).
pub fn serves_udp(bin: &Path) -> bool {
    Command::new(bin.join("echo-server"))
        .arg("--help")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--udp"))
}

/// True when a socket bound to local `port` is listed in `table` (the text of `/proc/net/udp`
/// or `/proc/net/udp6`, whose second column is `ADDRESS:PORT` in hex).
pub fn udp_port_bound(table: &str, port: u16) -> bool {
    table.lines().skip(1).any(|line| {
        line.split_whitespace()
            .nth(1)
            .and_then(|local| local.rsplit(':').next())
            .and_then(|hex| u16::from_str_radix(hex, 16).ok())
            == Some(port)
    })
}

fn ready(port: u16, udp: bool) -> bool {
    if udp {
        ["/proc/net/udp", "/proc/net/udp6"].iter().any(|path| {
            std::fs::read_to_string(path).is_ok_and(|table| udp_port_bound(&table, port))
        })
    } else {
        std::net::TcpStream::connect_timeout(
            &([127, 0, 0, 1], port).into(),
            Duration::from_millis(200),
        )
        .is_ok()
    }
}

/// Starts `argv` (with `{port}` replaced) in its own process group and waits until it accepts
/// (or, when `udp`, until its UDP socket is bound), for 10 s at most. Readiness by connecting is
/// acceptable here, unlike in the runner: the benchmark starts only servers that serve forever,
/// so a probe spends nothing the measurement needs. A UDP-only server has no listener to
/// connect to, and a probe datagram would be measured, so its socket is looked up instead.
pub fn start(argv: &[String], pin: Option<(usize, usize)>, udp: bool) -> anyhow::Result<Running> {
    let port = free_port(udp)?;
    let argv: Vec<String> = argv
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect();
    let mut command = pinned(Side::Server, &argv, pin);
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = command
        .spawn()
        .with_context(|| format!("start `{}`", argv.join(" ")))?;
    let mut running = Running { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready(port, udp) {
        if let Ok(Some(status)) = running.child.try_wait() {
            bail!("`{}` exited before serving: {status}", argv.join(" "));
        }
        if Instant::now() > deadline {
            let what = if udp {
                "bound a UDP socket"
            } else {
                "listening"
            };
            bail!("`{}`: not {what} on {port} after 10 s", argv.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(running)
}

/// SIGTERM to the whole group, then SIGKILL after 3 s.
fn stop(child: &mut Child) {
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
    pin: Option<(usize, usize)>,
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
    let out = pinned(Side::Client, &argv, pin)
        .output()
        .context("run echo-load")?;
    if !out.status.success() {
        bail!("echo-load failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("echo-load printed bad JSON")
}

/// Runs `ab -n N -c C` once against `port`; returns its requests per second and failed count.
pub fn ab(port: u16, n: u32, c: u32, pin: Option<(usize, usize)>) -> anyhow::Result<(f64, u64)> {
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
    let out = pinned(Side::Client, &argv, pin)
        .output()
        .context("run ab")?;
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

#[cfg(test)]
mod tests {
    use super::udp_port_bound;

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  119: 0100007F:1F47 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4242 2 0000000000000000 0
";
    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  300: 00000000000000000000000001000000:B8A7 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4343 2 0000000000000000 0
";

    #[test]
    fn a_bound_udp_port_is_found_in_either_table() {
        assert!(udp_port_bound(UDP, 8007));
        assert!(udp_port_bound(UDP6, 47271));
        assert!(!udp_port_bound(UDP, 47271));
        assert!(!udp_port_bound(UDP6, 8007));
        // The header line and garbage are never a match.
        assert!(!udp_port_bound("sl local_address\nnonsense\n", 0));
    }
}
