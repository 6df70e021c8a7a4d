#!/usr/bin/env bash
# Installs the native local service stack (NATS JetStream, Redis, Neo4j, MinIO)
# plus a process supervisor, for process-compose.yml / scripts/stack.sh.
#
# Only package registries are reachable on our machines (no GitHub releases,
# neo4j.com or dl.min.io), so everything is built from registry packages:
#   nats-server, minio  -> Go module proxy (go install)
#   redis-server        -> Debian apt
#   Neo4j               -> Maven Central (embedded Neo4j + a tiny launcher,
#                          scripts/neo4j/)
#   decompose           -> crates.io; a process-compose compatible supervisor.
#                          process-compose itself is not served by the Go proxy
#                          here, so it is used only when already in PATH.
#
# Idempotent: each component records its pinned version in a stamp file and is
# skipped on later runs, so a warm run takes seconds. Everything lands under
# $EDGEBOX_CACHE (default ~/.cache/edgebox), which CI can cache as one folder.
# Result: $EDGEBOX_CACHE/services.env, to be sourced by other scripts.
#
# `--optional` also installs the optional observability processes of process-compose.yml:
# Prometheus (Debian apt) and Jaeger v2 (built from the Go module proxy as a tool of a small
# module, since `go install` refuses Jaeger's replace directives). CI does not need them.
#
# Env knobs: EDGEBOX_CACHE, EDGEBOX_FORCE=1 (rebuild everything).
set -euo pipefail

# --- Pinned versions (bump here; a change triggers a rebuild of that part) ---
NATS_SERVER_VERSION="v2.15.2"
# MinIO publishes no semver module tags, only RELEASE.* ones the Go tooling
# ignores; this pseudo-version is what @latest resolves to on the Go proxy (a
# commit of 2026-02-12). Its go.mod asks for Go 1.24, so Go 1.26 builds it.
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
NEO4J_VERSION="5.26.30" # keep in sync with scripts/neo4j/pom.xml
DECOMPOSE_VERSION="0.6.1"
JAEGER_VERSION="v1.76.0" # the module's v1 tags carry Jaeger v2 (cmd/jaeger)
# Redis comes from Debian bookworm, whose patch build moves with security
# updates, so only the series is checked.
REDIS_SERIES="7.0"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EDGEBOX_CACHE="${EDGEBOX_CACHE:-$HOME/.cache/edgebox}"
BIN_DIR="$EDGEBOX_CACHE/bin"
STAMP_DIR="$EDGEBOX_CACHE/stamps"
ENV_FILE="$EDGEBOX_CACHE/services.env"
mkdir -p "$BIN_DIR" "$STAMP_DIR"

# Two concurrent runs (e.g. parallel CI steps) would fight over the same outputs.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$EDGEBOX_CACHE/.install.lock"
  flock 9
fi

log() { printf '[install-services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required: $2"; }

# stamp_ok NAME VALUE FILE...: true when NAME was built at VALUE and FILEs exist.
stamp_ok() {
  local name="$1" value="$2"; shift 2
  [[ "${EDGEBOX_FORCE:-0}" != 1 ]] || return 1
  [[ -f "$STAMP_DIR/$name" && "$(cat "$STAMP_DIR/$name")" == "$value" ]] || return 1
  local f
  for f in "$@"; do [[ -e "$f" ]] || return 1; done
}
stamp_write() { printf '%s\n' "$2" >"$STAMP_DIR/$1"; }

SUMMARY=()
summary() { SUMMARY+=("$(printf '%-14s %-40s %s' "$1" "$2" "$3")"); }

# Runs "$@", logging how long it took (the builds are slow the first time).
timed() {
  local what="$1" start=$SECONDS rc=0; shift
  log "$what ..."
  "$@" || rc=$?
  if ((rc)); then log "$what: FAILED after $((SECONDS - start))s"; return "$rc"; fi
  log "$what: done in $((SECONDS - start))s"
}

# Maven is noisy even with -q: keep its output in a file, show it on failure.
mvn_logged() { # LOGFILE ARGS...
  local logfile="$1"; shift
  mvn "$@" >"$logfile" 2>&1 || { cat "$logfile" >&2; return 1; }
}

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"; else need sudo "to install apt packages as non-root"; sudo "$@"; fi
}

# --- redis-server (apt) -----------------------------------------------------
install_redis() {
  local installed_now=0
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    need apt-get "redis comes from Debian's apt repository"
    # A fresh machine may have empty or stale package lists; update only then.
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        redis-server redis-tools >/dev/null; then
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        redis-server redis-tools >/dev/null
    fi
    installed_now=1
  fi
  # On a systemd host the package starts its own redis on 6379, which would
  # collide with the stack's redis. Only undo that for a package we just
  # installed; a redis the user already ran is theirs.
  if [[ "$installed_now" == 1 ]] && command -v systemctl >/dev/null 2>&1 \
      && systemctl is-active --quiet redis-server 2>/dev/null; then
    log "stopping and disabling Debian's redis-server service (the stack runs its own)"
    as_root systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
  REDIS_SERVER_BIN="$(command -v redis-server)"
  REDIS_CLI_BIN="$(command -v redis-cli)"
  local v
  v="$("$REDIS_SERVER_BIN" --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')"
  [[ "$v" == "$REDIS_SERIES".* ]] || log "warning: redis-server $v is not the expected $REDIS_SERIES.x"
  summary redis-server "$v" "$REDIS_SERVER_BIN"
}

# --- Go-built binaries ------------------------------------------------------
install_go_tool() { # NAME MODULE VERSION
  local name="$1" module="$2" version="$3"
  if ! stamp_ok "$name" "$module@$version" "$BIN_DIR/$name"; then
    need go "install Go (1.24+) to build $name"
    timed "building $name $version with go install" env GOBIN="$BIN_DIR" go install "$module@$version"
    stamp_write "$name" "$module@$version"
  fi
  summary "$name" "$version" "$BIN_DIR/$name"
}

# --- decompose (process-compose compatible supervisor, crates.io) -----------
install_decompose() {
  local root="$EDGEBOX_CACHE/decompose"
  if ! stamp_ok decompose "$DECOMPOSE_VERSION" "$root/bin/decompose"; then
    need cargo "install Rust (rustup) to build decompose"
    timed "building decompose $DECOMPOSE_VERSION with cargo install" \
      cargo install --quiet --locked --force decompose --version "$DECOMPOSE_VERSION" --root "$root"
    stamp_write decompose "$DECOMPOSE_VERSION"
  fi
  ln -sfn "$root/bin/decompose" "$BIN_DIR/decompose"
  summary decompose "$DECOMPOSE_VERSION" "$BIN_DIR/decompose"
}

# --- Neo4j (embedded, Maven Central) ----------------------------------------
install_neo4j() {
  local src="$REPO_ROOT/scripts/neo4j" home="$EDGEBOX_CACHE/neo4j"
  local dist="$home/dist" launcher="$BIN_DIR/edgebox-neo4j" key
  # Rebuild when the launcher source changes too, not only on a version bump.
  key="$NEO4J_VERSION $(cat "$src/pom.xml" "$src"/src/main/java/dev/edgebox/neo4j/*.java | sha256sum | cut -c1-16)"
  grep -q "<neo4j.version>$NEO4J_VERSION</neo4j.version>" "$src/pom.xml" \
    || die "NEO4J_VERSION ($NEO4J_VERSION) differs from scripts/neo4j/pom.xml"
  if ! stamp_ok neo4j "$key" "$dist/edgebox-neo4j.jar"; then
    need java "install a JDK 17 or 21 (apt: openjdk-17-jdk-headless)"
    need mvn "install Maven (apt: maven)"
    # Build into a fresh folder (no stale jars from an older Neo4j on the
    # classpath), then swap it in so the launcher is never half-built.
    rm -rf "$dist.new" "$home/build"
    mkdir -p "$home"
    timed "building Neo4j $NEO4J_VERSION launcher with maven" \
      mvn_logged "$home/maven.log" -B -q -f "$src/pom.xml" \
        -Dmaven.repo.local="$EDGEBOX_CACHE/m2" \
        -Dedgebox.build.dir="$home/build" -Dedgebox.dist.dir="$dist.new" \
        package
    rm -rf "$dist" && mv "$dist.new" "$dist"
    stamp_write neo4j "$key"
  fi
  # Rewritten on every run (cheap), so flag changes here apply without a rebuild.
  # JAVA_OPTS replaces the heap settings. The --add-opens flags are ones the
  # Neo4j server distribution passes; without them the page cache falls back to
  # a slower mode.
  cat >"$launcher.tmp" <<EOF
#!/bin/sh
# Generated by scripts/install-services.sh: embedded Neo4j $NEO4J_VERSION.
# Settings: NEO4J_BOLT_ADDRESS, NEO4J_DATA_DIR, NEO4J_PASSWORD, NEO4J_PAGECACHE_MB.
exec "\${JAVA:-java}" \${JAVA_OPTS:--Xms256m -Xmx1g} \\
  -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -XX:-OmitStackTraceInFastThrow \\
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \\
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED -Dio.netty.tryReflectionSetAccessible=true \\
  -cp "$dist/edgebox-neo4j.jar:$dist/lib/*" dev.edgebox.neo4j.EdgeboxNeo4j "\$@"
EOF
  chmod +x "$launcher.tmp"
  mv "$launcher.tmp" "$launcher"
  summary neo4j "$NEO4J_VERSION" "$launcher"
}

# --- optional: Prometheus (apt) and Jaeger (Go module proxy) ---------------------
install_prometheus() {
  if ! command -v prometheus >/dev/null 2>&1; then
    need apt-get "Prometheus comes from Debian's apt repository"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      prometheus >/dev/null
  fi
  PROMETHEUS_BIN="$(command -v prometheus)"
  summary prometheus "$("$PROMETHEUS_BIN" --version 2>&1 | sed -n '1s/^prometheus, version \([^ ]*\).*/\1/p')" \
    "$PROMETHEUS_BIN"
}

install_jaeger() {
  local module="$EDGEBOX_CACHE/jaeger-module"
  if ! stamp_ok jaeger "$JAEGER_VERSION" "$BIN_DIR/jaeger"; then
    need go "install Go (1.24+) to build Jaeger"
    rm -rf "$module" && mkdir -p "$module"
    build_jaeger() {
      (cd "$module" && go mod init edgebox-jaeger >/dev/null 2>&1 &&
        go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" &&
        GOBIN="$BIN_DIR" go install tool)
    }
    timed "building jaeger $JAEGER_VERSION as a Go tool" build_jaeger
    stamp_write jaeger "$JAEGER_VERSION"
  fi
  JAEGER_BIN="$BIN_DIR/jaeger"
  summary jaeger "$JAEGER_VERSION" "$JAEGER_BIN"
}

write_env() {
  local tmp="$ENV_FILE.tmp" pc=""
  pc="$(command -v process-compose 2>/dev/null || true)"
  {
    echo "# Generated by scripts/install-services.sh; source it before scripts/stack.sh."
    printf 'export EDGEBOX_CACHE=%q\n' "$EDGEBOX_CACHE"
    printf 'export NATS_SERVER_BIN=%q\n' "$BIN_DIR/nats-server"
    printf 'export REDIS_SERVER_BIN=%q\n' "$REDIS_SERVER_BIN"
    printf 'export REDIS_CLI_BIN=%q\n' "$REDIS_CLI_BIN"
    printf 'export MINIO_BIN=%q\n' "$BIN_DIR/minio"
    printf 'export NEO4J_LAUNCHER=%q\n' "$BIN_DIR/edgebox-neo4j"
    printf 'export DECOMPOSE_BIN=%q\n' "$BIN_DIR/decompose"
    # The optional processes, whenever they are installed (by --optional now or earlier).
    local prometheus; prometheus="$(command -v prometheus 2>/dev/null || true)"
    if [[ -n "$prometheus" ]]; then printf 'export PROMETHEUS_BIN=%q\n' "$prometheus"; fi
    if [[ -x "$BIN_DIR/jaeger" ]]; then printf 'export JAEGER_BIN=%q\n' "$BIN_DIR/jaeger"; fi
    # Only set when a process-compose binary exists (it cannot be built here).
    if [[ -n "$pc" ]]; then printf 'export PROCESS_COMPOSE_BIN=%q\n' "$pc"; fi
  } >"$tmp"
  mv "$tmp" "$ENV_FILE"
}

main() {
  local start=$SECONDS
  install_redis
  install_go_tool nats-server github.com/nats-io/nats-server/v2 "$NATS_SERVER_VERSION"
  install_go_tool minio github.com/minio/minio "$MINIO_VERSION"
  install_decompose
  install_neo4j
  if [[ "${1:-}" == "--optional" ]]; then
    install_prometheus
    install_jaeger
  fi
  write_env
  printf '%s\n' "${SUMMARY[@]}"
  printf '%-14s %-40s %s\n' env-file "" "$ENV_FILE"
  log "finished in $((SECONDS - start))s"
}

main "$@"
