#!/usr/bin/env bash
# Fuzzes the API against its own OpenAPI document with schemathesis (PyPI): every status it
# answers must be documented and every body must match its schema (scripts/schemathesis.toml).
#
#   bash scripts/schemathesis.sh [extra schemathesis run options]
#
# schemathesis lives in a virtual environment in .data/venv (created on first use; Debian's
# python3-venv is installed with apt-get when missing and root). The API runs on a free port,
# on a database and queue prefix of its own (dropped afterwards), with the demo organization
# seeded and an API key bound to it with every scope, on the local services (started or reused
# as by `npm start`) unless MONGO_URL / REDIS_URL point elsewhere (the database name in MONGO_URL
# is replaced).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
data_dir="${OFFBOARD_DATA_DIR:-$root/.data}"
venv="$data_dir/venv"
schemathesis_version="4.32.5"
say() { echo "schemathesis: $*" >&2; }

# --- schemathesis in a virtual environment ---------------------------------------------------
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$schemathesis_version"; then
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    [ "$(id -u)" = 0 ] || { say "python3-venv is missing: apt-get install -y python3-venv (as root)"; exit 1; }
    say "installing python3-venv with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
  fi
  say "installing schemathesis $schemathesis_version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

# --- an API of its own -------------------------------------------------------------------------
bash scripts/services.sh start --quiet
base_mongo="${MONGO_URL:-mongodb://127.0.0.1:27017/offboard}"
suffix="fuzz_$$_$RANDOM"
export MONGO_URL="${base_mongo%/*}/offboard_$suffix"
export QUEUE_PREFIX="$suffix"
# Webhooks are on, as in a real deployment: without SECRETS_KEY creating one is a 503 by design.
export SECRETS_KEY="${SECRETS_KEY:-$(head -c 32 /dev/urandom | base64)}"
# No worker takes webhook deliveries here: fuzzed endpoints name arbitrary URLs, and nothing may
# be sent off this machine.
export WORKER_QUEUES=deactivations,deactivation-steps,bulk-deactivations,sweeps,erasures,maintenance
export LOG_LEVEL=warn
export PORT
PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
log="$data_dir/schemathesis-api.log"
mkdir -p "$data_dir"
api_pid=""

cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
  # The database and the queue keys of this run only.
  node -e "
    const { MongoClient } = require('mongodb');
    const client = new MongoClient(process.env.MONGO_URL);
    client.connect().then(() => client.db().dropDatabase()).finally(() => client.close());
  " >/dev/null 2>&1 || true
  node -e "
    const { Redis } = require('ioredis');
    const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
    (async () => {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', process.env.QUEUE_PREFIX + ':*', 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    })().finally(() => redis.disconnect());
  " >/dev/null 2>&1 || true
}
trap cleanup EXIT

node --import tsx src/entry/seed-cli.ts >/dev/null
OFFBOARD_FUZZ_KEY=$(node --import tsx src/entry/keys-cli.ts create --name schemathesis --scopes '*' --orgs org_demo 2>/dev/null)
export OFFBOARD_FUZZ_KEY OFFBOARD_FUZZ_ORG=org_demo OFFBOARD_FUZZ_URL="http://127.0.0.1:$PORT"
# API and workers, so runs and bulks really progress while they are fuzzed.
# One node process (no npx or tsx wrapper), so the pid below is the API's own.
node --import tsx src/entry/main.ts >"$log" 2>&1 &
api_pid=$!
for _ in $(seq 150); do
  node -e "fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" \
    "$OFFBOARD_FUZZ_URL/readyz" && break
  kill -0 "$api_pid" 2>/dev/null || { say "the API did not start; see $log"; exit 1; }
  sleep 0.2
done

say "fuzzing $OFFBOARD_FUZZ_URL/openapi.json (log: $log)"
"$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run --no-color \
  "$OFFBOARD_FUZZ_URL/openapi.json" "$@"
