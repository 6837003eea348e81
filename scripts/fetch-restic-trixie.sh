#!/usr/bin/env bash
# Fetch Debian 13's restic (a static Go binary) into a cache folder, without touching the system's
# apt sources: a private sources list and private apt state under the cache folder.
# Usage: scripts/fetch-restic-trixie.sh CACHE_DIR   -> CACHE_DIR/restic-trixie/restic
set -euo pipefail
cache=$(realpath -m "${1:-.cache}")
dest="$cache/restic-trixie"
if [ -x "$dest/restic" ]; then exit 0; fi
work="$cache/apt-trixie"
mkdir -p "$work/etc" "$work/lists/partial" "$work/cache/archives/partial" "$dest"
cat > "$work/etc/trixie.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/etc"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
      -o APT::Sandbox::User=root)
apt-get "${opts[@]}" update -qq
(cd "$work" && apt-get "${opts[@]}" download restic)
deb=$(ls "$work"/restic_*.deb | head -n 1)
dpkg-deb -x "$deb" "$work/unpacked"
cp "$work/unpacked/usr/bin/restic" "$dest/restic"
"$dest/restic" version
