#!/bin/bash
# The host half of the benign workload kernel_default_benign.rs runs under
# `sensor run` with the default rules. $1: an empty scratch directory.
set -euo pipefail
W="$1"
cd "$W"

# A Rust project: new, build offline (no dependencies), its test suite.
export CARGO_TARGET_DIR="$W/target" CARGO_TERM_COLOR=never
cargo new --quiet --vcs none hello
(cd hello && cargo build --offline --quiet && cargo test --offline --quiet)

# A Debian package installed and removed with apt-get. A trivial local .deb
# (dpkg-deb --build): the test must not depend on a network mirror, and
# `apt-get install ./x.deb` still runs apt, dpkg and its maintainer scripts.
mkdir -p pkg/DEBIAN pkg/usr/share/doc/sensor-benign-test
cat > pkg/DEBIAN/control <<CTL
Package: sensor-benign-test
Version: 1.0
Architecture: all
Maintainer: sensor tests <tests@example.invalid>
Description: trivial package for the false-positive test
CTL
printf '#!/bin/sh\nexit 0\n' > pkg/DEBIAN/postinst
chmod 0755 pkg/DEBIAN/postinst
echo benign > pkg/usr/share/doc/sensor-benign-test/README
dpkg-deb --build --root-owner-group pkg sensor-benign-test.deb >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./sensor-benign-test.deb >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q sensor-benign-test >/dev/null

# HTTP on loopback: python's server, fetched with curl and wget.
mkdir www && echo hello > www/index.html
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory www "$PORT" >/dev/null 2>&1 &
SRV=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/index.html" | grep -q hello
wget -q -O- "http://127.0.0.1:$PORT/index.html" | grep -q hello
kill "$SRV"; wait "$SRV" || true

# git: init, add, commit, clone.
git init -q repo
(cd repo && echo a > a.txt && git add a.txt \
  && git -c user.name=t -c user.email=t@example.invalid commit -q -m init)
git clone -q repo clone
test -f clone/a.txt

# tar: create and extract a gzip archive.
tar czf hello.tgz hello/src hello/Cargo.toml
mkdir untar && tar xzf hello.tgz -C untar
test -f untar/hello/Cargo.toml
echo workload-done
