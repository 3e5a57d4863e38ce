//! Round trips: every step kind, every case kind and every embedded case parses back to itself.

use crate::model::{Case, CaseKind, Chunking, Level, Origin, Payload, PrivCheck, Step, Timeouts};
use crate::{emit_file, parse_file, Claim, Spec, ALL_PRIV_CHECKS};

fn case(id: &str, kind: CaseKind) -> Case {
    Case {
        id: id.into(),
        title: "a \"quoted\" title with a \\ backslash".into(),
        source: "emit tests".into(),
        level: Level::Should,
        requires: vec![Claim::Stream, Claim::Concurrent],
        tags: vec!["heavy".into()],
        timeouts: Timeouts {
            no_progress_ms: Some(1500),
            step_ms: None,
            case_ms: Some(9000),
        },
        rlimit_nofile: None,
        kind,
        origin: Origin {
            file: "t.toml".into(),
            line: 0,
        },
    }
}

/// Emits `cases`, parses the text, and checks every case came back equal (origin aside).
fn check(cases: Vec<Case>) {
    let text = emit_file("round trip\nsecond line", &cases);
    let parsed = parse_file("t.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(parsed.len(), cases.len(), "{text}");
    for (mut want, got) in cases.into_iter().zip(parsed) {
        want.origin = got.origin.clone();
        assert_eq!(got, want, "{text}");
    }
}

#[test]
fn every_script_step_round_trips() {
    let steps = vec![
        Step::Connect {
            name: "main".into(),
        },
        Step::Connect { name: "b-2".into() },
        Step::On {
            name: "main".into(),
        },
        Step::Send {
            payload: Payload::Bytes(b"plain \"text\" \\ ~".to_vec()),
            chunking: Chunking::default(),
        },
        Step::Send {
            payload: Payload::Bytes(vec![0, 0xff, b'\n', b'a']),
            chunking: Chunking {
                sizes: vec![3],
                pause_ms: 0,
            },
        },
        Step::Send {
            payload: Payload::Seeded {
                seed: 4_294_967_295,
                len: 70_000,
            },
            chunking: Chunking {
                sizes: vec![1, 2, 65536],
                pause_ms: 5,
            },
        },
        Step::Send {
            payload: Payload::AllBytes,
            chunking: Chunking {
                sizes: vec![],
                pause_ms: 2,
            },
        },
        Step::ExpectEcho,
        Step::Expect {
            bytes: b"exact".to_vec(),
        },
        Step::Expect {
            bytes: vec![0x0d, 0x0a],
        },
        Step::ExpectSilence { ms: 100 },
        Step::SetRcvbuf { bytes: 4096 },
        Step::PauseReading { ms: 20 },
        Step::Sleep { ms: 0 },
        Step::Repeat {
            times: 3,
            steps: vec![
                Step::Send {
                    payload: Payload::Bytes(b"x".to_vec()),
                    chunking: Chunking::default(),
                },
                Step::ExpectEcho,
            ],
        },
        Step::ShutdownWrite,
        Step::ExpectEof,
        Step::ExpectEchoPrefix,
        Step::Reset,
        Step::On { name: "b-2".into() },
        Step::Close,
        Step::Connect { name: "c".into() },
        Step::SendUrgent { byte: b'!' },
        Step::Leave { ms: 250 },
        Step::ExpectRefused,
    ];
    check(vec![case("t.script", CaseKind::Script { steps })]);
}

#[test]
fn process_concurrent_and_property_cases_round_trip() {
    let mut process = vec![Step::ExpectBindDenied, Step::ExpectExit { status: -3 }];
    process.extend(ALL_PRIV_CHECKS.map(|check: PrivCheck| Step::ExpectPriv { check }));
    let concurrent = vec![
        Step::Connect {
            name: "main".into(),
        },
        Step::Barrier,
        Step::ExpectEcho,
    ];
    let property = crate::PropertyParams {
        cases: 7,
        seed: 99,
        connections: 3,
        max_ops: 12,
        max_payload: 1 << 20,
        max_wait_ms: 0,
        ops: vec![crate::PropertyOp::Send, crate::PropertyOp::Reset],
    };
    check(vec![
        case("t.process", CaseKind::Process { steps: process }),
        case(
            "t.concurrent",
            CaseKind::Concurrent {
                clients: 5,
                stagger_ms: 10,
                steps: concurrent,
            },
        ),
        case("t.property", CaseKind::Property { params: property }),
    ]);
}

#[test]
fn every_embedded_case_round_trips() {
    let spec = Spec::embedded().expect("the embedded spec is valid");
    check(spec.cases);
}

#[test]
fn hostile_and_resource_steps_round_trip() {
    use crate::SignalName;
    let steps = vec![
        Step::Mark,
        Step::Connect {
            name: "main".into(),
        },
        Step::WriteUntilBlocked {
            max_bytes: 1 << 20,
            stall_ms: 250,
        },
        Step::Storm {
            connects: 100,
            burst: 10,
            max_failed: 1,
        },
        Step::Hold {
            count: 7,
            burst: None,
            pause_ms: 0,
        },
        Step::Hold {
            count: 8,
            burst: Some(3),
            pause_ms: 15,
        },
        Step::PingHeld,
        Step::Release,
        Step::ExpectResources {
            fd_delta: 1,
            threads_delta: 2,
            settle_ms: 900,
        },
        Step::ExpectRss {
            max_growth_kib: Some(100),
            max_kib: None,
        },
        Step::ExpectRss {
            max_growth_kib: Some(1),
            max_kib: Some(2),
        },
        Step::ExpectCpu { max_ms: 50 },
        Step::Signal {
            signal: SignalName::Hup,
        },
        Step::Restart {
            signal: SignalName::Kill,
        },
        Step::ExpectGroupEmpty,
    ];
    let mut c = case("t.hostile", CaseKind::Process { steps });
    c.rlimit_nofile = Some(64);
    check(vec![c]);
}

#[test]
fn udp_and_family_steps_round_trip() {
    use crate::{IpFamily, SignalName};
    let steps = vec![
        Step::UdpOpen {
            name: "main".into(),
            family: None,
        },
        Step::UdpSend {
            payload: Payload::Bytes(Vec::new()),
        },
        Step::UdpSend {
            payload: Payload::AllBytes,
        },
        Step::UdpSend {
            payload: Payload::Seeded {
                seed: 3,
                len: 65_507,
            },
        },
        Step::UdpExpectEcho,
        Step::UdpExpectNone { ms: 250 },
        Step::UdpOpen {
            name: "other".into(),
            family: None,
        },
        Step::UdpOpen {
            name: "six".into(),
            family: Some(IpFamily::Ipv6),
        },
        Step::UdpOn {
            name: "other".into(),
        },
        Step::UdpBurst {
            count: 1000,
            size: 100,
            in_flight: 50,
            max_loss_pct: 2.5,
        },
        Step::UdpClose,
        Step::Signal {
            signal: SignalName::Stop,
        },
        Step::Signal {
            signal: SignalName::Cont,
        },
        Step::ConnectOver {
            name: "v4".into(),
            family: IpFamily::Ipv4,
        },
        Step::ExpectEcho,
    ];
    check(vec![case("t.udp", CaseKind::Process { steps })]);
}
