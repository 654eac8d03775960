//! Kernel struct offsets read from the node's BTF at load time. Rust has no
//! CO-RE relocations, so the programs read fields at offsets we pass them
//! through the config map; nothing is compiled in for one kernel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use btfparse::{Offset, TypeInformation, TypeVariant};
use sensor_common::TaskOffsets;

#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("cannot read kernel BTF at {path} (the sensor needs CONFIG_DEBUG_INFO_BTF)")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse kernel BTF at {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("BTF has no struct {name}")]
    NoStruct { name: String },
    #[error("struct {strukt} has no member {member} in this kernel's BTF ({message})")]
    NoMember { strukt: String, member: String, message: String },
    #[error("struct {strukt} member {member} is a bitfield; the programs read whole bytes")]
    Bitfield { strukt: String, member: String },
}

/// The BTF file's bytes, as btfparse reads them.
struct Bytes(Vec<u8>);

impl btfparse::Readable for Bytes {
    fn read(&self, offset: u64, buffer: &mut [u8]) -> btfparse::Result<()> {
        let start = usize::try_from(offset).ok();
        match start.and_then(|s| self.0.get(s..s.checked_add(buffer.len())?)) {
            Some(src) => {
                buffer.copy_from_slice(src);
                Ok(())
            }
            None => Err(btfparse::Error::new(btfparse::ErrorKind::IOError, "read past the end of the BTF data")),
        }
    }
}

pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// The node's kernel type information, parsed once at start (btfparse,
/// Apache-2.0).
pub struct KernelBtf {
    types: TypeInformation,
    /// Struct name → type id, for structs with a body (not forward
    /// declarations; a name can also belong to a function or a variable).
    structs: HashMap<String, u32>,
}

/// Where the compat (32-bit syscall) bit lives: `(offset in task_struct, mask)`.
pub type CompatTest = (u32, u32);

impl KernelBtf {
    pub fn open(path: &Path) -> Result<Self, BtfError> {
        let bytes = std::fs::read(path).map_err(|source| BtfError::Read { path: path.to_owned(), source })?;
        let types = TypeInformation::new(&Bytes(bytes))
            .map_err(|e| BtfError::Parse { path: path.to_owned(), message: e.message().to_owned() })?;
        let mut structs = HashMap::new();
        for (id, t) in types.get() {
            if let TypeVariant::Struct(st) = t
                && let Some(name) = st.name()
                && !st.member_list().is_empty()
            {
                structs.entry(name.clone()).or_insert(*id);
            }
        }
        Ok(Self { types, structs })
    }

    /// Byte offset of `member` (a dotted path, anonymous members looked
    /// through) in `struct strukt`.
    fn off(&self, strukt: &str, member: &str) -> Result<u32, BtfError> {
        let id = *self.structs.get(strukt).ok_or_else(|| BtfError::NoStruct { name: strukt.to_owned() })?;
        match self.types.offset_of(id, member) {
            Ok((_, Offset::ByteOffset(o))) => Ok(o),
            Ok((_, Offset::BitOffsetAndSize(..))) => {
                Err(BtfError::Bitfield { strukt: strukt.to_owned(), member: member.to_owned() })
            }
            Err(e) => Err(BtfError::NoMember {
                strukt: strukt.to_owned(),
                member: member.to_owned(),
                message: e.message().to_owned(),
            }),
        }
    }

    /// An optional member: `u32::MAX` when this kernel lacks it.
    fn opt(&self, s: &str, m: &str) -> u32 {
        self.off(s, m).unwrap_or(u32::MAX)
    }

    fn size_of(&self, strukt: &str) -> Result<u32, BtfError> {
        let id = *self.structs.get(strukt).ok_or_else(|| BtfError::NoStruct { name: strukt.to_owned() })?;
        self.types.size_of(id).map(|n| n as u32).map_err(|_| BtfError::NoStruct { name: strukt.to_owned() })
    }

    /// Offsets of every field the programs read.
    pub fn task_offsets(&self) -> Result<TaskOffsets, BtfError> {
        let off = |s: &str, m: &str| self.off(s, m);
        Ok(TaskOffsets {
            task_pid: off("task_struct", "pid")?,
            task_tgid: off("task_struct", "tgid")?,
            task_real_parent: off("task_struct", "real_parent")?,
            task_mm: off("task_struct", "mm")?,
            task_cred: off("task_struct", "cred")?,
            task_exit_code: off("task_struct", "exit_code")?,
            task_start_boottime: off("task_struct", "start_boottime")?,
            // kuid_t is struct { uid_t val; }: its offset is the uid's.
            cred_euid: off("cred", "euid")?,
            cred_egid: off("cred", "egid")?,
            mm_arg_start: off("mm_struct", "arg_start")?,
            mm_arg_end: off("mm_struct", "arg_end")?,
            binprm_filename: off("linux_binprm", "filename")?,
            task_cgroups: off("task_struct", "cgroups")?,
            css_set_dfl_cgrp: off("css_set", "dfl_cgrp")?,
            cgroup_kn: off("cgroup", "kn")?,
            kernfs_node_name: off("kernfs_node", "name")?,
            kernfs_node_parent: off("kernfs_node", "__parent").or_else(|_| off("kernfs_node", "parent"))?,
            task_files: off("task_struct", "files")?,
            files_fdt: off("files_struct", "fdt")?,
            fdtable_fd: off("fdtable", "fd")?,
            fdtable_max_fds: off("fdtable", "max_fds")?,
            file_private_data: off("file", "private_data")?,
            socket_sk: off("socket", "sk")?,
            sk_family: off("sock", "__sk_common.skc_family")?,
            sk_num: off("sock", "__sk_common.skc_num")?,
            sk_rcv_saddr: off("sock", "__sk_common.skc_rcv_saddr")?,
            sk_v6_rcv_saddr: self.opt("sock", "__sk_common.skc_v6_rcv_saddr"),
            mm_env_start: off("mm_struct", "env_start")?,
            mm_env_end: off("mm_struct", "env_end")?,
            task_signal: off("task_struct", "signal")?,
            signal_tty: off("signal_struct", "tty")?,
            tty_index: off("tty_struct", "index")?,
            tty_driver: off("tty_struct", "driver")?,
            tty_driver_major: off("tty_driver", "major")?,
            tty_driver_minor_start: off("tty_driver", "minor_start")?,
            task_loginuid: self.opt("task_struct", "loginuid"),
            cred_fsuid: off("cred", "fsuid")?,
            cred_fsgid: off("cred", "fsgid")?,
            // kernel_cap_t is 64 bits: a u64 since 6.3, two u32 before.
            cred_cap_inheritable: off("cred", "cap_inheritable")?,
            cred_cap_permitted: off("cred", "cap_permitted")?,
            cred_cap_effective: off("cred", "cap_effective")?,
            binprm_file: off("linux_binprm", "file")?,
            file_f_path: off("file", "f_path")?,
            file_f_inode: off("file", "f_inode")?,
            path_mnt: off("path", "mnt")?,
            path_dentry: off("path", "dentry")?,
            dentry_parent: off("dentry", "d_parent")?,
            dentry_name: off("dentry", "d_name.name")?,
            dentry_name_len: off("dentry", "d_name.len")?,
            dentry_inode: off("dentry", "d_inode")?,
            vfsmount_root: off("vfsmount", "mnt_root")?,
            mount_mnt: off("mount", "mnt")?,
            mount_parent: off("mount", "mnt_parent")?,
            mount_mountpoint: off("mount", "mnt_mountpoint")?,
            task_fs: off("task_struct", "fs")?,
            fs_root: off("fs_struct", "root")?,
            fs_pwd: off("fs_struct", "pwd")?,
            inode_mode: off("inode", "i_mode")?,
            inode_uid: off("inode", "i_uid")?,
            inode_gid: off("inode", "i_gid")?,
            inode_flags: off("inode", "i_flags")?,
            inode_sb: off("inode", "i_sb")?,
            inode_ino: off("inode", "i_ino")?,
            sb_flags: off("super_block", "s_flags")?,
            sb_magic: off("super_block", "s_magic")?,
            ovl_upper_from_inode: self.ovl_upper_from_inode(),
        })
    }

    /// Distance from `ovl_inode.vfs_inode` to `ovl_inode.__upperdentry`.
    /// Overlayfs built as a module has its types in its own BTF file: then
    /// the upper dentry is taken to follow the inode, as in every kernel
    /// since overlayfs gained `ovl_inode` (Falco's probe assumes the same).
    fn ovl_upper_from_inode(&self) -> u32 {
        match (self.off("ovl_inode", "__upperdentry"), self.off("ovl_inode", "vfs_inode")) {
            (Ok(u), Ok(v)) if u > v => u - v,
            _ => self.size_of("inode").unwrap_or(u32::MAX),
        }
    }

    /// `struct pt_regs` offsets of the syscall number at exit, the six
    /// argument registers and the six compat (32-bit) argument registers.
    /// `None` on architectures without a mapping here.
    pub fn regs_offsets(&self) -> Result<Option<RegsOffsets>, BtfError> {
        #[cfg(target_arch = "x86_64")]
        const REGS: Option<(&str, [&str; 6], [&str; 6])> =
            Some(("orig_ax", ["di", "si", "dx", "r10", "r8", "r9"], ["bx", "cx", "dx", "si", "di", "bp"]));
        #[cfg(not(target_arch = "x86_64"))]
        const REGS: Option<(&str, [&str; 6], [&str; 6])> = None;
        let Some((nr, args, compat)) = REGS else { return Ok(None) };
        let mut out = RegsOffsets { nr: self.off("pt_regs", nr)?, args: [0; 6], compat_args: [0; 6] };
        for (slot, name) in out.args.iter_mut().zip(args) {
            *slot = self.off("pt_regs", name)?;
        }
        for (slot, name) in out.compat_args.iter_mut().zip(compat) {
            *slot = self.off("pt_regs", name)?;
        }
        Ok(Some(out))
    }

    /// How to tell that the current task is in a 32-bit syscall: on x86-64
    /// the `TS_COMPAT` bit of `thread_info.status` (embedded first in
    /// `task_struct`), as the kernel's `in_ia32_syscall()` tests it.
    pub fn compat_test(&self) -> Option<CompatTest> {
        #[cfg(target_arch = "x86_64")]
        {
            // arch/x86/include/asm/thread_info.h; a flag value, not a layout.
            const TS_COMPAT: u32 = 0x0002;
            Some((self.off("task_struct", "thread_info.status").ok()?, TS_COMPAT))
        }
        #[cfg(not(target_arch = "x86_64"))]
        None
    }
}

/// Syscall register offsets in `struct pt_regs`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegsOffsets {
    pub nr: u32,
    pub args: [u32; 6],
    pub compat_args: [u32; 6],
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offsets found here must agree with what the running kernel exposes
    /// elsewhere: pid and tgid are adjacent `pid_t`s in every kernel.
    #[test]
    fn reads_this_kernels_task_struct() {
        let path = Path::new(VMLINUX);
        if !path.exists() {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "no BTF at {VMLINUX} in CI");
            eprintln!("skipped: no {VMLINUX} on this machine");
            return;
        }
        let k = KernelBtf::open(path).expect("BTF");
        let o = k.task_offsets().expect("offsets");
        assert_eq!(o.task_tgid, o.task_pid + 4);
        assert!(o.mm_arg_end > o.mm_arg_start);
        assert!(o.mm_env_end > o.mm_env_start);
        assert_eq!(o.cred_egid, o.cred_euid + 4, "egid follows euid in struct cred: {o:?}");
        // fsuid, fsgid follow in struct cred; the three cap sets are adjacent 64-bit words.
        assert_eq!(o.cred_fsgid, o.cred_fsuid + 4);
        assert_eq!(o.cred_cap_permitted, o.cred_cap_inheritable + 8);
        assert_eq!(o.cred_cap_effective, o.cred_cap_permitted + 8);
        // struct qstr { union { struct { u32 hash; u32 len; }; u64 hash_len; }; const char *name; }
        assert_eq!(o.dentry_name, o.dentry_name_len + 4);
        assert!(o.ovl_upper_from_inode != u32::MAX && o.ovl_upper_from_inode > 0);
        let regs = k.regs_offsets().expect("regs");
        if cfg!(target_arch = "x86_64") {
            let r = regs.expect("x86-64 has a mapping");
            assert_eq!(r.args[2], r.compat_args[2], "dx is the third argument in both ABIs");
            assert!(k.compat_test().is_some());
        }
    }
}
