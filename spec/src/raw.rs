//! The file format as serde sees it, before validation. Every table denies unknown fields.

use crate::claims::Claim;
use crate::model::{Level, Timeouts};
use crate::parse::step_word::RawStep;
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// One spec file: an array of `[[case]]` tables.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub case: Vec<RawCase>,
}

/// A case as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCase {
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    #[schemars(with = "String")]
    pub title: Spanned<String>,
    #[schemars(with = "String")]
    pub source: Spanned<String>,
    pub level: Level,
    #[serde(default)]
    pub requires: Vec<Claim>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schemars(with = "Option<Timeouts>")]
    pub timeouts: Option<Spanned<Timeouts>>,
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub clients: Option<Spanned<u32>>,
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub stagger_ms: Option<Spanned<u64>>,
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub rlimit_nofile: Option<Spanned<u64>>,
    #[serde(default)]
    #[schemars(with = "Option<Vec<RawStep>>")]
    pub steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
    #[serde(default)]
    #[schemars(with = "Option<RawProperty>")]
    pub property: Option<Spanned<RawProperty>>,
}

/// Parameters of `connect_over` and `udp_open_over`: a name and an address family.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOver {
    #[serde(default = "default_name")]
    pub name: String,
    /// `ipv4` or `ipv6`.
    pub family: String,
}

fn default_name() -> String {
    "main".into()
}

/// The bytes of one datagram: exactly one source; `text = ""` is the empty datagram.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBytesOrSeeded {
    pub text: Option<String>,
    pub hex: Option<String>,
    pub seeded: Option<RawSeeded>,
    pub all_bytes: Option<bool>,
}

/// Parameters of `udp_burst`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBurst {
    pub count: u32,
    pub size: u32,
    pub in_flight: u32,
    pub max_loss_pct: f64,
}

/// Parameters of `write_until_blocked`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWriteUntilBlocked {
    pub max_bytes: u64,
    #[serde(default = "default_stall_ms")]
    pub stall_ms: u64,
}

fn default_stall_ms() -> u64 {
    300
}

/// Parameters of `storm`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStorm {
    pub connects: u32,
    pub burst: u32,
    #[serde(default)]
    pub max_failed: u32,
}

/// Parameters of `hold`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHold {
    pub count: u32,
    #[serde(default)]
    pub burst: Option<u32>,
    #[serde(default)]
    pub pause_ms: u64,
}

/// Parameters of `measure_pool`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMeasurePool {
    pub max: u32,
}

/// Parameters of `expect_resources`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResources {
    #[serde(default)]
    pub fd_delta: u32,
    #[serde(default)]
    pub threads_delta: u32,
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
}

fn default_settle_ms() -> u64 {
    2000
}

/// Parameters of `expect_rss`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRss {
    pub max_growth_kib: Option<u64>,
    pub max_kib: Option<u64>,
}

/// Parameters of `expect_cpu`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCpu {
    pub max_ms: u64,
}

/// Parameters of `send`: one payload source, optional chunking.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSend {
    pub text: Option<String>,
    pub hex: Option<String>,
    pub seeded: Option<RawSeeded>,
    pub all_bytes: Option<bool>,
    pub chunk: Option<u32>,
    pub chunks: Option<Vec<u32>>,
    pub pause_ms: Option<u64>,
}

/// A seeded payload.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSeeded {
    pub seed: u64,
    pub len: u64,
}

/// Literal bytes for `expect`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBytes {
    pub text: Option<String>,
    pub hex: Option<String>,
}

/// A duration parameter.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMs {
    pub ms: u64,
}

/// Parameters of `set_rcvbuf`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRcvbuf {
    pub bytes: u32,
}

/// Parameters of `repeat`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRepeat {
    pub times: u32,
    #[schemars(with = "Vec<RawStep>")]
    pub steps: Vec<Spanned<RawStep>>,
}

/// Parameters of `expect_exit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExit {
    pub status: i32,
}

/// Parameters of a `property` case; absent ones take the defaults in `parse/property.rs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProperty {
    pub cases: u32,
    pub seed: u64,
    pub connections: Option<u32>,
    pub max_ops: Option<u32>,
    pub max_payload: Option<u64>,
    pub max_wait_ms: Option<u64>,
    pub ops: Option<Vec<String>>,
}
