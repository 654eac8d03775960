#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test the sensor:
# nightly's rust-src, bpf-linker linked to nightly's own LLVM, and the Debian
# tools the tests use. Idempotent: seconds when everything is present.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

if ! rustup toolchain list | grep -q '^nightly'; then
  log "installing nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi

if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
  log "adding rust-src to nightly"
  rustup component add rust-src --toolchain nightly
fi

NIGHTLY_SYSROOT="$(rustc +nightly --print sysroot)"
NL="$NIGHTLY_SYSROOT/lib"
# bpf-linker must link against the very LLVM the nightly rustc uses: find it.
LLVM_SO="$(cd "$NL" && ls libLLVM*.so 2>/dev/null | head -n1 || true)"
if [[ -z "$LLVM_SO" ]]; then
  echo "no libLLVM*.so in $NL: cannot build bpf-linker" >&2
  exit 1
fi
LLVM_LIB="${LLVM_SO#lib}"; LLVM_LIB="${LLVM_LIB%.so}"          # LLVM-22-rust-1.97.0-nightly
LLVM_MAJOR="$(sed -E 's/^LLVM-([0-9]+).*/\1/' <<<"$LLVM_LIB")" # 22

stamp="$HOME/.cargo/bpf-linker.llvm"
if ! command -v bpf-linker >/dev/null 2>&1 || [[ "$(cat "$stamp" 2>/dev/null)" != "$LLVM_LIB" ]]; then
  log "building bpf-linker against $LLVM_LIB (about a minute)"
  RUSTFLAGS="-L native=$NL -l dylib=$LLVM_LIB -C link-args=-Wl,-rpath,$NL" \
    cargo +nightly install bpf-linker --locked --force --no-default-features \
      --features "llvm-$LLVM_MAJOR,no-llvm-linking"
  echo "$LLVM_LIB" >"$stamp"
fi

# Debian tools used by tests and benchmarks (strace-free: only what we call).
# Container attribution tests start real Docker and containerd daemons.
need_apt=()
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
[[ -x /usr/sbin/dockerd ]] || need_apt+=(docker.io)
[[ -x /usr/bin/containerd ]] || need_apt+=(containerd)
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
[[ -x /bin/busybox ]] || need_apt+=(busybox-static)
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  apt-get -o DPkg::Lock::Timeout=120 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if [[ ! -d /sys/kernel/tracing/events ]]; then
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
log "ready"
