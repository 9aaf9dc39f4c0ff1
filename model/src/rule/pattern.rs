//! Globs and regular expressions, compiled once when an expression is parsed.
//!
//! Both compare (and hash) by their source text, so expressions holding them can be
//! compared for equality.

use regex::{Regex, RegexBuilder};
use std::fmt;

/// Upper bound on the compiled size of one pattern, so a hostile rule cannot exhaust memory.
const SIZE_LIMIT: usize = 1 << 20;

/// A path glob: `*` matches within one `/`-separated segment, `**` across segments, `?` one
/// character other than `/`. Everything else matches itself. The whole text must match.
#[derive(Clone)]
pub struct Glob {
    source: String,
    regex: Regex,
}

impl Glob {
    pub fn new(source: &str) -> Result<Glob, String> {
        let mut re = String::from("(?s)^");
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    re.push_str(".*");
                }
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
        re.push('$');
        let regex = RegexBuilder::new(&re)
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Glob {
            source: source.to_string(),
            regex,
        })
    }
    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// A regular expression (Rust `regex` syntax), searched anywhere in the text unless
/// anchored with `^`/`$`.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, String> {
        let regex = RegexBuilder::new(source)
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| first_line(&e.to_string()))?;
        Ok(Pattern {
            source: source.to_string(),
            regex,
        })
    }
    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// The regex crate's messages span several lines with an ASCII-art pointer; keep the
/// part after the pointer (the actual complaint), on one line.
fn first_line(msg: &str) -> String {
    msg.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(msg)
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}

macro_rules! by_source {
    ($t:ty) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.source == other.source
            }
        }
        impl Eq for $t {}
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($t), self.source)
            }
        }
    };
}
by_source!(Glob);
by_source!(Pattern);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_star_stays_in_segment() {
        let g = Glob::new("/tmp/*").unwrap();
        assert!(g.is_match("/tmp/x"));
        assert!(!g.is_match("/tmp/x/y"));
        assert!(!g.is_match("/tmpx"));
    }

    #[test]
    fn double_star_crosses_segments() {
        let g = Glob::new("/var/log/**").unwrap();
        assert!(g.is_match("/var/log/nginx/access.log"));
        assert!(!g.is_match("/var/lib/x"));
        let g = Glob::new("**/authorized_keys").unwrap();
        assert!(g.is_match("/root/.ssh/authorized_keys"));
    }

    #[test]
    fn question_mark_and_literals() {
        let g = Glob::new("a?c.(x)+").unwrap();
        assert!(g.is_match("abc.(x)+"));
        assert!(!g.is_match("a/c.(x)+"));
        assert!(!g.is_match("abc.xx"));
    }

    #[test]
    fn regex_errors_are_one_line() {
        let e = Pattern::new("(unclosed").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("unclosed"), "{e}");
    }
}
