//! Turns spec text into validated [`Case`]s, with file, line and column on every error.
//!
//! This file holds the case-level rules. `parse/step_word.rs` holds each step word's TOML form in
//! one place (how it is written, read by `Ctx::step`, and written back), and hands a step's
//! parameters to the file of its [`StepArea`](crate::StepArea): `parse/stream.rs`,
//! `parse/datagram.rs`, `parse/crowd.rs` and `parse/process.rs` (the control steps, `sleep`,
//! `repeat` and `barrier`, are converted here).
//! `parse/case.rs` holds the fields a case's kind decides, `parse/check.rs` the rules that span
//! several steps, and `parse/property.rs` the `property` case.

use crate::error::{line_col, SpecError};
use crate::model::{Case, CaseKind, IpFamily, Origin, Step, Timeouts};
use crate::raw::{RawCase, RawFile, RawOver, RawRepeat};
use std::ops::Range;
use step_word::RawStep;
use toml::Spanned;

/// Largest payload a single `send` may declare (256 MiB).
pub const MAX_PAYLOAD: u64 = 256 << 20;
/// Longest single duration a step or timeout may declare (10 minutes).
pub const MAX_MS: u64 = 600_000;
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

/// One file being parsed: its name, for messages, and its text, for lines and columns.
struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

/// What a check gives: the checked value, or the error naming where it went wrong.
type Res<T> = Result<T, SpecError>;

impl Ctx<'_> {
    /// An error about `field` of case `case`, at the line and column where `span` starts.
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

    /// Turns a raw case into a [`Case`], checking every rule that one case must keep.
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
        let timeouts = self.timeouts(&id, raw.timeouts.as_ref())?;
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
        let steps_span = raw.steps.as_ref().map_or(raw.kind.span(), |s| s.span());
        let raw_steps = match raw.steps.take() {
            Some(s) if !s.get_ref().is_empty() => s.into_inner(),
            _ => return Err(self.err(steps_span, &id, "steps", "a case needs at least one step")),
        };
        let steps = self.steps(&id, "steps", raw_steps)?;
        let kind = self.kind(&id, &raw, steps)?;
        let rlimit_nofile = self.kind_fields(&id, &raw, &kind)?;
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

    /// The steps at `path` (`steps`, `steps[3].steps`), converted in order.
    fn steps(&self, id: &str, path: &str, raw: Vec<Spanned<RawStep>>) -> Res<Vec<Step>> {
        raw.into_iter()
            .enumerate()
            .map(|(i, s)| {
                let span = s.span();
                self.step(id, &format!("{path}[{i}]"), span, s.into_inner())
            })
            .collect()
    }

    /// A `repeat` step: 1..=100000 times, at least one inner step, each converted in turn.
    fn repeat(&self, at: &At, r: RawRepeat) -> Res<Step> {
        if r.times == 0 || r.times > 100_000 {
            return Err(self.step_err(at, &at.sub("times"), "must be within 1..=100000"));
        }
        if r.steps.is_empty() {
            return Err(self.step_err(at, &at.sub("steps"), "a repeat needs at least one step"));
        }
        let steps = self.steps(at.id, &at.sub("steps"), r.steps)?;
        Ok(Step::Repeat {
            times: r.times,
            steps,
        })
    }

    /// An error about the step at `at`, naming `field` (the step's path, or one below it).
    fn step_err(&self, at: &At, field: &str, message: impl Into<String>) -> SpecError {
        self.err(at.span.clone(), at.id, field, message)
    }

    /// The duration parameter `name` of the step at `at`, at most [`MAX_MS`].
    fn ms(&self, at: &At, ms: u64, name: &str) -> Res<u64> {
        if ms > MAX_MS {
            Err(self.step_err(
                at,
                &at.sub(name),
                format!("{ms} ms is over the limit of {MAX_MS}"),
            ))
        } else {
            Ok(ms)
        }
    }

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
}

/// Where a step stands, for its errors: the case's id, the step's path (`steps[2]`,
/// `steps[4].steps[0]`) and its span in the text.
struct At<'a> {
    id: &'a str,
    field: &'a str,
    span: Range<usize>,
}

impl At<'_> {
    /// The path of the step's parameter `name` (`steps[2].ms`).
    fn sub(&self, name: &str) -> String {
        format!("{}.{name}", self.field)
    }
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

mod case;
mod check;
mod crowd;
mod datagram;
mod process;
mod property;
pub(crate) mod step_word;
mod stream;
#[cfg(test)]
mod tests;
