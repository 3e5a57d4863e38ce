//! A step word's TOML form, in one place: how it is written ([`RawStep`], which serde reads and
//! the JSON schema is generated from), how it is read ([`Ctx::step`](super::Ctx), an exhaustive
//! match that converts and bounds it, handing parameter tables to the file of the step's area),
//! and how it is written back ([`emit_step`]).
//!
//! A new step word touches three hand-written files: `spec/src/step.rs` (the [`Step`] variant,
//! its name and its area), this file (its TOML form, read and written back), and the executor of
//! its area in the client library (`clients/src/script/stream.rs`, `datagram.rs`, `crowd.rs`,
//! `control.rs`, or a `ProcessHooks` method for a process step). A step whose parameters need a
//! table of their own also adds it to `spec/src/raw.rs` and its bounds to its area's file under
//! `spec/src/parse/`. The variants of [`RawStep`] keep the order the format has always listed
//! them in: serde's "expected one of" message and the schema follow it.

use super::{At, Ctx, Res};
use crate::emit::{bytes_field, chunking_fields, hold, payload_field, quote, rss};
use crate::model::Step;
use crate::raw::*;
use schemars::JsonSchema;
use serde::Deserialize;
use std::ops::Range;

/// A step as written: a bare string for steps without parameters, a one-key table otherwise.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawStep {
    Connect,
    ConnectAs(String),
    ConnectOver(RawOver),
    UdpOpen,
    UdpOpenAs(String),
    UdpOpenOver(RawOver),
    UdpOn(String),
    UdpSend(RawBytesOrSeeded),
    UdpExpectEcho,
    UdpExpectNone(RawMs),
    UdpClose,
    UdpBurst(RawBurst),
    On(String),
    Send(RawSend),
    ExpectEcho,
    Expect(RawBytes),
    ExpectEchoPrefix,
    ShutdownWrite,
    ExpectEof,
    ExpectSilence(RawMs),
    Reset,
    Close,
    Leave(RawMs),
    Sleep(RawMs),
    SetRcvbuf(RawRcvbuf),
    PauseReading(RawMs),
    Repeat(RawRepeat),
    Barrier,
    ExpectRefused,
    ExpectExit(RawExit),
    ExpectPriv(String),
    ExpectBindDenied,
    WriteUntilBlocked(RawWriteUntilBlocked),
    Storm(RawStorm),
    Hold(RawHold),
    MeasurePool(RawMeasurePool),
    PingHeld,
    Release,
    Mark,
    ExpectResources(RawResources),
    ExpectRss(RawRss),
    ExpectCpu(RawCpu),
    Signal(String),
    ExpectGroupEmpty,
    Restart(String),
    SendUrgent(String),
}

impl Ctx<'_> {
    /// One step, converted and bounded. Each arm hands the step's parameters to the file of its
    /// area; the arms are grouped by area, in the order of [`StepArea`](crate::StepArea).
    pub(super) fn step(
        &self,
        id: &str,
        field: &str,
        span: Range<usize>,
        raw: RawStep,
    ) -> Res<Step> {
        let at = &At { id, field, span };
        Ok(match raw {
            // Stream (`parse/stream.rs`).
            RawStep::Connect => Step::Connect {
                name: "main".into(),
            },
            RawStep::ConnectAs(name) => Step::Connect {
                name: self.connection_name(at, name)?,
            },
            RawStep::ConnectOver(over) => self.connect_over(at, over)?,
            RawStep::On(name) => Step::On {
                name: self.connection_name(at, name)?,
            },
            RawStep::Send(send) => self.send(at, send)?,
            RawStep::ExpectEcho => Step::ExpectEcho,
            RawStep::Expect(bytes) => self.expect(at, bytes)?,
            RawStep::ExpectEchoPrefix => Step::ExpectEchoPrefix,
            RawStep::ShutdownWrite => Step::ShutdownWrite,
            RawStep::ExpectEof => Step::ExpectEof,
            RawStep::ExpectSilence(m) => Step::ExpectSilence {
                ms: self.ms(at, m.ms, "ms")?,
            },
            RawStep::Reset => Step::Reset,
            RawStep::Close => Step::Close,
            RawStep::Leave(m) => self.leave(at, m)?,
            RawStep::SetRcvbuf(r) => self.set_rcvbuf(at, r)?,
            RawStep::PauseReading(m) => Step::PauseReading {
                ms: self.ms(at, m.ms, "ms")?,
            },
            RawStep::WriteUntilBlocked(w) => self.write_until_blocked(at, w)?,
            RawStep::ExpectRefused => Step::ExpectRefused,
            RawStep::SendUrgent(text) => match text.as_bytes() {
                [byte] if byte.is_ascii_graphic() => Step::SendUrgent { byte: *byte },
                _ => {
                    return Err(self.step_err(
                        at,
                        at.field,
                        format!("`{text}` is not one printable ASCII character"),
                    ))
                }
            },
            // Datagram (`parse/datagram.rs`).
            RawStep::UdpOpen => Step::UdpOpen {
                name: "main".into(),
                family: None,
            },
            RawStep::UdpOpenAs(name) => Step::UdpOpen {
                name: self.socket_name(at, name)?,
                family: None,
            },
            RawStep::UdpOpenOver(over) => self.udp_open_over(at, over)?,
            RawStep::UdpOn(name) => Step::UdpOn {
                name: self.socket_name(at, name)?,
            },
            RawStep::UdpSend(d) => self.udp_send(at, d)?,
            RawStep::UdpExpectEcho => Step::UdpExpectEcho,
            RawStep::UdpExpectNone(m) => Step::UdpExpectNone {
                ms: self.ms(at, m.ms, "ms")?,
            },
            RawStep::UdpClose => Step::UdpClose,
            RawStep::UdpBurst(b) => self.udp_burst(at, b)?,
            // Crowd (`parse/crowd.rs`).
            RawStep::Storm(st) => self.storm(at, st)?,
            RawStep::Hold(h) => self.hold(at, h)?,
            RawStep::PingHeld => Step::PingHeld,
            RawStep::MeasurePool(m) => self.measure_pool(at, m)?,
            RawStep::Release => Step::Release,
            // Process and privilege (`parse/process.rs`).
            RawStep::ExpectExit(e) => Step::ExpectExit { status: e.status },
            RawStep::Mark => Step::Mark,
            RawStep::ExpectResources(r) => self.expect_resources(at, r)?,
            RawStep::ExpectRss(r) => self.expect_rss(at, r)?,
            RawStep::ExpectCpu(c) => Step::ExpectCpu {
                max_ms: self.ms(at, c.max_ms, "max_ms")?,
            },
            RawStep::Signal(name) => Step::Signal {
                signal: self.signal(id, &at.sub("signal"), at.span.clone(), &name)?,
            },
            RawStep::ExpectGroupEmpty => Step::ExpectGroupEmpty,
            RawStep::Restart(name) => self.restart(at, name)?,
            RawStep::ExpectPriv(name) => self.expect_priv(at, name)?,
            RawStep::ExpectBindDenied => Step::ExpectBindDenied,
            // Control.
            RawStep::Sleep(m) => Step::Sleep {
                ms: self.ms(at, m.ms, "ms")?,
            },
            RawStep::Repeat(r) => self.repeat(at, r)?,
            RawStep::Barrier => Step::Barrier,
        })
    }
}

/// One step as the parser reads it: a bare string, or a one-key inline table.
pub fn emit_step(s: &Step) -> String {
    let table = |key: &str, value: String| format!("{{ {key} = {value} }}");
    match s {
        Step::Connect { name } if name == "main" => quote("connect"),
        Step::Connect { name } => table("connect_as", quote(name)),
        Step::On { name } => table("on", quote(name)),
        Step::ConnectOver { name, family } => table(
            "connect_over",
            format!("{{ name = {}, family = {} }}", quote(name), quote(family.as_str())),
        ),
        Step::UdpOpen { name, family: None } if name == "main" => quote("udp_open"),
        Step::UdpOpen { name, family: None } => table("udp_open_as", quote(name)),
        Step::UdpOpen {
            name,
            family: Some(family),
        } => table(
            "udp_open_over",
            format!("{{ name = {}, family = {} }}", quote(name), quote(family.as_str())),
        ),
        Step::UdpOn { name } => table("udp_on", quote(name)),
        Step::UdpSend { payload } => table("udp_send", format!("{{ {} }}", payload_field(payload))),
        Step::UdpExpectNone { ms } => table("udp_expect_none", format!("{{ ms = {ms} }}")),
        Step::UdpBurst {
            count,
            size,
            in_flight,
            max_loss_pct,
        } => table(
            "udp_burst",
            format!(
                "{{ count = {count}, size = {size}, in_flight = {in_flight}, max_loss_pct = {max_loss_pct:?} }}"
            ),
        ),
        Step::Send { payload, chunking } => {
            let mut fields = vec![payload_field(payload)];
            fields.extend(chunking_fields(chunking));
            table("send", format!("{{ {} }}", fields.join(", ")))
        }
        Step::Expect { bytes } => table("expect", format!("{{ {} }}", bytes_field(bytes))),
        Step::ExpectSilence { ms } => table("expect_silence", format!("{{ ms = {ms} }}")),
        Step::Sleep { ms } => table("sleep", format!("{{ ms = {ms} }}")),
        Step::Leave { ms } => table("leave", format!("{{ ms = {ms} }}")),
        Step::PauseReading { ms } => table("pause_reading", format!("{{ ms = {ms} }}")),
        Step::SetRcvbuf { bytes } => table("set_rcvbuf", format!("{{ bytes = {bytes} }}")),
        Step::Repeat { times, steps } => {
            let inner: Vec<_> = steps.iter().map(emit_step).collect();
            table(
                "repeat",
                format!("{{ times = {times}, steps = [{}] }}", inner.join(", ")),
            )
        }
        Step::ExpectExit { status } => table("expect_exit", format!("{{ status = {status} }}")),
        Step::ExpectPriv { check } => table("expect_priv", quote(check.as_str())),
        Step::WriteUntilBlocked {
            max_bytes,
            stall_ms,
        } => table(
            "write_until_blocked",
            format!("{{ max_bytes = {max_bytes}, stall_ms = {stall_ms} }}"),
        ),
        Step::Storm {
            connects,
            burst,
            max_failed,
        } => table(
            "storm",
            format!("{{ connects = {connects}, burst = {burst}, max_failed = {max_failed} }}"),
        ),
        Step::Hold {
            count,
            burst,
            pause_ms,
        } => table("hold", hold(*count, *burst, *pause_ms)),
        Step::MeasurePool { max } => table("measure_pool", format!("{{ max = {max} }}")),
        Step::ExpectResources {
            fd_delta,
            threads_delta,
            settle_ms,
        } => table(
            "expect_resources",
            format!(
                "{{ fd_delta = {fd_delta}, threads_delta = {threads_delta}, settle_ms = {settle_ms} }}"
            ),
        ),
        Step::ExpectRss {
            max_growth_kib,
            max_kib,
        } => table("expect_rss", rss(*max_growth_kib, *max_kib)),
        Step::ExpectCpu { max_ms } => table("expect_cpu", format!("{{ max_ms = {max_ms} }}")),
        Step::Signal { signal } => table("signal", quote(signal.as_str())),
        Step::Restart { signal } => table("restart", quote(signal.as_str())),
        Step::SendUrgent { byte } => table("send_urgent", quote(&char::from(*byte).to_string())),
        Step::ExpectEcho
        | Step::ExpectEchoPrefix
        | Step::ShutdownWrite
        | Step::ExpectEof
        | Step::Reset
        | Step::Close
        | Step::Barrier
        | Step::ExpectRefused
        | Step::ExpectBindDenied
        | Step::PingHeld
        | Step::Release
        | Step::Mark
        | Step::ExpectGroupEmpty
        | Step::UdpExpectEcho
        | Step::UdpClose => quote(s.name()),
    }
}
