#!/usr/bin/env bash
# Local services for development and tests: Redis, a private PostgreSQL cluster and FerretDB
# v1.24.2 on top of it (see docs/local-services.md). Each service is reused when something
# already answers on its port, so this is safe to call from `npm start`, jest's global setup and
# CI alike.
#
#   bash scripts/services.sh start [--quiet]   start (or reuse) all three, wait until they answer
#   bash scripts/services.sh stop              stop what this script started
#   bash scripts/services.sh status            say what answers
#   bash scripts/services.sh build-ferretdb    only build the FerretDB binary into the cache
#   bash scripts/services.sh secrets-key       print the local SECRETS_KEY (made once in .data)
#   bash scripts/services.sh chromium [--quiet]  install Debian's Chromium for the browser test
#                                              when it is missing (jest's global setup calls it)
#   bash scripts/services.sh cluster start|stop|status|url [--quiet]
#                                              a local Redis Cluster: 3 masters, 3 replicas on
#                                              127.0.0.1:7000-7005 (OFFBOARD_CLUSTER_PORT is the
#                                              first); `url` prints its REDIS_URL
#
# MONGO_URL / REDIS_URL win: when set, the matching local service is neither started nor stopped.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir="${OFFBOARD_DATA_DIR:-$root/.data}"
cache_dir="${OFFBOARD_CACHE_DIR:-$root/.cache}"
redis_port="${OFFBOARD_REDIS_PORT:-6379}"
pg_port="${OFFBOARD_PG_PORT:-54329}"
mongo_port="${OFFBOARD_MONGO_PORT:-27017}"
cluster_port="${OFFBOARD_CLUSTER_PORT:-7000}"
# How long a master may be silent before its replica takes over: short, so the drills' failover
# takes seconds (production keeps Redis's 15 s default or tunes it to its network).
cluster_node_timeout="${OFFBOARD_CLUSTER_NODE_TIMEOUT_MS:-2000}"
ferretdb_version="v1.24.2"
ferretdb_bin="$cache_dir/ferretdb-$ferretdb_version/bin/ferretdb"
quiet=0

say() { [ "$quiet" = 1 ] || echo "services: $*" >&2; }
fail() {
  echo "services: $1" >&2
  echo "services: with Docker instead: 'docker compose up -d mongo redis', then set" >&2
  echo "services:   MONGO_URL=mongodb://127.0.0.1:27017/offboard REDIS_URL=redis://127.0.0.1:6379" >&2
  exit 1
}

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name, seconds, command...
  local name=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
  say "$name answers"
}

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() { # package...
  is_root || return 1
  say "installing $* with apt-get"
  if [ ! -f "$data_dir/.apt-updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
    mkdir -p "$data_dir" && touch "$data_dir/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

pg_bin_dir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# --- Redis ---------------------------------------------------------------------------------
start_redis() {
  if [ -n "${REDIS_URL:-}" ]; then say "REDIS_URL is set: not starting a local Redis"; return; fi
  if port_answers "$redis_port"; then say "Redis already answers on $redis_port: reusing it"; return; fi
  command -v redis-server >/dev/null || apt_install redis-server ||
    fail "redis-server is missing: install it with 'apt-get install -y redis-server' (as root)"
  mkdir -p "$data_dir/redis"
  # No persistence: this Redis is a development and test instance.
  redis-server --bind 127.0.0.1 --port "$redis_port" --maxmemory-policy noeviction \
    --save '' --appendonly no --dir "$data_dir/redis" --daemonize yes \
    --pidfile "$data_dir/redis.pid" --logfile "$data_dir/redis.log" >/dev/null
  wait_for "Redis on $redis_port" 20 redis-cli -p "$redis_port" ping ||
    fail "Redis did not answer on $redis_port; see $data_dir/redis.log"
}

# --- PostgreSQL ----------------------------------------------------------------------------
run_pg() { # command... (as the postgres user when we are root: initdb refuses root)
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Where the cluster lives (its data, socket and log): .data, unless the postgres user, who runs
# it when we are root, cannot reach .data, as when the project sits in a folder only root may
# enter (/root, `mktemp -d`: mode 700). Then a postgres-owned folder under /var/tmp named after
# .data's path, remembered in .data/pg-home so that `stop` finds it.
pg_home_file="$data_dir/pg-home"

pg_home() {
  if [ -f "$pg_home_file" ]; then cat "$pg_home_file"; else echo "$data_dir"; fi
}

choose_pg_home() {
  if [ -f "$pg_home_file" ] || ! is_root || [ -f "$data_dir/pg/PG_VERSION" ] ||
    runuser -u postgres -- test -x "$data_dir"; then
    pg_home
    return
  fi
  local dir
  dir="/var/tmp/offboard-pg-$(printf '%s' "$data_dir" | sha256sum | cut -c1-16)"
  if [ -e "$dir" ] || [ -L "$dir" ]; then
    # A name anyone could guess: use it only if it is the postgres user's own folder.
    [ -d "$dir" ] && [ ! -L "$dir" ] && [ "$(stat -c %U "$dir")" = postgres ] ||
      fail "$dir exists but is not a folder of the postgres user: remove it"
  else
    mkdir -m 700 "$dir" && chown postgres "$dir"
  fi
  say "the postgres user cannot enter $data_dir: the PostgreSQL cluster goes to $dir"
  echo "$dir" >"$pg_home_file"
  echo "$dir"
}

start_postgres() {
  if port_answers "$pg_port"; then say "PostgreSQL already answers on $pg_port: reusing it"; return; fi
  local bin
  bin=$(pg_bin_dir) || { apt_install postgresql && bin=$(pg_bin_dir); } ||
    fail "PostgreSQL is missing: install it with 'apt-get install -y postgresql' (as root)"
  local home
  home=$(choose_pg_home)
  local pg_data="$home/pg" pg_socket="$home/pg-socket" pg_log="$home/postgres.log"
  mkdir -p "$pg_data" "$pg_socket"
  is_root && chown postgres "$home" "$pg_data" "$pg_socket" && chmod 700 "$pg_data"
  if [ ! -f "$pg_data/PG_VERSION" ]; then
    say "creating a private PostgreSQL cluster in $pg_data"
    # UTF8 whatever the locale (FerretDB refuses SQL_ASCII, what a bare environment's C locale
    # gives); the C collation needs no locale installed.
    run_pg "$bin/initdb" -D "$pg_data" -A trust -U postgres -E UTF8 --no-locale \
      >"$data_dir/initdb.log" 2>&1 ||
      fail "initdb failed; see $data_dir/initdb.log"
  fi
  run_pg "$bin/pg_ctl" -D "$pg_data" -l "$pg_log" -w -t 30 \
    -o "-p $pg_port -k $pg_socket -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400" start >/dev/null ||
    fail "PostgreSQL did not start; see $pg_log"
  touch "$data_dir/postgres.started"
  if ! "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -tAc \
    "select 1 from pg_database where datname='ferretdb'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres ferretdb
  fi
  say "PostgreSQL answers on $pg_port"
}

# --- FerretDB ------------------------------------------------------------------------------
build_ferretdb() {
  [ -x "$ferretdb_bin" ] && return
  command -v go >/dev/null || fail "Go is missing: FerretDB $ferretdb_version is built from the Go module proxy"
  say "building FerretDB $ferretdb_version once into $cache_dir (about two minutes)"
  local started=$SECONDS src="$cache_dir/ferretdb-$ferretdb_version/src" dir
  # `go install ...@version` asks the proxy for a version list it refuses here, and a build
  # straight from the module cache lacks build/version/version.txt and panics at start.
  export GOTOOLCHAIN=local GOFLAGS=-mod=mod
  dir=$(go mod download -json "github.com/FerretDB/FerretDB@$ferretdb_version" |
    sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$dir" ] || fail "could not download github.com/FerretDB/FerretDB@$ferretdb_version"
  rm -rf "$src" && mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src" && chmod -R u+w "$src"
  echo "$ferretdb_version" >"$src/build/version/version.txt"
  (cd "$src" && go build -trimpath -o "$ferretdb_bin" ./cmd/ferretdb) ||
    fail "building FerretDB failed (see the go output above)"
  rm -rf "$src"
  say "FerretDB built in $((SECONDS - started)) s"
}

start_ferretdb() {
  if [ -n "${MONGO_URL:-}" ]; then say "MONGO_URL is set: not starting a local FerretDB"; return; fi
  if port_answers "$mongo_port"; then say "MongoDB-compatible store already answers on $mongo_port: reusing it"; return; fi
  start_postgres
  build_ferretdb
  # The PostgreSQL backend pushes filters down to SQL; the SQLite one scans whole collections.
  # FerretDB creates schemas and tables under a metadata write lock while it takes a pool
  # connection; with its default pool of 50, requests holding connections and waiting for that
  # lock can starve it (seen here: a deadlock under parallel test runs). A pool well above the
  # clients' own pools (MONGO_MAX_POOL_SIZE) keeps a connection free for it.
  nohup "$ferretdb_bin" --handler=postgresql \
    --postgresql-url="postgres://postgres@127.0.0.1:$pg_port/ferretdb?pool_max_conns=300" \
    --listen-addr="127.0.0.1:$mongo_port" --debug-addr=- --state-dir=- --telemetry=disable \
    --log-level=warn >"$data_dir/ferretdb.log" 2>&1 &
  echo $! >"$data_dir/ferretdb.pid"
  wait_for "FerretDB on $mongo_port" 30 port_answers "$mongo_port" ||
    fail "FerretDB did not answer on $mongo_port; see $data_dir/ferretdb.log"
}

# --- Redis Cluster (tests and drills of the scale-out, DESIGN.md 10) ------------------------
cluster_ports() { seq "$cluster_port" $((cluster_port + 5)); }
cluster_dir() { echo "$data_dir/redis-cluster/$1"; }

cluster_url() {
  local nodes
  nodes=$(cluster_ports | sed 's/^/127.0.0.1:/' | paste -sd, -)
  echo "redis+cluster://$nodes"
}

# Starts (or restarts) one node from its folder; its nodes.conf remembers its place in the
# cluster, so a node restarted after a failover comes back as a replica of whoever took over.
start_cluster_node() { # port
  local port=$1 dir
  dir=$(cluster_dir "$port")
  mkdir -p "$dir"
  # No persistence, like the single test Redis: a replica holds each master's data. Full
  # coverage is not required, so the slots of the other masters keep answering while one
  # master's slots wait for its replica. A replica may always take over (validity factor 0):
  # on a loaded machine a replica's link can look stale for longer than ten node timeouts, and
  # Redis would then leave the slots with no master rather than promote it.
  redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
    --cluster-config-file nodes.conf --cluster-node-timeout "$cluster_node_timeout" \
    --cluster-replica-validity-factor 0 \
    --cluster-require-full-coverage no --maxmemory-policy noeviction --save '' \
    --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" >/dev/null
}

cluster_info() { redis-cli -p "$cluster_port" cluster info 2>/dev/null | tr -d '\r'; }
cluster_state_ok() { cluster_info | grep -q '^cluster_state:ok$'; }

cluster_start() {
  command -v redis-server >/dev/null || apt_install redis-server ||
    fail "redis-server is missing: install it with 'apt-get install -y redis-server' (as root)"
  local port started=0
  for port in $(cluster_ports); do
    if port_answers "$port"; then continue; fi
    start_cluster_node "$port"
    started=1
  done
  for port in $(cluster_ports); do
    wait_for "Redis Cluster node on $port" 20 redis-cli -p "$port" ping ||
      fail "the Redis Cluster node on $port did not answer; see $(cluster_dir "$port")/redis.log"
  done
  if cluster_info | grep -q '^cluster_known_nodes:1$'; then
    say "creating the Redis Cluster: 3 masters, 3 replicas"
    # shellcheck disable=SC2046
    redis-cli --cluster create $(cluster_ports | sed 's/^/127.0.0.1:/') \
      --cluster-replicas 1 --cluster-yes >"$data_dir/redis-cluster/create.log" 2>&1 ||
      fail "redis-cli --cluster create failed; see $data_dir/redis-cluster/create.log"
  elif [ "$started" = 0 ]; then
    say "Redis Cluster already answers on $cluster_port-$((cluster_port + 5)): reusing it"
  fi
  wait_for "Redis Cluster (state ok)" 30 cluster_state_ok ||
    fail "the Redis Cluster did not reach state ok; see $data_dir/redis-cluster/*/redis.log"
}

cluster_stop() {
  local port
  for port in $(cluster_ports); do stop_pidfile "Redis Cluster node $port" "$(cluster_dir "$port")/redis.pid"; done
  # Its state is test data: the next start creates a fresh cluster.
  rm -rf "$data_dir/redis-cluster"
}

cluster_status() {
  local port
  for port in $(cluster_ports); do
    if port_answers "$port"; then
      echo "redis cluster: $port $(redis-cli -p "$port" role | head -n 1 | tr -d '\r')"
    else
      echo "redis cluster: $port down"
    fi
  done
  cluster_state_ok && echo "redis cluster: state ok ($(cluster_url))" || echo "redis cluster: not ok"
}

# --- Chromium (the dashboard's browser test, test/e2e/operations.test.ts) ---------------------
ensure_chromium() {
  local browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
  [ -x "$browser" ] && return
  apt_install chromium || true
  [ -x "$browser" ] && { say "Chromium installed"; return; }
  echo "services: Chromium is missing at $browser: the browser test needs it. Install it with" >&2
  echo "services:   'apt-get install -y chromium' (as root), or point CHROMIUM_PATH at a Chromium" >&2
  exit 1
}

# --- stop ----------------------------------------------------------------------------------
stop_pidfile() { # name, pidfile
  [ -f "$2" ] || return 0
  local pid
  pid=$(cat "$2")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    say "stopped $1"
  fi
  rm -f "$2"
}

stop_all() {
  stop_pidfile FerretDB "$data_dir/ferretdb.pid"
  stop_pidfile Redis "$data_dir/redis.pid"
  # The Redis Cluster too, when the tests or the bench started it (`cluster start`).
  if [ -d "$data_dir/redis-cluster" ]; then cluster_stop; fi
  if [ -f "$data_dir/postgres.started" ]; then
    local bin
    bin=$(pg_bin_dir) && run_pg "$bin/pg_ctl" -D "$(pg_home)/pg" -m fast -w stop >/dev/null 2>&1 &&
      say "stopped PostgreSQL"
    rm -f "$data_dir/postgres.started"
  fi
}

# The local default's SECRETS_KEY (webhook secrets at rest): made once, kept in the git-ignored
# data folder, readable by this user only. Nothing is printed when MONGO_URL names another store:
# its key is that deployment's to set, never one made up on this disk.
secrets_key() {
  [ -z "${MONGO_URL:-}" ] || return 0
  local file="$data_dir/secrets-key"
  if [ ! -s "$file" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 >"$file")
  fi
  cat "$file"
}

status() {
  port_answers "$redis_port" && echo "redis: answers on $redis_port" || echo "redis: down"
  port_answers "$pg_port" && echo "postgresql: answers on $pg_port" || echo "postgresql: down"
  [ ! -f "$pg_home_file" ] || echo "postgresql: cluster in $(pg_home)/pg"
  port_answers "$mongo_port" && echo "mongodb (FerretDB): answers on $mongo_port" || echo "mongodb (FerretDB): down"
}

command=${1:-start}
[ "${2:-}" = "--quiet" ] && quiet=1
mkdir -p "$data_dir"
case "$command" in
  start) start_redis; start_ferretdb ;;
  stop) stop_all ;;
  status) status ;;
  build-ferretdb) build_ferretdb ;;
  secrets-key) secrets_key ;;
  chromium) ensure_chromium ;;
  cluster)
    [ "${3:-}" = "--quiet" ] && quiet=1
    case "${2:-start}" in
      start) cluster_start ;;
      stop) cluster_stop ;;
      status) cluster_status ;;
      url) cluster_url ;;
      *) echo "usage: services.sh cluster start|stop|status|url [--quiet]" >&2; exit 2 ;;
    esac
    ;;
  *) echo "usage: services.sh start [--quiet] | stop | status | build-ferretdb | secrets-key | chromium [--quiet] | cluster start|stop|status|url" >&2; exit 2 ;;
esac
