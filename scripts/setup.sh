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

# SENSOR_SETUP=build (deploy/Dockerfile's build stage): the build tools
# above only, not the test tools below.
if [[ "${SENSOR_SETUP:-}" == build ]]; then
  log "ready (build tools only)"
  exit 0
fi

# cargo-deny: `cargo xtask test` checks the dependencies' licences (deny.toml).
if ! command -v cargo-deny >/dev/null 2>&1; then
  log "installing cargo-deny (a few minutes, once)"
  cargo install --locked cargo-deny@0.20.2
fi

# Debian tools used by tests and benchmarks (strace-free: only what we call).
# Container attribution tests start real Docker and containerd daemons.
need_apt=()
need_apt2=()
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
[[ -x /usr/sbin/dockerd ]] || need_apt+=(docker.io)
[[ -x /usr/bin/containerd ]] || need_apt+=(containerd)
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
[[ -x /bin/busybox ]] || need_apt+=(busybox-static)
# The Alertmanager output's test posts to a real Alertmanager.
[[ -x /usr/bin/prometheus-alertmanager ]] || need_apt+=(prometheus-alertmanager)
# `promtool check metrics` checks the names and help of the /metrics text.
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
# The DNS tests' server on 127.0.0.1:53 (kernel_dns.rs).
[[ -x /usr/sbin/dnsmasq ]] || need_apt+=(dnsmasq-base)
# The read/write benchmark's peer (`cargo xtask bench --rw-only`).
command -v bpftrace >/dev/null 2>&1 || need_apt+=(bpftrace)
# 32-bit static test programs (ia32 syscall decoding).
if [[ "$(uname -m)" == x86_64 ]] && ! compgen -G '/usr/lib/gcc/x86_64-linux-gnu/*/32/libgcc.a' >/dev/null; then
  need_apt+=(gcc-multilib)
fi
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  apt-get -o DPkg::Lock::Timeout=120 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# Manifest tests (sensor/tests/deploy_manifests.rs), offline: the Kubernetes
# schemas (PyPI kubernetes-validate) and the prometheus-operator CRD schemas
# for ServiceMonitor and PrometheusRule (npm @kubernetes-models/
# prometheus-operator, validated with node), both pinned. kubectl renders.
KUBERNETES_VALIDATE=1.37.0
PROM_OPERATOR_MODELS=6.0.0
SENSOR_TOOLS="${SENSOR_TOOLS:-/opt/sensor-tools}"
command -v node >/dev/null 2>&1 || need_apt2+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt2+=(npm)
command -v pip3 >/dev/null 2>&1 || need_apt2+=(python3-pip)
if ((${#need_apt2[@]})); then
  log "apt-get install ${need_apt2[*]}"
  apt-get -o DPkg::Lock::Timeout=120 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${need_apt2[@]}"
fi
if [[ "$(kubernetes-validate --version 2>/dev/null)" != *"$KUBERNETES_VALIDATE"* ]]; then
  log "installing kubernetes-validate $KUBERNETES_VALIDATE"
  pip3 install -q --break-system-packages "kubernetes-validate==$KUBERNETES_VALIDATE" 2>/dev/null \
    || pip3 install -q "kubernetes-validate==$KUBERNETES_VALIDATE"
fi
models="$SENSOR_TOOLS/node/node_modules/@kubernetes-models/prometheus-operator/package.json"
if ! grep -q "\"version\": \"$PROM_OPERATOR_MODELS\"" "$models" 2>/dev/null; then
  log "installing @kubernetes-models/prometheus-operator $PROM_OPERATOR_MODELS under $SENSOR_TOOLS/node"
  mkdir -p "$SENSOR_TOOLS/node"
  npm install --prefix "$SENSOR_TOOLS/node" --no-audit --no-fund --loglevel=error \
    "@kubernetes-models/prometheus-operator@$PROM_OPERATOR_MODELS"
fi
if ! command -v kubectl >/dev/null 2>&1; then
  echo "[setup] kubectl not found: the manifest tests need it (it renders deploy/ with kustomize)" >&2
fi

if [[ ! -d /sys/kernel/tracing/events ]]; then
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
log "ready"
