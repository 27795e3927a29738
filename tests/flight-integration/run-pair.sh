#!/usr/bin/env bash
# Runs one Flight integration case the way Arrow's harness (archery) does:
# starts the server with -port=0, reads "Server listening on localhost:PORT"
# from its first line of stdout, runs the client against that port, then
# stops the server with SIGTERM and checks that it exits cleanly (status 0,
# which under the sanitizers also means no leak or error report).
#
#   run-pair.sh [options] SERVER CLIENT
#     --scenario NAME       run scenario NAME on both sides
#     --server-scenario S   the server's scenario when it differs (a mismatch)
#     --path FILE           the data round trip of an integration JSON file;
#                           given several times, the client runs once per
#                           file against the same server (as the harness
#                           runs one server for many clients)
#     --one-client          one client run for all the --path files (for a
#                           client that takes several -path flags)
#     --node-readable       keep only the --path files whose types
#                           apache-arrow has (tests/peers/node/
#                           integration-files.mjs; it names the others)
#     --needs node          exit 77 (skipped) when node or the Node peer's
#                           npm packages are not installed
#     --expect-fail         the client must fail (exit 1) with a message
#     --port-flag FORM      how to give the server its port: -port=0 (the
#                           default), "-port 0", "--port 0" or --port=0
#     --signal SIG          how to stop the server: TERM (default) or INT
#
# A SERVER or CLIENT ending in .mjs (the Node peer's) runs under node.
# Nothing outlives the script: the server is killed (by its pid) on any
# exit, and each client run is under a time limit.
set -u

here=$(cd "$(dirname "$0")" && pwd)
node_dir="$here/../peers/node"

scenario="" server_scenario="" server_scenario_set=0 paths=() expect_fail=0
port_flag="-port=0" sig=TERM one_client=0 node_readable=0 needs_node=0
while [[ $# -gt 0 && $1 == --* ]]; do
  case "$1" in
  --scenario) scenario=$2; shift 2 ;;
  --server-scenario) server_scenario=$2; server_scenario_set=1; shift 2 ;;
  --path) paths+=("$2"); shift 2 ;;
  --one-client) one_client=1; shift ;;
  --node-readable) node_readable=1; needs_node=1; shift ;;
  --needs)
    [[ $2 == node ]] || { echo "run-pair.sh: unknown need $2" >&2; exit 2; }
    needs_node=1; shift 2 ;;
  --expect-fail) expect_fail=1; shift ;;
  --port-flag) port_flag=$2; shift 2 ;;
  --signal) sig=$2; shift 2 ;;
  *) echo "run-pair.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ $# -ne 2 ]]; then
  echo "usage: run-pair.sh [--scenario NAME | --path FILE...] [options] SERVER CLIENT" >&2
  exit 2
fi
server_bin=$1 client_bin=$2
((server_scenario_set)) || server_scenario=$scenario
client_timeout=${FLIGHT_INTEGRATION_CLIENT_TIMEOUT:-60}

if ((needs_node)); then
  if ! command -v node >/dev/null 2>&1; then
    echo "skipped: node is not installed (scripts/install-deps.sh installs it)"
    exit 77
  fi
  for m in @grpc/grpc-js @grpc/proto-loader protobufjs apache-arrow fzstd lz4js; do
    if [[ ! -d $node_dir/node_modules/$m ]]; then
      echo "skipped: npm package $m is missing: run scripts/install-deps.sh (npm ci in tests/peers/node)"
      exit 77
    fi
  done
fi
if ((node_readable)); then
  # The files skipped, and why, go to stderr: the test's log.
  if ! list=$(timeout -k 5 60 node "$node_dir/integration-files.mjs" "${paths[@]}"); then
    echo "FAIL: integration-files.mjs could not sort out the files"
    exit 1
  fi
  paths=()
  [[ -n $list ]] && mapfile -t paths <<<"$list"
  if [[ ${#paths[@]} -eq 0 ]]; then
    echo "FAIL: apache-arrow can read none of the files"
    exit 1
  fi
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/flight-integration.XXXXXX") || exit 1
server_pid="" watcher_pid="" client_pid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  [[ -n $client_pid ]] && kill -TERM "$client_pid" 2>/dev/null && wait "$client_pid" 2>/dev/null
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [[ -n $watcher_pid ]]; then
    kill -TERM "$watcher_pid" 2>/dev/null
    wait "$watcher_pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

show_server_stderr() {
  if [[ -s $dir/server.err ]]; then
    echo "--- server stderr ---"
    cat "$dir/server.err"
    echo "---------------------"
  fi
}

# The Node peer's .mjs programs run under node.
server_cmd=("$server_bin") client_base=("$client_bin")
[[ $server_bin == *.mjs ]] && server_cmd=(node "$server_bin")
[[ $client_bin == *.mjs ]] && client_base=(node "$client_bin")
# shellcheck disable=SC2206 # the port flag is one or two words on purpose
server_cmd+=($port_flag)
[[ -n $server_scenario ]] && server_cmd+=(-scenario "$server_scenario")
echo "server: ${server_cmd[*]}"
"${server_cmd[@]}" >"$dir/server.out" 2>"$dir/server.err" </dev/null &
server_pid=$!
# Should this script be killed outright (no trap runs), a watcher stops the
# server and the client once the script is gone, and removes the folder.
script_pid=$$
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  while kill -0 "$script_pid" 2>/dev/null; do
    sleep 0.5 &
    nap=$!
    wait "$nap"
  done
  kill -KILL "$server_pid" 2>/dev/null
  [[ -s $dir/client.pid ]] && kill -TERM "$(cat "$dir/client.pid")" 2>/dev/null
  rm -rf "$dir"
) </dev/null >/dev/null 2>&1 &
watcher_pid=$!

# The first line, complete (newline included), within 20 s.
line=""
for ((i = 0; i < 400; i++)); do
  if [[ $(wc -l <"$dir/server.out") -gt 0 ]]; then
    IFS= read -r line <"$dir/server.out"
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid"
    echo "FAIL: the server exited (status $?) before printing its port"
    show_server_stderr
    exit 1
  fi
  sleep 0.05
done
if [[ $line != "Server listening on localhost:"* ]]; then
  echo "FAIL: the server's first line is '$line', expected 'Server listening on localhost:PORT'"
  show_server_stderr
  exit 1
fi
port=${line#Server listening on localhost:}
if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  echo "FAIL: bad port in '$line'"
  exit 1
fi

# One client run: the client with "$@" appended; sets status=1 when it
# does not end as it should.
run_client() {
  local client_cmd=("${client_base[@]}" -host localhost "-port=$port" "$@")
  echo "client: ${client_cmd[*]}"
  timeout -k 5 "$client_timeout" "${client_cmd[@]}" >"$dir/client.out" 2>"$dir/client.err" </dev/null &
  client_pid=$!
  echo "$client_pid" >"$dir/client.pid"
  wait "$client_pid"
  local client_rc=$?
  client_pid=""
  : >"$dir/client.pid"
  cat "$dir/client.out"
  cat "$dir/client.err"
  if ((expect_fail)); then
    if ((client_rc != 1)); then
      echo "FAIL: the client should have failed with status 1, got $client_rc"
      status=1
    elif ! [[ -s $dir/client.err ]]; then
      echo "FAIL: the client failed without saying why"
      status=1
    else
      echo "(the client failed, as it should)"
    fi
  elif ((client_rc != 0)); then
    if ((client_rc == 124 || client_rc == 137)); then
      echo "FAIL: the client did not finish within ${client_timeout} s"
    else
      echo "FAIL: the client exited with status $client_rc"
    fi
    status=1
  fi
}

status=0
if [[ ${#paths[@]} -eq 0 ]]; then
  if [[ -n $scenario ]]; then run_client -scenario "$scenario"; else run_client; fi
elif ((one_client)); then
  args=()
  for p in "${paths[@]}"; do args+=(-path "$p"); done
  run_client "${args[@]}"
else
  for p in "${paths[@]}"; do run_client -path "$p"; done
fi
if ((${#paths[@]} > 1)); then
  echo "${#paths[@]} integration files, $( ((status == 0)) && echo "all passed" || echo "some failed")"
fi

# Stop the server as the harness would, and check that it goes cleanly.
kill "-$sig" "$server_pid" 2>/dev/null
server_rc=""
for ((i = 0; i < 200; i++)); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid"
    server_rc=$?
    break
  fi
  sleep 0.05
done
if [[ -z $server_rc ]]; then
  echo "FAIL: the server did not exit within 10 s of SIG$sig"
  status=1
elif ((server_rc != 0)); then
  echo "FAIL: the server exited with status $server_rc after SIG$sig"
  status=1
fi
server_pid=""
((status != 0)) && show_server_stderr
exit $status
