//! wsprof kernel side: tracepoints and cgroup sock_addr programs that put fixed-size
//! `capture_common` records into one ring buffer.
//!
//! Shape (aya-template style): each program is a thin wrapper over a `try_*` function
//! returning `Result`. Path syscalls are recorded at entry into a per-thread pending map and
//! sent at exit only when they succeeded; repeated identical (process image, path, flags)
//! accesses are de-duplicated in an LRU map. Every send or drop is counted per kind in
//! `COUNTERS`. Processes in the host's root cgroup (and the capturing process) are skipped
//! unless user space opts in (`CONFIG`).
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::bpf_sock_addr,
    helpers::{
        bpf_get_current_pid_tgid, bpf_get_current_uid_gid, bpf_probe_read_kernel,
        bpf_probe_read_user,
        generated::{
            bpf_get_current_cgroup_id, bpf_get_current_task, bpf_ktime_get_ns,
            bpf_probe_read_kernel_str, bpf_probe_read_user as raw_read_user,
            bpf_probe_read_user_str,
        },
    },
    macros::{cgroup_sock_addr, map, raw_tracepoint, tracepoint},
    maps::{Array, LruHashMap, PerCpuArray, RingBuf},
    programs::{RawTracePointContext, SockAddrContext, TracePointContext},
    EbpfContext,
};
use capture_common::*;
use core::ffi::c_void;

const AT_FDCWD: i32 = -100;
const NONE: i8 = -1;

#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(16 * 1024 * 1024, 0);
#[map]
static CONFIG: Array<u64> = Array::with_max_entries(CFG_LEN, 0);
/// Kernel struct member offsets for the exec identity walk (from BTF, written at load).
#[map]
static KOFFSETS: Array<KernelOffsets> = Array::with_max_entries(1, 0);
#[map]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTERS_LEN, 0);
/// File syscall in flight, per thread id.
#[map]
static PENDING_FILE: LruHashMap<u32, FileEvent> = LruHashMap::with_max_entries(8192, 0);
/// argv captured at execve entry, per thread id (the pre-exec tid = `old_pid`).
#[map]
static PENDING_EXEC: LruHashMap<u32, ExecEvent> = LruHashMap::with_max_entries(2048, 0);
/// (inode, device) of the file a thread ran when it entered execve: kept for every process,
/// host ones included, since a process may change cgroup during its exec (runc's init is
/// moved into the container while it re-executes itself).
#[map]
static PREV_EXE: LruHashMap<u32, [u64; 2]> = LruHashMap::with_max_entries(4096, 0);
/// Exec generation per tgid (de-dup key part).
#[map]
static EXEC_GEN: LruHashMap<u32, u32> = LruHashMap::with_max_entries(65536, 0);
/// Lineage hash per task: the program images of the process and its ancestors since the
/// first one capture saw (a root seen without a known parent is salted with its own pid, so
/// two unrelated process trees never share one). Inherited at fork, extended at exec. The
/// profile keys a node by this lineage (plus the path), so accesses by different processes
/// of the same lineage are the same node: they are sent once per snapshot window.
#[map]
static LINEAGE: LruHashMap<u32, u64> = LruHashMap::with_max_entries(65536, 0);
#[map]
static DEDUP: LruHashMap<DedupKey, u8> = LruHashMap::with_max_entries(65536, 0);
/// fd passed to connect(), per thread id, for the cgroup connect program.
#[map]
static CONNECT_FD: LruHashMap<u32, u32> = LruHashMap::with_max_entries(4096, 0);
/// (tgid << 32 | fd) of UDP sockets connected to port 53.
#[map]
static DNS_SOCKS: LruHashMap<u64, u8> = LruHashMap::with_max_entries(4096, 0);
#[map]
static SCRATCH_FILE: PerCpuArray<FileEvent> = PerCpuArray::with_max_entries(1, 0);
#[map]
static SCRATCH_EXEC: PerCpuArray<ExecEvent> = PerCpuArray::with_max_entries(1, 0);
#[map]
static SCRATCH_KERNEL: PerCpuArray<KernelEvent> = PerCpuArray::with_max_entries(1, 0);
#[map]
static SCRATCH_DNS: PerCpuArray<DnsEvent> = PerCpuArray::with_max_entries(1, 0);

// ---------------------------------------------------------------- helpers

#[inline(always)]
fn cfg(i: u32) -> u64 {
    CONFIG.get(i).copied().unwrap_or(0)
}

/// Should the current task be ignored?
#[inline(always)]
fn skip() -> bool {
    if cfg(CFG_READY) == 0 {
        return true;
    }
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u64;
    if tgid == cfg(CFG_SELF_TGID) {
        return true;
    }
    if cfg(CFG_CAPTURE_HOST) == 0 {
        let cg = unsafe { bpf_get_current_cgroup_id() };
        if cg == cfg(CFG_HOST_CGROUP) {
            return true;
        }
    }
    false
}

#[inline(always)]
fn count(index: u32) {
    if let Some(p) = COUNTERS.get_ptr_mut(index) {
        unsafe { *p += 1 };
    }
}

#[inline(always)]
fn fill_hdr(h: &mut Header, kind: u16) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let uid_gid = bpf_get_current_uid_gid();
    h.kind = kind;
    h.flags = 0;
    h.tgid = (pid_tgid >> 32) as u32;
    h.tid = pid_tgid as u32;
    h.uid = uid_gid as u32;
    h.gid = (uid_gid >> 32) as u32;
    h.aux = 0;
    h.cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    h.ts_ns = unsafe { bpf_ktime_get_ns() };
}

/// Bytes waiting in the ring buffer above which a record wakes the reader at once; below
/// it no record wakes it and the reader drains on its own short timer (see capture's
/// `DRAIN_EVERY`). A wake-up per record cost a context switch (and the pipeline's thread
/// hand-offs) per event: at a few thousand events a second that alone slowed a web server
/// by tens of percent on two cores.
const WAKE_AT_BYTES: u64 = 256 * 1024;
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;
const BPF_RB_AVAIL_DATA: u64 = 0;

#[inline(always)]
fn emit<T: 'static>(ev: &T, kind: u16) {
    let wake = if EVENTS.query(BPF_RB_AVAIL_DATA) >= WAKE_AT_BYTES {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    match EVENTS.output::<T>(ev, wake) {
        Ok(()) => count(COUNTER_SENT + kind as u32),
        Err(_) => count(COUNTER_DROPPED + kind as u32),
    }
}

/// Syscall argument `i` of a `sys_enter_*` tracepoint record.
#[inline(always)]
fn arg(ctx: &TracePointContext, i: usize) -> u64 {
    unsafe { ctx.read_at::<u64>(16 + 8 * i) }.unwrap_or(0)
}

/// Copy a user C string into `dst` (PATH_LEN); the bytes copied with the NUL (0: none).
/// `n == PATH_LEN` means it was (probably) truncated.
#[inline(always)]
fn read_user_path(src: u64, dst: &mut [u8; PATH_LEN]) -> u32 {
    dst[0] = 0;
    if src == 0 {
        return 0;
    }
    let n = unsafe {
        bpf_probe_read_user_str(
            dst.as_mut_ptr() as *mut c_void,
            PATH_LEN as u32,
            src as *const c_void,
        )
    };
    if n <= 0 {
        dst[0] = 0;
        return 0;
    }
    n as u32
}

#[inline(always)]
fn read_user_str<const N: usize>(src: u64, dst: &mut [u8; N]) {
    dst[0] = 0;
    if src == 0 {
        return;
    }
    let n = unsafe {
        bpf_probe_read_user_str(
            dst.as_mut_ptr() as *mut c_void,
            N as u32,
            src as *const c_void,
        )
    };
    if n < 0 {
        dst[0] = 0;
    }
}

/// FNV-style hash of the first `len - 1` bytes of `p` (the string without its NUL), a word
/// at a time: 32 steps at most instead of 256 (bytes past the string are masked off; the
/// buffer is reused, so they are stale).
#[inline(always)]
fn hash_path(mut h: u64, p: &[u8; PATH_LEN], len: u32) -> u64 {
    let n = (len.saturating_sub(1) as usize).min(PATH_LEN);
    let words = p.as_ptr() as *const u64;
    for i in 0..PATH_LEN / 8 {
        let at = i * 8;
        if at >= n {
            break;
        }
        let mut w = unsafe { core::ptr::read_unaligned(words.add(i)) };
        let left = n - at;
        if left < 8 {
            w &= (1u64 << (left * 8)) - 1;
        }
        h = (h ^ w).wrapping_mul(FNV_PRIME);
    }
    h ^ n as u64
}

#[inline(always)]
fn mix(a: u64, b: u64) -> u64 {
    (a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(FNV_PRIME)
}

// ---------------------------------------------------------------- process lifecycle

#[tracepoint]
pub fn sys_enter_execve(ctx: TracePointContext) -> u32 {
    match try_exec_enter(&ctx, 1) {
        Ok(r) | Err(r) => r,
    }
}

#[tracepoint]
pub fn sys_enter_execveat(ctx: TracePointContext) -> u32 {
    match try_exec_enter(&ctx, 2) {
        Ok(r) | Err(r) => r,
    }
}

#[inline(always)]
fn try_exec_enter(ctx: &TracePointContext, argv_idx: usize) -> Result<u32, u32> {
    remember_prev_exe();
    if skip() {
        return Ok(0);
    }
    let ev = SCRATCH_EXEC.get_ptr_mut(0).ok_or(1u32)?;
    let ev = unsafe { &mut *ev };
    let argv = arg(ctx, argv_idx) as *const u64;
    let mut off: usize = 0;
    let mut argc: u32 = 0;
    let mut flags: u16 = 0;
    const HALF: usize = ARGV_LEN / 2;
    for i in 0..MAX_ARGS {
        if argv.is_null() {
            break;
        }
        let p: u64 = unsafe { bpf_probe_read_user(argv.wrapping_add(i)) }.unwrap_or(0);
        if p == 0 {
            break;
        }
        if off >= HALF {
            flags |= FLAG_ARGV_TRUNCATED;
            break;
        }
        let dst = unsafe { ev.argv.as_mut_ptr().add(off & (HALF - 1)) };
        let n =
            unsafe { bpf_probe_read_user_str(dst as *mut c_void, HALF as u32, p as *const c_void) };
        if n <= 0 {
            break;
        }
        off += n as usize;
        argc += 1;
        if i == MAX_ARGS - 1 {
            flags |= FLAG_ARGV_TRUNCATED;
        }
    }
    ev.argc = argc;
    ev.argv_len = off as u32;
    ev.hdr.flags = flags;
    let tid = bpf_get_current_pid_tgid() as u32;
    let _ = PENDING_EXEC.insert(&tid, &*ev, 0);
    Ok(0)
}

/// The pending exec of `old_pid` (argv from the execve entry), or a fresh scratch record.
#[inline(always)]
fn exec_record(old_pid: u32) -> Result<*mut ExecEvent, u32> {
    Ok(match PENDING_EXEC.get_ptr_mut(&old_pid) {
        Some(p) => p,
        None => {
            let p = SCRATCH_EXEC.get_ptr_mut(0).ok_or(1u32)?;
            unsafe {
                (*p).argc = 0;
                (*p).argv_len = 0;
                (*p).hdr.flags = 0;
            }
            p
        }
    })
}

#[inline(always)]
/// `name_len`: the bytes of `ev.filename` copied (NUL included), for the lineage hash.
fn exec_sent(ev: &ExecEvent, old_pid: u32, name_len: u32) {
    emit::<ExecEvent>(ev, KIND_EXEC);
    let _ = PENDING_EXEC.remove(&old_pid);
    let tgid = ev.hdr.tgid;
    let parent = match unsafe { LINEAGE.get(&tgid) } {
        Some(l) => *l,
        None => mix(0x6c69_6e65_6167_6521, tgid as u64),
    };
    let lineage = hash_path(parent, &ev.filename, name_len);
    let _ = LINEAGE.insert(&tgid, &lineage, 0);
    let gen = unsafe { EXEC_GEN.get(&tgid) }.copied().unwrap_or(0);
    let _ = EXEC_GEN.insert(&tgid, &(gen.wrapping_add(1)), 0);
}

/// Fallback when the raw tracepoint below cannot be used: the exec path is the caller's
/// file name only (no kernel identity).
#[tracepoint]
pub fn sched_process_exec(ctx: TracePointContext) -> u32 {
    match try_sched_exec(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn try_sched_exec(ctx: &TracePointContext) -> Result<u32, u32> {
    if skip() {
        return Ok(0);
    }
    let old_pid: u32 = unsafe { ctx.read_at::<u32>(16) }.map_err(|_| 1u32)?;
    let ev = unsafe { &mut *exec_record(old_pid)? };
    let argv_flags = ev.hdr.flags;
    fill_hdr(&mut ev.hdr, KIND_EXEC);
    ev.hdr.flags = argv_flags;
    let loc: u32 = unsafe { ctx.read_at::<u32>(8) }.map_err(|_| 1u32)?;
    let src = unsafe { (ctx.as_ptr() as *const u8).add((loc & 0xffff) as usize) };
    ev.filename[0] = 0;
    let n = unsafe {
        bpf_probe_read_kernel_str(
            ev.filename.as_mut_ptr() as *mut c_void,
            PATH_LEN as u32,
            src as *const c_void,
        )
    };
    if n >= PATH_LEN as i64 {
        ev.hdr.flags |= FLAG_PATH_TRUNCATED;
    }
    ev.interp[0] = 0;
    ev.file_path_len = 0;
    ev.file_nlink = 0;
    ev.file_ino = 0;
    ev.file_dev = 0;
    exec_sent(ev, old_pid, if n > 0 { n as u32 } else { 0 });
    Ok(0)
}

/// Remember the file the current thread runs (see [`PREV_EXE`]).
#[inline(always)]
fn remember_prev_exe() {
    if cfg(CFG_READY) == 0 {
        return;
    }
    let Some(o) = KOFFSETS.get(0) else { return };
    if o.ready == 0 {
        return;
    }
    let task = unsafe { bpf_get_current_task() };
    let exe = kptr(kptr(task, o.task_mm), o.mm_exe_file);
    let (ino, dev) = inode_id(kptr(exe, o.file_inode), o);
    let tid = bpf_get_current_pid_tgid() as u32;
    let _ = PREV_EXE.insert(&tid, &[ino, dev as u64], 0);
}

/// A kernel pointer at `base + off` (0 when unreadable).
#[inline(always)]
fn kptr(base: u64, off: u32) -> u64 {
    if base == 0 {
        return 0;
    }
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const u64) }.unwrap_or(0)
}

/// (inode number, device) of an inode (0s when unreadable).
#[inline(always)]
fn inode_id(inode: u64, o: &KernelOffsets) -> (u64, u32) {
    if inode == 0 {
        return (0, 0);
    }
    let sb = kptr(inode, o.inode_sb);
    let dev = if sb == 0 {
        0
    } else {
        unsafe { bpf_probe_read_kernel((sb + o.sb_dev as u64) as *const u32) }.unwrap_or(0)
    };
    (kptr(inode, o.inode_ino), dev)
}

/// The path of a file (`dentry`, `vfsmnt`: a `struct file`'s `f_path`) walked up the kernel's
/// own dentries and mounts to `task`'s root, into `out` as NUL-separated components, leaf
/// first. Returns the bytes written and how the walk ended: 0 at the process's root,
/// [`FLAG_EXEC_FILE_TRUNCATED`] when it ran out of steps or room before a root (a name longer
/// than half of `out` is cut to fit, unmarked: telling it costs the verifier its pruning), [`FLAG_EXEC_FILE_DETACHED`] at a root that is not the process's (a memfd's
/// internal mount, a pipe, a file of another mount namespace).
#[inline(always)]
fn walk_path<const N: usize>(
    task: u64,
    mut dentry: u64,
    mut vfsmnt: u64,
    o: &KernelOffsets,
    out: &mut [u8; N],
) -> (u32, u16) {
    let half: usize = N / 2;
    let fs = kptr(task, o.task_fs);
    let root_dentry = kptr(fs, o.fs_root_dentry);
    let root_mnt = kptr(fs, o.fs_root_mnt);
    let mut mount = vfsmnt - o.mount_mnt as u64;
    let mut off: usize = 0;
    // Stays set when the loop runs out before reaching a root.
    let mut end = FLAG_EXEC_FILE_TRUNCATED;
    for _ in 0..MAX_PATH_WALK {
        if dentry == root_dentry && vfsmnt == root_mnt {
            end = 0;
            break;
        }
        let mnt_root = kptr(vfsmnt, o.vfsmount_root);
        let parent = kptr(dentry, o.dentry_parent);
        if dentry == mnt_root || parent == 0 {
            // The root of this mount: go on from where it is mounted.
            let up = kptr(mount, o.mount_parent);
            if up == 0 || up == mount {
                end = FLAG_EXEC_FILE_DETACHED;
                break;
            }
            dentry = kptr(mount, o.mount_mountpoint);
            mount = up;
            vfsmnt = up + o.mount_mnt as u64;
            continue;
        }
        if off >= half {
            break;
        }
        let name = kptr(dentry, o.dentry_name);
        let dst = unsafe { out.as_mut_ptr().add(off & (half - 1)) };
        let n = unsafe {
            bpf_probe_read_kernel_str(dst as *mut c_void, half as u32, name as *const c_void)
        };
        if n <= 0 {
            break;
        }
        // off < half and n <= half: the mask changes nothing but gives every path the same
        // range, so the verifier prunes instead of following each one.
        off = (off + n as usize) & (N - 1);
        if parent == dentry {
            // A root that is no mount's root: a pseudo file (memfd) or a dentry cut off from
            // its tree.
            end = FLAG_EXEC_FILE_DETACHED;
            break;
        }
        dentry = parent;
    }
    (off as u32, end)
}

/// The `struct file` behind the current process's `fd` (0 when there is none).
#[inline(always)]
fn fd_file(fd: i64, o: &KernelOffsets) -> u64 {
    if fd < 0 {
        return 0;
    }
    let task = unsafe { bpf_get_current_task() };
    let fdt = kptr(kptr(task, o.task_files), o.files_fdt);
    if fdt == 0 {
        return 0;
    }
    let max: u32 =
        unsafe { bpf_probe_read_kernel((fdt + o.fdt_max_fds as u64) as *const u32) }.unwrap_or(0);
    if fd as u64 >= max as u64 {
        return 0;
    }
    let table = kptr(fdt, o.fdt_fd);
    if table == 0 {
        return 0;
    }
    unsafe { bpf_probe_read_kernel((table + fd as u64 * 8) as *const u64) }.unwrap_or(0)
}

/// The kernel's path of `file` into `ev.path2` ([`FLAG_KERNEL_PATH`]): what the syscall acted
/// on, not what the caller's path said.
#[inline(always)]
fn kernel_path_of(file: u64, o: &KernelOffsets, ev: &mut FileEvent) {
    let dentry = kptr(file, o.file_dentry);
    let vfsmnt = kptr(file, o.file_mnt);
    if dentry == 0 || vfsmnt == 0 {
        return;
    }
    let task = unsafe { bpf_get_current_task() };
    let (len, end) = walk_path(task, dentry, vfsmnt, o, &mut ev.path2);
    ev.path2_len = len;
    ev.hdr.flags |= FLAG_KERNEL_PATH | end;
}

/// `sched_process_exec` as a raw tracepoint: its arguments are the tracepoint's
/// `(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`, so the executed file
/// (`bprm->file`) is at hand: its path is walked up from the kernel's own dentries and
/// mounts, whatever name or argv the caller used.
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn sched_process_exec_file(ctx: RawTracePointContext) -> i32 {
    match try_exec_file(&ctx) {
        Ok(()) | Err(()) => 0,
    }
}

fn try_exec_file(ctx: &RawTracePointContext) -> Result<(), ()> {
    if skip() {
        return Ok(());
    }
    let o = *KOFFSETS.get(0).ok_or(())?;
    if o.ready == 0 {
        return Ok(());
    }
    let task: u64 = ctx.arg(0);
    let old_pid: u64 = ctx.arg(1);
    let bprm: u64 = ctx.arg(2);
    let old_pid = old_pid as u32;
    let ev = unsafe { &mut *exec_record(old_pid).map_err(|_| ())? };
    let argv_flags = ev.hdr.flags;
    fill_hdr(&mut ev.hdr, KIND_EXEC);
    let mut flags = argv_flags;

    // The name the caller asked for, and a script's interpreter.
    let filename = kptr(bprm, o.bprm_filename);
    ev.filename[0] = 0;
    let mut name_len: u32 = 0;
    if filename != 0 {
        let n = unsafe {
            bpf_probe_read_kernel_str(
                ev.filename.as_mut_ptr() as *mut c_void,
                PATH_LEN as u32,
                filename as *const c_void,
            )
        };
        if n > 0 {
            name_len = n as u32;
        }
        if n >= PATH_LEN as i64 {
            flags |= FLAG_PATH_TRUNCATED;
        }
    }
    let interp = kptr(bprm, o.bprm_interp);
    ev.interp[0] = 0;
    if interp != 0 && interp != filename {
        unsafe {
            bpf_probe_read_kernel_str(
                ev.interp.as_mut_ptr() as *mut c_void,
                PATH_LEN as u32,
                interp as *const c_void,
            )
        };
    }

    // The file the process ran before (0s when its execve entry was not seen).
    match unsafe { PREV_EXE.get(&old_pid) } {
        Some(prev) => {
            ev.prev_ino = prev[0];
            ev.prev_dev = prev[1] as u32;
        }
        None => {
            ev.prev_ino = 0;
            ev.prev_dev = 0;
        }
    }
    let _ = PREV_EXE.remove(&old_pid);

    // The executed file: its link count and its path, leaf first, up to the process's root.
    let file = kptr(bprm, o.bprm_file);
    let dentry = kptr(file, o.file_dentry);
    let vfsmnt = kptr(file, o.file_mnt);
    ev.file_path_len = 0;
    ev.file_nlink = 0;
    ev.file_ino = 0;
    ev.file_dev = 0;
    if dentry != 0 && vfsmnt != 0 {
        let inode = kptr(dentry, o.dentry_inode);
        if inode != 0 {
            let (ino, dev) = inode_id(inode, &o);
            ev.file_ino = ino;
            ev.file_dev = dev;
            let nlink: u32 =
                unsafe { bpf_probe_read_kernel((inode + o.inode_nlink as u64) as *const u32) }
                    .unwrap_or(1);
            ev.file_nlink = nlink;
            if nlink == 0 {
                flags |= FLAG_FILELESS;
            }
        }
        let (len, end) = walk_path(task, dentry, vfsmnt, &o, &mut ev.file_path);
        ev.file_path_len = len;
        flags |= FLAG_EXEC_FILE | end;
    }
    ev.hdr.flags = flags;
    exec_sent(ev, old_pid, name_len);
    Ok(())
}

#[tracepoint]
pub fn sched_process_fork(ctx: TracePointContext) -> u32 {
    if skip() {
        return 0;
    }
    let off = cfg(CFG_FORK_CHILD_OFF) as usize;
    let child: u32 = unsafe { ctx.read_at::<u32>(off & 0xff) }.unwrap_or(0);
    let mut ev = ProcEvent::default();
    fill_hdr(&mut ev.hdr, KIND_FORK);
    ev.a = child;
    ev.b = ev.hdr.tgid;
    let parent = ev.hdr.tgid;
    if let Some(l) = unsafe { LINEAGE.get(&parent) } {
        let l = *l;
        let _ = LINEAGE.insert(&child, &l, 0);
    }
    emit::<ProcEvent>(&ev, KIND_FORK);
    0
}

#[tracepoint]
pub fn sched_process_exit(_ctx: TracePointContext) -> u32 {
    if skip() {
        return 0;
    }
    let mut ev = ProcEvent::default();
    fill_hdr(&mut ev.hdr, KIND_EXIT);
    ev.a = ev.hdr.tid;
    ev.b = (ev.hdr.tid == ev.hdr.tgid) as u32;
    if ev.b == 1 {
        let tgid = ev.hdr.tgid;
        let _ = EXEC_GEN.remove(&tgid);
        let _ = LINEAGE.remove(&tgid);
    } else {
        let tid = ev.hdr.tid;
        let _ = LINEAGE.remove(&tid);
    }
    emit::<ProcEvent>(&ev, KIND_EXIT);
    0
}

// ---------------------------------------------------------------- file syscalls

/// Where a path syscall keeps its arguments (indexes into the syscall args; NONE = absent).
struct FileArgs {
    kind: u16,
    dfd: i8,
    path: i8,
    dfd2: i8,
    path2: i8,
    flags: i8,
    mode: i8,
    uid: i8,
    gid: i8,
    /// Flags to use when the syscall has none (creat).
    fixed_flags: u32,
    /// openat2: flags and mode are in `struct open_how` at this argument.
    open_how: i8,
}

const FA: FileArgs = FileArgs {
    kind: 0,
    dfd: NONE,
    path: 0,
    dfd2: NONE,
    path2: NONE,
    flags: NONE,
    mode: NONE,
    uid: NONE,
    gid: NONE,
    fixed_flags: 0,
    open_how: NONE,
};

#[inline(always)]
fn file_enter(ctx: &TracePointContext, a: &FileArgs) -> Result<u32, u32> {
    if skip() {
        return Ok(0);
    }
    let ev = SCRATCH_FILE.get_ptr_mut(0).ok_or(1u32)?;
    let ev = unsafe { &mut *ev };
    fill_hdr(&mut ev.hdr, a.kind);
    ev.dfd = if a.dfd >= 0 {
        arg(ctx, a.dfd as usize) as i32
    } else {
        AT_FDCWD
    };
    ev.flags = if a.flags >= 0 {
        arg(ctx, a.flags as usize) as u32
    } else {
        a.fixed_flags
    };
    ev.mode = if a.mode >= 0 {
        arg(ctx, a.mode as usize) as u32
    } else {
        0
    };
    if a.open_how >= 0 {
        let how = arg(ctx, a.open_how as usize) as *const u64;
        ev.flags = unsafe { bpf_probe_read_user(how) }.unwrap_or(0) as u32;
        ev.mode = unsafe { bpf_probe_read_user(how.wrapping_add(1)) }.unwrap_or(0) as u32;
    }
    ev.uid = if a.uid >= 0 {
        arg(ctx, a.uid as usize) as u32
    } else {
        u32::MAX
    };
    ev.gid = if a.gid >= 0 {
        arg(ctx, a.gid as usize) as u32
    } else {
        u32::MAX
    };
    ev.ret = 0;
    ev.path2_len = 0;
    if a.path < 0 {
        // fchmod/fchown: the file is the fd in `dfd`; user space names it.
        ev.path[0] = 0;
        ev.path_len = 0;
    } else {
        ev.path_len = read_user_path(arg(ctx, a.path as usize), &mut ev.path);
        if ev.path_len >= PATH_LEN as u32 {
            ev.hdr.flags |= FLAG_PATH_TRUNCATED;
        }
    }
    if a.path2 >= 0 {
        ev.path2_len = read_user_path(arg(ctx, a.path2 as usize), &mut ev.path2);
        if ev.path2_len >= PATH_LEN as u32 {
            ev.hdr.flags |= FLAG_PATH2_TRUNCATED;
        }
        // The target's own dirfd (`dfd2`) is not sent: user space resolves a relative target
        // against the process's cwd.
        let _ = a.dfd2;
    } else {
        ev.path2[0] = 0;
    }
    let tid = ev.hdr.tid;
    let _ = PENDING_FILE.insert(&tid, &*ev, 0);
    Ok(0)
}

macro_rules! file_tp {
    ($name:ident, $args:expr) => {
        #[tracepoint]
        pub fn $name(ctx: TracePointContext) -> u32 {
            const A: FileArgs = $args;
            match file_enter(&ctx, &A) {
                Ok(r) | Err(r) => r,
            }
        }
    };
}

file_tp!(
    sys_enter_openat,
    FileArgs {
        kind: KIND_OPEN,
        dfd: 0,
        path: 1,
        flags: 2,
        mode: 3,
        ..FA
    }
);
file_tp!(
    sys_enter_open,
    FileArgs {
        kind: KIND_OPEN,
        path: 0,
        flags: 1,
        mode: 2,
        ..FA
    }
);
file_tp!(
    sys_enter_creat,
    FileArgs {
        kind: KIND_OPEN,
        path: 0,
        mode: 1,
        fixed_flags: O_CREAT | O_WRONLY | O_TRUNC,
        ..FA
    }
);
file_tp!(
    sys_enter_openat2,
    FileArgs {
        kind: KIND_OPEN,
        dfd: 0,
        path: 1,
        open_how: 2,
        ..FA
    }
);
file_tp!(
    sys_enter_unlink,
    FileArgs {
        kind: KIND_UNLINK,
        path: 0,
        ..FA
    }
);
file_tp!(
    sys_enter_unlinkat,
    FileArgs {
        kind: KIND_UNLINK,
        dfd: 0,
        path: 1,
        flags: 2,
        ..FA
    }
);
file_tp!(
    sys_enter_rename,
    FileArgs {
        kind: KIND_RENAME,
        path: 0,
        path2: 1,
        ..FA
    }
);
file_tp!(
    sys_enter_renameat,
    FileArgs {
        kind: KIND_RENAME,
        dfd: 0,
        path: 1,
        dfd2: 2,
        path2: 3,
        ..FA
    }
);
file_tp!(
    sys_enter_renameat2,
    FileArgs {
        kind: KIND_RENAME,
        dfd: 0,
        path: 1,
        dfd2: 2,
        path2: 3,
        flags: 4,
        ..FA
    }
);
file_tp!(
    sys_enter_chmod,
    FileArgs {
        kind: KIND_CHMOD,
        path: 0,
        mode: 1,
        ..FA
    }
);
file_tp!(
    sys_enter_fchmodat,
    FileArgs {
        kind: KIND_CHMOD,
        dfd: 0,
        path: 1,
        mode: 2,
        ..FA
    }
);
file_tp!(
    sys_enter_fchmodat2,
    FileArgs {
        kind: KIND_CHMOD,
        dfd: 0,
        path: 1,
        mode: 2,
        flags: 3,
        ..FA
    }
);
file_tp!(
    sys_enter_chown,
    FileArgs {
        kind: KIND_CHOWN,
        path: 0,
        uid: 1,
        gid: 2,
        ..FA
    }
);
file_tp!(
    sys_enter_lchown,
    FileArgs {
        kind: KIND_CHOWN,
        path: 0,
        uid: 1,
        gid: 2,
        ..FA
    }
);
file_tp!(
    sys_enter_fchmod,
    FileArgs {
        kind: KIND_CHMOD,
        dfd: 0,
        path: NONE,
        mode: 1,
        ..FA
    }
);
file_tp!(
    sys_enter_fchown,
    FileArgs {
        kind: KIND_CHOWN,
        dfd: 0,
        path: NONE,
        uid: 1,
        gid: 2,
        ..FA
    }
);
file_tp!(
    sys_enter_fchownat,
    FileArgs {
        kind: KIND_CHOWN,
        dfd: 0,
        path: 1,
        uid: 2,
        gid: 3,
        flags: 4,
        ..FA
    }
);
file_tp!(
    sys_enter_mkdir,
    FileArgs {
        kind: KIND_MKDIR,
        path: 0,
        mode: 1,
        ..FA
    }
);
file_tp!(
    sys_enter_mkdirat,
    FileArgs {
        kind: KIND_MKDIR,
        dfd: 0,
        path: 1,
        mode: 2,
        ..FA
    }
);

const EPERM: i64 = 1;
const ENOENT: i64 = 2;
const EACCES: i64 = 13;
const EROFS: i64 = 30;

/// Whether a failed open is evidence: a permission error anywhere (the kernel refused what
/// was asked), a missing file only under the directories credentials and configuration live
/// in (a search for them; elsewhere a missing file is a library or PATH lookup, too common
/// to send).
#[inline(always)]
fn failed_open_worth_sending(ret: i64, p: &[u8; PATH_LEN]) -> bool {
    match -ret {
        EPERM | EACCES | EROFS => true,
        ENOENT => {
            (p[0] == b'/' && p[1] == b'e' && p[2] == b't' && p[3] == b'c' && p[4] == b'/')
                || (p[0] == b'/' && p[1] == b'r' && p[2] == b'o' && p[3] == b'o' && p[4] == b't')
                || (p[0] == b'/' && p[1] == b'p' && p[2] == b'r' && p[3] == b'o' && p[4] == b'c')
                || (p[0] == b'/' && p[1] == b'r' && p[2] == b'u' && p[3] == b'n' && p[4] == b'/')
                || (p[0] == b'/'
                    && p[1] == b'v'
                    && p[2] == b'a'
                    && p[3] == b'r'
                    && p[4] == b'/'
                    && p[5] == b'r'
                    && p[6] == b'u'
                    && p[7] == b'n')
        }
        _ => false,
    }
}

/// Attached to the `sys_exit_*` tracepoint of every file syscall above.
#[tracepoint]
pub fn sys_exit_file(ctx: TracePointContext) -> u32 {
    match try_file_exit(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

fn try_file_exit(ctx: &TracePointContext) -> Result<u32, u32> {
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(ev) = PENDING_FILE.get_ptr_mut(&tid) else {
        if cfg(CFG_READY) != 0 && !skip() {
            count(COUNTER_NO_ENTRY);
        }
        return Ok(0);
    };
    let ev = unsafe { &mut *ev };
    let ret: i64 = unsafe { ctx.read_at::<i64>(16) }.unwrap_or(-1);
    if ret >= 0 || (ev.hdr.kind == KIND_OPEN && failed_open_worth_sending(ret, &ev.path)) {
        ev.ret = ret as i32;
        let mut h = hash_path(FNV_OFFSET, &ev.path, ev.path_len);
        if ret < 0 {
            // A failed attempt and a later success are two different events.
            h ^= 0x5bd1_e995_0000_0000 | (-ret) as u64;
        }
        // The file the kernel acted on: an open's new fd, the fd of fchmod/fchown (or
        // fchownat(fd, "", AT_EMPTY_PATH)). Its inode is part of the de-dup key, so the same
        // requested path naming another file (a symlink re-pointed, a buffer a racing thread
        // rewrote between this program's read and the kernel's) is sent again.
        let kind = ev.hdr.kind;
        let fd = if ret >= 0 && kind == KIND_OPEN {
            ret
        } else if ret >= 0 && (kind == KIND_CHMOD || kind == KIND_CHOWN) && ev.path_len <= 1 {
            ev.dfd as i64
        } else {
            -1
        };
        let o = KOFFSETS.get(0);
        let mut file: u64 = 0;
        if let Some(o) = o {
            if o.ready != 0 && fd >= 0 {
                file = fd_file(fd, o);
                let (ino, dev) = inode_id(kptr(file, o.file_inode), o);
                h = mix(mix(h, ino), dev as u64);
            }
        }
        if ev.hdr.kind == KIND_RENAME {
            h = hash_path(h ^ 0xff, &ev.path2, ev.path2_len);
        }
        let tgid = ev.hdr.tgid;
        let epoch = cfg(CFG_DEDUP_EPOCH) as u32;
        // An absolute path from a process of known lineage: one send per (lineage, uid,
        // cgroup, access, path) and window, whichever process of the lineage made it.
        // Otherwise (a relative path, which depends on the cwd, or a process capture saw no
        // exec of) per process image, as before.
        let lineage = if ev.path[0] == b'/' {
            unsafe { LINEAGE.get(&tgid) }.copied()
        } else {
            None
        };
        let key = match lineage {
            Some(l) => DedupKey {
                tgid: 0,
                epoch,
                exec_gen: ev.hdr.uid,
                kind: ev.hdr.kind,
                by_lineage: 1,
                flags: ev.flags,
                _pad2: 0,
                path_hash: mix(mix(h, l), ev.hdr.cgroup_id),
            },
            None => DedupKey {
                tgid,
                epoch,
                exec_gen: unsafe { EXEC_GEN.get(&tgid) }.copied().unwrap_or(0),
                kind: ev.hdr.kind,
                by_lineage: 0,
                flags: ev.flags,
                _pad2: ev.dfd as u32,
                path_hash: h,
            },
        };
        if unsafe { DEDUP.get(&key) }.is_some() {
            count(COUNTER_DEDUP);
        } else {
            let _ = DEDUP.insert(&key, &1u8, 0);
            // Walked only for what is sent (a few microseconds).
            if let Some(o) = o {
                if file != 0 {
                    kernel_path_of(file, o, ev);
                }
            }
            emit::<FileEvent>(ev, ev.hdr.kind);
        }
    }
    let _ = PENDING_FILE.remove(&tid);
    Ok(0)
}

// ---------------------------------------------------------------- network

/// Remember the fd of a connect() so the cgroup connect program can tag DNS sockets.
#[tracepoint]
pub fn sys_enter_connect(ctx: TracePointContext) -> u32 {
    if skip() {
        return 0;
    }
    let tid = bpf_get_current_pid_tgid() as u32;
    let fd = arg(&ctx, 0) as u32;
    let _ = CONNECT_FD.insert(&tid, &fd, 0);
    0
}

#[inline(always)]
fn sock_addr(ctx: &SockAddrContext, kind: u16, v6: bool) -> Result<i32, i32> {
    if skip() {
        return Ok(1);
    }
    let sa: *const bpf_sock_addr = ctx.sock_addr;
    let mut ev = NetEvent::default();
    fill_hdr(&mut ev.hdr, kind);
    unsafe {
        ev.family = (*sa).user_family as u16;
        ev.port = u16::from_be((*sa).user_port as u16);
        ev.sock_type = (*sa).type_ as u16;
        ev.protocol = (*sa).protocol as u16;
        // The verifier refuses user_ip6 in v4 programs (and user_ip4 in v6 ones): branch on
        // the program, not on the runtime family.
        if !v6 {
            let ip = (*sa).user_ip4;
            ev.addr[..4].copy_from_slice(&ip.to_ne_bytes());
        } else {
            let a = (*sa).user_ip6[0];
            let b = (*sa).user_ip6[1];
            let c = (*sa).user_ip6[2];
            let d = (*sa).user_ip6[3];
            ev.addr[..4].copy_from_slice(&a.to_ne_bytes());
            ev.addr[4..8].copy_from_slice(&b.to_ne_bytes());
            ev.addr[8..12].copy_from_slice(&c.to_ne_bytes());
            ev.addr[12..].copy_from_slice(&d.to_ne_bytes());
        }
    }
    // A socket connected to port 53, UDP (1) or TCP (2): its writes are parsed as DNS.
    if kind == KIND_CONNECT && ev.port == 53 && (ev.sock_type == 2 || ev.sock_type == 1) {
        let tid = ev.hdr.tid;
        if let Some(fd) = unsafe { CONNECT_FD.get(&tid) } {
            let key = ((ev.hdr.tgid as u64) << 32) | (*fd as u64);
            let proto: u8 = if ev.sock_type == 1 { 2 } else { 1 };
            let _ = DNS_SOCKS.insert(&key, &proto, 0);
        }
    }
    emit::<NetEvent>(&ev, kind);
    Ok(1)
}

#[cgroup_sock_addr(connect4)]
pub fn connect4(ctx: SockAddrContext) -> i32 {
    match sock_addr(&ctx, KIND_CONNECT, false) {
        Ok(r) | Err(r) => r,
    }
}

#[cgroup_sock_addr(connect6)]
pub fn connect6(ctx: SockAddrContext) -> i32 {
    match sock_addr(&ctx, KIND_CONNECT, true) {
        Ok(r) | Err(r) => r,
    }
}

#[cgroup_sock_addr(bind4)]
pub fn bind4(ctx: SockAddrContext) -> i32 {
    match sock_addr(&ctx, KIND_BIND, false) {
        Ok(r) | Err(r) => r,
    }
}

#[cgroup_sock_addr(bind6)]
pub fn bind6(ctx: SockAddrContext) -> i32 {
    match sock_addr(&ctx, KIND_BIND, true) {
        Ok(r) | Err(r) => r,
    }
}

/// Send a DNS query: `addr` is the user sockaddr (0 for connected sockets, then the fd must
/// be a socket connected to port 53), `buf`/`len` the payload.
#[inline(always)]
fn dns_send(fd: u64, addr: u64, buf: u64, len: u64) -> Result<u32, u32> {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u64;
    let mut tcp = false;
    let port: u16 = if addr != 0 {
        let family: u16 = unsafe { bpf_probe_read_user(addr as *const u16) }.unwrap_or(0);
        if family != 2 && family != 10 {
            return Ok(0);
        }
        let p: u16 = unsafe { bpf_probe_read_user((addr + 2) as *const u16) }.unwrap_or(0);
        u16::from_be(p)
    } else {
        let key = (tgid << 32) | (fd & 0xffff_ffff);
        match unsafe { DNS_SOCKS.get(&key) } {
            None => return Ok(0),
            Some(p) => tcp = *p == 2,
        }
        53
    };
    if port != 53 || buf == 0 || len < 17 {
        return Ok(0);
    }
    let ev = SCRATCH_DNS.get_ptr_mut(0).ok_or(1u32)?;
    let ev = unsafe { &mut *ev };
    fill_hdr(&mut ev.hdr, KIND_DNS);
    ev.port = port;
    let n = if len > DNS_LEN as u64 {
        DNS_LEN as u64
    } else {
        len
    };
    let n = (n as u32) & 0x1ff;
    if n as usize > DNS_LEN {
        return Ok(0);
    }
    let r = unsafe { raw_read_user(ev.data.as_mut_ptr() as *mut c_void, n, buf as *const c_void) };
    if r < 0 {
        return Ok(0);
    }
    ev.len = n;
    if tcp {
        ev.hdr.flags |= FLAG_DNS_TCP;
    }
    emit::<DnsEvent>(ev, KIND_DNS);
    Ok(0)
}

#[tracepoint]
pub fn sys_enter_sendto(ctx: TracePointContext) -> u32 {
    if skip() {
        return 0;
    }
    match dns_send(arg(&ctx, 0), arg(&ctx, 4), arg(&ctx, 1), arg(&ctx, 2)) {
        Ok(r) | Err(r) => r,
    }
}

#[tracepoint]
pub fn sys_enter_write(ctx: TracePointContext) -> u32 {
    if skip() {
        return 0;
    }
    match dns_send(arg(&ctx, 0), 0, arg(&ctx, 1), arg(&ctx, 2)) {
        Ok(r) | Err(r) => r,
    }
}

/// `struct user_msghdr` at `msg`: name (0), namelen (8), iov (16), iovlen (24).
#[inline(always)]
fn dns_msghdr(fd: u64, msg: u64) -> Result<u32, u32> {
    if msg == 0 {
        return Ok(0);
    }
    let name: u64 = unsafe { bpf_probe_read_user(msg as *const u64) }.unwrap_or(0);
    let iov: u64 = unsafe { bpf_probe_read_user((msg + 16) as *const u64) }.unwrap_or(0);
    if iov == 0 {
        return Ok(0);
    }
    let mut base: u64 = unsafe { bpf_probe_read_user(iov as *const u64) }.unwrap_or(0);
    let mut len: u64 = unsafe { bpf_probe_read_user((iov + 8) as *const u64) }.unwrap_or(0);
    let iovlen: u64 = unsafe { bpf_probe_read_user((msg + 24) as *const u64) }.unwrap_or(0);
    if len == 2 && iovlen > 1 {
        // DNS over TCP with the length prefix in its own iovec: the message is the next one.
        base = unsafe { bpf_probe_read_user((iov + 16) as *const u64) }.unwrap_or(0);
        len = unsafe { bpf_probe_read_user((iov + 24) as *const u64) }.unwrap_or(0);
    }
    dns_send(fd, name, base, len)
}

#[tracepoint]
pub fn sys_enter_sendmsg(ctx: TracePointContext) -> u32 {
    if skip() {
        return 0;
    }
    match dns_msghdr(arg(&ctx, 0), arg(&ctx, 1)) {
        Ok(r) | Err(r) => r,
    }
}

/// sendmmsg: the first two messages (glibc sends the A and AAAA questions together).
#[tracepoint]
pub fn sys_enter_sendmmsg(ctx: TracePointContext) -> u32 {
    if skip() {
        return 0;
    }
    let fd = arg(&ctx, 0);
    let vec = arg(&ctx, 1);
    let vlen = arg(&ctx, 2);
    let _ = dns_msghdr(fd, vec);
    if vlen > 1 {
        // sizeof(struct mmsghdr) = 64 on 64-bit.
        let _ = dns_msghdr(fd, vec + 64);
    }
    0
}

// ---------------------------------------------------------------- kernel activity

#[inline(always)]
fn kernel_ev(
    ctx: &TracePointContext,
    kind: u16,
    aux: u32,
    ints: [i8; 3],
    s1: i8,
    s2: i8,
    s3: i8,
) -> Result<u32, u32> {
    if skip() {
        return Ok(0);
    }
    let ev = SCRATCH_KERNEL.get_ptr_mut(0).ok_or(1u32)?;
    let ev = unsafe { &mut *ev };
    fill_hdr(&mut ev.hdr, kind);
    ev.hdr.aux = aux;
    ev.a0 = if ints[0] >= 0 {
        arg(ctx, ints[0] as usize)
    } else {
        0
    };
    ev.a1 = if ints[1] >= 0 {
        arg(ctx, ints[1] as usize)
    } else {
        0
    };
    ev.a2 = if ints[2] >= 0 {
        arg(ctx, ints[2] as usize)
    } else {
        0
    };
    if s1 >= 0 {
        read_user_str(arg(ctx, s1 as usize), &mut ev.s1);
    } else {
        ev.s1[0] = 0;
    }
    if s2 >= 0 {
        read_user_str(arg(ctx, s2 as usize), &mut ev.s2);
    } else {
        ev.s2[0] = 0;
    }
    if s3 >= 0 {
        read_user_str(arg(ctx, s3 as usize), &mut ev.s3);
    } else {
        ev.s3[0] = 0;
    }
    if kind == KIND_CAPSET {
        // struct __user_cap_data_struct { effective, permitted, inheritable }
        let data = arg(ctx, 1);
        ev.a0 = unsafe { bpf_probe_read_user(data as *const u32) }.unwrap_or(0) as u64;
        ev.a1 = unsafe { bpf_probe_read_user((data + 4) as *const u32) }.unwrap_or(0) as u64;
    }
    emit::<KernelEvent>(ev, kind);
    Ok(0)
}

macro_rules! kernel_tp {
    ($name:ident, $kind:expr, $aux:expr, $ints:expr, $s1:expr, $s2:expr, $s3:expr) => {
        #[tracepoint]
        pub fn $name(ctx: TracePointContext) -> u32 {
            match kernel_ev(&ctx, $kind, $aux, $ints, $s1, $s2, $s3) {
                Ok(r) | Err(r) => r,
            }
        }
    };
}

kernel_tp!(
    sys_enter_ptrace,
    KIND_PTRACE,
    0,
    [0, 1, NONE],
    NONE,
    NONE,
    NONE
);
kernel_tp!(
    sys_enter_init_module,
    KIND_MODULE_LOAD,
    0,
    [1, NONE, NONE],
    2,
    NONE,
    NONE
);
kernel_tp!(
    sys_enter_finit_module,
    KIND_MODULE_LOAD,
    1,
    [0, 2, NONE],
    1,
    NONE,
    NONE
);
kernel_tp!(sys_enter_bpf, KIND_BPF, 0, [0, 2, NONE], NONE, NONE, NONE);
kernel_tp!(sys_enter_mount, KIND_MOUNT, 0, [3, NONE, NONE], 1, 0, 2);
// The new mount API: fsopen(fs_name, flags) names the filesystem type; move_mount(from_dfd,
// from_path, to_dfd, to_path, flags) attaches it.
kernel_tp!(
    sys_enter_fsopen,
    KIND_MOUNT,
    VARIANT_FSOPEN,
    [1, NONE, NONE],
    NONE,
    NONE,
    0
);
kernel_tp!(
    sys_enter_move_mount,
    KIND_MOUNT,
    VARIANT_MOVE_MOUNT,
    [4, NONE, NONE],
    3,
    1,
    NONE
);
// io_uring: file opens and connects submitted through a ring bypass the syscall
// tracepoints, so setting one up is kernel activity worth a node and a rule.
kernel_tp!(
    sys_enter_io_uring_setup,
    KIND_IO_URING,
    0,
    [0, NONE, NONE],
    NONE,
    NONE,
    NONE
);
kernel_tp!(
    sys_enter_setuid,
    KIND_SETUID,
    VARIANT_SET,
    [0, NONE, NONE],
    NONE,
    NONE,
    NONE
);
kernel_tp!(
    sys_enter_setreuid,
    KIND_SETUID,
    VARIANT_SETRE,
    [0, 1, NONE],
    NONE,
    NONE,
    NONE
);
kernel_tp!(
    sys_enter_setresuid,
    KIND_SETUID,
    VARIANT_SETRES,
    [0, 1, 2],
    NONE,
    NONE,
    NONE
);
kernel_tp!(
    sys_enter_setgid,
    KIND_SETGID,
    VARIANT_SET,
    [0, NONE, NONE],
    NONE,
    NONE,
    NONE
);
kernel_tp!(
    sys_enter_setregid,
    KIND_SETGID,
    VARIANT_SETRE,
    [0, 1, NONE],
    NONE,
    NONE,
    NONE
);
kernel_tp!(
    sys_enter_setresgid,
    KIND_SETGID,
    VARIANT_SETRES,
    [0, 1, 2],
    NONE,
    NONE,
    NONE
);
kernel_tp!(
    sys_enter_capset,
    KIND_CAPSET,
    0,
    [NONE, NONE, NONE],
    NONE,
    NONE,
    NONE
);
kernel_tp!(
    sys_enter_memfd_create,
    KIND_MEMFD_CREATE,
    0,
    [1, NONE, NONE],
    0,
    NONE,
    NONE
);

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
