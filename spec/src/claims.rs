//! Profile claims: what a server says it is, one value per dimension.
//!
//! A case `requires` a set of claims; it runs only against a server whose claim set contains all of them.

use std::fmt;
use std::str::FromStr;

/// One claim value. Each belongs to exactly one [`Dimension`]. Most dimensions take exactly one
/// value; `c10k` and `dual-stack` are optional extras, and the transport is a set (`tcp` unless
/// the claims name a transport, in which case exactly the named ones).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Deserialize,
    serde::Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// Echo everything until the client closes (RFC 862).
    Stream,
    /// One read of at most 1024 bytes, one reply, then close.
    Oneshot,
    /// Serve connections until told to stop.
    Forever,
    /// Serve one connection, then exit 0.
    Single,
    /// Serve several connections at once.
    Concurrent,
    /// Serve one connection at a time (head-of-line blocking allowed).
    Sequential,
    /// Serve up to N connections at once (a pre-forked pool of N workers): spelled `pool=N` in a
    /// claim list, where N is the [`ClaimSet::pool`] size; a case `requires = ["pool"]`.
    Pool,
    /// Reply bytes are the received bytes.
    Identity,
    /// Reply bytes are the received bytes, ASCII upper-cased.
    Uppercase,
    /// Each reply starts with a declared prefix (a regex), then the received bytes.
    Prefix,
    /// Runs as whoever started it.
    Unprivileged,
    /// Binds a port below 1024 as root, then drops to a target user, group and umask.
    Privileged,
    /// Holds 10 000 concurrent idle connections and still serves each.
    C10k,
    /// Serves echo over TCP (RFC 862 section "TCP Based Echo Service"); claimed by default.
    Tcp,
    /// Serves echo over UDP (RFC 862 section "UDP Based Echo Service").
    Udp,
    /// Answers on 127.0.0.1 and on ::1 alike (one socket bound to `::`, or one per family).
    #[serde(rename = "dual-stack")]
    DualStack,
}

/// The independent axes a server's behaviour varies along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// `stream` or `oneshot`.
    Session,
    /// `forever` or `single`.
    Lifetime,
    /// `concurrent`, `pool=N` or `sequential`.
    Concurrency,
    /// `identity`, `uppercase` or `prefix`.
    Transform,
    /// `unprivileged` or `privileged`.
    Privilege,
    /// `c10k`, an optional extra.
    Scale,
    /// `tcp` and `udp`: a set, `tcp` by default.
    Transport,
    /// `dual-stack`, an optional extra.
    Family,
}

/// Every claim, in canonical order.
pub const ALL_CLAIMS: [Claim; 16] = [
    Claim::Stream,
    Claim::Oneshot,
    Claim::Forever,
    Claim::Single,
    Claim::Concurrent,
    Claim::Sequential,
    Claim::Pool,
    Claim::Identity,
    Claim::Uppercase,
    Claim::Prefix,
    Claim::Unprivileged,
    Claim::Privileged,
    Claim::C10k,
    Claim::Tcp,
    Claim::Udp,
    Claim::DualStack,
];

impl Claim {
    /// The claim's spelling in spec files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Claim::Stream => "stream",
            Claim::Oneshot => "oneshot",
            Claim::Forever => "forever",
            Claim::Single => "single",
            Claim::Concurrent => "concurrent",
            Claim::Sequential => "sequential",
            Claim::Pool => "pool",
            Claim::Identity => "identity",
            Claim::Uppercase => "uppercase",
            Claim::Prefix => "prefix",
            Claim::Unprivileged => "unprivileged",
            Claim::Privileged => "privileged",
            Claim::C10k => "c10k",
            Claim::Tcp => "tcp",
            Claim::Udp => "udp",
            Claim::DualStack => "dual-stack",
        }
    }

    /// The dimension this claim is a value of.
    pub fn dimension(self) -> Dimension {
        match self {
            Claim::Stream | Claim::Oneshot => Dimension::Session,
            Claim::Forever | Claim::Single => Dimension::Lifetime,
            Claim::Concurrent | Claim::Sequential | Claim::Pool => Dimension::Concurrency,
            Claim::Identity | Claim::Uppercase | Claim::Prefix => Dimension::Transform,
            Claim::Unprivileged | Claim::Privileged => Dimension::Privilege,
            Claim::C10k => Dimension::Scale,
            Claim::Tcp | Claim::Udp => Dimension::Transport,
            Claim::DualStack => Dimension::Family,
        }
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Claim {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_CLAIMS
            .iter()
            .copied()
            .find(|c| c.as_str() == s.trim())
            .ok_or_else(|| {
                let known: Vec<_> = ALL_CLAIMS
                    .iter()
                    .map(|c| match c {
                        Claim::Pool => "pool=N",
                        c => c.as_str(),
                    })
                    .collect();
                format!("unknown claim `{}` (known: {})", s.trim(), known.join(", "))
            })
    }
}

/// A server's full profile: one value per dimension, its transports, plus optional extras.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSet {
    claims: Vec<Claim>,
    /// N of `pool=N`, when the set claims a pool.
    pool: Option<u32>,
}

/// The sizes a `pool=N` claim may have: a pool of one is `sequential`.
pub const POOL_SIZES: std::ops::RangeInclusive<u32> = 2..=10_000;

impl Default for ClaimSet {
    /// A full RFC 862 TCP server: stream, forever, concurrent, identity, unprivileged, over TCP.
    fn default() -> Self {
        ClaimSet {
            claims: vec![
                Claim::Stream,
                Claim::Forever,
                Claim::Concurrent,
                Claim::Identity,
                Claim::Unprivileged,
                Claim::Tcp,
            ],
            pool: None,
        }
    }
}

impl ClaimSet {
    /// Builds a set from the given claims; dimensions left out take the default value.
    /// Two values of one dimension are an error, except for the transport: naming `udp` alone
    /// claims UDP only, `tcp,udp` both.
    pub fn from_claims(given: &[Claim]) -> Result<ClaimSet, String> {
        let mut set = ClaimSet::default();
        let mut seen: Vec<Claim> = Vec::new();
        if given.iter().any(|c| c.dimension() == Dimension::Transport) {
            set.claims.retain(|c| c.dimension() != Dimension::Transport);
        }
        for &claim in given {
            let multi = matches!(
                claim.dimension(),
                Dimension::Transport | Dimension::Scale | Dimension::Family
            );
            if let Some(prev) = seen
                .iter()
                .find(|p| !multi && p.dimension() == claim.dimension() && **p != claim)
            {
                return Err(format!(
                    "claims `{prev}` and `{claim}` contradict each other"
                ));
            }
            if seen.contains(&claim) {
                continue;
            }
            seen.push(claim);
            if multi {
                set.claims.push(claim);
            } else {
                set.claims.retain(|c| c.dimension() != claim.dimension());
                set.claims.push(claim);
            }
        }
        // A server that serves one connection and exits cannot serve two at once: unless the
        // claims say otherwise, `single` is `sequential`.
        if seen.contains(&Claim::Single)
            && !seen.iter().any(|c| c.dimension() == Dimension::Concurrency)
        {
            set.claims
                .retain(|c| c.dimension() != Dimension::Concurrency);
            set.claims.push(Claim::Sequential);
        }
        set.claims.sort();
        Ok(set)
    }

    /// True when every claim in `required` is part of this set. A requirement that names no
    /// transport is a TCP case: it needs `tcp` as well. A pool meets `concurrent` too: the
    /// runner scales such a case to the pool's size.
    pub fn satisfies(&self, required: &[Claim]) -> bool {
        let transport_named = required
            .iter()
            .any(|c| c.dimension() == Dimension::Transport);
        // A `prefix` server prefixes each reply, and a stream's replies follow the server's reads,
        // which the client cannot see: the kit checks a prefix per message only, so it does not
        // claim the stream cases for such a server (they run, unclaimed, under `--detect`).
        let prefix_stream =
            self.claims.contains(&Claim::Prefix) && required.contains(&Claim::Stream);
        !prefix_stream
            && required.iter().all(|c| {
                self.claims.contains(c)
                    || (*c == Claim::Concurrent && self.claims.contains(&Claim::Pool))
            })
            && (transport_named || self.claims.contains(&Claim::Tcp))
    }

    /// N of a `pool=N` claim.
    pub fn pool(&self) -> Option<u32> {
        self.pool
    }

    /// The same set claiming a pool of `n` instead of its concurrency value.
    pub fn with_pool(&self, n: u32) -> ClaimSet {
        let mut set = self.clone();
        set.claims
            .retain(|c| c.dimension() != Dimension::Concurrency);
        set.claims.push(Claim::Pool);
        set.claims.sort();
        set.pool = Some(n);
        set
    }

    /// True when the set holds `claim`.
    pub fn contains(&self, claim: Claim) -> bool {
        self.claims.contains(&claim)
    }

    /// The claims in canonical order.
    pub fn claims(&self) -> &[Claim] {
        &self.claims
    }
}

impl FromStr for ClaimSet {
    type Err = String;
    /// Parses a comma-separated list such as `oneshot,sequential` or `oneshot,pool=20`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pool = None;
        let mut parsed = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(n) = part.strip_prefix("pool=") {
                let n: u32 = n
                    .parse()
                    .ok()
                    .filter(|n| POOL_SIZES.contains(n))
                    .ok_or_else(|| {
                        format!(
                            "`{part}`: a pool's size is a whole number from {} to {}",
                            POOL_SIZES.start(),
                            POOL_SIZES.end()
                        )
                    })?;
                pool = Some(n);
                parsed.push(Claim::Pool);
            } else if part == "pool" {
                return Err("`pool` needs its size: `pool=N`, N clients served at once".into());
            } else {
                parsed.push(Claim::from_str(part)?);
            }
        }
        let mut set = ClaimSet::from_claims(&parsed)?;
        set.pool = pool;
        Ok(set)
    }
}

impl fmt::Display for ClaimSet {
    /// The claims in canonical order; the transport is spelled out only when it is not plain TCP,
    /// so `udp` reads "UDP only" and `tcp,udp` "both".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tcp_only = self.contains(Claim::Tcp) && !self.contains(Claim::Udp);
        let names: Vec<_> = self
            .claims
            .iter()
            .filter(|c| !(tcp_only && **c == Claim::Tcp))
            .map(|c| match (c, self.pool) {
                (Claim::Pool, Some(n)) => format!("pool={n}"),
                _ => c.as_str().to_string(),
            })
            .collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_dimensions() {
        let set: ClaimSet = "oneshot,sequential".parse().unwrap();
        assert_eq!(
            set.to_string(),
            "oneshot,forever,sequential,identity,unprivileged"
        );
    }

    #[test]
    fn contradicting_claims_are_refused() {
        let err = "stream,oneshot".parse::<ClaimSet>().unwrap_err();
        assert!(err.contains("contradict"), "{err}");
        let err = "streem".parse::<ClaimSet>().unwrap_err();
        assert!(err.contains("unknown claim `streem`"), "{err}");
    }

    #[test]
    fn transport_is_a_set_with_tcp_by_default() {
        let tcp: ClaimSet = "".parse().unwrap();
        assert!(tcp.satisfies(&[Claim::Stream]) && !tcp.satisfies(&[Claim::Udp]));
        let udp: ClaimSet = "udp".parse().unwrap();
        assert_eq!(
            udp.to_string(),
            "stream,forever,concurrent,identity,unprivileged,udp"
        );
        assert!(udp.satisfies(&[Claim::Udp]) && !udp.satisfies(&[Claim::Stream]));
        let both: ClaimSet = "tcp,udp,dual-stack".parse().unwrap();
        assert!(both.satisfies(&[Claim::Udp]) && both.satisfies(&[Claim::Stream]));
        assert!(both.satisfies(&[Claim::DualStack]));
        assert_eq!(both.to_string().parse::<ClaimSet>().unwrap(), both);
        assert_eq!(
            both.to_string(),
            "stream,forever,concurrent,identity,unprivileged,tcp,udp,dual-stack"
        );
    }

    #[test]
    fn a_pool_has_a_size_and_meets_concurrent_cases() {
        let set: ClaimSet = "oneshot,pool=20".parse().unwrap();
        assert_eq!(set.pool(), Some(20));
        assert_eq!(
            set.to_string(),
            "oneshot,forever,pool=20,identity,unprivileged"
        );
        assert_eq!(set.to_string().parse::<ClaimSet>().unwrap(), set);
        assert!(set.satisfies(&[Claim::Concurrent]) && set.satisfies(&[Claim::Pool]));
        assert!(!set.satisfies(&[Claim::Sequential]));
        let concurrent: ClaimSet = "".parse().unwrap();
        assert!(!concurrent.satisfies(&[Claim::Pool]));
        assert_eq!(
            concurrent.with_pool(8).to_string(),
            "stream,forever,pool=8,identity,unprivileged"
        );
        for bad in ["pool", "pool=1", "pool=x", "pool=20,sequential"] {
            assert!(bad.parse::<ClaimSet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_prefix_server_is_not_asked_for_stream_cases() {
        let set: ClaimSet = "prefix".parse().unwrap();
        assert!(!set.satisfies(&[Claim::Stream]));
        assert!(set.satisfies(&[Claim::Forever]));
    }

    #[test]
    fn single_is_sequential_unless_told_otherwise() {
        let set: ClaimSet = "single".parse().unwrap();
        assert!(set.contains(Claim::Sequential) && !set.contains(Claim::Concurrent));
        let told: ClaimSet = "single,concurrent".parse().unwrap();
        assert!(told.contains(Claim::Concurrent));
    }

    #[test]
    fn extras_are_added_not_replaced() {
        let set: ClaimSet = "c10k".parse().unwrap();
        assert!(set.contains(Claim::C10k) && set.contains(Claim::Stream));
        assert!(set.satisfies(&[Claim::Stream, Claim::C10k]));
        assert!(!set.satisfies(&[Claim::Single]));
    }
}
