//! Docker-compatible API (docker, `podman system service`): HTTP/1.0 on a unix socket.

use super::{ContainerInfo, RuntimeError, RuntimeKind};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// `GET path` answered 200: its body; 404: `None`; else an error naming the socket.
pub fn get_json(
    socket: &Path,
    kind: RuntimeKind,
    path: &str,
    timeout: Duration,
) -> Result<Option<String>, RuntimeError> {
    match http_get_unix(socket, path, timeout) {
        Ok((200, body)) => Ok(Some(body)),
        Ok((404, _)) => Ok(None),
        Ok((status, body)) => Err(RuntimeError::Protocol {
            kind,
            socket: socket.to_path_buf(),
            detail: format!(
                "GET {path}: HTTP {status} {}",
                body.chars().take(120).collect::<String>().trim()
            ),
        }),
        Err(source) => Err(RuntimeError::Unreachable {
            kind,
            socket: socket.to_path_buf(),
            source,
        }),
    }
}

/// `GET /v1.41/containers/{id}/json`: image as asked for, image id, labels and name.
pub fn container(
    socket: &Path,
    id: &str,
    timeout: Duration,
) -> Result<Option<ContainerInfo>, RuntimeError> {
    let kind = RuntimeKind::Docker;
    let Some(body) = get_json(
        socket,
        kind,
        &format!("/v1.41/containers/{id}/json"),
        timeout,
    )?
    else {
        return Ok(None);
    };
    parse_container(id, &body)
        .map(Some)
        .map_err(|detail| RuntimeError::Protocol {
            kind,
            socket: socket.to_path_buf(),
            detail,
        })
}

pub fn parse_container(id: &str, body: &str) -> Result<ContainerInfo, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("bad JSON: {e}"))?;
    let image = v["Config"]["Image"]
        .as_str()
        .or_else(|| v["ImageName"].as_str())
        .unwrap_or("")
        .to_string();
    let labels = v["Config"]["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(ContainerInfo {
        id: id.to_string(),
        image,
        digest: v["Image"].as_str().unwrap_or("").to_string(),
        labels,
        name: v["Name"].as_str().map(str::to_string),
        namespace: None,
    })
}

/// Minimal HTTP/1.0 GET over a unix socket (Docker-compatible APIs answer without chunking
/// to HTTP/1.0; chunked bodies are decoded anyway).
pub fn http_get_unix(
    socket: &Path,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    http_unix(socket, "GET", path, timeout)
}

/// `POST path` without a body (`/containers/{id}/pause`), over a unix socket.
pub fn http_post_unix(
    socket: &Path,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    http_unix(socket, "POST", path, timeout)
}

fn http_unix(
    socket: &Path,
    method: &str,
    path: &str,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let length = if method == "GET" {
        ""
    } else {
        "Content-Length: 0\r\n"
    };
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n{length}\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("malformed HTTP response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| std::io::Error::other("malformed HTTP status line"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks_bodies() {
        assert_eq!(dechunk("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"), "Wikipedia");
    }
}
