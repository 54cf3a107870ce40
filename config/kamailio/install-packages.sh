#!/usr/bin/env bash
# Makes sure Kamailio with its kazoo module and SIPp are installed (Debian packages
# kamailio, kamailio-kazoo-modules, sip-tester). Installs them when missing and
# FIFE_INSTALL_PACKAGES=1 (root needed); otherwise says what is missing and exits 1.
set -euo pipefail
missing=()
command -v kamailio >/dev/null 2>&1 || missing+=(kamailio)
[ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/kazoo.so ] || ls /usr/lib/*/kamailio/modules/kazoo.so >/dev/null 2>&1 || missing+=(kamailio-kazoo-modules)
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "${FIFE_INSTALL_PACKAGES:-0}" != "1" ]; then
  echo "missing Debian packages: ${missing[*]} (apt-get install -y ${missing[*]}, or set FIFE_INSTALL_PACKAGES=1)" >&2
  exit 1
fi
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
