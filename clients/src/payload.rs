//! Seeded payloads: byte streams generated on demand at any offset, so gigabytes never sit in memory.
//!
//! The generator is counter-based (a SplitMix64 finaliser over the 8-byte block index), so the byte
//! at any offset is computed directly: a verifier can regenerate what it expects at the offset it has
//! reached, and a mismatch report can show the expected bytes around any offset.

use echo_spec::Payload;

/// Mixes a 64-bit value (the SplitMix64 finaliser).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fills `buf` with the seeded stream `seed` starting at byte `offset`.
pub fn fill_seeded(seed: u64, offset: u64, buf: &mut [u8]) {
    let key = mix(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut pos = offset;
    let mut i = 0;
    while i < buf.len() {
        let block = pos / 8;
        let word = mix(key.wrapping_add(block.wrapping_mul(0x9e37_79b9_7f4a_7c15))).to_le_bytes();
        let start = (pos % 8) as usize;
        let take = (8 - start).min(buf.len() - i);
        buf[i..i + take].copy_from_slice(&word[start..start + take]);
        i += take;
        pos += take as u64;
    }
}

/// Fills `buf` with the bytes of `payload` from `offset`; `buf` must not run past the payload's end.
pub fn fill(payload: &Payload, offset: u64, buf: &mut [u8]) {
    debug_assert!(offset + buf.len() as u64 <= payload.len());
    match payload {
        Payload::Bytes(bytes) => {
            let start = offset as usize;
            buf.copy_from_slice(&bytes[start..start + buf.len()]);
        }
        Payload::Seeded { seed, .. } => fill_seeded(*seed, offset, buf),
        Payload::AllBytes => {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (offset as usize + i) as u8;
            }
        }
    }
}

/// The payload with its seed moved by `delta`, so concurrent clients send distinct streams.
pub fn with_seed_offset(payload: &Payload, delta: u64) -> Payload {
    match payload {
        Payload::Seeded { seed, len } => Payload::Seeded {
            seed: seed.wrapping_add(delta),
            len: *len,
        },
        other => other.clone(),
    }
}

/// Formats bytes as `00 ff 41 …`, at most `max` of them.
pub fn hex(bytes: &[u8], max: usize) -> String {
    let mut out: Vec<String> = bytes.iter().take(max).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > max {
        out.push("…".into());
    }
    out.join(" ")
}

/// The first `max` bytes as quoted text after a space (` "ab\n"`), when they are text: printable
/// ASCII, tabs, CRs and newlines. Binary bytes give an empty string, since their hex says it all.
pub fn quoted(bytes: &[u8], max: usize) -> String {
    let shown = &bytes[..bytes.len().min(max)];
    let text = |b: &u8| b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    if shown.is_empty() || !shown.iter().all(text) {
        return String::new();
    }
    let body: String = shown
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    let more = if bytes.len() > max { "…" } else { "" };
    format!(" \"{body}\"{more}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_access_matches_sequential_generation() {
        let mut whole = vec![0u8; 1000];
        fill_seeded(42, 0, &mut whole);
        for start in [0usize, 1, 7, 8, 9, 500, 993] {
            let mut part = vec![0u8; 1000 - start];
            fill_seeded(42, start as u64, &mut part);
            assert_eq!(part, whole[start..]);
        }
    }

    #[test]
    fn seeds_give_distinct_streams() {
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        fill_seeded(1, 0, &mut a);
        fill_seeded(2, 0, &mut b);
        assert_ne!(a, b);
        assert!(a.iter().any(|&x| x > 127), "a random stream has high bytes");
    }

    #[test]
    fn all_bytes_counts_up() {
        let mut buf = [0u8; 4];
        fill(&Payload::AllBytes, 254, &mut buf[..2]);
        assert_eq!(&buf[..2], &[254, 255]);
    }
}
