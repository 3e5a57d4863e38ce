//! Turns spec text into validated [`Case`]s, with file, line and column on every error.

use crate::error::{line_col, SpecError};
use crate::model::{
    Case, CaseKind, Chunking, IpFamily, Origin, Payload, PrivCheck, SignalName, Step, StepArea,
    Timeouts, ALL_PRIV_CHECKS,
};
use crate::raw::{RawBytes, RawBytesOrSeeded, RawCase, RawFile, RawOver, RawSend, RawStep};
use std::collections::HashSet;
use std::ops::Range;
use toml::Spanned;

/// Largest payload a single `send` may declare (256 MiB).
pub const MAX_PAYLOAD: u64 = 256 << 20;
/// Longest single duration a step or timeout may declare (10 minutes).
pub const MAX_MS: u64 = 600_000;
/// The longest pause between two concurrent clients' starts (`stagger_ms`).
const MAX_STAGGER_MS: u64 = 1_000;
/// Most clients a `concurrent` case may run.
pub const MAX_CLIENTS: u32 = 20_000;
/// Largest spec file read, checked before it is parsed.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Most steps a case may execute once `repeat`s are expanded.
pub const MAX_EXPANDED_STEPS: u64 = 1_000_000;
/// The most connections one `storm` or `hold` step opens.
pub const MAX_CROWD: u32 = 100_000;
/// The most connections a `storm` attempts at once.
pub const MAX_BURST: u32 = 4_096;

/// The largest UDP datagram over IPv4 loopback: 65 535 minus the IPv4 and UDP headers.
pub const MAX_DATAGRAM: u64 = 65_507;
/// The most datagrams one `udp_burst` sends.
pub const MAX_BURST_DATAGRAMS: u32 = 1_000_000;

/// Reserved kinds: part of the closed set in the design, not implemented by this version.
const RESERVED_KINDS: [&str; 2] = ["hostile", "load"];

/// Parses one spec file. `file` is the name used in messages.
pub fn parse_file(file: &str, text: &str) -> Result<Vec<Case>, SpecError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(SpecError::Syntax {
            file: file.to_string(),
            line: 1,
            column: 1,
            message: format!(
                "the file holds more than {MAX_FILE_BYTES} bytes (1 MiB), the most a spec file may hold"
            ),
        });
    }
    let raw: RawFile = toml::from_str(text).map_err(|e| crate::error::syntax(file, text, &e))?;
    let ctx = Ctx { file, text };
    raw.case.into_iter().map(|c| ctx.case(c)).collect()
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

type Res<T> = Result<T, SpecError>;

impl Ctx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        case: &str,
        field: &str,
        message: impl Into<String>,
    ) -> SpecError {
        let (line, column) = line_col(self.text, span.start);
        SpecError::Invalid {
            file: self.file.to_string(),
            line,
            column,
            case: case.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn case(&self, mut raw: RawCase) -> Res<Case> {
        let id = raw.id.get_ref().clone();
        if !valid_id(&id) {
            return Err(self.err(
                raw.id.span(),
                &id,
                "id",
                "ids are dotted lowercase words such as `echo.binary.all-bytes`",
            ));
        }
        for (field, value) in [("title", &raw.title), ("source", &raw.source)] {
            if value.get_ref().trim().is_empty() {
                return Err(self.err(value.span(), &id, field, "must not be empty"));
            }
        }
        if raw.title.get_ref().chars().count() > 120 {
            return Err(self.err(raw.title.span(), &id, "title", "longer than 120 characters"));
        }
        let timeouts = match &raw.timeouts {
            Some(t) => {
                let v = *t.get_ref();
                for (name, ms) in [
                    ("no_progress_ms", v.no_progress_ms),
                    ("step_ms", v.step_ms),
                    ("case_ms", v.case_ms),
                ] {
                    if let Some(ms) = ms {
                        if ms == 0 || ms > MAX_MS {
                            return Err(self.err(
                                t.span(),
                                &id,
                                &format!("timeouts.{name}"),
                                format!("{ms} is outside 1..={MAX_MS}"),
                            ));
                        }
                    }
                }
                v
            }
            None => Timeouts::default(),
        };
        if raw.kind.get_ref() == "property" {
            return self.property_case(raw, id, timeouts);
        }
        if let Some(p) = &raw.property {
            return Err(self.err(
                p.span(),
                &id,
                "property",
                "only `property` cases take `property`",
            ));
        }
        let kind_name = raw.kind.get_ref().as_str();
        let steps_span = raw.steps.as_ref().map_or(raw.kind.span(), |s| s.span());
        let raw_steps = match raw.steps.take() {
            Some(s) if !s.get_ref().is_empty() => s.into_inner(),
            _ => return Err(self.err(steps_span, &id, "steps", "a case needs at least one step")),
        };
        let steps = self.steps(&id, "steps", raw_steps)?;
        let kind = match kind_name {
            "script" => CaseKind::Script { steps },
            "process" => CaseKind::Process { steps },
            "concurrent" => {
                let Some(clients) = raw.clients.as_ref() else {
                    return Err(self.err(
                        raw.kind.span(),
                        &id,
                        "clients",
                        "a `concurrent` case needs `clients = N`",
                    ));
                };
                let n = *clients.get_ref();
                if !(2..=MAX_CLIENTS).contains(&n) {
                    return Err(self.err(
                        clients.span(),
                        &id,
                        "clients",
                        format!("{n} is outside 2..={MAX_CLIENTS}"),
                    ));
                }
                let stagger_ms = match &raw.stagger_ms {
                    None => 0,
                    Some(s) if *s.get_ref() <= MAX_STAGGER_MS => *s.get_ref(),
                    Some(s) => {
                        return Err(self.err(
                            s.span(),
                            &id,
                            "stagger_ms",
                            format!("{} is outside 0..={MAX_STAGGER_MS}", s.get_ref()),
                        ))
                    }
                };
                CaseKind::Concurrent {
                    clients: n,
                    stagger_ms,
                    steps,
                }
            }
            other if RESERVED_KINDS.contains(&other) => {
                return Err(self.err(
                    raw.kind.span(),
                    &id,
                    "kind",
                    format!("kind `{other}` is reserved and not supported by this version"),
                ));
            }
            other => {
                return Err(self.err(
                    raw.kind.span(),
                    &id,
                    "kind",
                    format!(
                        "unknown kind `{other}` (known: script, process, concurrent, property)"
                    ),
                ))
            }
        };
        if let (Some(clients), false) = (&raw.clients, matches!(kind, CaseKind::Concurrent { .. }))
        {
            return Err(self.err(
                clients.span(),
                &id,
                "clients",
                "only `concurrent` cases take `clients`",
            ));
        }
        if let (Some(s), false) = (&raw.stagger_ms, matches!(kind, CaseKind::Concurrent { .. })) {
            return Err(self.err(
                s.span(),
                &id,
                "stagger_ms",
                "only `concurrent` cases take `stagger_ms`",
            ));
        }
        let rlimit_nofile = match &raw.rlimit_nofile {
            None => None,
            Some(r) if !matches!(kind, CaseKind::Process { .. }) => {
                return Err(self.err(
                    r.span(),
                    &id,
                    "rlimit_nofile",
                    "only `process` cases launch their own server, so only they take `rlimit_nofile`",
                ));
            }
            Some(r) if !(16..=1 << 20).contains(r.get_ref()) => {
                return Err(self.err(
                    r.span(),
                    &id,
                    "rlimit_nofile",
                    format!("{} is outside 16..=1048576", r.get_ref()),
                ));
            }
            Some(r) => Some(*r.get_ref()),
        };
        self.check_steps(&id, &kind, steps_span)?;
        Ok(self.finish(id, raw, timeouts, rlimit_nofile, kind))
    }

    /// The checked case: the fields every kind shares, taken from `raw`, with its origin.
    fn finish(
        &self,
        id: String,
        raw: RawCase,
        timeouts: Timeouts,
        rlimit_nofile: Option<u64>,
        kind: CaseKind,
    ) -> Case {
        let (line, _) = line_col(self.text, raw.id.span().start);
        Case {
            id,
            title: raw.title.into_inner(),
            source: raw.source.into_inner(),
            level: raw.level,
            requires: raw.requires,
            tags: raw.tags,
            timeouts,
            rlimit_nofile,
            kind,
            origin: Origin {
                file: self.file.to_string(),
                line,
            },
        }
    }

    fn steps(&self, id: &str, path: &str, raw: Vec<Spanned<RawStep>>) -> Res<Vec<Step>> {
        raw.into_iter()
            .enumerate()
            .map(|(i, s)| {
                let span = s.span();
                self.step(id, &format!("{path}[{i}]"), span, s.into_inner())
            })
            .collect()
    }

    fn step(&self, id: &str, field: &str, span: Range<usize>, raw: RawStep) -> Res<Step> {
        let ms = |ms: u64, name: &str| -> Res<u64> {
            if ms > MAX_MS {
                Err(self.err(
                    span.clone(),
                    id,
                    &format!("{field}.{name}"),
                    format!("{ms} ms is over the limit of {MAX_MS}"),
                ))
            } else {
                Ok(ms)
            }
        };
        Ok(match raw {
            RawStep::Connect => Step::Connect {
                name: "main".into(),
            },
            RawStep::ConnectAs(name) | RawStep::On(name) if !valid_name(&name) => {
                return Err(self.err(
                    span,
                    id,
                    field,
                    format!("`{name}` is not a connection name (letters, digits, `-`, `_`)"),
                ));
            }
            RawStep::ConnectAs(name) => Step::Connect { name },
            RawStep::ConnectOver(over) => {
                let (name, family) = self.over(id, field, span, over)?;
                Step::ConnectOver { name, family }
            }
            RawStep::UdpOpen => Step::UdpOpen {
                name: "main".into(),
                family: None,
            },
            RawStep::UdpOpenAs(name) | RawStep::UdpOn(name) if !valid_name(&name) => {
                return Err(self.err(
                    span,
                    id,
                    field,
                    format!("`{name}` is not a socket name (letters, digits, `-`, `_`)"),
                ));
            }
            RawStep::UdpOpenAs(name) => Step::UdpOpen { name, family: None },
            RawStep::UdpOpenOver(over) => {
                let (name, family) = self.over(id, field, span, over)?;
                Step::UdpOpen {
                    name,
                    family: Some(family),
                }
            }
            RawStep::UdpOn(name) => Step::UdpOn { name },
            RawStep::UdpSend(d) => Step::UdpSend {
                payload: self.datagram(id, &format!("{field}.udp_send"), span, d)?,
            },
            RawStep::UdpExpectEcho => Step::UdpExpectEcho,
            RawStep::UdpExpectNone(m) => Step::UdpExpectNone {
                ms: ms(m.ms, "ms")?,
            },
            RawStep::UdpClose => Step::UdpClose,
            RawStep::UdpBurst(b) => {
                let bad = if b.count == 0 || b.count > MAX_BURST_DATAGRAMS {
                    Some(("count", format!("must be within 1..={MAX_BURST_DATAGRAMS}")))
                } else if !(8..=MAX_DATAGRAM as u32).contains(&b.size) {
                    Some(("size", format!("must be within 8..={MAX_DATAGRAM}")))
                } else if b.in_flight == 0 || b.in_flight > b.count.min(1024) {
                    Some((
                        "in_flight",
                        format!("must be within 1..={}", b.count.min(1024)),
                    ))
                } else if !(0.0..=100.0).contains(&b.max_loss_pct) {
                    Some(("max_loss_pct", "must be within 0..=100".to_string()))
                } else {
                    None
                };
                if let Some((name, why)) = bad {
                    return Err(self.err(span, id, &format!("{field}.{name}"), why));
                }
                Step::UdpBurst {
                    count: b.count,
                    size: b.size,
                    in_flight: b.in_flight,
                    max_loss_pct: b.max_loss_pct,
                }
            }
            RawStep::On(name) => Step::On { name },
            RawStep::Send(send) => self.send(id, field, span, send)?,
            RawStep::ExpectEcho => Step::ExpectEcho,
            RawStep::Expect(bytes) => Step::Expect {
                bytes: self.bytes(id, field, span, bytes)?,
            },
            RawStep::ExpectEchoPrefix => Step::ExpectEchoPrefix,
            RawStep::ShutdownWrite => Step::ShutdownWrite,
            RawStep::ExpectEof => Step::ExpectEof,
            RawStep::ExpectSilence(m) => Step::ExpectSilence {
                ms: ms(m.ms, "ms")?,
            },
            RawStep::Reset => Step::Reset,
            RawStep::Close => Step::Close,
            RawStep::Leave(m) => {
                if m.ms == 0 {
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.ms"),
                        "must be at least 1: a leave waits for the server's close",
                    ));
                }
                Step::Leave {
                    ms: ms(m.ms, "ms")?,
                }
            }
            RawStep::Sleep(m) => Step::Sleep {
                ms: ms(m.ms, "ms")?,
            },
            RawStep::SetRcvbuf(r) => {
                if r.bytes == 0 || r.bytes > 16 << 20 {
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.bytes"),
                        "must be within 1..=16 MiB",
                    ));
                }
                Step::SetRcvbuf { bytes: r.bytes }
            }
            RawStep::PauseReading(m) => Step::PauseReading {
                ms: ms(m.ms, "ms")?,
            },
            RawStep::Repeat(r) => {
                if r.times == 0 || r.times > 100_000 {
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.times"),
                        "must be within 1..=100000",
                    ));
                }
                if r.steps.is_empty() {
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.steps"),
                        "a repeat needs at least one step",
                    ));
                }
                let steps = self.steps(id, &format!("{field}.steps"), r.steps)?;
                Step::Repeat {
                    times: r.times,
                    steps,
                }
            }
            RawStep::Barrier => Step::Barrier,
            RawStep::ExpectRefused => Step::ExpectRefused,
            RawStep::ExpectExit(e) => Step::ExpectExit { status: e.status },
            RawStep::ExpectPriv(name) => match PrivCheck::from_name(&name) {
                Some(check) => Step::ExpectPriv { check },
                None => {
                    let known: Vec<_> = ALL_PRIV_CHECKS.iter().map(|c| c.as_str()).collect();
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.expect_priv"),
                        format!(
                            "unknown privilege check `{name}` (known: {})",
                            known.join(", ")
                        ),
                    ));
                }
            },
            RawStep::ExpectBindDenied => Step::ExpectBindDenied,
            RawStep::WriteUntilBlocked(w) => {
                if w.max_bytes == 0 || w.max_bytes > MAX_PAYLOAD {
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.max_bytes"),
                        format!("must be within 1..={MAX_PAYLOAD}"),
                    ));
                }
                Step::WriteUntilBlocked {
                    max_bytes: w.max_bytes,
                    stall_ms: ms(w.stall_ms, "stall_ms")?.max(1),
                }
            }
            RawStep::Storm(st) => {
                let bad = if st.connects == 0 || st.connects > MAX_CROWD {
                    Some(("connects", format!("must be within 1..={MAX_CROWD}")))
                } else if st.burst == 0 || st.burst > st.connects.min(MAX_BURST) {
                    Some((
                        "burst",
                        format!("must be within 1..={}", st.connects.min(MAX_BURST)),
                    ))
                } else if st.max_failed > st.connects {
                    Some(("max_failed", "must not exceed `connects`".to_string()))
                } else {
                    None
                };
                if let Some((name, why)) = bad {
                    return Err(self.err(span, id, &format!("{field}.{name}"), why));
                }
                Step::Storm {
                    connects: st.connects,
                    burst: st.burst,
                    max_failed: st.max_failed,
                }
            }
            RawStep::Hold(h) => {
                if h.count == 0 || h.count > MAX_CROWD {
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.count"),
                        format!("must be within 1..={MAX_CROWD}"),
                    ));
                }
                let most = h.count.min(MAX_BURST);
                if h.burst.is_some_and(|b| b == 0 || b > most) {
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.burst"),
                        format!("must be within 1..={most}"),
                    ));
                }
                if h.pause_ms > 0 && h.burst.is_none() {
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.pause_ms"),
                        "needs `burst`: the pause comes between bursts",
                    ));
                }
                Step::Hold {
                    count: h.count,
                    burst: h.burst,
                    pause_ms: ms(h.pause_ms, "pause_ms")?,
                }
            }
            RawStep::MeasurePool(m) => {
                if !(2..=MAX_CLIENTS).contains(&m.max) {
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.max"),
                        format!("must be within 2..={MAX_CLIENTS}"),
                    ));
                }
                Step::MeasurePool { max: m.max }
            }
            RawStep::PingHeld => Step::PingHeld,
            RawStep::Release => Step::Release,
            RawStep::Mark => Step::Mark,
            RawStep::ExpectResources(r) => Step::ExpectResources {
                fd_delta: r.fd_delta,
                threads_delta: r.threads_delta,
                settle_ms: ms(r.settle_ms, "settle_ms")?,
            },
            RawStep::ExpectRss(r) => {
                if r.max_growth_kib.is_none() && r.max_kib.is_none() {
                    return Err(self.err(
                        span,
                        id,
                        &format!("{field}.expect_rss"),
                        "give `max_growth_kib`, `max_kib`, or both",
                    ));
                }
                Step::ExpectRss {
                    max_growth_kib: r.max_growth_kib,
                    max_kib: r.max_kib,
                }
            }
            RawStep::ExpectCpu(c) => Step::ExpectCpu {
                max_ms: ms(c.max_ms, "max_ms")?,
            },
            RawStep::Signal(name) => Step::Signal {
                signal: self.signal(id, &format!("{field}.signal"), span, &name)?,
            },
            RawStep::Restart(name) => {
                let f = format!("{field}.restart");
                let signal = self.signal(id, &f, span.clone(), &name)?;
                if !matches!(signal, SignalName::Term | SignalName::Kill) {
                    return Err(self.err(
                        span,
                        id,
                        &f,
                        "a restart stops the server with TERM (then the grace period) or KILL",
                    ));
                }
                Step::Restart { signal }
            }
            RawStep::ExpectGroupEmpty => Step::ExpectGroupEmpty,
        })
    }

    fn signal(&self, id: &str, field: &str, span: Range<usize>, name: &str) -> Res<SignalName> {
        SignalName::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<_> = SignalName::ALL.iter().map(|s| s.as_str()).collect();
                self.err(
                    span,
                    id,
                    field,
                    format!("unknown signal `{name}` (known: {})", known.join(", ")),
                )
            })
    }

    /// A name and family from `connect_over` or `udp_open_over`.
    fn over(
        &self,
        id: &str,
        field: &str,
        span: Range<usize>,
        over: RawOver,
    ) -> Res<(String, IpFamily)> {
        if !valid_name(&over.name) {
            return Err(self.err(
                span,
                id,
                &format!("{field}.name"),
                format!("`{}` is not a name (letters, digits, `-`, `_`)", over.name),
            ));
        }
        let family = match over.family.as_str() {
            "ipv4" => IpFamily::Ipv4,
            "ipv6" => IpFamily::Ipv6,
            other => {
                return Err(self.err(
                    span,
                    id,
                    &format!("{field}.family"),
                    format!("unknown family `{other}` (known: ipv4, ipv6)"),
                ))
            }
        };
        Ok((over.name, family))
    }

    /// The bytes of one datagram: empty allowed, at most [`MAX_DATAGRAM`].
    fn datagram(
        &self,
        id: &str,
        field: &str,
        span: Range<usize>,
        d: RawBytesOrSeeded,
    ) -> Res<Payload> {
        let sources = [
            d.text.is_some(),
            d.hex.is_some(),
            d.seeded.is_some(),
            d.all_bytes.is_some(),
        ];
        if sources.iter().filter(|x| **x).count() != 1 {
            return Err(self.err(
                span,
                id,
                field,
                "give exactly one of `text`, `hex`, `seeded`, `all_bytes`",
            ));
        }
        let payload = match (d.seeded, d.all_bytes) {
            (Some(seeded), _) => Payload::Seeded {
                seed: seeded.seed,
                len: seeded.len,
            },
            (None, Some(true)) => Payload::AllBytes,
            (None, Some(false)) => {
                return Err(self.err(span, id, field, "`all_bytes` must be `true` when given"))
            }
            (None, None) => match (d.text, d.hex) {
                (Some(t), None) => Payload::Bytes(t.into_bytes()),
                (None, Some(h)) => Payload::Bytes(decode_hex(&h).ok_or_else(|| {
                    self.err(
                        span.clone(),
                        id,
                        field,
                        "`hex` is not an even run of hex digits",
                    )
                })?),
                _ => return Err(self.err(span, id, field, "give one source of bytes")),
            },
        };
        if payload.len() > MAX_DATAGRAM {
            return Err(self.err(
                span,
                id,
                field,
                format!(
                    "a datagram of {} bytes is over the UDP maximum of {MAX_DATAGRAM}",
                    payload.len()
                ),
            ));
        }
        Ok(payload)
    }

    fn send(&self, id: &str, field: &str, span: Range<usize>, s: RawSend) -> Res<Step> {
        let field = format!("{field}.send");
        let sources = [
            s.text.is_some(),
            s.hex.is_some(),
            s.seeded.is_some(),
            s.all_bytes.is_some(),
        ];
        if sources.iter().filter(|x| **x).count() != 1 {
            return Err(self.err(
                span,
                id,
                &field,
                "give exactly one of `text`, `hex`, `seeded`, `all_bytes`",
            ));
        }
        let payload = if let Some(seeded) = s.seeded {
            Payload::Seeded {
                seed: seeded.seed,
                len: seeded.len,
            }
        } else if let Some(all) = s.all_bytes {
            if !all {
                return Err(self.err(span, id, &field, "`all_bytes` must be `true` when given"));
            }
            Payload::AllBytes
        } else {
            Payload::Bytes(self.bytes(
                id,
                &field,
                span.clone(),
                RawBytes {
                    text: s.text,
                    hex: s.hex,
                },
            )?)
        };
        if payload.is_empty() || payload.len() > MAX_PAYLOAD {
            return Err(self.err(
                span,
                id,
                &field,
                format!(
                    "payload length {} is outside 1..={MAX_PAYLOAD}",
                    payload.len()
                ),
            ));
        }
        let sizes = match (s.chunk, s.chunks) {
            (Some(_), Some(_)) => {
                return Err(self.err(span, id, &field, "give `chunk` or `chunks`, not both"))
            }
            (Some(c), None) => vec![c],
            (None, Some(cs)) => cs,
            (None, None) => Vec::new(),
        };
        if sizes.iter().any(|&c| c == 0 || c > 1 << 20) {
            return Err(self.err(
                span,
                id,
                &format!("{field}.chunks"),
                "chunk sizes must be within 1..=1048576",
            ));
        }
        let pause_ms = s.pause_ms.unwrap_or(0);
        if pause_ms > 10_000 {
            return Err(self.err(
                span,
                id,
                &format!("{field}.pause_ms"),
                "must be at most 10000",
            ));
        }
        Ok(Step::Send {
            payload,
            chunking: Chunking { sizes, pause_ms },
        })
    }

    fn bytes(&self, id: &str, field: &str, span: Range<usize>, b: RawBytes) -> Res<Vec<u8>> {
        match (b.text, b.hex) {
            (Some(t), None) => Ok(t.into_bytes()),
            (None, Some(h)) => decode_hex(&h).ok_or_else(|| {
                self.err(
                    span,
                    id,
                    &format!("{field}.hex"),
                    format!("`{h}` is not an even-length hex string"),
                )
            }),
            _ => Err(self.err(span, id, field, "give exactly one of `text` or `hex`")),
        }
    }

    /// Checks rules that span several steps: connections exist before use, kind-only steps, bounded size.
    fn check_steps(&self, id: &str, kind: &CaseKind, span: Range<usize>) -> Res<()> {
        let mut names = HashSet::new();
        let mut current = None;
        let mut marked = false;
        let expanded = walk(kind.steps(), &mut names, &mut current, &mut marked, kind)
            .map_err(|msg| self.err(span.clone(), id, "steps", msg))?;
        walk_udp(kind.steps(), &mut HashSet::new(), &mut None)
            .map_err(|msg| self.err(span.clone(), id, "steps", msg))?;
        if expanded > MAX_EXPANDED_STEPS {
            return Err(self.err(
                span,
                id,
                "steps",
                format!(
                    "{expanded} steps once repeats are expanded; the limit is {MAX_EXPANDED_STEPS}"
                ),
            ));
        }
        Ok(())
    }
}

/// Walks the steps in order, tracking open connections; returns the expanded step count.
fn walk(
    steps: &[Step],
    names: &mut HashSet<String>,
    current: &mut Option<String>,
    marked: &mut bool,
    kind: &CaseKind,
) -> Result<u64, String> {
    let mut count = 0u64;
    for (i, step) in steps.iter().enumerate() {
        count = count.saturating_add(1);
        match step {
            Step::Mark => *marked = true,
            Step::Restart { .. } => *marked = false,
            _ => {}
        }
        match step {
            Step::Connect { name } | Step::ConnectOver { name, .. } => {
                names.insert(name.clone());
                *current = Some(name.clone());
            }
            // UDP leaves are checked by `walk_udp`; a `repeat` holding them is walked below.
            s if s.is_udp_step() && !matches!(s, Step::Repeat { .. }) => {}
            Step::On { name } => {
                if !names.contains(name) {
                    return Err(format!(
                        "step {i}: `on = \"{name}\"` names no connection opened before it"
                    ));
                }
                *current = Some(name.clone());
            }
            Step::Repeat { times, steps } => {
                let inner = walk(steps, names, current, marked, kind)?;
                count = count.saturating_add(u64::from(*times).saturating_mul(inner));
            }
            Step::Barrier if !matches!(kind, CaseKind::Concurrent { .. }) => {
                return Err(format!(
                    "step {i}: `barrier` only makes sense in a `concurrent` case"
                ));
            }
            s if s.is_process_step() && !matches!(kind, CaseKind::Process { .. }) => {
                return Err(format!(
                    "step {i}: `{}` observes the server process and needs `kind = \"process\"`",
                    s.name()
                ));
            }
            Step::ExpectResources { .. }
            | Step::ExpectCpu { .. }
            | Step::ExpectRss {
                max_growth_kib: Some(_),
                ..
            } if !*marked => {
                return Err(format!(
                    "step {i}: `{}` compares with a baseline: put a `\"mark\"` step before it (a `restart` drops the baseline)",
                    step.name()
                ));
            }
            Step::ExpectBindDenied
                if i != 0 || !std::ptr::eq(steps.as_ptr(), kind.steps().as_ptr()) =>
            {
                return Err(format!(
                    "step {i}: `expect_bind_denied` changes how the server is launched, so it must be the case's first step"
                ));
            }
            // It opens and checks a connection of its own.
            Step::ExpectRefused => {}
            // Control, crowd and process steps act on no connection of the script's.
            s if s.area() != StepArea::Stream => {}
            other => {
                if current.is_none() {
                    return Err(format!(
                        "step {i}: `{}` needs an open connection; add `\"connect\"` before it",
                        other.name()
                    ));
                }
                if matches!(other, Step::Reset | Step::Close | Step::Leave { .. }) {
                    if let Some(name) = current.take() {
                        names.remove(&name);
                    }
                }
            }
        }
    }
    Ok(count)
}

/// Checks that every UDP step acts on a socket opened before it.
fn walk_udp(
    steps: &[Step],
    names: &mut HashSet<String>,
    current: &mut Option<String>,
) -> Result<(), String> {
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::UdpOpen { name, .. } => {
                names.insert(name.clone());
                *current = Some(name.clone());
            }
            Step::UdpOn { name } => {
                if !names.contains(name) {
                    return Err(format!(
                        "step {i}: `udp_on = \"{name}\"` names no UDP socket opened before it"
                    ));
                }
                *current = Some(name.clone());
            }
            Step::Repeat { steps, .. } => walk_udp(steps, names, current)?,
            s if s.is_udp_step() => {
                if current.is_none() {
                    return Err(format!(
                        "step {i}: `{}` needs a UDP socket; add `\"udp_open\"` before it",
                        s.name()
                    ));
                }
                if matches!(s, Step::UdpClose) {
                    if let Some(name) = current.take() {
                        names.remove(&name);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn valid_id(id: &str) -> bool {
    let parts: Vec<_> = id.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !p.starts_with('-')
        })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn decode_hex(h: &str) -> Option<Vec<u8>> {
    let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

mod property;
#[cfg(test)]
mod tests;
