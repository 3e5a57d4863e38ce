//! Starting a server binary and talking to it: a guard that owns the child process, a free
//! port, and a UDP question-and-answer helper, every wait with a deadline.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long a socket operation or a process may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// `echo-server`, as Cargo built it for these tests.
pub const ECHO_SERVER: &str = env!("CARGO_BIN_EXE_echo-server");
/// `echo-mutant`, as Cargo built it for these tests.
pub const ECHO_MUTANT: &str = env!("CARGO_BIN_EXE_echo-mutant");

/// A running server; dropping it kills and reaps the process.
pub struct Server {
    child: Child,
    command: String,
    stderr: Receiver<String>,
    /// The port it listens on.
    pub port: u16,
}

impl Server {
    /// Starts `program args... --port P` on a free port and waits for its readiness line. A port
    /// taken in between is retried with another one.
    pub fn start(program: &str, args: &[&str]) -> Server {
        let mut last = String::new();
        for _ in 0..3 {
            match Server::try_start(program, args, free_port()) {
                Ok(server) => return server,
                Err(e) => last = e,
            }
        }
        panic!("server did not start: {last}");
    }

    fn try_start(program: &str, args: &[&str], port: u16) -> Result<Server, String> {
        let port_text = port.to_string();
        let mut command = Command::new(program);
        command
            .args(args)
            .args(["--port", &port_text])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        let text = format!("{program} {} --port {port}", args.join(" "));
        let mut child = command.spawn().map_err(|e| format!("{text}: {e}"))?;
        let (tx, stderr) = mpsc::channel();
        if let Some(pipe) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let server = Server {
            child,
            command: text,
            stderr,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match server.stderr.recv_timeout(left) {
                Ok(line) if line.contains("listening on") => return Ok(server),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Err(format!(
            "{}: no readiness line; {}",
            server.command,
            server.stderr_so_far()
        ))
    }

    /// The process id.
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Sends `signal` to the server.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).expect("kill");
    }

    /// Waits up to `limit` for the server to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and asserts a clean exit (status 0) within the deadline.
    pub fn stop(mut self) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let status = self.wait_exit(TIMEOUT);
        assert!(
            status.is_some_and(|s| s.success()),
            "{}: after SIGTERM: {status:?}; {}",
            self.command,
            self.stderr_so_far()
        );
    }

    /// Everything the server wrote to stderr so far, for failure messages.
    pub fn stderr_so_far(&self) -> String {
        let lines: Vec<String> = self.stderr.try_iter().collect();
        format!("stderr: {:?}", lines.join("\n"))
    }

    /// The command line, for failure messages.
    pub fn command(&self) -> &str {
        &self.command
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port that was free a moment ago: bind 127.0.0.1:0 over UDP, read it, drop the socket.
pub fn free_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    socket.local_addr().expect("local_addr").port()
}

/// A client UDP socket on `local` (port 0) with read and write timeouts.
pub fn client(local: &str) -> UdpSocket {
    let socket = UdpSocket::bind(local).expect("bind client");
    socket.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    socket.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    socket
}

/// Sends `payload` from a fresh client on `local` to `server` and returns the answer and where
/// it came from, or `None` if none came in time.
pub fn ask(local: &str, server: SocketAddr, payload: &[u8]) -> Option<(Vec<u8>, SocketAddr)> {
    let socket = client(local);
    socket.send_to(payload, server).expect("send_to");
    let mut buf = vec![0u8; 70_000];
    let (n, from) = socket.recv_from(&mut buf).ok()?;
    buf.truncate(n);
    Some((buf, from))
}
