//! Text from files, made safe for a terminal: subjects, SANs, user names and
//! file names are chosen by whoever wrote the file, and an escape sequence or a
//! newline in one of them must not repaint the screen or forge an output line.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

/// `text` with every control character (C0, DEL, C1) and every bidirectional
/// override escaped, Rust-style: `\n`, `\t`, `\r`, `\x1b`, `\u{202e}`.
/// Plain text comes back borrowed.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        push_escaped(&mut out, ch);
    }
    Cow::Owned(out)
}

/// Like [`printable`], but keeps the line breaks of text that is meant to span
/// lines (the wizard's paragraphs); every other control character is escaped.
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|ch| ch != '\n' && needs_escape(ch)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        if ch == '\n' {
            out.push(ch);
        } else {
            push_escaped(&mut out, ch);
        }
    }
    Cow::Owned(out)
}

/// A path for people: bytes that are not UTF-8 as `\xNN`, then [`printable`].
pub fn path(path: &Path) -> String {
    printable(&crate::edge::inventory::escaped(path)).into_owned()
}

fn needs_escape(ch: char) -> bool {
    ch.is_control() || is_bidi_control(ch)
}

/// The Unicode bidirectional formatting characters ("Trojan Source").
fn is_bidi_control(ch: char) -> bool {
    matches!(ch, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, ch: char) {
    match ch {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ if u32::from(ch) < 0x80 && needs_escape(ch) => {
            let _ = write!(out, "\\x{:02x}", u32::from(ch));
        }
        _ if needs_escape(ch) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(ch));
        }
        _ => out.push(ch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_obey() {
        let cases = [
            ("kube-apiserver", "kube-apiserver"),
            ("évil ünïcode", "évil ünïcode"),
            ("a\x1b[2Jb", "a\\x1b[2Jb"),
            ("line\nforged: OK", "line\\nforged: OK"),
            ("cr\rtab\t", "cr\\rtab\\t"),
            ("nul\0del\x7f", "nul\\x00del\\x7f"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            ("isolate\u{2066}x\u{2069}", "isolate\\u{2066}x\\u{2069}"),
        ];
        for (input, want) in cases {
            assert_eq!(printable(input), want, "{input:?}");
        }
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(printable("admin.conf"), Cow::Borrowed(_)));
    }

    #[test]
    fn lines_keep_their_breaks_and_lose_their_escapes() {
        assert_eq!(printable_lines("one\ntwo\x1b[2J"), "one\ntwo\\x1b[2J");
    }

    #[test]
    fn paths_that_are_not_utf8_are_printable() {
        use std::os::unix::ffi::OsStrExt as _;
        let raw = std::ffi::OsStr::from_bytes(b"/etc/kubernetes/pki/ca\xff\x1b.crt");
        assert_eq!(path(Path::new(raw)), "/etc/kubernetes/pki/ca\\xff\\x1b.crt");
    }
}
