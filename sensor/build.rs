use anyhow::{Context as _, anyhow};
use aya_build::Toolchain;

/// Builds `sensor-ebpf` for the BPF target so the object can be embedded in
/// the agent binary: one file to ship.
fn main() -> anyhow::Result<()> {
    embed_fixtures().context("embedding rules/fixtures")?;
    let cargo_metadata::Metadata { packages, .. } =
        cargo_metadata::MetadataCommand::new().no_deps().exec().context("MetadataCommand::exec")?;
    let ebpf_package = packages
        .into_iter()
        .find(|cargo_metadata::Package { name, .. }| name.as_str() == "sensor-ebpf")
        .ok_or_else(|| anyhow!("sensor-ebpf package not found"))?;
    let cargo_metadata::Package { name, manifest_path, .. } = ebpf_package;
    let ebpf_package = aya_build::Package {
        name: name.as_str(),
        root_dir: manifest_path.parent().ok_or_else(|| anyhow!("no parent for {manifest_path}"))?.as_str(),
        ..Default::default()
    };
    aya_build::build_ebpf([ebpf_package], Toolchain::default())
}

/// Writes `$OUT_DIR/builtin_fixtures.rs`: every `rules/fixtures/*.yaml` (name
/// order) as `(name, include_str!(..))`, so a new fixture file needs no code
/// change. Cargo re-runs this when a file in the directory changes.
fn embed_fixtures() -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let manifest = std::env::var("CARGO_MANIFEST_DIR")?;
    let dir = std::path::Path::new(&manifest).join("../rules/fixtures");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| dir.display().to_string()),
    };
    files.sort();
    let mut out = String::from("/// Built-in rule fixtures: (name, YAML text), in name order.\n");
    out.push_str("pub static BUILTIN_FIXTURES: &[(&str, &str)] = &[\n");
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).ok_or_else(|| anyhow!("{}: not UTF-8", f.display()))?;
        let abs = f.canonicalize()?;
        writeln!(out, "    ({:?}, include_str!({:?})),", format!("rules/fixtures/{name}"), abs.display().to_string())?;
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR")?).join("builtin_fixtures.rs");
    std::fs::write(dest, out)?;
    Ok(())
}
