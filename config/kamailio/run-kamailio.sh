#!/usr/bin/env bash
# Runs Fife's test proxy (fife-registrar.cfg) in the foreground on 127.0.0.1, for tests
# and benches. Usage:
#   run-kamailio.sh --port 5099 --amqp amqp://guest:guest@127.0.0.1:5672 --pidfile /tmp/k.pid [--node NAME] [--children N]
# Installs kamailio + kamailio-kazoo-modules (and sip-tester) from Debian first when they
# are missing and FIFE_INSTALL_PACKAGES=1 (needs root). Exits 3 when they are missing
# and cannot be installed. Stop it with SIGTERM to the pid it prints / writes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port=5060 amqp="amqp://guest:guest@127.0.0.1:5672" pidfile="" node="kamailio.fife.test" children=8 timeout=3
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --amqp) amqp="$2"; shift 2 ;;
    --pidfile) pidfile="$2"; shift 2 ;;
    --node) node="$2"; shift 2 ;;
    --children) children="$2"; shift 2 ;;
    --query-timeout-s) timeout="$2"; shift 2 ;;
    *) echo "run-kamailio: unknown argument $1" >&2; exit 2 ;;
  esac
done
"$here/install-packages.sh" || exit 3
args=(-DD -E -f "$here/fife-registrar.cfg" -m 128 -M 16
  -A "SIP_PORT=$port" -A "AMQP_URL=\"$amqp\"" -A "NODE_NAME=\"$node\"" -A "CHILDREN=$children" -A "QUERY_TIMEOUT_S=$timeout")
[ -n "$pidfile" ] && args+=(-P "$pidfile")
exec kamailio "${args[@]}"
