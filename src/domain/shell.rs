//! Commands printed for an operator to paste: every argument that a POSIX
//! shell would split, expand or glob is single-quoted.

use std::path::Path;

/// `arg` as a POSIX shell word: unchanged when it holds only characters no
/// shell treats specially, else single-quoted (a `'` inside becomes `'\''`).
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'/' | b'.' | b'_' | b'-' | b'+' | b':' | b',' | b'@' | b'%' | b'='
                )
        })
        && !arg.starts_with('=');
    if plain {
        return arg.to_owned();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A path as a shell word (lossy for names that are not UTF-8).
pub fn quote_path(path: &Path) -> String {
    quote(&path.to_string_lossy())
}

/// A command line from its words, each quoted as needed.
pub fn line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|word| quote(word.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_as_they_are() {
        for word in [
            "kubectl",
            "/etc/kubernetes/super-admin.conf",
            "20261126T120000Z-migrate",
            "--kubeconfig",
            "a=b",
        ] {
            assert_eq!(quote(word), word);
        }
    }

    #[test]
    fn everything_else_is_single_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote("*"), "'*'");
        assert_eq!(quote("~root"), "'~root'");
        assert_eq!(quote("a\nb"), "'a\nb'");
        assert_eq!(quote("=x"), "'=x'");
    }

    #[test]
    fn a_line_quotes_each_word() {
        assert_eq!(
            line(&["kubectl", "--kubeconfig", "/x y/it's", "apply"]),
            r"kubectl --kubeconfig '/x y/it'\''s' apply"
        );
    }
}
