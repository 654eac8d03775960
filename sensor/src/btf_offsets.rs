//! Kernel struct offsets read from the node's BTF at load time. Rust has no
//! CO-RE relocations, so the programs read fields at offsets we pass them
//! through the config map; nothing is compiled in for one kernel.

use std::path::{Path, PathBuf};

use btf_rs::{Btf, Type};
use sensor_common::TaskOffsets;

#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("cannot read kernel BTF at {path} (the sensor needs CONFIG_DEBUG_INFO_BTF)")]
    Open {
        path: PathBuf,
        #[source]
        source: btf_rs::Error,
    },
    #[error("BTF has no struct {name}")]
    NoStruct { name: String },
    #[error("struct {strukt} has no member {member} in this kernel's BTF")]
    NoMember { strukt: String, member: String },
    #[error("BTF lookup failed for {what}")]
    Lookup {
        what: String,
        #[source]
        source: btf_rs::Error,
    },
}

pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// Offsets of every field the programs read.
pub fn task_offsets(path: &Path) -> Result<TaskOffsets, BtfError> {
    let btf = Btf::from_file(path).map_err(|source| BtfError::Open { path: path.to_owned(), source })?;
    let off = |s: &str, m: &str| member_offset(&btf, s, m);
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
        sk_family: off("sock", "__sk_common")? + off("sock_common", "skc_family")?,
        sk_num: off("sock", "__sk_common")? + off("sock_common", "skc_num")?,
        sk_rcv_saddr: off("sock", "__sk_common")? + off("sock_common", "skc_rcv_saddr")?,
        sk_v6_rcv_saddr: match off("sock_common", "skc_v6_rcv_saddr") {
            Ok(o) => off("sock", "__sk_common")? + o,
            Err(_) => u32::MAX,
        },
    })
}

/// `struct pt_regs` offsets of the syscall number at exit and the six
/// argument registers, for the BTF syscall hooks. `None` on architectures
/// without a mapping here: the classic tracepoints carry the arguments.
pub fn regs_offsets(path: &Path) -> Result<Option<(u32, [u32; 6])>, BtfError> {
    #[cfg(target_arch = "x86_64")]
    const REGS: Option<(&str, [&str; 6])> = Some(("orig_ax", ["di", "si", "dx", "r10", "r8", "r9"]));
    #[cfg(not(target_arch = "x86_64"))]
    const REGS: Option<(&str, [&str; 6])> = None;
    let Some((nr, args)) = REGS else { return Ok(None) };
    let btf = Btf::from_file(path).map_err(|source| BtfError::Open { path: path.to_owned(), source })?;
    let mut out = [0u32; 6];
    for (slot, name) in out.iter_mut().zip(args) {
        *slot = member_offset(&btf, "pt_regs", name)?;
    }
    Ok(Some((member_offset(&btf, "pt_regs", nr)?, out)))
}

/// Byte offset of `member` in `struct strukt`, looking through the anonymous
/// structs and unions the kernel nests members in (`mm_struct` keeps most of
/// its fields in one; randomized layouts add more).
pub fn member_offset(btf: &Btf, strukt: &str, member: &str) -> Result<u32, BtfError> {
    let types =
        btf.resolve_types_by_name(strukt).map_err(|source| BtfError::Lookup { what: strukt.to_owned(), source })?;
    let st = types
        .into_iter()
        .find_map(|t| match t {
            Type::Struct(s) if !s.members.is_empty() => Some(s),
            _ => None,
        })
        .ok_or_else(|| BtfError::NoStruct { name: strukt.to_owned() })?;
    find_in(btf, &st, member, 0)?
        .ok_or_else(|| BtfError::NoMember { strukt: strukt.to_owned(), member: member.to_owned() })
}

fn find_in(btf: &Btf, st: &btf_rs::Struct, member: &str, base_bits: u32) -> Result<Option<u32>, BtfError> {
    for m in &st.members {
        let name = btf.resolve_name(m).map_err(|source| BtfError::Lookup { what: member.to_owned(), source })?;
        let bits = base_bits + m.bit_offset();
        if name == member {
            return Ok(Some(bits / 8));
        }
        if name.is_empty() {
            let ty =
                btf.resolve_chained_type(m).map_err(|source| BtfError::Lookup { what: member.to_owned(), source })?;
            if let Type::Struct(inner) | Type::Union(inner) = ty
                && let Some(o) = find_in(btf, &inner, member, bits)?
            {
                return Ok(Some(o));
            }
        }
    }
    Ok(None)
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
        let o = task_offsets(path).expect("offsets");
        assert_eq!(o.task_tgid, o.task_pid + 4);
        assert!(o.mm_arg_end > o.mm_arg_start);
        assert_eq!(o.cred_egid, o.cred_euid + 4, "egid follows euid in struct cred: {o:?}");
    }
}
