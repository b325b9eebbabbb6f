//! Text and paths exactly as they are, made safe to show: subjects, SANs,
//! user names and file names are chosen by whoever wrote the file, and an
//! escape sequence or a newline in one of them must not repaint a terminal
//! or forge an output line; a path that is not UTF-8 keeps its bytes.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    printable(&escaped(path)).into_owned()
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

/// A path for people and for names: a UTF-8 path as it is; otherwise
/// backslashes doubled and every byte that is not UTF-8 written `\xNN`.
pub fn escaped(path: &Path) -> String {
    use std::fmt::Write as _;
    let bytes = path.as_os_str().as_bytes();
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// A path as JSON, lossless: a UTF-8 path is a plain string; any other is an
/// object `{"escaped": "...", "base64": "..."}`, where `escaped` is the path
/// for people (backslashes doubled, each byte that is not UTF-8 as `\xNN`)
/// and `base64` is its exact bytes (standard alphabet, padded).
#[derive(Clone, Copy, Debug)]
pub struct JsonPath<'a>(pub &'a Path);

/// [`JsonPath`]'s wire form, read back.
#[derive(Deserialize)]
#[serde(untagged)]
enum PathWire {
    Text(String),
    Bytes { base64: String },
}

impl Serialize for JsonPath<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let bytes = self.0.as_os_str().as_bytes();
        if let Ok(text) = std::str::from_utf8(bytes) {
            return serializer.serialize_str(text);
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("escaped", &escaped(self.0))?;
        map.serialize_entry(
            "base64",
            &base64::engine::general_purpose::STANDARD.encode(bytes),
        )?;
        map.end()
    }
}

/// `#[serde(with = "...")]` for a `PathBuf` field written as a [`JsonPath`].
pub mod path_serde {
    use super::{
        Deserialize as _, Deserializer, JsonPath, Path, PathBuf, Serialize as _, Serializer,
    };

    /// Writes `path` as a [`JsonPath`].
    pub fn serialize<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
        JsonPath(path).serialize(serializer)
    }

    /// Reads a [`JsonPath`] back into the exact path.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathBuf, D::Error> {
        super::PathWire::deserialize(deserializer)?
            .into_path()
            .map_err(serde::de::Error::custom)
    }
}

impl PathWire {
    fn into_path(self) -> Result<PathBuf, String> {
        match self {
            Self::Text(text) => Ok(PathBuf::from(text)),
            Self::Bytes { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64.as_bytes())
                .map(|bytes| PathBuf::from(std::ffi::OsString::from_vec(bytes)))
                .map_err(|err| format!("a path's base64 is invalid ({err})")),
        }
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
    fn escaped_keeps_utf8_and_writes_other_bytes_as_hex() {
        let cases: &[(&[u8], &str)] = &[
            (b"/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.crt"),
            ("/home/zoë/a\\b".as_bytes(), "/home/zoë/a\\b"),
            (b"pki/ca\xff.crt", "pki/ca\\xff.crt"),
            (b"a\\b\xc3", "a\\\\b\\xc3"),
            (b"\xfe\xff", "\\xfe\\xff"),
        ];
        for (bytes, expected) in cases {
            let path = PathBuf::from(std::ffi::OsString::from_vec(bytes.to_vec()));
            assert_eq!(escaped(&path), *expected);
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
