//! User-space side of the ABI: `aya::Pod` impls and checked decoding.

use crate::*;

// SAFETY: #[repr(C)], integers and byte arrays only, no implicit padding (see the size
// assertions in lib.rs); every bit pattern is valid.
unsafe impl aya::Pod for ProcEvent {}
unsafe impl aya::Pod for Header {}
unsafe impl aya::Pod for DedupKey {}
unsafe impl aya::Pod for KernelOffsets {}

/// One decoded ring-buffer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawEvent {
    Exec(std::boxed::Box<ExecEvent>),
    Fork(ProcEvent),
    Exit(ProcEvent),
    /// open family, unlink, rename, chmod, chown, mkdir (see `hdr.kind`).
    File(std::boxed::Box<FileEvent>),
    /// connect or bind (see `hdr.kind`).
    Net(NetEvent),
    Dns(std::boxed::Box<DnsEvent>),
    /// ptrace, module load, bpf, mount, setuid, setgid, capset, memfd_create.
    Kernel(std::boxed::Box<KernelEvent>),
}

impl RawEvent {
    pub fn header(&self) -> &Header {
        match self {
            RawEvent::Exec(e) => &e.hdr,
            RawEvent::Fork(e) | RawEvent::Exit(e) => &e.hdr,
            RawEvent::File(e) => &e.hdr,
            RawEvent::Net(e) => &e.hdr,
            RawEvent::Dns(e) => &e.hdr,
            RawEvent::Kernel(e) => &e.hdr,
        }
    }
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record of {len} bytes is shorter than the {need}-byte header")]
    TooShort { len: usize, need: usize },
    #[error("unknown event kind id {0}")]
    UnknownKind(u16),
    #[error("record of kind {kind} has {len} bytes, expected {expected}")]
    WrongSize {
        kind: u16,
        len: usize,
        expected: usize,
    },
}

fn read<T: Copy>(bytes: &[u8], kind: u16) -> Result<T, DecodeError> {
    let expected = core::mem::size_of::<T>();
    if bytes.len() != expected {
        return Err(DecodeError::WrongSize {
            kind,
            len: bytes.len(),
            expected,
        });
    }
    // SAFETY: length checked; T is a plain-old-data ABI struct valid for any bytes;
    // read_unaligned copes with the ring buffer's 8-byte alignment or less.
    Ok(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// Decode one ring-buffer record, checking its kind and size.
pub fn decode(bytes: &[u8]) -> Result<RawEvent, DecodeError> {
    let need = core::mem::size_of::<Header>();
    if bytes.len() < need {
        return Err(DecodeError::TooShort {
            len: bytes.len(),
            need,
        });
    }
    let kind = u16::from_ne_bytes([bytes[0], bytes[1]]);
    Ok(match kind {
        KIND_EXEC => RawEvent::Exec(std::boxed::Box::new(read(bytes, kind)?)),
        KIND_FORK => RawEvent::Fork(read(bytes, kind)?),
        KIND_EXIT => RawEvent::Exit(read(bytes, kind)?),
        KIND_OPEN | KIND_UNLINK | KIND_RENAME | KIND_CHMOD | KIND_CHOWN | KIND_MKDIR => {
            RawEvent::File(std::boxed::Box::new(read(bytes, kind)?))
        }
        KIND_CONNECT | KIND_BIND => RawEvent::Net(read(bytes, kind)?),
        KIND_DNS => RawEvent::Dns(std::boxed::Box::new(read(bytes, kind)?)),
        KIND_PTRACE | KIND_MODULE_LOAD | KIND_BPF | KIND_MOUNT | KIND_SETUID | KIND_SETGID
        | KIND_CAPSET | KIND_MEMFD_CREATE | KIND_IO_URING => {
            RawEvent::Kernel(std::boxed::Box::new(read(bytes, kind)?))
        }
        other => return Err(DecodeError::UnknownKind(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn hdr(kind: u16) -> Header {
        Header {
            kind,
            flags: FLAG_PATH_TRUNCATED,
            tgid: 4242,
            tid: 4243,
            uid: 1000,
            gid: 1001,
            aux: 0,
            cgroup_id: 0xdead_beef_0001,
            ts_ns: 123_456_789,
        }
    }

    fn put(buf: &mut [u8], s: &[u8]) {
        buf[..s.len()].copy_from_slice(s);
    }

    #[test]
    fn every_kind_round_trips() {
        let mut exec = ExecEvent {
            hdr: hdr(KIND_EXEC),
            argc: 2,
            argv_len: 11,
            ..Default::default()
        };
        put(&mut exec.filename, b"/bin/sh");
        put(&mut exec.argv, b"sh\0-c\0true\0");
        let d = decode(exec.as_bytes()).unwrap();
        assert_eq!(d, RawEvent::Exec(std::boxed::Box::new(exec)));
        assert_eq!(c_str(&exec.filename), b"/bin/sh");

        let fork = ProcEvent {
            hdr: hdr(KIND_FORK),
            a: 7,
            b: 4242,
        };
        assert_eq!(decode(fork.as_bytes()).unwrap(), RawEvent::Fork(fork));
        let exit = ProcEvent {
            hdr: hdr(KIND_EXIT),
            a: 7,
            b: 1,
        };
        assert_eq!(decode(exit.as_bytes()).unwrap(), RawEvent::Exit(exit));

        for kind in [
            KIND_OPEN,
            KIND_UNLINK,
            KIND_RENAME,
            KIND_CHMOD,
            KIND_CHOWN,
            KIND_MKDIR,
        ] {
            let mut f = FileEvent {
                hdr: hdr(kind),
                flags: O_CREAT | O_WRONLY,
                mode: 0o644,
                uid: 1,
                gid: 2,
                dfd: -100,
                ret: 3,
                ..Default::default()
            };
            put(&mut f.path, b"/etc/passwd");
            put(&mut f.path2, b"/etc/passwd-");
            let d = decode(f.as_bytes()).unwrap();
            assert_eq!(d.header().kind, kind);
            assert_eq!(d, RawEvent::File(std::boxed::Box::new(f)));
        }
        for kind in [KIND_CONNECT, KIND_BIND] {
            let n = NetEvent {
                hdr: hdr(kind),
                family: 2,
                port: 53,
                sock_type: 2,
                protocol: 17,
                addr: [127, 0, 0, 53, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            };
            assert_eq!(decode(n.as_bytes()).unwrap(), RawEvent::Net(n));
        }
        let mut dns = DnsEvent {
            hdr: hdr(KIND_DNS),
            port: 53,
            len: 5,
            ..Default::default()
        };
        put(&mut dns.data, &[1, 2, 3, 4, 5]);
        assert_eq!(
            decode(dns.as_bytes()).unwrap(),
            RawEvent::Dns(std::boxed::Box::new(dns))
        );
        for kind in [
            KIND_PTRACE,
            KIND_MODULE_LOAD,
            KIND_BPF,
            KIND_MOUNT,
            KIND_SETUID,
            KIND_SETGID,
            KIND_CAPSET,
            KIND_MEMFD_CREATE,
            KIND_IO_URING,
        ] {
            let mut k = KernelEvent {
                hdr: hdr(kind),
                a0: 16,
                a1: 99,
                a2: u64::MAX,
                ..Default::default()
            };
            put(&mut k.s1, b"/mnt");
            put(&mut k.s2, b"tmpfs");
            put(&mut k.s3, b"tmpfs");
            assert_eq!(
                decode(k.as_bytes()).unwrap(),
                RawEvent::Kernel(std::boxed::Box::new(k))
            );
        }
    }

    #[test]
    fn every_kind_has_a_unique_id_and_name() {
        for (i, (k, n)) in KINDS.iter().enumerate() {
            assert!(*k < KIND_LIMIT);
            assert_eq!(kind_name(*k), Some(*n));
            assert!(KINDS[i + 1..].iter().all(|(k2, n2)| k2 != k && n2 != n));
        }
    }

    #[test]
    fn rejects_short_unknown_and_wrong_size() {
        assert_eq!(
            decode(&[1, 0, 0]),
            Err(DecodeError::TooShort { len: 3, need: 40 })
        );
        let mut bytes = ProcEvent {
            hdr: hdr(KIND_FORK),
            a: 1,
            b: 2,
        }
        .as_bytes()
        .to_vec();
        bytes[0] = 63;
        assert_eq!(decode(&bytes), Err(DecodeError::UnknownKind(63)));
        bytes[0] = KIND_EXEC as u8;
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::WrongSize {
                kind: KIND_EXEC,
                len: 48,
                expected: core::mem::size_of::<ExecEvent>()
            })
        );
        bytes.push(0);
        bytes[0] = KIND_FORK as u8;
        assert!(matches!(
            decode(&bytes),
            Err(DecodeError::WrongSize {
                kind: KIND_FORK,
                ..
            })
        ));
        let err = decode(&[0; 40]).unwrap_err().to_string();
        assert_eq!(err, "unknown event kind id 0");
    }
}
