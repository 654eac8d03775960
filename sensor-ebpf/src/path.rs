//! Absolute paths in the kernel without `bpf_d_path` (not allowed from
//! tracepoints): a bounded walk up the dentry tree that crosses mount
//! points and stops at the task's root, as Falco's probe approximates
//! `d_path`. Offsets come from the node's BTF.

use core::ptr::{read_volatile, write_volatile};

use aya_ebpf::helpers::generated::bpf_probe_read_kernel_str;
use sensor_common::{MAX_PATH, MAX_PATH_COMPONENTS, TaskOffsets};

use crate::{maps::PATHS, task::read};

/// Mount crossings and components together: a walk never loops longer.
const MAX_STEPS: usize = MAX_PATH_COMPONENTS + 16;
const NAME_ROOM: usize = 256;

/// A `struct path`'s two pointers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KPath {
    pub mnt: u64,
    pub dentry: u64,
}

#[inline(always)]
pub unsafe fn kpath(base: u64, off: &TaskOffsets) -> Option<KPath> {
    // SAFETY: probe reads.
    unsafe { Some(KPath { mnt: read::<u64>(base, off.path_mnt)?, dentry: read::<u64>(base, off.path_dentry)? }) }
}

/// Writes the path of `p`, relative to `root`, into the per-CPU path
/// buffer. Returns the buffer and the path's length, and whether the walk
/// hit its bound (the path then lacks its top components).
#[inline(always)]
pub unsafe fn walk(p: KPath, root: KPath, off: &TaskOffsets) -> Option<(*const u8, usize, bool)> {
    // SAFETY: see walk_into.
    unsafe {
        if walk_into(p.mnt, p.dentry, root.mnt, root.dentry, off) == 0 {
            return None;
        }
        let scratch = PATHS.get_ptr_mut(0)?;
        let pos = read_volatile(&raw const (*scratch).pos) as usize & (MAX_PATH - 1);
        Some(((*scratch).buf.as_ptr(), pos, read_volatile(&raw const (*scratch).partial) != 0))
    }
}

/// The walk proper, a subprogram of its own: it returns only 0 or 1 and
/// leaves its result in the map, so that the verifier continues the caller
/// from two states, not from one per path through the walk.
#[inline(never)]
unsafe fn walk_into(mnt: u64, dentry: u64, root_mnt: u64, root_dentry: u64, off: &TaskOffsets) -> u64 {
    // SAFETY: see walk_inner.
    match unsafe { walk_inner(KPath { mnt, dentry }, KPath { mnt: root_mnt, dentry: root_dentry }, off) } {
        Some(()) => 1,
        None => 0,
    }
}

#[inline(always)]
unsafe fn walk_inner(p: KPath, root: KPath, off: &TaskOffsets) -> Option<()> {
    let scratch = PATHS.get_ptr_mut(0)?;
    // SAFETY: scratch is this CPU's buffer; every index below is bounded
    // by a check next to it; kernel reads go through probe reads. The
    // count and the partial flag go through memory on purpose (see
    // `PathScratch`).
    unsafe {
        let n_slot = &raw mut (*scratch).n;
        let partial_slot = &raw mut (*scratch).partial;
        write_volatile(n_slot, 0);
        write_volatile(partial_slot, 1);
        let cur = &raw mut (*scratch).cur;
        write_volatile(cur, [p.dentry, p.mnt, p.mnt.wrapping_sub(u64::from(off.mount_mnt))]);
        let mut step = 0;
        while step < MAX_STEPS {
            step += 1;
            let [dentry, mnt, mount] = read_volatile(cur);
            if dentry == root.dentry && mnt == root.mnt {
                write_volatile(partial_slot, 0);
                break;
            }
            let mnt_root = read::<u64>(mnt, off.vfsmount_root)?;
            if dentry == mnt_root {
                let parent = read::<u64>(mount, off.mount_parent)?;
                if parent == mount || parent == 0 {
                    write_volatile(partial_slot, 0);
                    break;
                }
                let mountpoint = read::<u64>(mount, off.mount_mountpoint)?;
                write_volatile(cur, [mountpoint, parent + u64::from(off.mount_mnt), parent]);
                continue;
            }
            let n = read_volatile(n_slot) as usize;
            if n >= MAX_PATH_COMPONENTS {
                break;
            }
            (*scratch).comps[n & 63] = read::<u64>(dentry, off.dentry_name)?;
            write_volatile(n_slot, (n + 1) as u64);
            let d_parent = read::<u64>(dentry, off.dentry_parent)?;
            if d_parent == dentry || d_parent == 0 {
                // A pseudo filesystem's lone dentry (memfd, pipe): its name is all.
                write_volatile(partial_slot, 0);
                break;
            }
            write_volatile(cur, [d_parent, mnt, mount]);
        }

        // Components are written root first. The loop counter is concrete
        // (the verifier sees a bounded loop); count and position come from
        // memory each round, so every round has one state to verify.
        let buf = (*scratch).buf.as_mut_ptr();
        let pos_slot = &raw mut (*scratch).pos;
        write_volatile(pos_slot, 0);
        let mut j = 0usize;
        while j < MAX_PATH_COMPONENTS {
            let n = read_volatile(n_slot) as usize;
            if j >= n {
                break;
            }
            let pos = read_volatile(pos_slot) as usize;
            if pos >= MAX_PATH - NAME_ROOM {
                write_volatile(partial_slot, 1);
                break;
            }
            let k = (n - 1 - j) & 63;
            *buf.add(pos) = b'/';
            let r =
                bpf_probe_read_kernel_str(buf.add(pos + 1).cast(), NAME_ROOM as u32, (*scratch).comps[k] as *const _);
            let len = if r > 1 { (r as usize - 1) & (NAME_ROOM - 1) } else { 0 };
            write_volatile(pos_slot, (pos + 1 + len) as u64);
            j += 1;
        }
        if read_volatile(pos_slot) == 0 {
            *buf = b'/';
            write_volatile(pos_slot, 1);
        }
        Some(())
    }
}

const _: () = assert!(MAX_PATH_COMPONENTS <= 64, "comps holds 64 name pointers");
