#!/usr/bin/env bash
# SCIM compliance: runs scim2-tester (through scim2-cli, clients nobody here wrote) against the
# real service: a fresh database with the demo organization, a key with only the `scim` scope,
# the API and workers of `npm start` on a free port. Fails unless every check is SUCCESS.
#
#   bash scripts/scim-compliance.sh          (SCIM_VENV overrides the virtual environment's folder)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${SCIM_VENV:-.data/scim-venv}
mkdir -p .data

if [ ! -x "$venv/bin/scim2" ]; then
  # A brand-new Debian machine has python3 without its venv module.
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check scim2-cli scim2-tester
fi

bash scripts/services.sh start --quiet
suffix="$(date +%s)_$$"
export MONGO_URL="mongodb://127.0.0.1:27017/scim_compliance_${suffix}"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export QUEUE_PREFIX="scim_compliance_${suffix}"
export LOG_LEVEL=${LOG_LEVEL:-warn}
# The erasure of users deleted while their run was going waits for the reconciler.
export RECONCILE_INTERVAL_MS=1000
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=.data/scim-compliance-service.log
server=""

cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  node -e '
    const { MongoClient } = require("mongodb");
    const { Redis } = require("ioredis");
    (async () => {
      const mongo = await MongoClient.connect(process.env.MONGO_URL);
      await mongo.db().dropDatabase();
      await mongo.close();
      const redis = new Redis(process.env.REDIS_URL);
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${process.env.QUEUE_PREFIX}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== "0");
      await redis.quit();
    })().catch((error) => { console.error(error.message); process.exit(1); });
  ' || echo "scim-compliance: clean-up of ${QUEUE_PREFIX} failed" >&2
}
trap cleanup EXIT

npx tsx src/entry/seed-cli.ts >/dev/null
key=$(npx tsx src/entry/keys-cli.ts create --name scim-compliance --scopes scim --orgs org_demo 2>/dev/null)

PORT=$port node --import tsx src/entry/main.ts >"$log" 2>&1 &
server=$!
for _ in $(seq 1 150); do
  curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; echo "the service exited" >&2; exit 1; }
  sleep 0.2
done

set +e
# The key goes through the environment: a command line is visible to every user of the machine.
SCIM_CLI_HEADERS="Authorization: Bearer ${key}" \
  "$venv/bin/scim2" --url "http://127.0.0.1:${port}/scim/v2/orgs/org_demo" test |
  tee .data/scim-compliance.txt
status=${PIPESTATUS[0]}
set -e
checks=$(grep -cE '^(SUCCESS|ERROR|CRITICAL|SKIPPED|WARNING)' .data/scim-compliance.txt || true)
failed=$(grep -cvE '^(SUCCESS|  |Performing)' .data/scim-compliance.txt || true)
echo "scim-compliance: ${checks} checks, ${failed} not SUCCESS, scim2 exit ${status}"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$checks" -gt 0 ]
