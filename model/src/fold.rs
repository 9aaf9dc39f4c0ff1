//! Folding of volatile path parts, so the same behaviour has the same node key in every
//! container: `/proc/1234/status` -> `/proc/*/status`, container ids, numeric segments,
//! temp-file names.

/// What an empty path is recorded as: a node is never keyed by an empty path.
pub const EMPTY_PATH: &str = "<unresolved: empty path>";

/// Fold one path. Idempotent: `fold_path(fold_path(p)) == fold_path(p)`. Absolute paths are
/// normalised first (`//`, `.`, `..`, a trailing `/`), so `/tmp/www`, `/tmp//www/` and
/// `/tmp/x/../www` are one node; this is the one place paths are made uniform for profiles
/// and live events alike. An empty path becomes [`EMPTY_PATH`].
pub fn fold_path(path: &str) -> String {
    if path.is_empty() {
        return EMPTY_PATH.to_string();
    }
    let normal;
    let path = if path.starts_with('/') {
        normal = normalize(path);
        normal.as_str()
    } else {
        path
    };
    let in_temp = ["/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/"]
        .iter()
        .any(|t| path.starts_with(t));
    let folded: Vec<String> = path
        .split('/')
        .enumerate()
        .map(|(i, seg)| fold_segment(seg, i, in_temp))
        .collect();
    folded.join("/")
}

/// Lexical normalisation of an absolute path.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

fn fold_segment(seg: &str, index: usize, in_temp: bool) -> String {
    if seg.is_empty() || seg == "*" {
        return seg.to_string();
    }
    // Purely numeric: pids, fds, uids, timestamps.
    if seg.bytes().all(|b| b.is_ascii_digit()) {
        return "*".to_string();
    }
    // `memfd:name (deleted)` and `pipe:[123]`-like pseudo names keep their head.
    if let Some(open) = seg.find('[') {
        if seg.ends_with(']')
            && seg[open + 1..seg.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return format!("{}[*]", &seg[..open]);
        }
    }
    // Container ids (64 hex), with a runtime prefix (`libpod-`, `docker-`, `cri-containerd-`).
    let (prefix, rest) = split_runtime_prefix(seg);
    let (stem, suffix) = match rest.rfind('.') {
        Some(dot) if dot > 0 => (&rest[..dot], &rest[dot..]),
        _ => (rest, ""),
    };
    if is_hex_id(stem) || is_uuid(stem) {
        return format!("{prefix}*{suffix}");
    }
    if in_temp && index >= 2 {
        if looks_random(rest) && !looks_random(stem) {
            return format!("{prefix}*");
        }
        if looks_random(stem) {
            return format!("{prefix}*{suffix}");
        }
    }
    seg.to_string()
}

fn split_runtime_prefix(seg: &str) -> (&str, &str) {
    for p in [
        "libpod-conmon-",
        "libpod-",
        "docker-",
        "cri-containerd-",
        "crio-",
        "containerd-",
    ] {
        if let Some(rest) = seg.strip_prefix(p) {
            return (p, rest);
        }
    }
    ("", seg)
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Temp names such as `tmp.Xa81kq`, `tmpk2j3_9x`, `sess_8f2a9c0d`: a run of 5+ characters
/// that mixes letters and digits.
fn looks_random(stem: &str) -> bool {
    let core = stem
        .trim_start_matches("tmp")
        .trim_start_matches(['.', '_', '-']);
    core.split(['.', '_', '-']).any(|part| {
        part.len() >= 5
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
            && part.bytes().any(|b| b.is_ascii_digit())
            && part.bytes().any(|b| b.is_ascii_alphabetic())
    })
}

#[cfg(test)]
mod tests {
    use super::fold_path;

    #[test]
    fn folds_proc_pids_and_fds() {
        assert_eq!(fold_path("/proc/1234/status"), "/proc/*/status");
        assert_eq!(fold_path("/proc/1/fd/7"), "/proc/*/fd/*");
        assert_eq!(fold_path("/proc/self/maps"), "/proc/self/maps");
    }

    #[test]
    fn folds_container_ids() {
        let id = "a".repeat(64);
        assert_eq!(
            fold_path(&format!("/sys/fs/cgroup/libpod_parent/libpod-{id}/cpu.max")),
            "/sys/fs/cgroup/libpod_parent/libpod-*/cpu.max"
        );
        assert_eq!(
            fold_path(&format!("/var/lib/docker/containers/{id}/hostname")),
            "/var/lib/docker/containers/*/hostname"
        );
        assert_eq!(
            fold_path("/run/secrets/123e4567-e89b-12d3-a456-426614174000.json"),
            "/run/secrets/*.json"
        );
    }

    #[test]
    fn folds_temp_names_but_keeps_plain_ones() {
        assert_eq!(fold_path("/tmp/tmp.Xa81kq/out.log"), "/tmp/*/out.log");
        assert_eq!(fold_path("/tmp/sess_8f2a9c0d"), "/tmp/*");
        assert_eq!(fold_path("/tmp/xmrig"), "/tmp/xmrig");
        assert_eq!(fold_path("/etc/nginx/nginx.conf"), "/etc/nginx/nginx.conf");
        assert_eq!(
            fold_path("/usr/lib/python3.11/os.py"),
            "/usr/lib/python3.11/os.py"
        );
    }

    #[test]
    fn folding_is_idempotent() {
        for p in [
            "/proc/99/fd/3",
            "/tmp/tmp.ab12cd/x",
            "/a/b",
            "/",
            "pipe:[1234]",
        ] {
            assert_eq!(fold_path(&fold_path(p)), fold_path(p), "{p}");
        }
        assert_eq!(fold_path("pipe:[1234]"), "pipe:[*]");
    }

    #[test]
    fn spellings_of_one_absolute_path_are_one_path_and_empty_is_marked() {
        for p in [
            "/tmp/www/",
            "/tmp//www",
            "/tmp/./www",
            "/tmp/x/../www",
            "/../tmp/www",
        ] {
            assert_eq!(fold_path(p), "/tmp/www", "{p}");
        }
        assert_eq!(fold_path("/"), "/");
        assert_eq!(fold_path(""), "<unresolved: empty path>");
        assert_eq!(
            fold_path("<unresolved: cwd gone>/www"),
            "<unresolved: cwd gone>/www"
        );
    }
}
