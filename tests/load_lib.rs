//! The load client and the crowd client as library users would call them, against servers written
//! here on `127.0.0.1:0`: every echo is verified (a corrupting server is reported, not counted),
//! holds and connect-only loads count what they did, and a storm tells echoed from unanswered.

use echo_clients::crowd::{open_many, storm};
use echo_clients::load::{run_load, LoadConfig, LoadMode};
use echo_clients::Transform;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// A thread-per-connection echo server that applies `corrupt` to every byte; it runs until the
/// test process ends (its threads block in accept or read, holding nothing of the test's).
fn echo_server(corrupt: fn(u8) -> u8) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    for b in &mut buf[..n] {
                        *b = corrupt(*b);
                    }
                    if stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Accepts and closes every connection at once.
fn accept_close_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    addr
}

fn short(addr: SocketAddr, mode: LoadMode) -> LoadConfig {
    let mut cfg = LoadConfig::new(addr, mode);
    cfg.duration = Duration::from_millis(300);
    cfg.warmup = Duration::from_millis(50);
    cfg
}

/// Both ping-pong engines (io_uring where the kernel allows it, and tokio) count verified echoes
/// and never a corrupted one.
#[rstest::rstest]
#[case::io_uring(true)]
#[case::tokio(false)]
fn ping_pong_counts_verified_echoes_and_reports_corruption(#[case] uring: bool) {
    let mode = LoadMode::PingPong {
        connections: 4,
        payload: 64,
    };
    let cfg = |addr| LoadConfig {
        uring,
        ..short(addr, mode)
    };
    let good = run_load(&cfg(echo_server(|b| b))).expect("runtime");
    assert!(good.ops > 0 && good.errors.is_empty(), "{good:?}");
    if uring && !good.engine.starts_with("io_uring") {
        println!("SKIP the io_uring half: {}", good.engine);
    }
    if good.engine.starts_with("io_uring") {
        let modes =
            ["deferred", "cooperative", "signalled"].map(|m| format!("io_uring ({m} task work)"));
        assert!(modes.contains(&good.engine), "{}", good.engine);
    }
    if !uring {
        assert_eq!(good.engine, "tokio");
    }
    let bad = run_load(&cfg(echo_server(|b| b ^ 1))).expect("runtime");
    assert_eq!(bad.ops, 0, "a corrupted echo must never count: {bad:?}");
    assert!(bad.errors.contains_key("mismatch"), "{bad:?}");
}

/// Accepts every connection and holds it, reading and writing nothing.
fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
}

/// Both connection-per-request engines (a chain of linked entries per request on io_uring where
/// the kernel allows it, and tokio) count verified echoes only, and name what went wrong with
/// the others: a corrupted echo, a server that closes at once, one that never answers, and a
/// port nothing listens on. Every run ends, whatever the server does.
#[rstest::rstest]
#[case::io_uring(true)]
#[case::tokio(false)]
fn conn_per_request_counts_verified_echoes_and_names_failures(#[case] uring: bool) {
    let mode = LoadMode::ConnPerRequest {
        concurrency: 4,
        payload: 80,
    };
    let cfg = |addr| LoadConfig {
        uring,
        ..short(addr, mode)
    };
    let good = run_load(&cfg(echo_server(|b| b))).expect("runtime");
    assert!(good.ops > 0 && good.errors.is_empty(), "{good:?}");
    if uring && good.engine != "io_uring (deferred task work)" {
        println!("SKIP the io_uring half: {}", good.engine);
    }
    if !uring {
        assert_eq!(good.engine, "tokio");
    }
    let bad = run_load(&cfg(echo_server(|b| b ^ 1))).expect("runtime");
    assert_eq!(bad.ops, 0, "a corrupted echo must never count: {bad:?}");
    assert!(bad.errors.contains_key("mismatch"), "{bad:?}");
    let closed = run_load(&cfg(accept_close_server())).expect("runtime");
    assert_eq!(closed.ops, 0, "{closed:?}");
    assert!(
        closed.errors.contains_key("early-eof") || closed.errors.contains_key("reset"),
        "{closed:?}"
    );
    // Only here is the operation timeout short: a stall of the machine must not fail the others.
    let silent = run_load(&LoadConfig {
        op_timeout: Duration::from_millis(200),
        ..cfg(silent_server())
    })
    .expect("runtime");
    assert_eq!(silent.ops, 0, "{silent:?}");
    assert_eq!(
        silent.errors.keys().collect::<Vec<_>>(),
        ["timeout"],
        "{silent:?}"
    );
    let nobody = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let refused = run_load(&cfg(nobody)).expect("runtime");
    assert_eq!(refused.ops, 0, "{refused:?}");
    assert_eq!(
        refused.errors.keys().collect::<Vec<_>>(),
        ["refused"],
        "{refused:?}"
    );
    // Each slot waits 5 ms after a refusal: 4 slots over 350 ms make about 280, never thousands.
    let refusals = refused.errors["refused"];
    assert!(refusals <= 4 * (350 / 5 + 10), "no backoff: {refused:?}");
    // Every run used the engine the first one did: a fallback would not pass unseen.
    for r in [&bad, &closed, &silent, &refused] {
        assert_eq!(r.engine, good.engine, "{r:?}");
    }
}

#[test]
fn io_uring_ping_pong_counts_a_refused_connection() {
    // A port nothing listens on: every connection is refused, and the run still ends.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mode = LoadMode::PingPong {
        connections: 3,
        payload: 64,
    };
    let r = run_load(&short(addr, mode)).expect("runtime");
    assert_eq!(r.ops, 0, "{r:?}");
    assert_eq!(r.errors.get("refused"), Some(&3), "{r:?}");
}

#[test]
fn hold_idle_opens_every_connection() {
    let r = run_load(&short(
        echo_server(|b| b),
        LoadMode::HoldIdle { connections: 100 },
    ))
    .expect("runtime");
    assert_eq!(r.ops, 100, "{r:?}");
    assert!(r.errors.is_empty(), "{r:?}");
}

#[test]
fn connect_only_counts_closes_by_the_server() {
    let r = run_load(&short(
        accept_close_server(),
        LoadMode::ConnectOnly { concurrency: 4 },
    ))
    .expect("runtime");
    assert!(r.ops > 0 && r.errors.is_empty(), "{r:?}");
    // Against an echo server nothing closes: every connect-only worker times out instead.
    let mut cfg = short(echo_server(|b| b), LoadMode::ConnectOnly { concurrency: 2 });
    cfg.op_timeout = Duration::from_millis(100);
    let r = run_load(&cfg).expect("runtime");
    assert_eq!(r.ops, 0, "{r:?}");
    assert!(r.errors.contains_key("timeout"), "{r:?}");
}

#[test]
fn storm_tells_echoed_from_unanswered() {
    let deadline = Instant::now() + Duration::from_secs(30);
    let ok = storm(
        echo_server(|b| b),
        300,
        50,
        Duration::from_secs(10),
        deadline,
        &Transform::Identity,
    );
    assert_eq!((ok.opened, ok.unsuccessful()), (300, 0), "{ok}");
    let bad = storm(
        accept_close_server(),
        50,
        50,
        Duration::from_secs(10),
        deadline,
        &Transform::Identity,
    );
    assert_eq!(bad.opened, 50, "{bad}");
    assert_eq!(bad.unanswered, 50, "{bad}");
}

#[test]
fn a_held_crowd_echoes_its_probes() {
    let addr = echo_server(|b| b);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut crowd, tally) = open_many(addr, 100, 64, Duration::from_secs(10), deadline);
    assert_eq!((crowd.len(), tally.unsuccessful()), (100, 0), "{tally}");
    crowd
        .ping_all(&Transform::Identity, 100, deadline)
        .expect("every probe echoed");
    let bad = echo_server(|b| b.to_ascii_uppercase());
    let (mut crowd, _) = open_many(bad, 5, 5, Duration::from_secs(10), deadline);
    let err = crowd
        .ping_all(&Transform::Identity, 100, deadline)
        .expect_err("an upper-cased probe is a mismatch");
    assert_eq!(err.kind, echo_clients::FailureKind::Mismatch, "{err}");
    crowd.reset_all();
}

/// `echo-load` as a command: its JSON parses and counts verified echoes; a bad flag is refused
/// with exit 2 and a message naming the flag.
#[test]
fn echo_load_prints_json_and_refuses_bad_flags() {
    let addr = echo_server(|b| b).to_string();
    let load = crate::util::bin("echo-load");
    let out = std::process::Command::new(&load)
        .args(["--addr", &addr, "--mode", "ping-pong", "--connections", "2"])
        .args(["--seconds", "0.2", "--one-source"])
        .output()
        .expect("run echo-load");
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(v["ops"].as_u64().unwrap_or(0) > 0, "{v}");
    assert_eq!(v["errors"], serde_json::json!({}), "{v}");
    assert!(
        v.get("sent").is_none(),
        "no datagram figures in a TCP mode: {v}"
    );

    for (flags, named) in [
        (&["--mode", "pingpong"][..], "--mode"),
        (&["--connections", "0"][..], "--connections"),
        (&["--payload", "0"][..], "--payload"),
        (&["--seconds", "0"][..], "--seconds"),
    ] {
        let out = std::process::Command::new(&load)
            .args(["--addr", &addr])
            .args(flags)
            .output()
            .expect("run echo-load");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(named), "{flags:?}: {err}");
        assert!(out.stdout.is_empty(), "{flags:?}");
    }
}
