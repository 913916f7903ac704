#!/usr/bin/env bash
# Make sure a KLU-capable ngspice >= 44 (ngspice + libngspice0) from Debian's own packages is here.
#   Debian 12 (bookworm): from bookworm-backports (46+ds-1~bpo12+1), the suite is added if missing.
#   Debian 13 (trixie) and newer: from the main suite (44.2 or newer).
# As root it installs (or upgrades an older ngspice); as another user it prints the exact commands.
# Only apt-get talks to the network.  Usage: scripts/install-ngspice.sh [--check]
set -euo pipefail

MIN_MAJOR=44
BACKPORTS_FILE=/etc/apt/sources.list.d/circuitsim-bookworm-backports.sources
# the deb822 entry of Debian 12's backports suite, as a printf format
BACKPORTS_ENTRY='Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'

ngspice_major() {
  # ngspice -v prints e.g. "** ngspice-46 : Circuit level simulation program"
  command -v ngspice >/dev/null 2>&1 || { echo 0; return; }
  local out v
  out=$(ngspice -v 2>/dev/null || true)
  v=$(printf '%s\n' "$out" | sed -n 's/.*ngspice-\([0-9][0-9]*\).*/\1/p' | head -n1)
  echo "${v:-0}"
}

have_lib() {
  local f
  for f in /usr/lib/*/libngspice.so.0 /usr/lib/libngspice.so.0; do
    [ -e "$f" ] && return 0
  done
  return 1
}

have_klu() {
  local out
  out=$(ngspice -v 2>/dev/null || true)
  case "$out" in *KLU*) return 0 ;; *) return 1 ;; esac
}

ok() {
  [ "$(ngspice_major)" -ge "$MIN_MAJOR" ] && have_lib && have_klu
}

if ok; then
  echo "ngspice: found $(command -v ngspice) (ngspice-$(ngspice_major), KLU, libngspice0)"
  exit 0
fi
[ "${1:-}" = "--check" ] && { echo "ngspice: no KLU-capable ngspice >= $MIN_MAJOR with libngspice0"; exit 1; }

codename=$( . /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-unknown}")
case "$codename" in
  bookworm)
    suite=bookworm-backports
    add_suite=1 ;;
  *)
    suite=""
    add_suite=0 ;;
esac

if [ "$(id -u)" != 0 ]; then
  echo "ngspice >= $MIN_MAJOR with KLU and libngspice0 is missing (found: ngspice-$(ngspice_major))." >&2
  echo "Run as root:" >&2
  if [ "$add_suite" = 1 ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat >&2 <<MSG
  printf '$BACKPORTS_ENTRY' | sudo tee $BACKPORTS_FILE
  sudo apt-get update && sudo apt-get install -y -t bookworm-backports ngspice libngspice0
MSG
  elif [ "$add_suite" = 1 ]; then
    echo "  sudo apt-get update && sudo apt-get install -y -t bookworm-backports ngspice libngspice0" >&2
  else
    echo "  sudo apt-get update && sudo apt-get install -y ngspice libngspice0" >&2
  fi
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ "$add_suite" = 1 ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "ngspice: adding Debian's bookworm-backports suite ($BACKPORTS_FILE)"
  printf "$BACKPORTS_ENTRY" >"$BACKPORTS_FILE"
fi
apt-get update -q
if [ -n "$suite" ]; then
  echo "ngspice: installing ngspice libngspice0 from $suite"
  apt-get install -y -q --no-install-recommends -t "$suite" ngspice libngspice0
else
  echo "ngspice: installing ngspice libngspice0"
  apt-get install -y -q --no-install-recommends ngspice libngspice0
fi
if ! ok; then
  echo "ngspice: installed ngspice-$(ngspice_major), but a KLU-capable ngspice >= $MIN_MAJOR with" \
       "libngspice0 is still missing; this Debian release does not ship one." >&2
  exit 1
fi
echo "ngspice: ready: ngspice-$(ngspice_major) with KLU"
