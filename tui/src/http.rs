//! Just enough HTTP/1.1 over a unix socket for the agent's local API and its clients:
//! one request per connection (`Connection: close`), bodies by `Content-Length`, a streamed
//! response delimited by the connection's close. Heads are parsed by `httparse`; sizes
//! are bounded so a garbage or oversized request costs the agent nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Largest request or response head accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted by the agent.
pub const MAX_BODY: usize = 1024 * 1024;
/// The API version in paths (`/v1/...`) and in the `API-Version` header.
pub const API_VERSION: &str = "1";

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// Decoded `key=value` pairs of the query, in order.
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read; each maps to a status the agent answers with.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("request head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("request body larger than {MAX_BODY} bytes")]
    BodyTooLarge,
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("connection closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl RequestError {
    /// The status to answer with, or None when nobody is listening any more.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::HeadTooLarge => Some(431),
            RequestError::BodyTooLarge => Some(413),
            RequestError::Malformed(_) => Some(400),
            RequestError::Closed | RequestError::Io(_) => None,
        }
    }
}

/// Read one request from `stream` (head up to [`MAX_HEAD`], body up to [`MAX_BODY`]).
pub fn read_request(stream: &mut UnixStream) -> Result<Request, RequestError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let (head_len, method, target, content_length) = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(if buf.is_empty() {
                RequestError::Closed
            } else {
                RequestError::Malformed("connection closed inside the request head".into())
            });
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let mut content_length = 0usize;
                for h in req.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        content_length = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse().ok())
                            .ok_or_else(|| RequestError::Malformed("bad Content-Length".into()))?;
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(RequestError::Malformed(
                            "chunked request bodies are not accepted".into(),
                        ));
                    }
                }
                break (
                    len,
                    req.method.unwrap_or("").to_string(),
                    req.path.unwrap_or("").to_string(),
                    content_length,
                );
            }
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
                return Err(RequestError::HeadTooLarge)
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(RequestError::Malformed("more than 32 headers".into()))
            }
            Err(e) => return Err(RequestError::Malformed(e.to_string())),
        }
    };
    if content_length > MAX_BODY {
        return Err(RequestError::BodyTooLarge);
    }
    let mut body = buf.split_off(head_len);
    if body.len() < content_length {
        let mut rest = vec![0u8; content_length - body.len()];
        stream.read_exact(&mut rest)?;
        body.extend_from_slice(&rest);
    }
    body.truncate(content_length);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target, Vec::new()),
    };
    Ok(Request {
        method,
        path: percent_decode(&path),
        query,
        body,
    })
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `%XX` and `+` decoding of a query or path part; invalid escapes are kept as written.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encode a query value (RFC 3986 unreserved characters pass).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-._~/:".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Write a whole JSON response and close.
pub fn write_json(stream: &mut UnixStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nAPI-Version: {API_VERSION}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// A JSON error body `{"error": "..."}`.
pub fn write_error(stream: &mut UnixStream, status: u16, message: &str) -> std::io::Result<()> {
    let body = serde_json::json!({ "error": message }).to_string();
    write_json(stream, status, body.as_bytes())
}

/// Start a streamed NDJSON response (one JSON document per line until the close).
pub fn start_stream(stream: &mut UnixStream) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nAPI-Version: {API_VERSION}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes())?;
    stream.flush()
}

/// A response read by the client.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a client request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket (no file, or connection refused).
    #[error("no agent answers on {0}")]
    NoAgent(String),
    #[error("the agent socket {0}: permission denied (members of the socket's group may use it)")]
    Denied(String),
    #[error("agent on {socket}: {message}")]
    Protocol { socket: String, message: String },
}

/// Connect to the agent's socket.
pub fn connect(socket: &Path, timeout: Option<Duration>) -> Result<UnixStream, ClientError> {
    let name = socket.display().to_string();
    let stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => ClientError::Denied(name.clone()),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            ClientError::NoAgent(name.clone())
        }
        _ => ClientError::Protocol {
            socket: name.clone(),
            message: e.to_string(),
        },
    })?;
    let _ = stream.set_read_timeout(timeout);
    let _ = stream.set_write_timeout(timeout);
    Ok(stream)
}

fn send_request(
    stream: &mut UnixStream,
    method: &str,
    target: &str,
    body: Option<&[u8]>,
) -> std::io::Result<()> {
    let body = body.unwrap_or(&[]);
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: wsprof\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// Read a response head; returns the status, the content length if given, and what of the
/// body was already read.
fn read_head<R: Read>(r: &mut R) -> std::io::Result<(u16, Option<usize>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = r.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the agent closed the connection without an answer",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let status = resp.code.unwrap_or(0);
                let cl = resp
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok());
                return Ok((status, cl, buf.split_off(len)));
            }
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
                return Err(std::io::Error::other("response head too large"))
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        }
    }
}

/// One request, the whole response.
pub fn request(
    socket: &Path,
    method: &str,
    target: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Response, ClientError> {
    let mut stream = connect(socket, Some(timeout))?;
    let proto = |e: std::io::Error| ClientError::Protocol {
        socket: socket.display().to_string(),
        message: e.to_string(),
    };
    send_request(&mut stream, method, target, body).map_err(proto)?;
    let (status, cl, mut body) = read_head(&mut stream).map_err(proto)?;
    match cl {
        Some(n) => {
            if body.len() < n {
                let mut rest = vec![0u8; n - body.len()];
                stream.read_exact(&mut rest).map_err(proto)?;
                body.extend_from_slice(&rest);
            }
            body.truncate(n);
        }
        None => {
            stream.read_to_end(&mut body).map_err(proto)?;
        }
    }
    Ok(Response { status, body })
}

/// A streamed response: lines as they come.
pub struct LineStream {
    reader: BufReader<std::io::Chain<std::io::Cursor<Vec<u8>>, UnixStream>>,
}

impl LineStream {
    /// The next line (without its newline); None at the end of the stream.
    pub fn next_line(&mut self) -> std::io::Result<Option<String>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        while line.ends_with('\n') || line.ends_with('\r') {
            line.pop();
        }
        Ok(Some(line))
    }
}

/// Open a streamed GET (e.g. `/v1/events`); an error status comes back as a protocol error.
pub fn stream(socket: &Path, target: &str) -> Result<LineStream, ClientError> {
    let mut s = connect(socket, None)?;
    let proto = |message: String| ClientError::Protocol {
        socket: socket.display().to_string(),
        message,
    };
    send_request(&mut s, "GET", target, None).map_err(|e| proto(e.to_string()))?;
    let (status, _, rest) = read_head(&mut s).map_err(|e| proto(e.to_string()))?;
    if status != 200 {
        return Err(proto(format!("{target} answered {status}")));
    }
    Ok(LineStream {
        reader: BufReader::new(std::io::Cursor::new(rest).chain(s)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_round_trip_through_encoding() {
        for v in ["acme/payments-api", "a b&c=d", "ünï", "100%", "x+y"] {
            assert_eq!(percent_decode(&percent_encode(v)), v);
        }
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    fn pair() -> (UnixStream, UnixStream) {
        UnixStream::pair().unwrap()
    }

    #[test]
    fn a_request_is_read_with_its_query_and_body() {
        let (mut a, mut b) = pair();
        a.write_all(b"POST /v1/signals/3/suppress?reason=known%20thing&x=1 HTTP/1.1\r\nHost: w\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap();
        let r = read_request(&mut b).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/signals/3/suppress");
        assert_eq!(r.param("reason"), Some("known thing"));
        assert_eq!(r.body, b"hello");
    }

    #[test]
    fn oversized_and_garbage_requests_are_refused_with_a_status() {
        let (mut a, mut b) = pair();
        std::thread::spawn(move || {
            let junk = vec![b'A'; MAX_HEAD + 10];
            let _ = a.write_all(&junk);
        });
        let e = read_request(&mut b).unwrap_err();
        assert_eq!(e.status(), Some(431), "{e}");

        let (mut a, mut b) = pair();
        a.write_all(b"\x00\x01\x02 garbage\r\n\r\n").unwrap();
        assert_eq!(read_request(&mut b).unwrap_err().status(), Some(400));

        let (mut a, mut b) = pair();
        a.write_all(b"POST /v1/x HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n")
            .unwrap();
        assert_eq!(read_request(&mut b).unwrap_err().status(), Some(413));
    }
}
