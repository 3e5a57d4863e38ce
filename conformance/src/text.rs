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
}
