//! Preflight checks, loading and attaching the eBPF programs, with one-line errors.

use crate::CaptureError;
use aya::maps::Array;
use aya::programs::{CgroupAttachMode, CgroupSockAddr, ProgramError, RawTracePoint, TracePoint};
use aya::Ebpf;
use capture_common::KernelOffsets;
use std::path::Path;

/// The compiled eBPF object (built by build.rs).
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/capture-ebpf"));

/// (program, tracepoint category, tracepoint name, required)
const TRACEPOINTS: &[(&str, &str, &str, bool)] = &[
    ("sched_process_fork", "sched", "sched_process_fork", true),
    ("sched_process_exit", "sched", "sched_process_exit", true),
    ("sys_enter_execve", "syscalls", "sys_enter_execve", true),
    (
        "sys_enter_execveat",
        "syscalls",
        "sys_enter_execveat",
        false,
    ),
    ("sys_enter_openat", "syscalls", "sys_enter_openat", true),
    ("sys_enter_open", "syscalls", "sys_enter_open", false),
    ("sys_enter_creat", "syscalls", "sys_enter_creat", false),
    ("sys_enter_openat2", "syscalls", "sys_enter_openat2", false),
    ("sys_enter_unlink", "syscalls", "sys_enter_unlink", false),
    (
        "sys_enter_unlinkat",
        "syscalls",
        "sys_enter_unlinkat",
        false,
    ),
    ("sys_enter_rename", "syscalls", "sys_enter_rename", false),
    (
        "sys_enter_renameat",
        "syscalls",
        "sys_enter_renameat",
        false,
    ),
    (
        "sys_enter_renameat2",
        "syscalls",
        "sys_enter_renameat2",
        false,
    ),
    ("sys_enter_chmod", "syscalls", "sys_enter_chmod", false),
    (
        "sys_enter_fchmodat",
        "syscalls",
        "sys_enter_fchmodat",
        false,
    ),
    (
        "sys_enter_fchmodat2",
        "syscalls",
        "sys_enter_fchmodat2",
        false,
    ),
    ("sys_enter_fchmod", "syscalls", "sys_enter_fchmod", false),
    ("sys_enter_chown", "syscalls", "sys_enter_chown", false),
    ("sys_enter_fchown", "syscalls", "sys_enter_fchown", false),
    ("sys_enter_lchown", "syscalls", "sys_enter_lchown", false),
    (
        "sys_enter_fchownat",
        "syscalls",
        "sys_enter_fchownat",
        false,
    ),
    ("sys_enter_mkdir", "syscalls", "sys_enter_mkdir", false),
    ("sys_enter_mkdirat", "syscalls", "sys_enter_mkdirat", false),
    ("sys_enter_connect", "syscalls", "sys_enter_connect", false),
    ("sys_enter_sendto", "syscalls", "sys_enter_sendto", false),
    ("sys_enter_sendmsg", "syscalls", "sys_enter_sendmsg", false),
    (
        "sys_enter_sendmmsg",
        "syscalls",
        "sys_enter_sendmmsg",
        false,
    ),
    ("sys_enter_write", "syscalls", "sys_enter_write", false),
    ("sys_enter_ptrace", "syscalls", "sys_enter_ptrace", false),
    (
        "sys_enter_init_module",
        "syscalls",
        "sys_enter_init_module",
        false,
    ),
    (
        "sys_enter_finit_module",
        "syscalls",
        "sys_enter_finit_module",
        false,
    ),
    ("sys_enter_bpf", "syscalls", "sys_enter_bpf", false),
    ("sys_enter_mount", "syscalls", "sys_enter_mount", false),
    ("sys_enter_fsopen", "syscalls", "sys_enter_fsopen", false),
    (
        "sys_enter_move_mount",
        "syscalls",
        "sys_enter_move_mount",
        false,
    ),
    (
        "sys_enter_io_uring_setup",
        "syscalls",
        "sys_enter_io_uring_setup",
        false,
    ),
    ("sys_enter_setuid", "syscalls", "sys_enter_setuid", false),
    (
        "sys_enter_setreuid",
        "syscalls",
        "sys_enter_setreuid",
        false,
    ),
    (
        "sys_enter_setresuid",
        "syscalls",
        "sys_enter_setresuid",
        false,
    ),
    ("sys_enter_setgid", "syscalls", "sys_enter_setgid", false),
    (
        "sys_enter_setregid",
        "syscalls",
        "sys_enter_setregid",
        false,
    ),
    (
        "sys_enter_setresgid",
        "syscalls",
        "sys_enter_setresgid",
        false,
    ),
    ("sys_enter_capset", "syscalls", "sys_enter_capset", false),
    (
        "sys_enter_memfd_create",
        "syscalls",
        "sys_enter_memfd_create",
        false,
    ),
];

/// sys_exit tracepoints the shared `sys_exit_file` program attaches to.
const FILE_EXITS: &[&str] = &[
    "openat",
    "open",
    "creat",
    "openat2",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "chmod",
    "fchmodat",
    "fchmodat2",
    "fchmod",
    "chown",
    "lchown",
    "fchown",
    "fchownat",
    "mkdir",
    "mkdirat",
];

const SOCK_ADDR: &[&str] = &["connect4", "connect6", "bind4", "bind6"];

pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Check what loading needs; mount tracefs when it is missing and `mount_tracefs` is set.
pub fn preflight(mount_tracefs: bool) -> Result<(), CaptureError> {
    if unsafe { libc::geteuid() } != 0 {
        return Err(CaptureError::NotRoot);
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(CaptureError::NoBtf);
    }
    let events = Path::new(TRACEFS).join("events");
    if !events.is_dir() && !Path::new("/sys/kernel/debug/tracing/events").is_dir() {
        if !mount_tracefs {
            return Err(CaptureError::NoTracefs(
                "not mounted and --no-mount asked for".into(),
            ));
        }
        let st = std::process::Command::new("mount")
            .args(["-t", "tracefs", "nodev", TRACEFS])
            .status();
        if !events.is_dir() {
            return Err(CaptureError::NoTracefs(format!(
                "mounting it failed ({})",
                match st {
                    Ok(s) => s.to_string(),
                    Err(e) => e.to_string(),
                }
            )));
        }
        tracing::info!("mounted tracefs at {TRACEFS}");
    }
    Ok(())
}

/// Offset of `field` in a tracepoint's format file.
pub fn tracepoint_field_offset(category: &str, name: &str, field: &str) -> Option<u64> {
    let mut text = std::fs::read_to_string(format!("{TRACEFS}/events/{category}/{name}/format"));
    if text.is_err() {
        text = std::fs::read_to_string(format!(
            "/sys/kernel/debug/tracing/events/{category}/{name}/format"
        ));
    }
    parse_field_offset(&text.ok()?, field)
}

pub fn parse_field_offset(format: &str, field: &str) -> Option<u64> {
    format.lines().find_map(|l| {
        let l = l.trim();
        let decl = l.strip_prefix("field:")?.split(';').next()?;
        let fname = decl.split_whitespace().last()?;
        if fname.trim_start_matches('*') != field {
            return None;
        }
        let off = l.split("offset:").nth(1)?.split(';').next()?;
        off.trim().parse().ok()
    })
}

/// The verifier's reason: the last lines of the log before its statistics footer.
fn verifier_reason(log: &str) -> String {
    let stat = |l: &str| {
        l.starts_with("verification time")
            || l.starts_with("stack depth")
            || l.starts_with("processed ")
    };
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !stat(l))
        .collect();
    let start = lines.len().saturating_sub(2);
    lines[start..].join(" | ")
}

fn rejected(program: &str, e: ProgramError) -> CaptureError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => CaptureError::ProgramRejected {
            program: program.to_string(),
            reason: format!("{io_error}: {}", verifier_reason(&verifier_log.to_string())),
        },
        other => CaptureError::ProgramRejected {
            program: program.to_string(),
            reason: other.to_string(),
        },
    }
}

pub type FileExitLinkId = aya::programs::trace_point::TracePointLinkId;

/// Which programs got attached (for stats and logs).
#[derive(Debug, Default)]
pub struct Attached {
    pub attached: Vec<String>,
    pub skipped: Vec<String>,
    /// The links of the one `sys_exit_file` program (one per file syscall), so stopping
    /// can detach them in parallel rather than one grace period after the other.
    pub file_exit_links: Vec<FileExitLinkId>,
}

/// The exec program: `raw_tp/sched_process_exec` (the executed file's own path, from
/// `bprm->file`, with the BTF offsets in `KOFFSETS`); when this kernel refuses raw
/// tracepoints, the classic `sched/sched_process_exec` tracepoint (the caller's file name
/// only), logged and listed as skipped.
fn attach_exec(
    bpf: &mut Ebpf,
    att: &mut Attached,
    offsets: KernelOffsets,
) -> Result<(), CaptureError> {
    let mut koff: Array<_, KernelOffsets> = Array::try_from(
        bpf.map_mut("KOFFSETS")
            .ok_or_else(|| CaptureError::Map("KOFFSETS".into()))?,
    )
    .map_err(|_| CaptureError::Map("KOFFSETS".into()))?;
    koff.set(0, offsets, 0)
        .map_err(|e| CaptureError::Map(format!("KOFFSETS[0]: {e}")))?;
    let raw = "sched_process_exec_file";
    let tried: Result<(), CaptureError> = (|| {
        let p: &mut RawTracePoint = bpf
            .program_mut(raw)
            .ok_or_else(|| CaptureError::Load(format!("program `{raw}` missing from the object")))?
            .try_into()
            .map_err(|e: ProgramError| rejected(raw, e))?;
        p.load().map_err(|e| rejected(raw, e))?;
        p.attach("sched_process_exec")
            .map_err(|e| rejected(raw, e))?;
        Ok(())
    })();
    match tried {
        Ok(()) => {
            att.attached.push("raw_tp/sched_process_exec".into());
            return Ok(());
        }
        Err(e) => {
            tracing::warn!("exec identity off (exec paths are the callers' names): {e}");
            att.skipped.push("raw_tp/sched_process_exec".into());
        }
    }
    let prog = "sched_process_exec";
    if !Path::new(TRACEFS)
        .join("events/sched/sched_process_exec")
        .is_dir()
    {
        return Err(CaptureError::MissingTracepoint(
            "sched/sched_process_exec".into(),
        ));
    }
    let p: &mut TracePoint = bpf
        .program_mut(prog)
        .ok_or_else(|| CaptureError::Load(format!("program `{prog}` missing from the object")))?
        .try_into()
        .map_err(|e: ProgramError| rejected(prog, e))?;
    p.load().map_err(|e| rejected(prog, e))?;
    p.attach("sched", "sched_process_exec")
        .map_err(|e| rejected(prog, e))?;
    att.attached.push("sched/sched_process_exec".into());
    Ok(())
}

/// Load the object and attach everything; optional tracepoints missing on this kernel are
/// skipped (logged), required ones and verifier rejections are errors.
pub fn load_and_attach(cgroup_root: &Path) -> Result<(Ebpf, Attached), CaptureError> {
    // Before anything is loaded: a kernel whose BTF lacks a member the exec walk reads is
    // refused with the struct and member named.
    let offsets =
        crate::btf::running_kernel_offsets().map_err(|e| CaptureError::Btf(e.to_string()))?;
    let mut bpf = Ebpf::load(EBPF_OBJECT).map_err(|e| CaptureError::Load(e.to_string()))?;
    let mut att = Attached::default();
    attach_exec(&mut bpf, &mut att, offsets)?;
    let exists = |cat: &str, name: &str| {
        Path::new(TRACEFS)
            .join("events")
            .join(cat)
            .join(name)
            .is_dir()
    };
    for (prog, cat, name, required) in TRACEPOINTS {
        if !exists(cat, name) {
            if *required {
                return Err(CaptureError::MissingTracepoint(format!("{cat}/{name}")));
            }
            tracing::debug!("tracepoint {cat}/{name} not on this kernel; {prog} skipped");
            att.skipped.push(format!("{cat}/{name}"));
            continue;
        }
        let p: &mut TracePoint = bpf
            .program_mut(prog)
            .ok_or_else(|| CaptureError::Load(format!("program `{prog}` missing from the object")))?
            .try_into()
            .map_err(|e: ProgramError| rejected(prog, e))?;
        p.load().map_err(|e| rejected(prog, e))?;
        p.attach(cat, name).map_err(|e| rejected(prog, e))?;
        att.attached.push(format!("{cat}/{name}"));
    }
    {
        let prog = "sys_exit_file";
        let p: &mut TracePoint = bpf
            .program_mut(prog)
            .ok_or_else(|| CaptureError::Load(format!("program `{prog}` missing from the object")))?
            .try_into()
            .map_err(|e: ProgramError| rejected(prog, e))?;
        p.load().map_err(|e| rejected(prog, e))?;
        for s in FILE_EXITS {
            let name = format!("sys_exit_{s}");
            if !exists("syscalls", &name) {
                att.skipped.push(format!("syscalls/{name}"));
                continue;
            }
            let link = p.attach("syscalls", &name).map_err(|e| rejected(prog, e))?;
            att.file_exit_links.push(link);
            att.attached.push(format!("syscalls/{name}"));
        }
    }
    let cg = std::fs::File::open(cgroup_root).map_err(|e| {
        CaptureError::Load(format!(
            "cannot open cgroup2 root {}: {e}",
            cgroup_root.display()
        ))
    })?;
    for prog in SOCK_ADDR {
        let p: &mut CgroupSockAddr = bpf
            .program_mut(prog)
            .ok_or_else(|| CaptureError::Load(format!("program `{prog}` missing from the object")))?
            .try_into()
            .map_err(|e: ProgramError| rejected(prog, e))?;
        p.load().map_err(|e| rejected(prog, e))?;
        // On kernels >= 5.7 aya attaches with a bpf_link, which always coexists with other
        // programs and refuses BPF_F_ALLOW_MULTI (EINVAL): pass no flags.
        match p.attach(&cg, CgroupAttachMode::Single) {
            Ok(_) => att.attached.push(format!("cgroup/{prog}")),
            Err(e) => {
                // Network capture is optional: a kernel without cgroup sock_addr hooks still
                // captures processes and files.
                tracing::warn!(
                    "cgroup/{prog} not attached: {e}: {:?}",
                    std::error::Error::source(&e)
                );
                att.skipped.push(format!("cgroup/{prog}"));
            }
        }
    }
    Ok((bpf, att))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_field_offsets_from_format_files() {
        let fmt = "name: sched_process_fork\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;\n\tfield:pid_t child_pid;\toffset:20;\tsize:4;\tsigned:1;\n";
        assert_eq!(parse_field_offset(fmt, "child_pid"), Some(20));
        assert_eq!(parse_field_offset(fmt, "parent_pid"), Some(12));
        assert_eq!(parse_field_offset(fmt, "nope"), None);
        let old = "\tfield:char child_comm[16];\toffset:28;\tsize:16;\tsigned:0;\n\tfield:pid_t child_pid;\toffset:44;\tsize:4;\tsigned:1;";
        assert_eq!(parse_field_offset(old, "child_pid"), Some(44));
    }

    #[test]
    fn verifier_reason_keeps_the_tail() {
        assert_eq!(
            verifier_reason("0: r1 = 2\n1: exit\n\ninvalid mem access 'scalar'\nprocessed 3 insns\nstack depth 8"),
            "1: exit | invalid mem access 'scalar'"
        );
    }
}
