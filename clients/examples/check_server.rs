//! Checks an echo server with the scripted client, without the echo-conform runner.
//!
//! With no argument it starts a tiny thread-per-connection echo server of its own on a free
//! loopback port and checks that; with `HOST:PORT` it checks yours:
//!
//! ```sh
//! cargo run -p echo-clients --example check_server
//! cargo run -p echo-clients --example check_server -- 127.0.0.1:7007
//! ```

use echo_clients::{run_script, ScriptConfig};
use echo_spec::{Chunking, Payload, Step};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};

fn main() {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(a) => a.parse().unwrap_or_else(|e| {
            eprintln!("check_server: `{a}` is not HOST:PORT: {e}");
            std::process::exit(2)
        }),
        None => start_demo_server(),
    };
    let steps = [
        Step::Connect {
            name: "main".into(),
        },
        Step::Send {
            payload: Payload::Bytes(b"hello, one byte at a time".to_vec()),
            chunking: Chunking {
                sizes: vec![1],
                pause_ms: 2,
            },
        },
        Step::ExpectEcho,
        Step::Send {
            payload: Payload::Seeded {
                seed: 7,
                len: 4 << 20,
            },
            chunking: Chunking::default(),
        },
        Step::ExpectEcho,
        Step::ShutdownWrite,
        Step::ExpectEof,
    ];
    let outcome = run_script(&steps, &ScriptConfig::new(addr), None, None);
    match outcome.result {
        Ok(()) => println!("{addr}: echoed 25 dribbled bytes and 4 MiB of seeded bytes exactly, then closed cleanly"),
        Err(e) => {
            eprintln!("{addr}: {e}\n{}", outcome.transcript);
            std::process::exit(1);
        }
    }
}

/// A minimal correct echo server on 127.0.0.1:0, one thread per connection.
fn start_demo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener
        .local_addr()
        .expect("a bound socket has an address");
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}
