//! The UDP echo of the reference models (`--udp`, `--transport both`, `--bind ::`) and the
//! ICMP port-unreachable sequence that ends `udp-icmp-dies` but none of the references.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::util::{ask, client, Server, ECHO_MUTANT, ECHO_SERVER, TIMEOUT};

/// The models that serve UDP alone.
const UDP_MODELS: [&str; 3] = ["sequential", "epoll", "tokio"];

/// The largest UDP payload over IPv4.
const MAX_V4_PAYLOAD: usize = 65_507;

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Asserts that `payload` comes back whole from exactly `server`.
fn check_echo(server: &Server, local: &str, to: SocketAddr, payload: &[u8]) {
    let answer = ask(local, to, payload);
    let Some((data, from)) = answer else {
        panic!(
            "{}: no answer to {} bytes from {local}; {}",
            server.command(),
            payload.len(),
            server.stderr_so_far()
        );
    };
    assert_eq!(
        from,
        to,
        "{}: answered from another address",
        server.command()
    );
    assert!(
        data == payload,
        "{}: sent {} bytes, got {} different bytes back",
        server.command(),
        payload.len(),
        data.len()
    );
}

#[test]
fn references_echo_datagrams_whole() {
    let big: Vec<u8> = (0..MAX_V4_PAYLOAD).map(|i| (i % 251) as u8).collect();
    for model in UDP_MODELS {
        let server = Server::start(ECHO_SERVER, &["--model", model, "--udp"]);
        let to = loopback(server.port);
        check_echo(&server, "127.0.0.1:0", to, b"hello");
        check_echo(&server, "127.0.0.1:0", to, b"");
        check_echo(&server, "127.0.0.1:0", to, &big);
        server.stop();
    }
}

#[test]
fn both_serves_tcp_and_udp_on_one_port() {
    for model in ["epoll", "tokio"] {
        let server = Server::start(ECHO_SERVER, &["--model", model, "--transport", "both"]);
        let to = loopback(server.port);
        check_echo(&server, "127.0.0.1:0", to, b"over udp");
        let mut stream = TcpStream::connect_timeout(&to, TIMEOUT).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
        stream.write_all(b"over tcp").expect("write");
        stream.shutdown(Shutdown::Write).expect("shutdown");
        let mut back = Vec::new();
        stream.read_to_end(&mut back).expect("read");
        assert_eq!(back, b"over tcp", "{}", server.command());
        server.stop();
    }
}

#[test]
fn unspecified_address_answers_ipv4_and_ipv6() {
    for model in UDP_MODELS {
        let server = Server::start(ECHO_SERVER, &["--model", model, "--udp", "--bind", "::"]);
        check_echo(&server, "127.0.0.1:0", loopback(server.port), b"v4");
        let v6 = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, server.port));
        check_echo(&server, "[::1]:0", v6, b"v6");
        server.stop();
    }
}

/// Makes the server answer a sender that is gone: the server is stopped, a client sends one
/// datagram and closes its socket, the server is continued and its answer draws an ICMP
/// port-unreachable.
fn answer_a_vanished_sender(server: &Server) {
    server.signal(Signal::SIGSTOP);
    client("127.0.0.1:0")
        .send_to(b"gone", loopback(server.port))
        .expect("send_to");
    server.signal(Signal::SIGCONT);
}

#[test]
fn references_survive_an_icmp_port_unreachable() {
    for model in UDP_MODELS {
        let mut server = Server::start(ECHO_SERVER, &["--model", model, "--udp"]);
        answer_a_vanished_sender(&server);
        let exited = server.wait_exit(Duration::from_millis(300));
        assert!(
            exited.is_none(),
            "{}: exited with {exited:?}",
            server.command()
        );
        check_echo(
            &server,
            "127.0.0.1:0",
            loopback(server.port),
            b"still there?",
        );
        server.stop();
    }
}

#[test]
fn udp_icmp_dies_dies_of_an_icmp_port_unreachable() {
    let mut server = Server::start(ECHO_MUTANT, &["--mutant", "udp-icmp-dies"]);
    check_echo(
        &server,
        "127.0.0.1:0",
        loopback(server.port),
        b"fine so far",
    );
    answer_a_vanished_sender(&server);
    let status = server.wait_exit(TIMEOUT);
    assert!(
        status.is_some_and(|s| !s.success()),
        "{}: expected a failing exit, got {status:?}",
        server.command()
    );
}

#[test]
fn a_model_without_udp_is_a_usage_error() {
    let cases: [&[&str]; 3] = [
        &["--model", "threaded", "--udp", "--port", "1"],
        &[
            "--model",
            "sequential",
            "--transport",
            "both",
            "--port",
            "1",
        ],
        &[
            "--model",
            "epoll",
            "--udp",
            "--transform",
            "uppercase",
            "--port",
            "1",
        ],
    ];
    for args in cases {
        let out = Command::new(ECHO_SERVER).args(args).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("echo-server: "), "{args:?}: {stderr}");
    }
}
