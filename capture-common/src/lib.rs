//! The event ABI between the wsprof eBPF programs (`capture-ebpf`) and user space
//! (`capture`).
//!
//! Every record in the ring buffer starts with a [`Header`]; its `kind` (one of the stable
//! `KIND_*` ids below, never renumbered) says which fixed-size struct follows. All structs are
//! `#[repr(C)]`, built from plain integers and byte arrays only, with explicit padding, so the
//! same bytes mean the same thing on both sides. Strings are NUL-terminated inside their
//! buffer (truncated when longer; the header's `FLAG_*_TRUNCATED` bits say so).
//!
//! With the `user` feature the crate adds `aya::Pod` impls and [`decode`], a checked decoder
//! returning typed [`DecodeError`]s.
#![no_std]

#[cfg(feature = "user")]
extern crate std;

// ---- stable kind ids (stored in counters and used by the decoder; never renumber) ----
pub const KIND_EXEC: u16 = 1;
pub const KIND_FORK: u16 = 2;
pub const KIND_EXIT: u16 = 3;
pub const KIND_OPEN: u16 = 10;
pub const KIND_UNLINK: u16 = 11;
pub const KIND_RENAME: u16 = 12;
pub const KIND_CHMOD: u16 = 13;
pub const KIND_CHOWN: u16 = 14;
pub const KIND_MKDIR: u16 = 15;
pub const KIND_CONNECT: u16 = 20;
pub const KIND_BIND: u16 = 21;
pub const KIND_DNS: u16 = 22;
pub const KIND_PTRACE: u16 = 30;
pub const KIND_MODULE_LOAD: u16 = 31;
pub const KIND_BPF: u16 = 32;
pub const KIND_MOUNT: u16 = 33;
pub const KIND_SETUID: u16 = 34;
pub const KIND_SETGID: u16 = 35;
pub const KIND_CAPSET: u16 = 36;
pub const KIND_MEMFD_CREATE: u16 = 37;
pub const KIND_IO_URING: u16 = 38;
/// Kind ids are below this bound (the counters map is indexed by kind).
pub const KIND_LIMIT: u16 = 64;

/// Every kind with its stable name (the names match `model::EventKind::name`).
pub const KINDS: [(u16, &str); 21] = [
    (KIND_EXEC, "exec"),
    (KIND_FORK, "fork"),
    (KIND_EXIT, "exit"),
    (KIND_OPEN, "open"),
    (KIND_UNLINK, "unlink"),
    (KIND_RENAME, "rename"),
    (KIND_CHMOD, "chmod"),
    (KIND_CHOWN, "chown"),
    (KIND_MKDIR, "mkdir"),
    (KIND_CONNECT, "connect"),
    (KIND_BIND, "bind"),
    (KIND_DNS, "dns"),
    (KIND_PTRACE, "ptrace"),
    (KIND_MODULE_LOAD, "load_module"),
    (KIND_BPF, "bpf"),
    (KIND_MOUNT, "mount"),
    (KIND_SETUID, "setuid"),
    (KIND_SETGID, "setgid"),
    (KIND_CAPSET, "capset"),
    (KIND_MEMFD_CREATE, "memfd_create"),
    (KIND_IO_URING, "io_uring_setup"),
];

/// Stable name of a kind id.
pub fn kind_name(kind: u16) -> Option<&'static str> {
    KINDS.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n)
}

/// `Header::aux` of setuid/setgid events: which syscall.
pub const VARIANT_SET: u32 = 0;
pub const VARIANT_SETRE: u32 = 1;
pub const VARIANT_SETRES: u32 = 2;
/// `Header::aux` of mount events: mount(2) (0), the new mount API's fsopen(2) and
/// move_mount(2).
pub const VARIANT_FSOPEN: u32 = 1;
pub const VARIANT_MOVE_MOUNT: u32 = 2;

// ---- sizes ----
pub const PATH_LEN: usize = 256;
pub const ARGV_LEN: usize = 1024;
/// Most argv entries copied at exec.
pub const MAX_ARGS: usize = 20;
pub const SRC_LEN: usize = 128;
pub const FSTYPE_LEN: usize = 32;
/// Bytes of a DNS query payload copied (header + one question fits).
pub const DNS_LEN: usize = 320;
/// Bytes of the executed file's path components ([`ExecEvent::file_path`]).
pub const FILE_PATH_LEN: usize = 512;
/// Most dentries (path components) and mount crossings walked for the executed file.
pub const MAX_PATH_WALK: usize = 40;

// ---- header flags ----
pub const FLAG_PATH_TRUNCATED: u16 = 1;
pub const FLAG_ARGV_TRUNCATED: u16 = 1 << 1;
/// The second path (rename target) was truncated.
pub const FLAG_PATH2_TRUNCATED: u16 = 1 << 2;
/// A DNS payload written to a TCP socket connected to port 53: it may start with the
/// 2-byte message length of DNS over TCP (RFC 1035 4.2.2).
pub const FLAG_DNS_TCP: u16 = 1 << 3;
/// A file event's `path2` holds the kernel's path of the file the syscall acted on (an open's
/// new fd, the fd of fchmod/fchown), NUL-separated components leaf first, walked at syscall
/// exit from the `struct file`: what was opened, whatever the requested path said (a symlink,
/// a relative path, a buffer a racing thread rewrote). The walk's end is told by
/// [`FLAG_EXEC_FILE_TRUNCATED`] and [`FLAG_EXEC_FILE_DETACHED`], as for an exec.
pub const FLAG_KERNEL_PATH: u16 = 1 << 4;
// Exec identity (the high bits, kept apart from the flags of other kinds):
/// [`ExecEvent::file_path`] holds the path of the file the kernel executed.
pub const FLAG_EXEC_FILE: u16 = 1 << 12;
/// The executed file has no link left (`i_nlink == 0`): a memfd, an `O_TMPFILE` file or a
/// deleted file. Set by the kernel, not derived from a name.
pub const FLAG_FILELESS: u16 = 1 << 13;
/// The walk up the executed file's path stopped before a root (too deep or too long): the
/// path is its last components only.
pub const FLAG_EXEC_FILE_TRUNCATED: u16 = 1 << 14;
/// The walk reached a root that is not the process's root: the file is on a mount outside
/// the process's view (a memfd's internal mount, another mount namespace); the path is
/// relative to that mount's root.
pub const FLAG_EXEC_FILE_DETACHED: u16 = 1 << 15;

// ---- open flag bits as the kernel defines them (x86_64/arm64 generic values) ----
pub const O_ACCMODE: u32 = 0o3;
pub const O_WRONLY: u32 = 0o1;
pub const O_RDWR: u32 = 0o2;
pub const O_CREAT: u32 = 0o100;
pub const O_TRUNC: u32 = 0o1000;

// ---- counters map layout (PerCpuArray<u64>) ----
/// `COUNTERS[COUNTER_SENT + kind]`: events put in the ring buffer, per kind.
pub const COUNTER_SENT: u32 = 0;
/// `COUNTERS[COUNTER_DROPPED + kind]`: events lost because the ring buffer was full.
pub const COUNTER_DROPPED: u32 = KIND_LIMIT as u32;
/// Repeated identical (process, path, flags) file accesses suppressed in the kernel.
pub const COUNTER_DEDUP: u32 = 2 * KIND_LIMIT as u32;
/// Syscall exits without a matching entry (entry happened before attach, or map full).
pub const COUNTER_NO_ENTRY: u32 = COUNTER_DEDUP + 1;
pub const COUNTERS_LEN: u32 = COUNTER_DEDUP + 8;

// ---- config map layout (Array<u64>) ----
/// cgroup v2 id of the host's root cgroup: events from it are skipped unless host capture is on.
pub const CFG_HOST_CGROUP: u32 = 0;
/// 1 = also capture processes in the host's root cgroup.
pub const CFG_CAPTURE_HOST: u32 = 1;
/// tgid of the capturing process itself (always skipped).
pub const CFG_SELF_TGID: u32 = 2;
/// De-dup epoch: bumped by user space at every snapshot cut so the next snapshot sees
/// each access again.
pub const CFG_DEDUP_EPOCH: u32 = 3;
/// Offset of `child_pid` in the `sched_process_fork` tracepoint record (from its format file).
pub const CFG_FORK_CHILD_OFF: u32 = 4;
/// Offset of `pid` in the `sched_process_exit` tracepoint record.
pub const CFG_EXIT_PID_OFF: u32 = 5;
/// 1 = configured (programs do nothing until user space has written the config).
pub const CFG_READY: u32 = 6;
pub const CFG_LEN: u32 = 8;

/// Common head of every ring-buffer record (40 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Header {
    pub kind: u16,
    pub flags: u16,
    /// Thread-group id (the process id user space sees).
    pub tgid: u32,
    /// Thread id.
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    /// Per-kind detail: for setuid/setgid the syscall variant ([`VARIANT_SET`],
    /// [`VARIANT_SETRE`], [`VARIANT_SETRES`]); 0 otherwise.
    pub aux: u32,
    /// cgroup v2 id (inode of the cgroup directory).
    pub cgroup_id: u64,
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC).
    pub ts_ns: u64,
}

/// A successful exec (`sched_process_exec`), with argv from the `execve` entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecEvent {
    pub hdr: Header,
    pub argc: u32,
    /// Bytes of `argv` used (NUL-separated arguments).
    pub argv_len: u32,
    /// The file name the caller asked for (`bprm->filename`: the execve path, or
    /// `/dev/fd/N` for an fd exec).
    pub filename: [u8; PATH_LEN],
    pub argv: [u8; ARGV_LEN],
    /// The interpreter a `#!` script named (`bprm->interp`), empty when the program is not
    /// a script.
    pub interp: [u8; PATH_LEN],
    /// The executed file's path as the kernel knows it (`bprm->file`), walked up its dentries
    /// and mounts to the process's root: NUL-separated components, leaf first (valid with
    /// [`FLAG_EXEC_FILE`]).
    pub file_path: [u8; FILE_PATH_LEN],
    /// Bytes of `file_path` used.
    pub file_path_len: u32,
    /// The executed file's link count (`inode->i_nlink`).
    pub file_nlink: u32,
    /// The executed file's inode number (`inode->i_ino`) and device (`i_sb->s_dev`, the
    /// kernel's encoding: major << 20 | minor): which file it is, whatever its path.
    pub file_ino: u64,
    pub file_dev: u32,
    /// The same for the file the process ran before this exec (`mm->exe_file` at execve
    /// entry; 0 when unknown): equal ids mean the process re-executed its own file.
    pub prev_dev: u32,
    pub prev_ino: u64,
}

/// Struct member offsets (bytes) the exec program needs to find the executed file, read
/// from the kernel's BTF at load time (Rust eBPF has no CO-RE). One entry of the
/// `KOFFSETS` array map; `ready` = 1 once written.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KernelOffsets {
    /// `linux_binprm.file`, `.filename`, `.interp`
    pub bprm_file: u32,
    pub bprm_filename: u32,
    pub bprm_interp: u32,
    /// `file.f_path.dentry`, `file.f_path.mnt`
    pub file_dentry: u32,
    pub file_mnt: u32,
    /// `dentry.d_parent`, `dentry.d_name.name`, `dentry.d_inode`
    pub dentry_parent: u32,
    pub dentry_name: u32,
    pub dentry_inode: u32,
    /// `inode.i_nlink`
    pub inode_nlink: u32,
    /// `vfsmount.mnt_root`
    pub vfsmount_root: u32,
    /// `mount.mnt` (the embedded vfsmount), `mount.mnt_parent`, `mount.mnt_mountpoint`
    pub mount_mnt: u32,
    pub mount_parent: u32,
    pub mount_mountpoint: u32,
    /// `task_struct.fs`, `fs_struct.root.dentry`, `fs_struct.root.mnt`
    pub task_fs: u32,
    pub fs_root_dentry: u32,
    pub fs_root_mnt: u32,
    /// `inode.i_ino`, `inode.i_sb`, `super_block.s_dev`
    pub inode_ino: u32,
    pub inode_sb: u32,
    pub sb_dev: u32,
    /// `task_struct.mm`, `mm_struct.exe_file`, `file.f_inode`
    pub task_mm: u32,
    pub mm_exe_file: u32,
    pub file_inode: u32,
    /// `task_struct.files`, `files_struct.fdt`, `fdtable.max_fds`, `fdtable.fd` (an fd's
    /// `struct file`, for the kernel path of an opened file)
    pub task_files: u32,
    pub files_fdt: u32,
    pub fdt_max_fds: u32,
    pub fdt_fd: u32,
    pub ready: u32,
    pub _pad: u32,
}

/// Fork (`a` = child pid, `b` = parent tgid) or exit (`a` = exiting task id, `b` = 1 when
/// the whole thread group is gone).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ProcEvent {
    pub hdr: Header,
    pub a: u32,
    pub b: u32,
}

/// A successful path syscall: open family, unlink, rename, chmod, chown, mkdir.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileEvent {
    pub hdr: Header,
    /// open flags (open family); `AT_*` flags otherwise.
    pub flags: u32,
    /// mode (open with O_CREAT, chmod, mkdir).
    pub mode: u32,
    /// chown target uid/gid (u32::MAX = unchanged).
    pub uid: u32,
    pub gid: u32,
    /// Directory fd the path is relative to (`AT_FDCWD` = -100).
    pub dfd: i32,
    /// Syscall return value: >= 0 on success; -errno for the failed opens the kernel side
    /// sends (permission errors, missing files under sensitive directories).
    pub ret: i32,
    /// Bytes of `path` / `path2` the kernel copied, the NUL included (0: none).
    pub path_len: u32,
    pub path2_len: u32,
    pub path: [u8; PATH_LEN],
    /// Rename target; for an open or an fd-based chmod/chown with [`FLAG_KERNEL_PATH`], the
    /// kernel's path of the file (components, leaf first).
    pub path2: [u8; PATH_LEN],
}

/// connect/bind of an AF_INET/AF_INET6 socket (cgroup sock_addr programs).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NetEvent {
    pub hdr: Header,
    /// AF_INET (2) or AF_INET6 (10).
    pub family: u16,
    /// Port, host byte order.
    pub port: u16,
    /// SOCK_STREAM (1), SOCK_DGRAM (2), ...
    pub sock_type: u16,
    /// IPPROTO_TCP (6), IPPROTO_UDP (17), ...
    pub protocol: u16,
    /// IPv4 in the first 4 bytes, or IPv6; network byte order.
    pub addr: [u8; 16],
}

/// A DNS query sent to port 53: the start of the UDP payload, parsed in user space.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsEvent {
    pub hdr: Header,
    /// Destination port (53).
    pub port: u16,
    pub _pad: u16,
    /// Payload bytes copied into `data`.
    pub len: u32,
    pub data: [u8; DNS_LEN],
}

/// Kernel activity: ptrace, module load, bpf(), mount, setuid/setgid, capset, memfd_create.
/// `a0..a2` are the syscall's integer arguments; `s1` the main string (mount target, memfd
/// name), `s2` mount source, `s3` mount fstype.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelEvent {
    pub hdr: Header,
    pub a0: u64,
    pub a1: u64,
    pub a2: u64,
    pub s1: [u8; PATH_LEN],
    pub s2: [u8; SRC_LEN],
    pub s3: [u8; FSTYPE_LEN],
}

/// Key of the in-kernel de-dup LRU map: one file access of one process image.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DedupKey {
    /// Per process: the process. Per lineage (`by_lineage == 1`): 0.
    pub tgid: u32,
    /// Low bits of the de-dup epoch (see [`CFG_DEDUP_EPOCH`]).
    pub epoch: u32,
    /// Per process: bumped per exec of the process, so a new program image reports its
    /// accesses again. Per lineage: the uid (the lineage and cgroup are in `path_hash`).
    pub exec_gen: u32,
    pub kind: u16,
    /// 1: the key is per lineage, not per process (see the kernel side's `LINEAGE` map).
    pub by_lineage: u16,
    pub flags: u32,
    pub _pad2: u32,
    /// FNV-1a of the path bytes (and the second path for rename).
    pub path_hash: u64,
}

/// FNV-1a 64 offset basis and prime (used for the path hash in the kernel).
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

macro_rules! zeroed_default {
    ($($t:ty),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                // SAFETY: plain integers and byte arrays; all-zero is a valid value.
                unsafe { core::mem::zeroed() }
            }
        }
    )*};
}
zeroed_default!(ExecEvent, FileEvent, DnsEvent, KernelEvent);

/// The bytes of a record, as the kernel writes them into the ring buffer.
pub trait AsBytes: Sized {
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: implemented only for #[repr(C)] structs of integers/byte arrays without
        // implicit padding (checked by the size assertions below).
        unsafe {
            core::slice::from_raw_parts(
                (self as *const Self).cast::<u8>(),
                core::mem::size_of::<Self>(),
            )
        }
    }
}
impl AsBytes for ExecEvent {}
impl AsBytes for ProcEvent {}
impl AsBytes for FileEvent {}
impl AsBytes for NetEvent {}
impl AsBytes for DnsEvent {}
impl AsBytes for KernelEvent {}

// No implicit padding: sizes are the sum of the fields.
const _: () = assert!(core::mem::size_of::<Header>() == 40);
const _: () = assert!(
    core::mem::size_of::<ExecEvent>() == 40 + 8 + 2 * PATH_LEN + ARGV_LEN + FILE_PATH_LEN + 32
);
const _: () = assert!(core::mem::size_of::<KernelOffsets>() == 28 * 4);
const _: () = assert!(core::mem::size_of::<ProcEvent>() == 48);
const _: () = assert!(core::mem::size_of::<FileEvent>() == 40 + 32 + 2 * PATH_LEN);
const _: () = assert!(core::mem::size_of::<NetEvent>() == 64);
const _: () = assert!(core::mem::size_of::<DnsEvent>() == 48 + DNS_LEN);
const _: () = assert!(core::mem::size_of::<KernelEvent>() == 64 + PATH_LEN + SRC_LEN + FSTYPE_LEN);
const _: () = assert!(core::mem::size_of::<DedupKey>() == 32);

/// The C string at the start of a buffer (up to the first NUL).
pub fn c_str(buf: &[u8]) -> &[u8] {
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    &buf[..end]
}

#[cfg(feature = "user")]
mod user;
#[cfg(feature = "user")]
pub use user::{decode, DecodeError, RawEvent};
