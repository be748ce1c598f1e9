//! Text anyone may write (annotation values, names in CRD objects, what serde quotes back)
//! bounded before it is quoted in a message. Such messages end up in conditions, events, logs
//! and spans on every retry: a 250 KiB annotation value quoted whole made a 250 KB condition
//! and a 500 KB log line per attempt. A long value keeps its first `MAX_QUOTED_BYTES` bytes,
//! then an ellipsis and its length, which is enough to recognise it.

use std::borrow::Cow;
use std::fmt;

/// How much of a value a message quotes.
pub const MAX_QUOTED_BYTES: usize = 200;

/// The most a whole message built from such values may take (serde's errors quote the value
/// they refuse, with no bound of their own).
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// `value` as `{:?}` quotes it, bounded: `"abc…" (250123 bytes)` when longer than
/// `MAX_QUOTED_BYTES`.
pub fn quoted(value: &str) -> Quoted<'_> {
    Quoted(value)
}

/// `value` as it is (a name in a field path), bounded: `abc… (250123 bytes)`.
pub fn shown(value: &str) -> Shown<'_> {
    Shown(value)
}

pub struct Quoted<'a>(&'a str);

pub struct Shown<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match cut(self.0, MAX_QUOTED_BYTES) {
            None => write!(f, "{:?}", self.0),
            Some(head) => {
                let quoted = format!("{head:?}");
                let open = quoted.strip_suffix('"').unwrap_or(&quoted);
                write!(f, "{open}…\" ({} bytes)", self.0.len())
            }
        }
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match cut(self.0, MAX_QUOTED_BYTES) {
            None => f.write_str(self.0),
            Some(head) => write!(f, "{head}… ({} bytes)", self.0.len()),
        }
    }
}

/// A whole message bounded to `MAX_MESSAGE_BYTES`, with an ellipsis and its length when cut.
pub fn message(text: &str) -> Cow<'_, str> {
    match cut(text, MAX_MESSAGE_BYTES) {
        None => Cow::Borrowed(text),
        Some(head) => Cow::Owned(format!("{head}… ({} bytes)", text.len())),
    }
}

/// The longest prefix of `text` of at most `max` bytes ending on a character boundary, or None
/// when `text` fits whole.
fn cut(text: &str, max: usize) -> Option<&str> {
    if text.len() <= max {
        return None;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(&text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_as_debug_quotes_them() {
        assert_eq!(quoted("single\"x").to_string(), r#""single\"x""#);
        assert_eq!(shown("nvidia.com/gpu").to_string(), "nvidia.com/gpu");
        assert_eq!(message("fine"), "fine");
    }

    #[test]
    fn long_values_keep_their_head_and_say_their_length() {
        let long = "a".repeat(250_123);
        let q = quoted(&long).to_string();
        assert_eq!(
            q,
            format!("\"{}…\" (250123 bytes)", "a".repeat(MAX_QUOTED_BYTES))
        );
        let s = shown(&long).to_string();
        assert_eq!(
            s,
            format!("{}… (250123 bytes)", "a".repeat(MAX_QUOTED_BYTES))
        );
        let m = message(&long);
        assert!(m.len() < MAX_MESSAGE_BYTES + 32, "{}", m.len());
        assert!(m.ends_with("… (250123 bytes)"), "{m}");
    }

    #[test]
    fn cuts_never_split_a_character() {
        // 'é' is two bytes: the bound falls inside one of them.
        let long = format!("x{}", "é".repeat(300));
        let q = quoted(&long).to_string();
        assert!(q.starts_with("\"xé"), "{q}");
        assert!(q.ends_with(&format!("…\" ({} bytes)", long.len())), "{q}");
        assert_eq!(cut(&long, MAX_QUOTED_BYTES).map(str::len), Some(199));
    }
}
