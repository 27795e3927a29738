#!/usr/bin/env bash
# Runs one interop test: starts a Flight server, reads the port it prints
# as its first line of stdout, runs a client against it, then stops the
# server. Exits with the client's status, 77 (skipped) when a peer cannot
# run here, or 1 when the server does not start.
#
#   run-interop.sh [--needs node|python]... [--forbid TEXT] SERVER ARGS... -- CLIENT ARGS...
#
# The client gets "--port PORT" appended. A server with several listeners
# prints "PORT NAME=PORT ..." instead: the client then gets --port PORT and
# --ports "NAME=PORT ...". With --forbid, the test fails when TEXT (a
# password, say) shows in what the server or the client wrote, their logs
# and error messages included. The server's stdin is a pipe that
# this script holds: servers run with --exit-on-eof stop when it closes,
# even if this script is killed. The server is also killed (by its pid)
# when the script exits for any reason, and the client runs under a time
# limit (INTEROP_CLIENT_TIMEOUT seconds, default 100).
set -u

here=$(cd "$(dirname "$0")" && pwd)
node_dir="$here/../peers/node"
python=/usr/bin/python3

skip() {
  echo "skipped: $*"
  exit 77
}

forbid=""
while [[ $# -gt 0 && ($1 == --needs || $1 == --forbid) ]]; do
  if [[ $1 == --forbid ]]; then
    forbid=$2
    shift 2
    continue
  fi
  case "$2" in
  node)
    command -v node >/dev/null 2>&1 || skip "node is not installed (scripts/install-deps.sh installs it)"
    for m in @grpc/grpc-js @grpc/proto-loader protobufjs apache-arrow; do
      [[ -d "$node_dir/node_modules/$m" ]] ||
        skip "npm package $m is missing: run scripts/install-deps.sh (npm ci in tests/peers/node)"
    done
    ;;
  python)
    [[ -x $python ]] || skip "$python is not installed"
    $python -c 'import grpc, google.protobuf, flatbuffers' 2>/dev/null ||
      skip "$python cannot import grpc, google.protobuf and flatbuffers (python3-grpcio, python3-protobuf, python3-flatbuffers)"
    ;;
  *)
    echo "run-interop.sh: unknown need $2" >&2
    exit 2
    ;;
  esac
  shift 2
done

server=()
while [[ $# -gt 0 && $1 != -- ]]; do
  server+=("$1")
  shift
done
[[ $# -gt 0 ]] && shift
client=("$@")
if [[ ${#server[@]} -eq 0 || ${#client[@]} -eq 0 ]]; then
  echo "usage: run-interop.sh [--needs node|python]... [--forbid TEXT] SERVER ARGS... -- CLIENT ARGS..." >&2
  exit 2
fi

tmp=$(mktemp -d)
server_pid=""
log_pid=""
# shellcheck disable=SC2317 # (run by the EXIT trap)
cleanup() {
  exec 3>&-
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null
  fi
  [[ -n $server_pid ]] && wait "$server_pid" 2>/dev/null
  # The server's log ends with the server: let it print its last lines.
  [[ -n $log_pid ]] && wait "$log_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

mkfifo "$tmp/stdin"
: >"$tmp/server.log"
# The server's stderr goes to a file (for --forbid), shown as it comes.
"${server[@]}" <"$tmp/stdin" >"$tmp/port" 2>"$tmp/server.log" &
server_pid=$!
tail -n +1 -s 0.1 -f --pid="$server_pid" "$tmp/server.log" 2>/dev/null | sed -u 's/^/[server] /' >&2 &
log_pid=$!
exec 3>"$tmp/stdin" # the server's stdin stays open while we hold this

port=""
named=""
for _ in $(seq 600); do # up to 60 s (a sanitizer build starts slowly)
  # A whole first line: read fails until its newline has come.
  if IFS= read -r line <"$tmp/port" 2>/dev/null && [[ $line =~ ^([0-9]+)((\ [a-z0-9_]+=[0-9]+)*)$ ]]; then
    port=${BASH_REMATCH[1]}
    named=${BASH_REMATCH[2]# }
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run-interop.sh: the server exited before printing its port: ${server[*]}" >&2
    wait "$server_pid"
    rc=$?
    # A server that found its peer missing reports it the same way.
    [[ $rc -eq 77 ]] && exit 77
    exit 1
  fi
  sleep 0.1
done
if [[ -z $port ]]; then
  echo "run-interop.sh: the server printed no port within 60 s: ${server[*]}" >&2
  exit 1
fi
echo "server ${server[0]##*/} on port $port${named:+ ($named)}; client: ${client[*]##*/}"

[[ -n $named ]] && client+=(--ports "$named")
timeout -k 5 "${INTEROP_CLIENT_TIMEOUT:-100}" "${client[@]}" --port "$port" 2>&1 | tee "$tmp/client.log"
rc=${PIPESTATUS[0]}
[[ $rc -eq 124 ]] && echo "run-interop.sh: the client ran past ${INTEROP_CLIENT_TIMEOUT:-100} s" >&2
if ! kill -0 "$server_pid" 2>/dev/null; then
  wait "$server_pid"
  echo "run-interop.sh: the server died during the test (exit status $?)" >&2
  server_pid=""
  [[ $rc -eq 0 ]] && rc=1
  exit "$rc"
fi

# The server must stop cleanly when asked (a sanitizer build reports leaks
# and errors at exit through its exit status).
kill -TERM "$server_pid" 2>/dev/null
for _ in $(seq 100); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "run-interop.sh: the server did not stop within 10 s of SIGTERM" >&2
  [[ $rc -eq 0 ]] && rc=1
  exit "$rc" # cleanup kills it
fi
wait "$server_pid"
server_rc=$?
server_pid=""
if [[ $server_rc -ne 0 ]]; then
  echo "run-interop.sh: the server exited with status $server_rc" >&2
  [[ $rc -eq 0 ]] && rc=1
fi
if [[ -n $forbid ]]; then
  for f in server.log client.log port; do
    if grep -q -F -- "$forbid" "$tmp/$f"; then
      echo "run-interop.sh: a secret (\"$forbid\") shows in the ${f%.*}'s output:" >&2
      grep -n -F -- "$forbid" "$tmp/$f" | sed 's/^/  /' >&2
      [[ $rc -eq 0 ]] && rc=1
    fi
  done
fi
exit "$rc"
