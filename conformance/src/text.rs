//! Text helpers shared by every phase: indenting evidence, and making server output safe to show.

/// Indents every line by four spaces.
pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Like [`indent`], but says so when there is nothing to show.
pub fn indent_or_nothing(text: &str) -> String {
    if text.trim().is_empty() {
        "    (nothing)".into()
    } else {
        indent(text)
    }
}

/// Bytes a server printed, as text that is safe on a terminal and in any report: invalid UTF-8 is
/// replaced, and control characters other than newline and tab (terminal escapes among them) are
/// shown as `\x1b`-style escapes.
pub fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The most a case's evidence may hold, in bytes, in any report format.
pub const MAX_EVIDENCE: usize = 64 * 1024;

/// `text` cut to at most `max` bytes: its first and last parts, with how much was left out
/// between them, cut on character boundaries.
pub fn bounded(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let marker_room = 80;
    let keep = max.saturating_sub(marker_room) / 2;
    let mut head = keep;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - keep;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n[… {} bytes of this evidence left out …]\n{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_keeps_lines() {
        assert_eq!(
            printable(b"a\x1b[31mb\n\xff\tc\r"),
            "a\\x1b[31mb\n\u{fffd}\tc\\x0d"
        );
        assert_eq!(indent("a\nb"), "    a\n    b");
        assert_eq!(indent_or_nothing(" "), "    (nothing)");
    }

    #[test]
    fn bounded_keeps_both_ends_and_says_what_it_left_out() {
        let short = "short".to_string();
        assert_eq!(bounded(short.clone(), 100), short);
        let long = format!("{}é{}", "a".repeat(100_000), "z".repeat(100_000));
        let cut = bounded(long, MAX_EVIDENCE);
        assert!(cut.len() <= MAX_EVIDENCE, "{}", cut.len());
        assert!(cut.starts_with("aaa") && cut.ends_with("zzz"));
        assert!(cut.contains("bytes of this evidence left out"));
    }
}
