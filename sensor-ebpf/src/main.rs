//! Kernel programs of the sensor.
//!
//! Syscalls are traced at `raw_syscalls:sys_exit`, where the result and the
//! arguments (in the task's registers) are both at hand; one record per
//! call, driven by a per-syscall table the agent fills for its
//! architecture. Process lifecycle (exec, fork, exit) comes from BTF
//! tracepoints on the scheduler, which fire whatever syscall caused them.
#![no_std]
#![no_main]

mod deny;
mod dns;
mod kill_open;
mod maps;
mod path;
mod process;
mod record;
mod syscalls;
mod task;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
