//! The echo verifier: what the server owes the client, checked byte by byte as it arrives.

use crate::payload::{fill, hex, quoted};
use echo_spec::Payload;
use regex::bytes::Regex;
use std::collections::VecDeque;
use std::fmt;

/// What the server is declared to do to the bytes it echoes.
#[derive(Debug, Clone, Default)]
pub enum Transform {
    /// The echo is the bytes received.
    #[default]
    Identity,
    /// The echo is the bytes received, ASCII upper-cased.
    Uppercase,
    /// Each reply (one per `send`) starts with a match of this regex, then the bytes.
    Prefix(Regex),
    /// Only the count is checked: a reply is complete once as many bytes as were sent have
    /// arrived, whatever they are, and bytes that arrive when nothing is owed are ignored. For
    /// cases whose subject is not the echo's bytes (leaks, lifecycle, idle clients), so that a
    /// server that changes its echo fails the cases about bytes, not these.
    Count,
}

impl Transform {
    fn apply(&self, buf: &mut [u8]) {
        if let Transform::Uppercase = self {
            buf.make_ascii_uppercase();
        }
    }
}

/// Bytes kept on each side of a mismatch, for working out its shape (16 of them are printed).
const WINDOW: usize = 64;

/// Longest prefix the `prefix` transform may put before a reply.
const MAX_PREFIX: usize = 256;

#[derive(Debug)]
enum Owed {
    Prefix,
    Bytes { payload: Payload, offset: u64 },
}

/// A difference between what arrived and what was owed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Offset in the received stream of the first byte that differs.
    pub offset: u64,
    /// Expected bytes from that offset (up to 64), or empty when nothing more was owed.
    pub expected: Vec<u8>,
    /// Received bytes from that offset (up to 64).
    pub received: Vec<u8>,
    /// Received bytes just before that offset (up to 8), for context.
    pub before: Vec<u8>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.expected.is_empty() {
            write!(
                f,
                "{} unexpected byte(s) at offset {} after everything owed had arrived: [{}]{}",
                self.received.len(),
                self.offset,
                hex(&self.received, 16),
                quoted(&self.received, 16)
            )
        } else {
            write!(
                f,
                "first difference at offset {}: expected [{}]{}, received [{}]{} (preceded by [{}])",
                self.offset,
                hex(&self.expected, 16),
                quoted(&self.expected, 16),
                hex(&self.received, 16),
                quoted(&self.received, 16),
                hex(&self.before, 8)
            )
        }
    }
}

/// Tracks the bytes owed on one connection and checks arriving bytes against them.
#[derive(Debug, Default)]
pub struct EchoVerifier {
    transform: Transform,
    owed: VecDeque<Owed>,
    owed_bytes: u64,
    received: u64,
    prefix_buf: Vec<u8>,
    tail: Vec<u8>,
    ignored: u64,
}

impl EchoVerifier {
    /// A verifier for a server with the given transform.
    pub fn new(transform: Transform) -> Self {
        EchoVerifier {
            transform,
            ..Default::default()
        }
    }

    /// Records that `payload` was sent, so its echo is now owed.
    pub fn owe_echo(&mut self, payload: Payload) {
        if matches!(self.transform, Transform::Prefix(_)) {
            self.owed.push_back(Owed::Prefix);
        }
        self.owe_exact(payload);
    }

    /// Records that these exact bytes are owed next, whatever was sent.
    pub fn owe_exact(&mut self, payload: Payload) {
        self.owed_bytes += payload.len();
        self.owed.push_back(Owed::Bytes { payload, offset: 0 });
    }

    /// Bytes still owed (prefixes not counted).
    pub fn outstanding(&self) -> u64 {
        self.owed_bytes
    }

    /// True when nothing at all is owed.
    pub fn settled(&self) -> bool {
        self.owed.is_empty()
    }

    /// The next bytes owed, at most `max` of them, as the server should send them.
    pub fn owed_head(&self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for owed in &self.owed {
            let Owed::Bytes { payload, offset } = owed else {
                continue;
            };
            let take = (payload.len() - offset).min((max - out.len()) as u64) as usize;
            let start = out.len();
            out.resize(start + take, 0);
            fill(payload, *offset, &mut out[start..]);
            self.transform.apply(&mut out[start..]);
            if out.len() >= max {
                break;
            }
        }
        out
    }

    /// Bytes that arrived when nothing was owed, under [`Transform::Count`].
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Bytes received so far on this connection.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Drops whatever is still owed (after a `oneshot` reply that was allowed to be partial).
    pub fn forgive(&mut self) {
        self.owed.clear();
        self.owed_bytes = 0;
    }

    /// Checks `data`, which just arrived, against what is owed.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Mismatch> {
        let mut rest = data;
        let mut scratch = [0u8; 8192];
        while !rest.is_empty() {
            match self.owed.front_mut() {
                None if matches!(self.transform, Transform::Count) => {
                    self.ignored += rest.len() as u64;
                    return Ok(());
                }
                None => return Err(self.mismatch(rest, &[])),
                Some(Owed::Prefix) => {
                    let Transform::Prefix(re) = &self.transform else {
                        unreachable!("prefix owed without prefix transform")
                    };
                    let re = re.clone();
                    let take = rest.len().min(MAX_PREFIX - self.prefix_buf.len());
                    self.prefix_buf.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    let found = re
                        .find(&self.prefix_buf)
                        .filter(|m| m.start() == 0 && m.end() > 0)
                        .map(|m| m.end());
                    if let Some(end) = found {
                        let buf = std::mem::take(&mut self.prefix_buf);
                        self.advance(&buf[..end]);
                        self.owed.pop_front();
                        self.feed(&buf[end..])?;
                    } else if self.prefix_buf.len() >= MAX_PREFIX {
                        let buf = std::mem::take(&mut self.prefix_buf);
                        return Err(Mismatch {
                            offset: self.received,
                            expected: format!("<a match of /{re}/>").into_bytes(),
                            received: buf[..WINDOW.min(buf.len())].to_vec(),
                            before: self.tail.clone(),
                        });
                    }
                }
                Some(Owed::Bytes { payload, offset }) => {
                    let left = payload.len() - *offset;
                    let n = (rest.len() as u64).min(left).min(scratch.len() as u64) as usize;
                    fill(payload, *offset, &mut scratch[..n]);
                    self.transform.apply(&mut scratch[..n]);
                    let counted = matches!(self.transform, Transform::Count);
                    if let Some(i) = (0..n).find(|&i| !counted && scratch[i] != rest[i]) {
                        let (payload, at) = (payload.clone(), *offset + i as u64);
                        let mut expected =
                            vec![0u8; (payload.len() - at).min(WINDOW as u64) as usize];
                        fill(&payload, at, &mut expected);
                        self.transform.apply(&mut expected);
                        self.advance(&rest[..i]);
                        return Err(self.mismatch(&rest[i..], &expected));
                    }
                    *offset += n as u64;
                    let done = *offset == payload.len();
                    self.owed_bytes -= n as u64;
                    self.advance(&rest[..n]);
                    rest = &rest[n..];
                    if done {
                        self.owed.pop_front();
                    }
                }
            }
        }
        Ok(())
    }

    fn advance(&mut self, consumed: &[u8]) {
        self.received += consumed.len() as u64;
        self.tail.extend_from_slice(consumed);
        if self.tail.len() > 8 {
            self.tail.drain(..self.tail.len() - 8);
        }
    }

    fn mismatch(&self, received: &[u8], expected: &[u8]) -> Mismatch {
        Mismatch {
            offset: self.received,
            expected: expected.to_vec(),
            received: received[..received.len().min(WINDOW)].to_vec(),
            before: self.tail.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Payload {
        Payload::Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn split_arrivals_verify() {
        let mut v = EchoVerifier::new(Transform::Identity);
        v.owe_echo(Payload::Seeded {
            seed: 3,
            len: 20000,
        });
        let mut all = vec![0u8; 20000];
        fill(
            &Payload::Seeded {
                seed: 3,
                len: 20000,
            },
            0,
            &mut all,
        );
        for chunk in all.chunks(777) {
            v.feed(chunk).unwrap();
        }
        assert!(v.settled());
    }

    #[test]
    fn first_difference_is_located() {
        let mut v = EchoVerifier::new(Transform::Identity);
        v.owe_echo(text("hello world"));
        let err = v.feed(b"hello_world").unwrap_err();
        assert_eq!(err.offset, 5);
        assert_eq!(err.expected, b" world");
        assert!(
            err.to_string().contains("first difference at offset 5"),
            "{err}"
        );
    }

    #[test]
    fn extra_bytes_are_reported() {
        let mut v = EchoVerifier::new(Transform::Identity);
        v.owe_echo(text("hi"));
        let err = v.feed(b"hi\r\n").unwrap_err();
        assert_eq!((err.offset, err.received.as_slice()), (2, &b"\r\n"[..]));
    }

    #[test]
    fn count_checks_lengths_only() {
        let mut v = EchoVerifier::new(Transform::Count);
        v.owe_echo(text("orderly"));
        v.feed(b"ORDERLY\n").unwrap();
        assert!(v.settled());
        assert_eq!((v.received(), v.ignored()), (7, 1));
        v.owe_echo(text("two"));
        v.feed(b"tw").unwrap();
        assert!(!v.settled(), "a short echo is still owed its last byte");
    }

    #[test]
    fn uppercase_and_prefix_transforms() {
        let mut v = EchoVerifier::new(Transform::Uppercase);
        v.owe_echo(text("abc\x00"));
        v.feed(b"ABC\x00").unwrap();
        let mut v = EchoVerifier::new(Transform::Prefix(Regex::new(r"Thread-\d+: ").unwrap()));
        v.owe_echo(text("x1"));
        v.feed(b"Thre").unwrap();
        v.feed(b"ad-12: x").unwrap();
        v.feed(b"1").unwrap();
        assert!(v.settled());
        v.owe_echo(text("y"));
        assert!(v.feed(&[b'z'; 300]).is_err());
    }
}
