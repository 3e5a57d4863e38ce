//! Which targets take which loads, and how a datagram row reads in the table and `bench.json`.

use super::loads::{Role, DATAGRAM, LOADS};
use super::summary::datagram_figures;
use super::table::table;
use super::targets::{models, targets, udp_models};
use serde_json::json;
use std::path::Path;

fn loads_of(role: Role, name: &str) -> Vec<&'static str> {
    LOADS
        .iter()
        .filter(|l| (l.takes)(name, role))
        .map(|l| l.name)
        .collect()
}

#[test]
fn only_the_udp_models_take_the_datagram_load() {
    assert_eq!(loads_of(Role::Udp, "epoll udp"), [DATAGRAM]);
    for role in [
        Role::Ceiling,
        Role::Yours,
        Role::Model {
            stream: true,
            c10k: true,
        },
    ] {
        assert!(!loads_of(role, "epoll").contains(&DATAGRAM), "{role:?}");
    }
    let refs = crate::targets::load().expect("the reference targets");
    let with = targets(Path::new("/bin"), &refs, None, &[], true).expect("targets");
    let udp: Vec<&str> = with
        .iter()
        .filter(|t| t.role == Role::Udp)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(udp, ["sequential udp", "epoll udp", "tokio udp"]);
    assert!(with
        .iter()
        .filter(|t| t.role == Role::Udp)
        .all(|t| t.argv.iter().any(|a| a == "--udp")));
    let without = targets(Path::new("/bin"), &refs, None, &[], false).expect("targets");
    assert!(without.iter().all(|t| t.role != Role::Udp));
}

#[test]
fn a_datagram_row_shows_its_loss_and_keeps_its_figures() {
    let report = json!({"rate": 1000.0, "p99_us": 80, "sent": 1000, "answered": 990, "lost": 10,
        "loss_percent": 1.0, "duplicates": 0, "late": 0, "reordered": 2, "mismatches": 0,
        "mismatch_sample": null});
    let figures = datagram_figures(&report);
    assert_eq!(figures["lost"], 10);
    assert_eq!(figures["reordered"], 2);
    assert!(datagram_figures(&json!({"rate": 1.0})).is_null());
    let rows = [
        json!({"load": DATAGRAM, "figure": "rate", "target": "epoll udp", "median": 990.0,
            "loss_percent": 1.0, "p99_us": 80}),
        json!({"load": "ping-pong 64 B ×10", "figure": "rate", "target": "epoll", "median": 5.0}),
    ];
    let text = table(&rows, &json!({}));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("loss"), "{text}");
    assert!(
        lines[1].contains("epoll udp") && lines[1].contains("1.00%"),
        "{text}"
    );
    assert!(!lines[2].contains('%') || lines[2].contains(" -"), "{text}");
}

#[test]
fn the_models_come_from_the_reference_targets_with_their_loads_from_their_claims() {
    let refs = crate::targets::load().expect("the reference targets");
    let model = |stream, c10k| Role::Model { stream, c10k };
    assert_eq!(
        models(&refs),
        [
            ("threaded", model(true, false)),
            ("select", model(true, false)),
            ("poll", model(true, true)),
            ("epoll", model(true, true)),
            ("tokio", model(true, true)),
            ("sequential", model(false, false)),
            ("prefork", model(false, false)),
        ]
    );
    assert_eq!(udp_models(&refs), ["sequential", "epoll", "tokio"]);
    let all = targets(Path::new("/bin"), &refs, None, &[], false).expect("targets");
    let threaded = all.iter().find(|t| t.name == "threaded").expect("threaded");
    assert_eq!(
        threaded.argv,
        [
            "/bin/echo-server",
            "--model",
            "threaded",
            "--port",
            "{port}"
        ]
    );
}
