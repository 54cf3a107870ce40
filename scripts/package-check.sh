#!/usr/bin/env bash
# The package as a user gets it (`npm run package-check`; .ci/run runs it after npm test):
#   1. build dist/ (skipped when dist/.built is newer than every source) and `npm pack`;
#   2. in a fresh folder outside the repository, install the tarball and run
#      `fife new-app`; the generated project's `npm install && npm test` must pass;
#   3. `fife start` in that project (its fife.json lists it in plugins and apps) until
#      `fife apps` reports the plugin app running and `fife tree` shows its listener; then
#      SIGTERM, and the node must exit 0;
#   4. examples/hello-app, copied out of the repository, installs the same tarball and
#      passes its own `npm install && npm test`.
# Needs the npm registry (the projects' dependencies). Exits non-zero at the first failure,
# naming the step. Keeps the temp folder when FIFE_KEEP_TMP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fife-package-check.XXXXXX")
NODE_PID=
cleanup() {
  if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then kill -KILL "$NODE_PID" || true; fi
  if [ "${FIFE_KEEP_TMP:-0}" = 1 ]; then echo "package-check: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
step() { echo "package-check: $*"; }
fail() { echo "package-check: FAILED: $*" >&2; exit 1; }
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# 1. build and pack
if [ -f dist/.built ] && [ -z "$(find src apps supervisors -newer dist/.built \( -name '*.ts' -o -name '*.json' \) -print -quit)" ]; then
  step "dist/ is up to date"
else
  step "building dist/"
  npm run -s build
fi
TARBALL=$TMP/$(npm pack --silent --pack-destination "$TMP" | tail -1)
[ -f "$TARBALL" ] || fail "npm pack wrote no tarball"
tar -tzf "$TARBALL" > "$TMP/contents"
for f in package/dist/src/cli/main.js package/dist/src/kernel/index.d.ts package/dist/apps/callflow/couchdb/account/callflows.json package/bin/fife.js package/README.md package/docs/writing-a-whapp.md; do
  grep -qx "$f" "$TMP/contents" || fail "the tarball lacks $f"
done
if grep -q '^package/src/' "$TMP/contents"; then fail "the tarball ships the TypeScript sources"; fi
step "packed $(basename "$TARBALL") ($(du -k "$TARBALL" | cut -f1) KiB)"

# 2. a fresh project outside the repository: install fife, generate an app, test it
mkdir "$TMP/user" && cd "$TMP/user"
echo '{"name":"user","private":true,"type":"module"}' > package.json
step "installing the tarball in $TMP/user"
npm install --silent "$TARBALL" >/dev/null
FIFE=$TMP/user/node_modules/.bin/fife
"$FIFE" new-app greetings --dir "$TMP/greetings" --fife "$TARBALL"
cd "$TMP/greetings"
step "greetings: npm install && npm test"
npm install --silent >/dev/null
npm test || fail "the generated project's npm test"

# 3. run a node with the plugin, check it through the CLI, stop it
step "greetings: fife start"
./node_modules/.bin/fife start --config fife.json > node.log 2>&1 &
NODE_PID=$!
deadline=$((SECONDS + 60))
until ./node_modules/.bin/fife apps --config fife.json --timeout 2 2>/dev/null | grep -qP '^greetings\trunning'; do
  kill -0 "$NODE_PID" 2>/dev/null || { cat node.log >&2; fail "fife start exited before greetings ran"; }
  [ $SECONDS -lt $deadline ] || { cat node.log >&2; fail "greetings not running after 60 s"; }
  sleep 0.5
done
./node_modules/.bin/fife tree --config fife.json | grep -q 'greetings_greeter' || fail "fife tree does not show greetings_greeter"
grep -q '"msg":"app started"' node.log && grep '"msg":"app started"' node.log | grep -q '"app":"greetings"' ||
  fail "no 'app started' log line for greetings"
kill -TERM "$NODE_PID"
code=0
wait "$NODE_PID" || code=$?
NODE_PID=
[ "$code" = 0 ] || { cat node.log >&2; fail "fife start exited $code after SIGTERM"; }
step "greetings ran on a node started from the installed package, and stopped (exit 0)"

# 4. examples/hello-app, outside the repository, on the same tarball
cp -r "$ROOT/examples/hello-app" "$TMP/hello-app"
cd "$TMP/hello-app"
rm -rf node_modules dist
step "examples/hello-app: npm install && npm test"
npm install --silent "$TARBALL" >/dev/null
npm test || fail "examples/hello-app's npm test"
step "ok"
