#!/usr/bin/env bash
# Runs the local service stack defined in process-compose.yml in the background.
#
#   scripts/stack.sh up [--services-only] [PROCESS...]   start (detached)
#   scripts/stack.sh wait [--timeout SECS] [--all] [PROCESS...]
#                                   block until the services answer real probes
#   scripts/stack.sh status                               process table
#   scripts/stack.sh stop|start|restart PROCESS...        control single processes
#   scripts/stack.sh logs [PROCESS...]                    dump logs (CI failures)
#   scripts/stack.sh down                                 stop everything
#
# `--services-only` starts nats, redis, neo4j and minio but not edgebox, for
# tests that start edgebox themselves. `wait` defaults to those four services.
#
# Supervisor: decompose (built by install-services.sh; reads process-compose.yml
# as is) or process-compose if that is what is installed. EDGEBOX_SUPERVISOR=
# decompose|process-compose picks one explicitly. The process-compose path
# follows its documented CLI but cannot be exercised on machines that only reach
# package registries, since the Go proxy does not serve it.
#
# Env: EDGEBOX_CACHE (where services.env lives), STACK_WAIT_TIMEOUT (default 240).
# Works without a TTY (CI): nothing here prompts, pages or opens a TUI.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EDGEBOX_CACHE="${EDGEBOX_CACHE:-$HOME/.cache/edgebox}"
CONFIG="$REPO_ROOT/process-compose.yml"
SERVICES=(nats redis neo4j minio)
ALL_PROCESSES=("${SERVICES[@]}" edgebox)

# Binaries built by install-services.sh; the YAML falls back to PATH without it.
# A variable the caller already set (e.g. NEO4J_LAUNCHER=...) wins over the file.
if [[ -f "$EDGEBOX_CACHE/services.env" ]]; then
  while IFS= read -r line; do
    [[ "$line" =~ ^export\ ([A-Za-z_][A-Za-z0-9_]*)= ]] || continue
    [[ -n "${!BASH_REMATCH[1]+set}" ]] || eval "$line"
  done <"$EDGEBOX_CACHE/services.env"
fi

log() { printf '[stack] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Relative paths in process-compose.yml (./data/...) are relative to the repo root.
cd "$REPO_ROOT"
mkdir -p data

pick_supervisor() { # [optional]: with "optional", settle for SUP=none
  local want="${EDGEBOX_SUPERVISOR:-}" dc pc
  dc="${DECOMPOSE_BIN:-$(command -v decompose 2>/dev/null || true)}"
  pc="${PROCESS_COMPOSE_BIN:-$(command -v process-compose 2>/dev/null || true)}"
  [[ -n "$dc" && -x "$dc" ]] || dc=""
  [[ -n "$pc" && -x "$pc" ]] || pc=""
  case "$want" in
    decompose) [[ -n "$dc" ]] || die "decompose not found; run scripts/install-services.sh"
      SUP=decompose SUP_BIN="$dc" ;;
    process-compose) [[ -n "$pc" ]] || die "process-compose not found in PATH or PROCESS_COMPOSE_BIN"
      SUP=process-compose SUP_BIN="$pc" ;;
    "")
      if [[ -n "$dc" ]]; then SUP=decompose SUP_BIN="$dc"
      elif [[ -n "$pc" ]]; then SUP=process-compose SUP_BIN="$pc"
      elif [[ "${1:-}" == optional ]]; then SUP=none SUP_BIN=""
      else die "no supervisor found; run scripts/install-services.sh"; fi ;;
    *) die "EDGEBOX_SUPERVISOR must be decompose or process-compose, not '$want'" ;;
  esac
}

# process-compose serves its control API on TCP 8080 by default, which is
# edgebox's port, so it is moved to a unix socket that every call must name.
PC_SOCKET="${PC_SOCKET_PATH:-${TMPDIR:-/tmp}/edgebox-process-compose-$(id -u).sock}"

sup() { # run a supervisor command: sup up|down|stop|start|restart|ps|logs [args]
  local cmd="$1"; shift
  if [[ "$SUP" == decompose ]]; then
    case "$cmd" in
      ps) "$SUP_BIN" -f "$CONFIG" ps "$@" ;;
      logs) "$SUP_BIN" -f "$CONFIG" logs --no-pager "$@" ;;
      *) "$SUP_BIN" -f "$CONFIG" "$cmd" "$@" ;;
    esac
  else
    local uds=(--use-uds --unix-socket "$PC_SOCKET")
    case "$cmd" in
      up) "$SUP_BIN" up -f "$CONFIG" --detached "${uds[@]}" "$@" ;;
      down) "$SUP_BIN" down "${uds[@]}" ;;
      ps) "$SUP_BIN" process list --output wide "${uds[@]}" ;;
      # Some releases keep `process logs` open until Ctrl-C even without -f.
      logs) timeout 15 "$SUP_BIN" process logs "$1" --tail 1000 "${uds[@]}" ;;
      stop | start | restart) local p; for p in "$@"; do "$SUP_BIN" process "$cmd" "$p" "${uds[@]}"; done ;;
    esac
  fi
}

# PIDs of the supervisor daemon and its processes (empty if nothing runs).
managed_pids() {
  if [[ "$SUP" == decompose ]]; then
    "$SUP_BIN" -f "$CONFIG" --json ps 2>/dev/null </dev/null
  else
    "$SUP_BIN" process list --output json --use-uds --unix-socket "$PC_SOCKET" 2>/dev/null </dev/null
  fi | grep -o '"pid": *[0-9][0-9]*' | grep -o '[0-9]*$' || true
}

# Names among "$@" that the supervisor reports as failed or exited, so `wait`
# fails at once instead of running into its timeout. Needs jq and decompose;
# otherwise prints nothing and `wait` relies on its timeout.
dead_processes() {
  [[ "$SUP" == decompose ]] && command -v jq >/dev/null 2>&1 || return 0
  "$SUP_BIN" -f "$CONFIG" --json ps 2>/dev/null </dev/null | jq -r --arg names "$*" '
    ($names | split(" ")) as $want
    | .processes[]? | select(.name as $n | $want | index($n))
    | select(.state == "failed" or .state == "exited" or .state == "failed_to_start")
    | "\(.name)(\(.state), exit code \(.exit_code))"' | paste -sd' ' - || true
}

# --- readiness probes: the real protocols, independent of the supervisor ------
bolt_open() { (exec 3<>/dev/tcp/127.0.0.1/7687) 2>/dev/null; }
probe() {
  case "$1" in
    nats) curl -fsS -m 2 -o /dev/null http://127.0.0.1:8222/healthz 2>/dev/null ;;
    redis) [[ "$("${REDIS_CLI_BIN:-redis-cli}" -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]] ;;
    # The launcher writes edgebox.ready after the password is applied.
    neo4j) [[ -f data/neo4j/edgebox.ready ]] && bolt_open ;;
    minio) curl -fsS -m 2 -o /dev/null http://127.0.0.1:9000/minio/health/ready 2>/dev/null ;;
    edgebox) curl -fsS -m 2 -o /dev/null http://127.0.0.1:8080/ready 2>/dev/null ;;
    *) die "unknown process '$1'" ;;
  esac
}

cmd_up() {
  local procs=()
  while (($#)); do
    case "$1" in
      --services-only) procs+=("${SERVICES[@]}") ;;
      -*) die "unknown option for up: $1" ;;
      *) procs+=("$1") ;;
    esac
    shift
  done
  log "starting ${procs[*]:-all processes} with $SUP ($SUP_BIN)"
  if [[ "$SUP" == decompose ]]; then
    # -d returns at once; `wait` then checks the services themselves.
    sup up -d "${procs[@]}"
  else
    sup up "${procs[@]}"
  fi
}

cmd_wait() {
  local timeout="${STACK_WAIT_TIMEOUT:-240}" procs=()
  while (($#)); do
    case "$1" in
      --timeout) timeout="$2"; shift ;;
      --timeout=*) timeout="${1#*=}" ;;
      --all) procs+=("${ALL_PROCESSES[@]}") ;;
      -*) die "unknown option for wait: $1" ;;
      *) procs+=("$1") ;;
    esac
    shift
  done
  ((${#procs[@]})) || procs=("${SERVICES[@]}")
  local start=$SECONDS pending p dead
  while :; do
    pending=()
    for p in "${procs[@]}"; do probe "$p" || pending+=("$p"); done
    if ((${#pending[@]} == 0)); then
      log "ready after $((SECONDS - start))s: ${procs[*]}"
      return 0
    fi
    dead="$(dead_processes "${pending[@]}")"
    if [[ -n "$dead" ]]; then
      log "not running: $dead (see: scripts/stack.sh logs ${pending[*]})"
      return 1
    fi
    if ((SECONDS - start >= timeout)); then
      log "timed out after ${timeout}s; not ready: ${pending[*]} (see: scripts/stack.sh logs ${pending[*]})"
      return 1
    fi
    sleep 1
  done
}

cmd_logs() {
  local procs=("$@") p
  ((${#procs[@]})) || procs=("${ALL_PROCESSES[@]}")
  for p in "${procs[@]}"; do
    printf '===== %s =====\n' "$p"
    sup logs "$p" 2>&1 || true
  done
}

cmd_down() {
  local pids pid left=()
  pids="$(managed_pids)"
  sup down || log "supervisor reported an error during down (already stopped?)"
  # Catch anything that outlived its supervisor, e.g. a JVM ignoring SIGTERM.
  # PIDs rather than ports: another program may legitimately use those ports.
  for pid in $pids; do
    if kill -0 "$pid" 2>/dev/null && [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]]; then
      left+=("$pid")
    fi
  done
  if ((${#left[@]})); then
    log "warning: still running after down: $(ps -o pid=,args= -p "$(IFS=,; echo "${left[*]}")" | cut -c1-120)"
    return 1
  fi
  log "stack is down"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

main() {
  local cmd="${1:-}"; shift || true
  case "$cmd" in
    up) pick_supervisor; cmd_up "$@" ;;
    # wait only probes the services, so it also works for a stack started by hand.
    wait) pick_supervisor optional; cmd_wait "$@" ;;
    down) pick_supervisor; cmd_down ;;
    logs) pick_supervisor; cmd_logs "$@" ;;
    status | ps) pick_supervisor; sup ps ;;
    stop | start | restart)
      (($#)) || die "$cmd needs process names"
      pick_supervisor; sup "$cmd" "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
