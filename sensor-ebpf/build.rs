use which::which;

/// Rebuild when bpf-linker changes: it is not a cargo dependency, so cargo
/// would not otherwise notice a reinstall against another LLVM.
fn main() {
    if let Ok(bpf_linker) = which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", bpf_linker.display());
    }
}
