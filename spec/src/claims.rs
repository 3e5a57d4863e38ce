//! Profile claims: what a server says it is, one value per dimension.
//!
//! A case `requires` a set of claims; it runs only against a server whose claim set contains all of them.

use std::fmt;
use std::str::FromStr;

/// One claim value. Each belongs to exactly one [`Dimension`], except `c10k`, which is an optional extra.
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
}

/// The independent axes a server's behaviour varies along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// `stream` or `oneshot`.
    Session,
    /// `forever` or `single`.
    Lifetime,
    /// `concurrent` or `sequential`.
    Concurrency,
    /// `identity`, `uppercase` or `prefix`.
    Transform,
    /// `unprivileged` or `privileged`.
    Privilege,
    /// `c10k`, an optional extra.
    Scale,
}

/// Every claim, in canonical order.
pub const ALL_CLAIMS: [Claim; 12] = [
    Claim::Stream,
    Claim::Oneshot,
    Claim::Forever,
    Claim::Single,
    Claim::Concurrent,
    Claim::Sequential,
    Claim::Identity,
    Claim::Uppercase,
    Claim::Prefix,
    Claim::Unprivileged,
    Claim::Privileged,
    Claim::C10k,
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
            Claim::Identity => "identity",
            Claim::Uppercase => "uppercase",
            Claim::Prefix => "prefix",
            Claim::Unprivileged => "unprivileged",
            Claim::Privileged => "privileged",
            Claim::C10k => "c10k",
        }
    }

    /// The dimension this claim is a value of.
    pub fn dimension(self) -> Dimension {
        match self {
            Claim::Stream | Claim::Oneshot => Dimension::Session,
            Claim::Forever | Claim::Single => Dimension::Lifetime,
            Claim::Concurrent | Claim::Sequential => Dimension::Concurrency,
            Claim::Identity | Claim::Uppercase | Claim::Prefix => Dimension::Transform,
            Claim::Unprivileged | Claim::Privileged => Dimension::Privilege,
            Claim::C10k => Dimension::Scale,
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
                let known: Vec<_> = ALL_CLAIMS.iter().map(|c| c.as_str()).collect();
                format!("unknown claim `{}` (known: {})", s.trim(), known.join(", "))
            })
    }
}

/// A server's full profile: one value per dimension, plus optional extras.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSet {
    claims: Vec<Claim>,
}

impl Default for ClaimSet {
    /// A full RFC 862 server: stream, forever, concurrent, identity, unprivileged.
    fn default() -> Self {
        ClaimSet {
            claims: vec![
                Claim::Stream,
                Claim::Forever,
                Claim::Concurrent,
                Claim::Identity,
                Claim::Unprivileged,
            ],
        }
    }
}

impl ClaimSet {
    /// Builds a set from the given claims; dimensions left out take the default value.
    /// Two values of one dimension are an error.
    pub fn from_claims(given: &[Claim]) -> Result<ClaimSet, String> {
        let mut set = ClaimSet::default();
        let mut seen: Vec<Claim> = Vec::new();
        for &claim in given {
            if let Some(prev) = seen
                .iter()
                .find(|p| p.dimension() == claim.dimension() && **p != claim)
            {
                return Err(format!(
                    "claims `{prev}` and `{claim}` contradict each other"
                ));
            }
            if seen.contains(&claim) {
                continue;
            }
            seen.push(claim);
            if claim.dimension() == Dimension::Scale {
                set.claims.push(claim);
            } else {
                set.claims.retain(|c| c.dimension() != claim.dimension());
                set.claims.push(claim);
            }
        }
        set.claims.sort();
        Ok(set)
    }

    /// True when every claim in `required` is part of this set.
    pub fn satisfies(&self, required: &[Claim]) -> bool {
        required.iter().all(|c| self.claims.contains(c))
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
    /// Parses a comma-separated list such as `oneshot,sequential`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Claim::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        ClaimSet::from_claims(&parsed)
    }
}

impl fmt::Display for ClaimSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.claims.iter().map(|c| c.as_str()).collect();
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
    fn extras_are_added_not_replaced() {
        let set: ClaimSet = "c10k".parse().unwrap();
        assert!(set.contains(Claim::C10k) && set.contains(Claim::Stream));
        assert!(set.satisfies(&[Claim::Stream, Claim::C10k]));
        assert!(!set.satisfies(&[Claim::Single]));
    }
}
