//! The datagram mode against UDP echoes written here (correct, lossy, truncating, doubling), and
//! the ledger's classification of single answers.

use super::ledger::{compose, Ledger, HEADER};
use crate::load::{run_load, LoadConfig, LoadMode, LoadReport};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A UDP echo on a thread that answers the `n`-th datagram with what `answers` returns; it stops
/// (and is joined) when dropped.
struct Echo {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Echo {
    fn start(bind: &str, answers: fn(u64, &[u8]) -> Vec<Vec<u8>>) -> Option<Echo> {
        let socket = UdpSocket::bind(bind).ok()?;
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .ok()?;
        socket
            .set_write_timeout(Some(Duration::from_millis(200)))
            .ok()?;
        let addr = socket.local_addr().ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            let mut n = 0u64;
            // Bounded by the flag, which the test sets when it ends, and by a minute regardless.
            let deadline = Instant::now() + Duration::from_secs(60);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((len, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                for a in answers(n, &buf[..len]) {
                    let _ = socket.send_to(&a, peer);
                }
                n += 1;
            }
        });
        Some(Echo {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(echo: &Echo, loss_timeout_ms: u64) -> (LoadReport, super::DatagramReport) {
    let mode = LoadMode::Datagram {
        senders: 4,
        payload: 64,
        window: 8,
        rate: None,
        loss_timeout: Duration::from_millis(loss_timeout_ms),
    };
    let mut cfg = LoadConfig::new(echo.addr, mode);
    cfg.duration = Duration::from_millis(300);
    cfg.warmup = Duration::from_millis(50);
    cfg.op_timeout = Duration::from_millis(500);
    let r = run_load(&cfg).expect("the load runs");
    let d = r.datagram.clone().expect("a datagram report");
    (r, d)
}

#[test]
fn a_correct_echo_answers_every_datagram() {
    let echo = Echo::start("127.0.0.1:0", |_, d| vec![d.to_vec()]).expect("an echo");
    let (r, d) = run(&echo, 200);
    assert!(d.sent > 0, "{d:?}");
    assert_eq!(
        (d.lost, d.mismatches, d.duplicates, d.late),
        (0, 0, 0, 0),
        "{d:?}"
    );
    assert_eq!(d.answered, d.sent, "{d:?}");
    assert_eq!(r.ops, d.answered);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.latency_us[0] > 0 && r.latency_us[1] >= r.latency_us[0]);
}

#[test]
fn an_ipv6_server_is_reached_from_the_ipv6_loopback() {
    let Some(echo) = Echo::start("[::1]:0", |_, d| vec![d.to_vec()]) else {
        eprintln!("skipped: ::1 cannot be bound here");
        return;
    };
    let (_, d) = run(&echo, 200);
    assert!(d.sent > 0 && d.answered == d.sent, "{d:?}");
}

#[test]
fn dropping_every_tenth_datagram_is_ten_percent_loss() {
    let echo = Echo::start("127.0.0.1:0", |n, d| {
        if n % 10 == 9 {
            Vec::new()
        } else {
            vec![d.to_vec()]
        }
    })
    .expect("an echo");
    let (_, d) = run(&echo, 100);
    assert!(d.sent >= 100, "{d:?}");
    let loss = d.loss_percent();
    // A busy machine may delay a correct answer past the timeout: it is then lost and late.
    let dropped = 100.0 * (d.lost - d.late) as f64 / d.sent as f64;
    assert!((7.0..=13.0).contains(&dropped), "loss {loss:.1}% in {d:?}");
    assert!(loss >= dropped, "{d:?}");
    assert_eq!(d.answered + d.lost, d.sent, "{d:?}");
    assert_eq!(d.mismatches, 0, "{d:?}");
}

#[test]
fn a_truncating_echo_is_reported_as_mismatches() {
    let echo =
        Echo::start("127.0.0.1:0", |_, d| vec![d[..d.len().min(16)].to_vec()]).expect("an echo");
    let (r, d) = run(&echo, 50);
    assert!(d.mismatches > 0 && d.answered == 0, "{d:?}");
    assert_eq!(r.errors.get("mismatch"), Some(&d.mismatches));
    let sample = d.mismatch_sample.unwrap_or_default();
    assert!(sample.contains("16 bytes back, 64 sent"), "{sample}");
}

#[test]
fn a_doubling_echo_is_reported_as_duplicates() {
    let echo = Echo::start("127.0.0.1:0", |_, d| vec![d.to_vec(), d.to_vec()]).expect("an echo");
    let (r, d) = run(&echo, 200);
    assert!(d.duplicates > 0 && d.answered > 0, "{d:?}");
    assert_eq!(d.mismatches, 0, "{d:?}");
    assert_eq!(r.errors.get("duplicate"), Some(&d.duplicates));
}

fn server() -> SocketAddr {
    "127.0.0.1:7".parse().expect("an address")
}

/// Sends datagrams 0..n of sender 1 (16 bytes each) into a fresh ledger.
fn ledger(n: u64, loss_timeout: Duration) -> (Ledger, Instant) {
    let t0 = Instant::now();
    let mut l = Ledger::new(1, 16, server(), loss_timeout);
    for _ in 0..n {
        l.record_sent(Instant::now(), t0);
    }
    (l, t0)
}

fn datagram(sender: u32, seq: u64) -> Vec<u8> {
    let mut d = vec![0u8; 16];
    compose(sender, seq, &mut d);
    d
}

#[test]
fn the_ledger_counts_reordered_late_and_foreign_answers() {
    let (mut l, _) = ledger(3, Duration::from_secs(60));
    assert!(l.answer(server(), &datagram(1, 2)).is_some());
    assert!(l.answer(server(), &datagram(1, 0)).is_some());
    assert_eq!(l.tally.reordered, 1);
    // From another port, for another sender, shorter than the header, and never sent.
    let other: SocketAddr = "127.0.0.1:8".parse().expect("an address");
    assert!(l.answer(other, &datagram(1, 1)).is_none());
    assert!(l.answer(server(), &datagram(2, 1)).is_none());
    assert!(l.answer(server(), &datagram(1, 1)[..HEADER - 1]).is_none());
    assert!(l.answer(server(), &datagram(1, 9)).is_none());
    assert_eq!(l.tally.mismatches, 4);
    assert!(l
        .tally
        .sample
        .as_deref()
        .is_some_and(|s| s.contains("127.0.0.1:8")));
    // Declared lost, then answered: late, and a second copy is a duplicate.
    l.expire(Instant::now(), true);
    assert_eq!((l.tally.lost, l.in_flight()), (1, 0));
    assert!(l.answer(server(), &datagram(1, 1)).is_none());
    assert!(l.answer(server(), &datagram(1, 1)).is_none());
    assert_eq!((l.tally.late, l.tally.duplicates), (1, 1));
    assert_eq!((l.tally.sent, l.tally.answered), (3, 2));
}

#[test]
fn the_ledger_expires_only_overdue_datagrams() {
    let (mut l, _) = ledger(2, Duration::from_millis(30));
    let due = l.expire(Instant::now(), false);
    assert!(due.is_some() && l.in_flight() == 2);
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(l.expire(Instant::now(), false), None);
    assert_eq!((l.tally.lost, l.in_flight()), (2, 0));
}
