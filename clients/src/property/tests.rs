//! The generator against in-process echo servers: a correct one passes every sequence, a broken one
//! is caught and the counterexample shrinks to a handful of steps that still fail.

use super::*;
use echo_spec::{Payload, PropertyOp, ALL_PROPERTY_OPS};
use proptest::strategy::ValueTree;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

fn params(cases: u32, connections: u32) -> PropertyParams {
    PropertyParams {
        cases,
        seed: 11,
        connections,
        max_ops: 8,
        max_payload: 2048,
        max_wait_ms: 40,
        ops: ALL_PROPERTY_OPS.to_vec(),
    }
}

/// A thread-per-connection echo server on a free loopback port; `defect` rewrites each read before
/// it is echoed. The listener thread ends with the test process.
fn server(defect: fn(&[u8]) -> Vec<u8>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream, defect));
        }
    });
    addr
}

fn serve(mut s: TcpStream, defect: fn(&[u8]) -> Vec<u8>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 8192];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || s.write_all(&defect(&buf[..n])).is_err() {
            break;
        }
    }
    let _ = s.shutdown(Shutdown::Write);
}

fn config(addr: std::net::SocketAddr) -> ScriptConfig {
    let mut cfg = ScriptConfig::new(addr);
    cfg.case_budget = Duration::from_secs(20);
    // A dropped byte shows as a wait that never ends; keep each such wait short.
    cfg.no_progress = Duration::from_millis(300);
    cfg
}

#[test]
fn same_seed_same_sequences_and_every_one_is_a_valid_script() {
    let p = params(1, 3);
    let strategy = sequences(&p);
    let generate = || {
        let mut runner = test_runner(&p, &ShrinkLimits::default());
        (0..20)
            .map(|_| {
                let (init, ops, _) = strategy.new_tree(&mut runner).unwrap().current();
                to_steps(&init, &ops).steps
            })
            .collect::<Vec<_>>()
    };
    let first = generate();
    assert_eq!(first, generate(), "a seed must give the same sequences");
    for steps in first {
        let case = echo_spec::Case {
            id: "t.generated".into(),
            title: "t".into(),
            source: "t".into(),
            level: echo_spec::Level::Must,
            requires: vec![],
            tags: vec![],
            timeouts: echo_spec::Timeouts::default(),
            rlimit_nofile: None,
            kind: echo_spec::CaseKind::Script { steps },
            origin: echo_spec::Origin {
                file: "t.toml".into(),
                line: 1,
            },
        };
        let text = echo_spec::emit_file("generated", std::slice::from_ref(&case));
        echo_spec::parse_file("t.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}

#[test]
fn model_predicts_eof_for_every_open_connection() {
    let p = Arc::new(params(1, 2));
    let init = ModelState::new(p);
    let ops = vec![
        Transition::Open { conn: 0 },
        Transition::Open { conn: 1 },
        Transition::Send {
            conn: 0,
            data: Data {
                fill: Fill::Zeros,
                len: 3,
                seed: 0,
            },
            chunking: ChunkPlan {
                size: Some(1),
                pause_ms: 0,
            },
        },
        Transition::Reset { conn: 1 },
    ];
    let m = to_steps(&init, &ops);
    assert_eq!(
        m.steps,
        vec![
            Step::Connect { name: "c0".into() },
            Step::Connect { name: "c1".into() },
            Step::On { name: "c0".into() },
            Step::Send {
                payload: Payload::Bytes(vec![0; 3]),
                chunking: echo_spec::Chunking {
                    sizes: vec![1],
                    pause_ms: 0
                }
            },
            Step::On { name: "c1".into() },
            Step::Reset,
            Step::On { name: "c0".into() },
            Step::ShutdownWrite,
            Step::ExpectEof,
        ]
    );
    assert_eq!(
        m.origin,
        vec![
            Some(0),
            Some(1),
            Some(2),
            Some(2),
            Some(3),
            Some(3),
            None,
            None,
            None
        ]
    );
}

#[test]
fn preconditions_refuse_invalid_operations() {
    let p = Arc::new(params(1, 1));
    let s = model::apply(ModelState::new(p), &Transition::Open { conn: 0 });
    assert!(
        !model::preconditions(&s, &Transition::Open { conn: 1 }),
        "one connection at most"
    );
    assert!(
        !model::preconditions(&s, &Transition::ReadAll { conn: 5 }),
        "no such connection"
    );
    let s = model::apply(s, &Transition::HalfClose { conn: 0 });
    assert!(
        !model::preconditions(&s, &Transition::ReadAll { conn: 0 }),
        "closed"
    );
    assert!(model::preconditions(&s, &Transition::Open { conn: 1 }));
    assert!(
        !model::preconditions(&s, &Transition::Idle { ms: 41 }),
        "over max_wait_ms"
    );
}

#[test]
fn a_correct_server_passes() {
    let addr = server(|b| b.to_vec());
    let outcome = run_property(&params(15, 3), &config(addr), &ShrinkLimits::default());
    assert!(outcome.failure.is_none(), "{:?}", outcome.failure);
    assert_eq!((outcome.cases_run, outcome.cases_skipped), (15, 0));
    assert!(outcome.aborted.is_none());
}

#[test]
fn a_server_that_drops_0xff_is_caught_and_shrunk() {
    let addr = server(|b| b.iter().copied().filter(|&c| c != 0xff).collect());
    let mut p = params(40, 2);
    p.ops = vec![PropertyOp::Send, PropertyOp::Read, PropertyOp::HalfClose];
    let outcome = run_property(&p, &config(addr), &ShrinkLimits::default());
    let cx = outcome.failure.expect("the defect is found");
    assert!(cx.reproduced, "the shrunk steps fail again");
    assert!(
        cx.steps.len() <= 5,
        "shrunk to {} steps: {:#?}",
        cx.steps.len(),
        cx.steps
    );
    assert!(cx.steps.len() <= cx.original_steps);
    let sent: u64 = cx
        .steps
        .iter()
        .map(|s| match s {
            Step::Send { payload, .. } => payload.len(),
            _ => 0,
        })
        .sum();
    assert!(sent <= 2, "shrunk payloads stay tiny: {:#?}", cx.steps);
}
