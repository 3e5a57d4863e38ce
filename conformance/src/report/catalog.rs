//! The spec rendered for people and tools: `list` (text or JSON) and `explain ID`.

use echo_spec::{Case, ClaimSet, Spec, Step};

/// `list` as text: every case, marked `run` when the claims select it and `n/c` otherwise.
pub fn list_text(spec: &Spec, claims: &ClaimSet) -> String {
    let mut text = format!("claims: {claims}\n");
    for c in &spec.cases {
        let mark = if claims.satisfies(&c.requires) {
            "run"
        } else {
            "n/c"
        };
        let req: Vec<_> = c.requires.iter().map(|r| r.as_str()).collect();
        text.push_str(&format!(
            "{mark}  {:<40} {:<6} {:<24} {}\n",
            c.id,
            c.level.as_str(),
            req.join(","),
            c.title
        ));
    }
    text
}

/// `list --format json`: one object per case.
pub fn list_json(spec: &Spec, claims: &ClaimSet) -> String {
    let rows: Vec<_> = spec
        .cases
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id, "title": c.title, "level": c.level, "kind": c.kind.name(),
                "requires": c.requires, "selected": claims.satisfies(&c.requires), "source": c.source,
            })
        })
        .collect();
    format!(
        "{}\n",
        serde_json::to_string_pretty(&rows).unwrap_or_default()
    )
}

/// A case described for people: what `explain` prints.
pub fn describe_case(case: &Case) -> String {
    let req: Vec<_> = case.requires.iter().map(|r| r.as_str()).collect();
    let mut text = format!(
        "{}\n  title:    {}\n  source:   {}\n  level:    {}\n  requires: {}\n  kind:     {}\n  defined:  {}:{}\n",
        case.id,
        case.title,
        case.source,
        case.level.as_str(),
        if req.is_empty() { "(any server)".to_string() } else { req.join(", ") },
        case.kind.name(),
        case.origin.file,
        case.origin.line
    );
    if let Some(n) = case.rlimit_nofile {
        text.push_str(&format!("  launch:   RLIMIT_NOFILE {n} for the server\n"));
    }
    if case.tags.iter().any(|t| t == echo_spec::HEAVY_TAG) {
        text.push_str("  heavy:    runs only with --heavy or a --case glob naming it\n");
    }
    if let echo_spec::CaseKind::Concurrent {
        clients,
        stagger_ms,
        ..
    } = &case.kind
    {
        let arrival = match stagger_ms {
            0 => String::new(),
            ms => format!(", starting {ms} ms apart"),
        };
        text.push_str(&format!(
            "  clients:  {clients} at once, each with its own seed{arrival}\n"
        ));
    }
    if let Some(p) = case.kind.property() {
        let ops: Vec<_> = p.ops.iter().map(|o| o.as_str()).collect();
        text.push_str(&format!(
            "  property: {} sequences from seed {}, up to {} operations on up to {} connections, payloads up to {} B, {} ms of waiting; operations: open, {}\n",
            p.cases, p.seed, p.max_ops, p.connections, p.max_payload, p.max_wait_ms, ops.join(", ")
        ));
        return text;
    }
    text.push_str("  steps:\n");
    steps_text(case.kind.steps(), 2, &mut text);
    text
}

fn steps_text(steps: &[Step], depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for (i, s) in steps.iter().enumerate() {
        let detail = match s {
            Step::Connect { name } | Step::On { name } | Step::UdpOn { name } => format!(" {name}"),
            Step::ConnectOver { name, family } => format!(" {name} over {}", family.as_str()),
            Step::UdpOpen { name, family } => match family {
                Some(f) => format!(" {name} over {}", f.as_str()),
                None => format!(" {name}"),
            },
            Step::UdpSend { payload } => format!(" one datagram of {}", payload_text(payload)),
            Step::UdpExpectNone { ms } => format!(" {ms} ms"),
            Step::UdpBurst {
                count,
                size,
                in_flight,
                max_loss_pct,
            } => format!(
                " {count} datagrams of {size} B, {in_flight} in flight, at most {max_loss_pct}% lost"
            ),
            Step::Send { payload, chunking } => {
                let what = payload_text(payload);
                let chunks = if chunking.sizes.is_empty() {
                    String::new()
                } else {
                    format!(" in chunks of {:?}", chunking.sizes)
                };
                let pause = if chunking.pause_ms > 0 {
                    format!(" pausing {} ms", chunking.pause_ms)
                } else {
                    String::new()
                };
                format!(" {what}{chunks}{pause}")
            }
            Step::ExpectSilence { ms } | Step::Sleep { ms } | Step::PauseReading { ms } => {
                format!(" {ms} ms")
            }
            Step::Leave { ms } => {
                format!(" (waiting up to {ms} ms for the server's close)")
            }
            Step::SetRcvbuf { bytes } => format!(" {bytes} B"),
            Step::Expect { bytes } => format!(" {:?}", String::from_utf8_lossy(bytes)),
            Step::ExpectExit { status } => format!(" status {status}"),
            Step::ExpectPriv { check } => format!(" {check}"),
            Step::Repeat { times, .. } => format!(" {times} times:"),
            Step::WriteUntilBlocked {
                max_bytes,
                stall_ms,
            } => format!(" up to {max_bytes} B, blocked after {stall_ms} ms without progress"),
            Step::Storm {
                connects,
                burst,
                max_failed,
            } => format!(" {connects} connects, {burst} at a time, at most {max_failed} may fail"),
            Step::Hold {
                count,
                burst,
                pause_ms,
            } => match burst {
                Some(b) if *pause_ms > 0 => {
                    format!(" {count} idle connections, {b} at a time, {pause_ms} ms apart")
                }
                Some(b) => format!(" {count} idle connections, {b} at a time"),
                None => format!(" {count} idle connections"),
            },
            Step::MeasurePool { max } => format!(" up to {max} clients at once"),
            Step::ExpectResources {
                fd_delta,
                threads_delta,
                settle_ms,
            } => format!(
                " fds ≤ baseline + {fd_delta}, threads ≤ baseline + {threads_delta}, within {settle_ms} ms"
            ),
            Step::ExpectRss {
                max_growth_kib,
                max_kib,
            } => {
                let mut parts = Vec::new();
                if let Some(g) = max_growth_kib {
                    parts.push(format!("peak growth ≤ {g} KiB"));
                }
                if let Some(m) = max_kib {
                    parts.push(format!("peak ≤ {m} KiB"));
                }
                format!(" {}", parts.join(", "))
            }
            Step::ExpectCpu { max_ms } => format!(" ≤ {max_ms} ms since the baseline"),
            Step::Signal { signal } | Step::Restart { signal } => format!(" SIG{}", signal.as_str()),
            _ => String::new(),
        };
        out.push_str(&format!("{pad}{i:>2}. {}{detail}\n", s.name()));
        if let Step::Repeat { steps, .. } = s {
            steps_text(steps, depth + 2, out);
        }
    }
}

fn payload_text(payload: &echo_spec::Payload) -> String {
    match payload {
        echo_spec::Payload::Bytes(b) => format!("{} B {:?}", b.len(), String::from_utf8_lossy(b)),
        echo_spec::Payload::Seeded { seed, len } => format!("{len} seeded B (seed {seed})"),
        echo_spec::Payload::AllBytes => "the 256 byte values".into(),
    }
}
