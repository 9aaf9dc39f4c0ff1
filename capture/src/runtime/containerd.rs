//! containerd's own API: gRPC over HTTP/2 on its unix socket.
//!
//! Why a hand-written client and not tonic + prost: we call three unary methods
//! (`Namespaces/List`, `Containers/Get`, `Images/Get`) and read five fields of their
//! answers. tonic + prost + prost-build would pull in protoc (apt), the containerd .proto
//! tree and a code generator into every build for that; here HTTP/2 comes from the `h2`
//! crate (the same one tonic uses underneath) on a current-thread tokio runtime, and the
//! protobuf messages are written and read by hand (`proto.rs`). Measured on this 2-core
//! machine: h2 + tokio (rt, net, time) add 12 crates and 34 s (20 s of CPU) to a clean
//! debug build.

use super::proto::{self, put_string};
use super::{ContainerInfo, RuntimeError};
use bytes::Bytes;
use std::path::Path;
use std::time::Duration;

/// Namespace the kubelet's CRI plugin creates containers in; asked first.
pub const K8S_NAMESPACE: &str = "k8s.io";

/// Namespaces to ask when the namespace list cannot be had.
const FALLBACK_NAMESPACES: [&str; 3] = [K8S_NAMESPACE, "default", "moby"];

/// A gRPC call failed with this status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcStatus {
    pub code: u32,
    pub message: String,
}

/// gRPC status NOT_FOUND.
pub const NOT_FOUND: u32 = 5;

/// A client of one containerd socket. Each call opens its own connection (lookups are
/// rare: once per container, then cached by the resolver).
pub struct Containerd<'a> {
    pub socket: &'a Path,
    pub timeout: Duration,
}

impl Containerd<'_> {
    /// The container with this id in whichever namespace holds it (`k8s.io` first), with
    /// its labels and its image's name and digest. `Ok(None)` when no namespace has it.
    pub fn container(&self, id: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        let namespaces = match self.namespaces() {
            Ok(mut ns) => {
                ns.sort_by_key(|n| n != K8S_NAMESPACE);
                ns
            }
            Err(RuntimeError::Status { .. }) => {
                FALLBACK_NAMESPACES.iter().map(|s| s.to_string()).collect()
            }
            Err(e) => return Err(e),
        };
        for ns in &namespaces {
            let mut req = Vec::new();
            put_string(&mut req, 1, id);
            let resp = match self.call(ns, "/containerd.services.containers.v1.Containers/Get", req)
            {
                Ok(r) => r,
                Err(RuntimeError::Status {
                    code: NOT_FOUND, ..
                }) => continue,
                Err(e) => return Err(e),
            };
            let mut info = parse_container(&resp).map_err(|e| self.bad(e))?;
            info.namespace = Some(ns.clone());
            if !info.image.is_empty() {
                let mut req = Vec::new();
                put_string(&mut req, 1, &info.image);
                match self.call(ns, "/containerd.services.images.v1.Images/Get", req) {
                    Ok(resp) => info.digest = parse_image_digest(&resp).map_err(|e| self.bad(e))?,
                    // The image may have been removed since; the container still runs.
                    Err(RuntimeError::Status {
                        code: NOT_FOUND, ..
                    }) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(Some(info));
        }
        Ok(None)
    }

    /// Is this a containerd socket? (Asks its version service.)
    pub fn probe(&self) -> Result<(), RuntimeError> {
        self.call(
            "",
            "/containerd.services.version.v1.Version/Version",
            Vec::new(),
        )
        .map(|_| ())
    }

    fn namespaces(&self) -> Result<Vec<String>, RuntimeError> {
        let resp = self.call(
            "",
            "/containerd.services.namespaces.v1.Namespaces/List",
            Vec::new(),
        )?;
        let f = proto::fields(&resp).map_err(|e| self.bad(e))?;
        let mut out = Vec::new();
        for (n, v) in f {
            if let (1, proto::FieldValue::Bytes(ns)) = (n, v) {
                let nf = proto::fields(ns).map_err(|e| self.bad(e))?;
                out.push(proto::string(&nf, 1));
            }
        }
        Ok(out)
    }

    fn bad(&self, detail: String) -> RuntimeError {
        RuntimeError::Protocol {
            kind: super::RuntimeKind::Containerd,
            socket: self.socket.to_path_buf(),
            detail,
        }
    }

    fn io(&self, e: std::io::Error) -> RuntimeError {
        RuntimeError::Unreachable {
            kind: super::RuntimeKind::Containerd,
            socket: self.socket.to_path_buf(),
            source: e,
        }
    }

    /// One unary gRPC call; the answer's message bytes.
    fn call(
        &self,
        namespace: &str,
        method: &str,
        request: Vec<u8>,
    ) -> Result<Vec<u8>, RuntimeError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| self.io(e))?;
        let fut = unary(self.socket, namespace, method, request);
        let out = rt.block_on(async { tokio::time::timeout(self.timeout, fut).await });
        match out {
            Err(_) => Err(self.io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {:?}", self.timeout),
            ))),
            Ok(Err(CallError::Io(e))) => Err(self.io(e)),
            Ok(Err(CallError::Protocol(d))) => Err(self.bad(d)),
            Ok(Err(CallError::Status(s))) => Err(RuntimeError::Status {
                kind: super::RuntimeKind::Containerd,
                socket: self.socket.to_path_buf(),
                code: s.code,
                message: s.message,
            }),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

enum CallError {
    Io(std::io::Error),
    Protocol(String),
    Status(GrpcStatus),
}

impl From<h2::Error> for CallError {
    fn from(e: h2::Error) -> CallError {
        if e.is_io() {
            match e.into_io() {
                Some(io) => CallError::Io(io),
                None => CallError::Protocol("HTTP/2 I/O error".into()),
            }
        } else {
            CallError::Protocol(format!("HTTP/2: {e}"))
        }
    }
}

async fn unary(
    socket: &Path,
    namespace: &str,
    method: &str,
    request: Vec<u8>,
) -> Result<Vec<u8>, CallError> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(CallError::Io)?;
    let (client, conn) = h2::client::handshake(stream).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("http://localhost{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if !namespace.is_empty() {
        req = req.header("containerd-namespace", namespace);
    }
    let req = req
        .body(())
        .map_err(|e| CallError::Protocol(e.to_string()))?;
    let mut client = client.ready().await?;
    let (response, mut send) = client.send_request(req, false)?;
    send.send_data(Bytes::from(grpc_frame(&request)), true)?;
    let response = response.await?;
    if response.status() != http::StatusCode::OK {
        return Err(CallError::Protocol(format!(
            "HTTP status {}",
            response.status()
        )));
    }
    // A "trailers-only" answer carries the status in its headers.
    if let Some(s) = grpc_status(response.headers()) {
        return Err(CallError::Status(s));
    }
    let mut body = response.into_body();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    if let Some(trailers) = body.trailers().await? {
        if let Some(s) = grpc_status(&trailers) {
            return Err(CallError::Status(s));
        }
    }
    unframe(&data).map_err(CallError::Protocol)
}

/// A gRPC message frame: uncompressed flag, big-endian length, the message.
fn grpc_frame(msg: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(5 + msg.len());
    f.push(0);
    f.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    f.extend_from_slice(msg);
    f
}

fn unframe(data: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() < 5 {
        return Err("empty gRPC answer".into());
    }
    if data[0] != 0 {
        return Err("compressed gRPC answer".into());
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    data.get(5..5 + len)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "truncated gRPC answer".into())
}

/// A non-OK `grpc-status` (with its percent-encoded `grpc-message`), if any.
fn grpc_status(h: &http::HeaderMap) -> Option<GrpcStatus> {
    let code: u32 = h.get("grpc-status")?.to_str().ok()?.trim().parse().ok()?;
    if code == 0 {
        return None;
    }
    let message = h
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    Some(GrpcStatus { code, message })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GetContainerResponse { Container container = 1 }`, `Container { id = 1,
/// map<string,string> labels = 2, image = 3 }`.
pub fn parse_container(resp: &[u8]) -> Result<ContainerInfo, String> {
    let f = proto::fields(resp)?;
    let c = proto::message(&f, 1).ok_or("answer holds no container")?;
    let cf = proto::fields(c)?;
    Ok(ContainerInfo {
        id: proto::string(&cf, 1),
        image: proto::string(&cf, 3),
        labels: proto::string_map(&cf, 2)?.into_iter().collect(),
        ..Default::default()
    })
}

/// `GetImageResponse { Image image = 1 }`, `Image { name = 1, Descriptor target = 3 }`,
/// `Descriptor { media_type = 1, digest = 2 }`: the image's digest.
pub fn parse_image_digest(resp: &[u8]) -> Result<String, String> {
    let f = proto::fields(resp)?;
    let image = proto::message(&f, 1).ok_or("answer holds no image")?;
    let imf = proto::fields(image)?;
    let Some(target) = proto::message(&imf, 3) else {
        return Ok(String::new());
    };
    Ok(proto::string(&proto::fields(target)?, 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::proto::put_varint;

    fn embed(buf: &mut Vec<u8>, number: u32, msg: &[u8]) {
        put_varint(buf, u64::from(number << 3 | 2));
        put_varint(buf, msg.len() as u64);
        buf.extend_from_slice(msg);
    }

    #[test]
    fn container_and_image_answers_decode() {
        let mut c = Vec::new();
        put_string(&mut c, 1, "c0ffee");
        for (k, v) in [
            ("io.kubernetes.pod.name", "web-1"),
            ("io.kubernetes.pod.namespace", "payments"),
        ] {
            let mut e = Vec::new();
            put_string(&mut e, 1, k);
            put_string(&mut e, 2, v);
            embed(&mut c, 2, &e);
        }
        put_string(&mut c, 3, "localhost/demo/web:1.0");
        let mut resp = Vec::new();
        embed(&mut resp, 1, &c);
        let info = parse_container(&resp).unwrap();
        assert_eq!(info.id, "c0ffee");
        assert_eq!(info.image, "localhost/demo/web:1.0");
        assert_eq!(info.labels["io.kubernetes.pod.namespace"], "payments");
        assert_eq!(info.labels.len(), 2);

        let mut d = Vec::new();
        put_string(&mut d, 1, "application/vnd.oci.image.manifest.v1+json");
        put_string(&mut d, 2, "sha256:abcd");
        let mut im = Vec::new();
        put_string(&mut im, 1, "localhost/demo/web:1.0");
        embed(&mut im, 3, &d);
        let mut resp = Vec::new();
        embed(&mut resp, 1, &im);
        assert_eq!(parse_image_digest(&resp).unwrap(), "sha256:abcd");
        assert!(parse_container(&[]).is_err());
    }

    #[test]
    fn frames_and_statuses() {
        assert_eq!(unframe(&grpc_frame(b"xyz")).unwrap(), b"xyz");
        assert!(unframe(&[0, 0, 0, 0, 9, 1]).is_err());
        let mut h = http::HeaderMap::new();
        h.insert("grpc-status", "5".parse().unwrap());
        h.insert(
            "grpc-message",
            "container%20%22x%22%20in%20namespace%20%22k8s.io%22:%20not%20found"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            grpc_status(&h),
            Some(GrpcStatus {
                code: NOT_FOUND,
                message: "container \"x\" in namespace \"k8s.io\": not found".into()
            })
        );
        h.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(grpc_status(&h), None);
    }
}
