//! Converts the stream steps (see [`StepArea::Stream`](crate::StepArea::Stream)): TCP connections
//! opened, chosen, written to, read from and closed, with the bounds of their parameters.

use super::{decode_hex, valid_name, At, Ctx, Res, MAX_PAYLOAD};
use crate::model::{Chunking, Payload, Step};
use crate::raw::{RawBytes, RawMs, RawOver, RawRcvbuf, RawSend, RawWriteUntilBlocked};
use std::ops::Range;

impl Ctx<'_> {
    /// The name a `connect_as` or `on` step gives: letters, digits, `-` and `_`.
    pub(super) fn connection_name(&self, at: &At, name: String) -> Res<String> {
        if !valid_name(&name) {
            return Err(self.step_err(
                at,
                at.field,
                format!("`{name}` is not a connection name (letters, digits, `-`, `_`)"),
            ));
        }
        Ok(name)
    }

    /// A `connect_over` step: a connection name and the family to connect over.
    pub(super) fn connect_over(&self, at: &At, over: RawOver) -> Res<Step> {
        let (name, family) = self.over(at.id, at.field, at.span.clone(), over)?;
        Ok(Step::ConnectOver { name, family })
    }

    /// An `expect` step: literal bytes from `text` or `hex`.
    pub(super) fn expect(&self, at: &At, bytes: RawBytes) -> Res<Step> {
        Ok(Step::Expect {
            bytes: self.bytes(at.id, at.field, at.span.clone(), bytes)?,
        })
    }

    /// A `leave` step: its wait must be at least 1 ms, since it waits for the server's close.
    pub(super) fn leave(&self, at: &At, m: RawMs) -> Res<Step> {
        if m.ms == 0 {
            return Err(self.step_err(
                at,
                &at.sub("ms"),
                "must be at least 1: a leave waits for the server's close",
            ));
        }
        Ok(Step::Leave {
            ms: self.ms(at, m.ms, "ms")?,
        })
    }

    /// A `set_rcvbuf` step: a receive buffer of 1 byte to 16 MiB.
    pub(super) fn set_rcvbuf(&self, at: &At, r: RawRcvbuf) -> Res<Step> {
        if r.bytes == 0 || r.bytes > 16 << 20 {
            return Err(self.step_err(at, &at.sub("bytes"), "must be within 1..=16 MiB"));
        }
        Ok(Step::SetRcvbuf { bytes: r.bytes })
    }

    /// A `write_until_blocked` step: at most [`MAX_PAYLOAD`] bytes, a stall of at least 1 ms.
    pub(super) fn write_until_blocked(&self, at: &At, w: RawWriteUntilBlocked) -> Res<Step> {
        if w.max_bytes == 0 || w.max_bytes > MAX_PAYLOAD {
            return Err(self.step_err(
                at,
                &at.sub("max_bytes"),
                format!("must be within 1..={MAX_PAYLOAD}"),
            ));
        }
        Ok(Step::WriteUntilBlocked {
            max_bytes: w.max_bytes,
            stall_ms: self.ms(at, w.stall_ms, "stall_ms")?.max(1),
        })
    }

    /// A `send` step: exactly one payload source of 1 byte to [`MAX_PAYLOAD`], and its chunking.
    pub(super) fn send(&self, at: &At, s: RawSend) -> Res<Step> {
        let (id, span) = (at.id, at.span.clone());
        let field = at.sub("send");
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
}
