//! The kernel's BTF (`/sys/kernel/btf/vmlinux`), read just far enough to find struct member
//! offsets: Rust eBPF programs have no CO-RE, so the offsets the exec identity walk needs
//! ([`capture_common::KernelOffsets`]) are looked up here at load time and written into a
//! map.
//!
//! Format (include/uapi/linux/btf.h): a header (magic 0xeB9F, version, flags, hdr_len, then
//! type_off/type_len/str_off/str_len relative to the end of the header), a type section of
//! variable-length records (`name_off`, `info` = vlen | kind << 24 | kind_flag << 31,
//! `size`/`type`, then kind-specific data) numbered from 1, and a string section. A STRUCT
//! or UNION record is followed by `vlen` members of (`name_off`, `type`, `offset`), the
//! offset in bits (with `kind_flag` its low 24 bits; the high 8 bits are a bitfield size).
//! Members without a name are nested anonymous structs/unions whose own members belong to
//! the outer struct at the sum of the offsets.

use capture_common::KernelOffsets;
use std::collections::HashMap;
use std::path::Path;

pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// Why an offset could not be found. Each renders as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    #[error("cannot read the kernel's BTF at {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the kernel's BTF is malformed: {0}")]
    Malformed(String),
    #[error("the kernel's BTF has no struct `{0}`")]
    NoStruct(String),
    #[error("the kernel's BTF has no member `{member}` in struct `{strukt}`")]
    NoMember { strukt: String, member: String },
    #[error("member `{member}` of struct `{strukt}` is a bitfield, not addressable")]
    Bitfield { strukt: String, member: String },
}

#[derive(Debug, Clone, Copy)]
struct Member {
    name_off: u32,
    type_id: u32,
    /// Bit offset.
    bits: u32,
    bitfield: bool,
}

#[derive(Debug, Clone)]
struct Type {
    kind: u32,
    name_off: u32,
    /// `type` of typedef/const/volatile/... (what they refer to).
    refers: u32,
    members: Vec<Member>,
}

/// A parsed BTF blob: types and strings.
#[derive(Debug)]
pub struct Btf {
    /// Index = type id - 1.
    types: Vec<Type>,
    strings: Vec<u8>,
    /// Struct/union name -> type ids with that name (complete definitions first).
    by_name: HashMap<String, Vec<u32>>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Btf {
    /// Read and parse the BTF at `path`.
    pub fn from_file(path: &Path) -> Result<Btf, BtfError> {
        let bytes = std::fs::read(path).map_err(|e| BtfError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Btf::parse(&bytes)
    }

    /// Parse a BTF blob (little-endian, as on x86_64 and arm64).
    pub fn parse(b: &[u8]) -> Result<Btf, BtfError> {
        let bad = |what: &str| BtfError::Malformed(what.to_string());
        let magic = u16_at(b, 0).ok_or_else(|| bad("shorter than its header"))?;
        if magic != MAGIC {
            return Err(if magic == MAGIC.swap_bytes() {
                bad("big-endian BTF is not supported")
            } else {
                bad(&format!("bad magic {magic:#06x}"))
            });
        }
        let hdr_len = u32_at(b, 4).ok_or_else(|| bad("header cut short"))? as usize;
        let field = |i: usize| u32_at(b, 8 + 4 * i).map(|v| v as usize);
        let (type_off, type_len, str_off, str_len) = match (field(0), field(1), field(2), field(3))
        {
            (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
            _ => return Err(bad("header cut short")),
        };
        let section = |off: usize, len: usize, what: &str| {
            let start = hdr_len
                .checked_add(off)
                .ok_or_else(|| bad(&format!("{what} section out of bounds")))?;
            let end = start
                .checked_add(len)
                .ok_or_else(|| bad(&format!("{what} section out of bounds")))?;
            b.get(start..end)
                .ok_or_else(|| bad(&format!("{what} section out of bounds")))
        };
        let tsec = section(type_off, type_len, "type")?;
        let strings = section(str_off, str_len, "string")?.to_vec();

        let mut types = Vec::new();
        let mut at = 0usize;
        while at < tsec.len() {
            let cut = || bad(&format!("type {} cut short", types.len() + 1));
            let name_off = u32_at(tsec, at).ok_or_else(cut)?;
            let info = u32_at(tsec, at + 4).ok_or_else(cut)?;
            let size_or_type = u32_at(tsec, at + 8).ok_or_else(cut)?;
            at += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            let mut members = Vec::new();
            let extra = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = at + 12 * i;
                        let (Some(name_off), Some(type_id), Some(off)) =
                            (u32_at(tsec, m), u32_at(tsec, m + 4), u32_at(tsec, m + 8))
                        else {
                            return Err(cut());
                        };
                        let (bits, bitfield) = if kind_flag {
                            (off & 0x00ff_ffff, off >> 24 != 0)
                        } else {
                            (off, false)
                        };
                        members.push(Member {
                            name_off,
                            type_id,
                            bits,
                            bitfield,
                        });
                    }
                    12 * vlen
                }
                KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
                KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                other => {
                    return Err(bad(&format!(
                        "type {} has unknown kind {other}",
                        types.len() + 1
                    )))
                }
            };
            at += extra;
            if at > tsec.len() {
                return Err(cut());
            }
            types.push(Type {
                kind,
                name_off,
                refers: size_or_type,
                members,
            });
        }

        let mut btf = Btf {
            types,
            strings,
            by_name: HashMap::new(),
        };
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, t) in btf.types.iter().enumerate() {
            if (t.kind == KIND_STRUCT || t.kind == KIND_UNION) && t.name_off != 0 {
                by_name
                    .entry(btf.name(t.name_off).to_string())
                    .or_default()
                    .push(i as u32 + 1);
            }
        }
        // A complete definition (with members) before any empty one of the same name.
        for ids in by_name.values_mut() {
            ids.sort_by_key(|id| btf.types[*id as usize - 1].members.is_empty());
        }
        btf.by_name = by_name;
        Ok(btf)
    }

    /// How many types the blob holds.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    fn name(&self, off: u32) -> &str {
        let rest = self.strings.get(off as usize..).unwrap_or(&[]);
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
    }

    fn get(&self, id: u32) -> Option<&Type> {
        id.checked_sub(1).and_then(|i| self.types.get(i as usize))
    }

    /// The struct/union a type id stands for, through typedefs and qualifiers.
    fn composite(&self, mut id: u32) -> Option<u32> {
        for _ in 0..32 {
            let t = self.get(id)?;
            match t.kind {
                KIND_STRUCT | KIND_UNION => return Some(id),
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.refers
                }
                _ => return None,
            }
        }
        None
    }

    /// Bit offset and type of member `name` of the struct/union `id`, looking into anonymous
    /// nested structs and unions.
    fn find_member(&self, id: u32, name: &str, depth: u32) -> Option<Member> {
        let t = self.get(id)?;
        for m in &t.members {
            if m.name_off != 0 && self.name(m.name_off) == name {
                return Some(*m);
            }
        }
        if depth > 8 {
            return None;
        }
        for m in &t.members {
            if m.name_off == 0 {
                if let Some(inner) = self.composite(m.type_id) {
                    if let Some(found) = self.find_member(inner, name, depth + 1) {
                        return Some(Member {
                            bits: m.bits + found.bits,
                            ..found
                        });
                    }
                }
            }
        }
        None
    }

    /// Byte offset of `path` (`"f_path.dentry"`: members of nested structs joined by dots)
    /// in struct `strukt`.
    pub fn offset_of(&self, strukt: &str, path: &str) -> Result<u32, BtfError> {
        let ids = self
            .by_name
            .get(strukt)
            .ok_or_else(|| BtfError::NoStruct(strukt.to_string()))?;
        let mut id = *ids
            .first()
            .ok_or_else(|| BtfError::NoStruct(strukt.into()))?;
        let mut owner = strukt.to_string();
        let mut bits = 0u32;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            let m = self
                .find_member(id, part, 0)
                .ok_or_else(|| BtfError::NoMember {
                    strukt: owner.clone(),
                    member: part.to_string(),
                })?;
            if m.bitfield || m.bits % 8 != 0 {
                return Err(BtfError::Bitfield {
                    strukt: owner,
                    member: part.to_string(),
                });
            }
            bits += m.bits;
            if parts.peek().is_some() {
                id = self
                    .composite(m.type_id)
                    .ok_or_else(|| BtfError::NoMember {
                        strukt: owner.clone(),
                        member: format!("{part} (as a struct)"),
                    })?;
                let inner = self.get(id).map(|t| self.name(t.name_off)).unwrap_or("");
                owner = if inner.is_empty() {
                    format!("{owner}.{part}")
                } else {
                    inner.to_string()
                };
            }
        }
        Ok(bits / 8)
    }

    /// The offsets of [`KernelOffsets`] (the exec identity walk), `ready` set.
    pub fn kernel_offsets(&self) -> Result<KernelOffsets, BtfError> {
        Ok(KernelOffsets {
            bprm_file: self.offset_of("linux_binprm", "file")?,
            bprm_filename: self.offset_of("linux_binprm", "filename")?,
            bprm_interp: self.offset_of("linux_binprm", "interp")?,
            file_dentry: self.offset_of("file", "f_path.dentry")?,
            file_mnt: self.offset_of("file", "f_path.mnt")?,
            dentry_parent: self.offset_of("dentry", "d_parent")?,
            dentry_name: self.offset_of("dentry", "d_name.name")?,
            dentry_inode: self.offset_of("dentry", "d_inode")?,
            inode_nlink: self
                .offset_of("inode", "__i_nlink")
                .or_else(|_| self.offset_of("inode", "i_nlink"))?,
            vfsmount_root: self.offset_of("vfsmount", "mnt_root")?,
            mount_mnt: self.offset_of("mount", "mnt")?,
            mount_parent: self.offset_of("mount", "mnt_parent")?,
            mount_mountpoint: self.offset_of("mount", "mnt_mountpoint")?,
            task_fs: self.offset_of("task_struct", "fs")?,
            fs_root_dentry: self.offset_of("fs_struct", "root.dentry")?,
            fs_root_mnt: self.offset_of("fs_struct", "root.mnt")?,
            inode_ino: self.offset_of("inode", "i_ino")?,
            inode_sb: self.offset_of("inode", "i_sb")?,
            sb_dev: self.offset_of("super_block", "s_dev")?,
            task_mm: self.offset_of("task_struct", "mm")?,
            mm_exe_file: self.offset_of("mm_struct", "exe_file")?,
            file_inode: self.offset_of("file", "f_inode")?,
            task_files: self.offset_of("task_struct", "files")?,
            files_fdt: self.offset_of("files_struct", "fdt")?,
            fdt_max_fds: self.offset_of("fdtable", "max_fds")?,
            fdt_fd: self.offset_of("fdtable", "fd")?,
            ready: 1,
            _pad: 0,
        })
    }
}

/// The exec identity offsets of the running kernel.
pub fn running_kernel_offsets() -> Result<KernelOffsets, BtfError> {
    Btf::from_file(Path::new(VMLINUX))?.kernel_offsets()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny BTF blob built by hand: `struct inner { int a; int b; }` and
    /// `struct outer { long x; union { int u1; struct inner in; }; struct inner named; }`.
    fn blob() -> Vec<u8> {
        let strings = b"\0int\0inner\0a\0b\0outer\0x\0u1\0in\0named\0long\0".to_vec();
        let off = |s: &str| {
            let needle = format!("\0{s}\0");
            strings
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .unwrap() as u32
                + 1
        };
        let mut t = Vec::new();
        let ty = |t: &mut Vec<u8>, name: u32, kind: u32, vlen: u32, kf: bool, st: u32| {
            t.extend(name.to_le_bytes());
            t.extend((vlen | kind << 24 | (kf as u32) << 31).to_le_bytes());
            t.extend(st.to_le_bytes());
        };
        let mem = |t: &mut Vec<u8>, name: u32, ty: u32, bits: u32| {
            t.extend(name.to_le_bytes());
            t.extend(ty.to_le_bytes());
            t.extend(bits.to_le_bytes());
        };
        // 1: int
        ty(&mut t, off("int"), KIND_INT, 0, false, 4);
        t.extend(32u32.to_le_bytes());
        // 2: long
        ty(&mut t, off("long"), KIND_INT, 0, false, 8);
        t.extend(64u32.to_le_bytes());
        // 3: struct inner { int a; int b; }
        ty(&mut t, off("inner"), KIND_STRUCT, 2, false, 8);
        mem(&mut t, off("a"), 1, 0);
        mem(&mut t, off("b"), 1, 32);
        // 4: const struct inner
        ty(&mut t, 0, KIND_CONST, 0, false, 3);
        // 5: anonymous union { int u1; const struct inner in; }
        ty(&mut t, 0, KIND_UNION, 2, false, 8);
        mem(&mut t, off("u1"), 1, 0);
        mem(&mut t, off("in"), 4, 0);
        // 6: struct outer { long x; union {..}; struct inner named; } (kind_flag offsets)
        ty(&mut t, off("outer"), KIND_STRUCT, 3, true, 24);
        mem(&mut t, off("x"), 2, 0);
        mem(&mut t, 0, 5, 64);
        mem(&mut t, off("named"), 3, 128);
        // 7: a forward declaration of `outer` (must not hide the definition)
        ty(&mut t, off("outer"), KIND_FWD, 0, false, 0);
        let mut b = Vec::new();
        b.extend(MAGIC.to_le_bytes());
        b.push(1); // version
        b.push(0); // flags
        b.extend(24u32.to_le_bytes()); // hdr_len
        b.extend(0u32.to_le_bytes()); // type_off
        b.extend((t.len() as u32).to_le_bytes());
        b.extend((t.len() as u32).to_le_bytes()); // str_off
        b.extend((strings.len() as u32).to_le_bytes());
        b.extend(t);
        b.extend(strings);
        b
    }

    #[test]
    fn member_offsets_through_anonymous_unions_and_nested_structs() {
        let btf = Btf::parse(&blob()).unwrap();
        assert_eq!(btf.len(), 7);
        assert_eq!(btf.offset_of("outer", "x"), Ok(0));
        assert_eq!(
            btf.offset_of("outer", "u1"),
            Ok(8),
            "anonymous union member"
        );
        assert_eq!(btf.offset_of("outer", "in.b"), Ok(12), "through const");
        assert_eq!(btf.offset_of("outer", "named.b"), Ok(20));
        assert_eq!(
            btf.offset_of("outer", "nope").unwrap_err().to_string(),
            "the kernel's BTF has no member `nope` in struct `outer`"
        );
        assert_eq!(
            btf.offset_of("outer", "named.zz").unwrap_err().to_string(),
            "the kernel's BTF has no member `zz` in struct `inner`"
        );
        assert_eq!(
            btf.offset_of("missing", "x").unwrap_err().to_string(),
            "the kernel's BTF has no struct `missing`"
        );
        assert!(btf.offset_of("outer", "x.y").is_err(), "x is no struct");
    }

    #[test]
    fn malformed_blobs_are_one_line_errors() {
        assert!(matches!(Btf::parse(b""), Err(BtfError::Malformed(_))));
        let mut b = blob();
        b[0] = 0;
        assert_eq!(
            Btf::parse(&b).unwrap_err().to_string(),
            "the kernel's BTF is malformed: bad magic 0xeb00"
        );
        let b = blob();
        let e = Btf::parse(&b[..b.len() - 30]).unwrap_err().to_string();
        assert!(e.contains("out of bounds"), "{e}");
        // every prefix fails cleanly, never panics
        for n in 0..b.len() {
            let _ = Btf::parse(&b[..n]);
        }
        let e = Btf::from_file(Path::new("/nonexistent/vmlinux"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read the kernel's BTF at /nonexistent/vmlinux"));
    }

    /// The running kernel's BTF: every offset the exec walk needs is there, and the ones
    /// whose place is fixed by the kernel's layout agree with it.
    #[test]
    fn the_running_kernels_offsets() {
        let path = Path::new(VMLINUX);
        if !path.exists() {
            eprintln!("SKIP the_running_kernels_offsets: no {VMLINUX} (kernel without BTF)");
            return;
        }
        let btf = Btf::from_file(path).unwrap();
        assert!(btf.len() > 10_000, "vmlinux has many types: {}", btf.len());
        let o = btf.kernel_offsets().unwrap();
        // `struct path` is { mnt, dentry } in every kernel with BTF.
        assert_eq!(o.file_dentry, o.file_mnt + 8);
        assert_eq!(o.fs_root_dentry, o.fs_root_mnt + 8);
        assert_eq!(btf.offset_of("path", "mnt"), Ok(0));
        assert_eq!(btf.offset_of("path", "dentry"), Ok(8));
        // `linux_binprm.filename` and `.interp` are neighbours.
        assert_eq!(o.bprm_filename + 8, o.bprm_interp);
        // i_nlink and __i_nlink share an anonymous union.
        assert_eq!(btf.offset_of("inode", "i_nlink"), Ok(o.inode_nlink));
        // `qstr.name` sits after the hash/len union.
        assert_eq!(
            o.dentry_name,
            btf.offset_of("dentry", "d_name").unwrap() + 8
        );
        assert_eq!(o.ready, 1);
        // `struct fdtable` starts { unsigned int max_fds; struct file **fd; ... }.
        assert_eq!((o.fdt_max_fds, o.fdt_fd), (0, 8));
        assert_ne!(o.task_files, 0);
        // Names in errors are the kernel's.
        assert_eq!(
            btf.offset_of("linux_binprm", "no_such_member")
                .unwrap_err()
                .to_string(),
            "the kernel's BTF has no member `no_such_member` in struct `linux_binprm`"
        );
    }
}
