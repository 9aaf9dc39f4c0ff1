//! Secret scrubbing for command lines and environment-like text, applied before anything
//! is stored or shown: `--password=...`, `token=...`, `AWS_SECRET...=...`, credentials in
//! URLs, and the value that follows a bare `--password` flag.

/// What replaces a secret.
pub const REDACTED: &str = "***";

const SECRET_WORDS: [&str; 12] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "access-key",
    "private_key",
    "credential",
];

fn is_secret_key(key: &str) -> bool {
    let k = key.trim_start_matches('-').to_ascii_lowercase();
    if k.is_empty() {
        return false;
    }
    k.starts_with("aws_secret") || SECRET_WORDS.iter().any(|w| k.contains(w)) || k == "p"
}

/// Scrub an argv. A bare secret flag (`--password hunter2`, `-p hunter2` is not assumed)
/// redacts the next argument.
pub fn scrub_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut redact_next = false;
    for a in args {
        if redact_next {
            out.push(REDACTED.to_string());
            redact_next = false;
            continue;
        }
        if a.starts_with("--") && !a.contains('=') && is_secret_key(a) && a.len() > 3 {
            redact_next = true;
            out.push(a.clone());
            continue;
        }
        out.push(scrub_text(a));
    }
    out
}

/// Scrub free text: `key=value` / `key: value` pairs with a secret-looking key, URL user
/// info, and `Bearer` tokens.
pub fn scrub_text(text: &str) -> String {
    let mut s = scrub_url_credentials(text);
    s = scrub_pairs(&s);
    scrub_bearer(&s)
}

fn scrub_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon + 1]);
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn scrub_pairs(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'=' || (c == b':' && bytes.get(i + 1) == Some(&b' ')) {
            // key: the identifier-ish run before the separator
            let mut k = i;
            while k > 0 {
                let b = bytes[k - 1];
                if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' {
                    k -= 1;
                } else {
                    break;
                }
            }
            let key = &text[k..i];
            if is_secret_key(key) && !key.is_empty() {
                let mut v = i + 1;
                if c == b':' {
                    v += 1;
                }
                let mut e = v;
                while e < bytes.len()
                    && !bytes[e].is_ascii_whitespace()
                    && bytes[e] != b'&'
                    && bytes[e] != b';'
                    && bytes[e] != b','
                {
                    e += 1;
                }
                if e > v && &text[v..e] != REDACTED {
                    out.push_str(&text[last..v]);
                    out.push_str(REDACTED);
                    last = e;
                    i = e;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    out
}

fn scrub_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    match lower.find("bearer ") {
        Some(pos) => {
            let v = pos + 7;
            let e = text[v..]
                .find(char::is_whitespace)
                .map_or(text.len(), |x| v + x);
            if e > v {
                format!("{}{}{}", &text[..v], REDACTED, scrub_bearer(&text[e..]))
            } else {
                text.to_string()
            }
        }
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scrubs_flags_pairs_and_urls() {
        let got = scrub_args(&args(&[
            "mysql",
            "--password=hunter2",
            "--user",
            "bob",
            "--token",
            "abc123",
            "https://alice:s3cr3t@db.example.com/x",
            "AWS_SECRET_ACCESS_KEY=AKIAXYZ",
            "url?token=zzz&x=1",
        ]));
        assert_eq!(
            got,
            args(&[
                "mysql",
                "--password=***",
                "--user",
                "bob",
                "--token",
                "***",
                "https://alice:***@db.example.com/x",
                "AWS_SECRET_ACCESS_KEY=***",
                "url?token=***&x=1",
            ])
        );
        let joined = got.join(" ");
        for secret in ["hunter2", "abc123", "s3cr3t", "AKIAXYZ", "zzz"] {
            assert!(!joined.contains(secret), "{secret} leaked in {joined}");
        }
    }

    #[test]
    fn leaves_harmless_text_alone() {
        for t in [
            "nginx -g daemon off;",
            "--port=8080",
            "https://example.com/a?b=c",
            "ls -la /tmp",
        ] {
            assert_eq!(scrub_text(t), t);
        }
        assert_eq!(
            scrub_text("Authorization: Bearer eyJhbGc.x"),
            "Authorization: Bearer ***"
        );
    }

    #[test]
    fn scrubbing_is_idempotent() {
        let once = scrub_text("password=x token=y https://u:p@h/");
        assert_eq!(scrub_text(&once), once);
    }
}
