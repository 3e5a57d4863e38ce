//! Converts the datagram steps (see [`StepArea::Datagram`](crate::StepArea::Datagram)): UDP
//! sockets opened and chosen, datagrams sent and answered, bursts, with the bounds of their
//! parameters.

use super::{decode_hex, valid_name, At, Ctx, Res, MAX_BURST_DATAGRAMS, MAX_DATAGRAM};
use crate::model::{Payload, Step};
use crate::raw::{RawBurst, RawBytesOrSeeded, RawOver};
use std::ops::Range;

impl Ctx<'_> {
    /// The name a `udp_open_as` or `udp_on` step gives: letters, digits, `-` and `_`.
    pub(super) fn socket_name(&self, at: &At, name: String) -> Res<String> {
        if !valid_name(&name) {
            return Err(self.step_err(
                at,
                at.field,
                format!("`{name}` is not a socket name (letters, digits, `-`, `_`)"),
            ));
        }
        Ok(name)
    }

    /// A `udp_open_over` step: a socket name and the family to open it on.
    pub(super) fn udp_open_over(&self, at: &At, over: RawOver) -> Res<Step> {
        let (name, family) = self.over(at.id, at.field, at.span.clone(), over)?;
        Ok(Step::UdpOpen {
            name,
            family: Some(family),
        })
    }

    /// A `udp_send` step: one datagram.
    pub(super) fn udp_send(&self, at: &At, d: RawBytesOrSeeded) -> Res<Step> {
        Ok(Step::UdpSend {
            payload: self.datagram(at.id, &at.sub("udp_send"), at.span.clone(), d)?,
        })
    }

    /// A `udp_burst` step: its count, datagram size, datagrams in flight and loss tolerated, each
    /// within its bounds.
    pub(super) fn udp_burst(&self, at: &At, b: RawBurst) -> Res<Step> {
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
            return Err(self.step_err(at, &at.sub(name), why));
        }
        Ok(Step::UdpBurst {
            count: b.count,
            size: b.size,
            in_flight: b.in_flight,
            max_loss_pct: b.max_loss_pct,
        })
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
}
