#!/usr/bin/env bash
# Lays out the sensor image's whole root filesystem in OUT: the binary, the
# shared libraries `ldd` names (and the dynamic loader), the CA bundle for
# TLS outputs, empty mount points. Nothing else: no shell, no package
# manager. Used by deploy/Dockerfile and by sensor/tests/kernel_image.rs.
#   deploy/image/rootfs.sh BINARY OUT
set -euo pipefail
bin="$1"; out="$2"
[[ -x "$bin" ]] || { echo "rootfs.sh: $bin is not an executable" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/usr/bin" "$out/etc/ssl/certs" "$out/etc/sensor" "$out/var/lib/sensor" \
  "$out/proc" "$out/sys" "$out/dev" "$out/run" "$out/tmp"
cp "$bin" "$out/usr/bin/sensor"
# Debug info is for the build host; the image ships without it.
if command -v strip >/dev/null 2>&1; then strip --strip-debug "$out/usr/bin/sensor"; fi
# `ldd` prints "name => /path (addr)" and the loader as "/path (addr)".
ldd "$bin" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' | while read -r lib; do
  cp -L --parents "$lib" "$out/"
done
# rustls-native-certs reads the system bundle (webhook, Alertmanager over TLS).
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"
fi
# Mount points of the DaemonSet's host files (a read-only root cannot grow them).
printf 'root:x:0:0:root:/:/usr/bin/sensor\n' >"$out/etc/passwd"
printf 'root:x:0:\n' >"$out/etc/group"
