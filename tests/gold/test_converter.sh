#!/bin/sh
# The integration programs end to end, run as Arrow's harness runs them.
# usage: test_converter.sh BIN_DIR GOLD_DIR
#   BIN_DIR   where cflight-ipc-integration, cflight-stream-to-file and
#             cflight-file-to-stream are
#   GOLD_DIR  arrow-testing's data/arrow-ipc-stream/integration
set -u
bin=$1
gold=$2
prog=$bin/cflight-ipc-integration
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cflight-converter-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0

fail() {
  echo "FAIL: $*"
  sed 's/^/  | /' "$tmp/stderr"
  fails=$((fails + 1))
}

# expect STATUS DESCRIPTION COMMAND...: COMMAND must exit with STATUS.
expect() {
  want=$1
  desc=$2
  shift 2
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"
  got=$?
  [ "$got" -eq "$want" ] || fail "$desc: exit status $got, expected $want"
  # An expected failure must not hide a sanitizer report (which also exits 1).
  if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$tmp/stderr"; then
    fail "$desc: sanitizer report"
  fi
}

# stderr_has TEXT DESCRIPTION: the last command's error output mentions TEXT.
stderr_has() {
  grep -qF -- "$1" "$tmp/stderr" || fail "$2: the error output does not mention '$1'"
}

n=0
for json in "$gold"/*/*.json.gz; do
  base=${json%.json.gz}
  name=$(basename "$base")
  out=$tmp/$name
  n=$((n + 1))
  # Consumer role: the gold files validate, with flags in both forms.
  expect 0 "$name: VALIDATE the gold file" \
    "$prog" --integration --arrow="$base.arrow_file" --json="$json" --mode=VALIDATE
  expect 0 "$name: VALIDATE the gold stream" \
    "$prog" -integration -arrow "$base.stream" -json "$json" -mode VALIDATE
  # Producer role: JSON_TO_ARROW, and our file validates.
  expect 0 "$name: JSON_TO_ARROW" \
    "$prog" --integration --arrow="$out.arrow" --json="$json" --mode=JSON_TO_ARROW
  expect 0 "$name: VALIDATE our file" \
    "$prog" --integration --arrow="$out.arrow" --json="$json" --mode=VALIDATE
  rm -f "$out.arrow"
done
[ "$n" -ge 37 ] || { echo "FAIL: only $n gold cases found in $gold"; fails=$((fails + 1)); }

# Conversions, on a few cases covering dictionaries, nesting, views, compression.
for name in cpp-21.0.0/generated_nested_dictionary cpp-21.0.0/generated_union \
  cpp-21.0.0/generated_binary_view cpp-21.0.0/generated_run_end_encoded \
  cpp-21.0.0/generated_primitive_no_batches 2.0.0-compression/generated_zstd \
  4.0.0-shareddict/generated_shared_dict; do
  base=$gold/$name
  json=$base.json.gz
  out=$tmp/$(basename "$name")
  expect 0 "$name: ARROW_TO_JSON" "$prog" --arrow "$base.arrow_file" --json "$out.json" \
    --mode ARROW_TO_JSON
  expect 0 "$name: VALIDATE the gold file against our JSON" \
    "$prog" --arrow "$base.arrow_file" --json "$out.json" --mode VALIDATE
  expect 0 "$name: ARROW_TO_JSON from a stream, gzip output" \
    "$prog" --arrow "$base.stream" --json "$out.json.gz" --mode ARROW_TO_JSON
  expect 0 "$name: VALIDATE against our gzip JSON" \
    "$prog" --arrow "$base.stream" --json "$out.json.gz" --mode VALIDATE
  for c in lz4 zstd; do
    expect 0 "$name: JSON_TO_ARROW stream $c" "$prog" --json "$json" --arrow "$out.$c" \
      --mode JSON_TO_ARROW --arrow-format stream --compression "$c"
    expect 0 "$name: VALIDATE stream $c" "$prog" --json "$json" --arrow "$out.$c" --mode VALIDATE
  done
  # The converters, through pipes as archery runs them, and with paths.
  expect 0 "$name: stream-to-file" sh -c "'$bin/cflight-stream-to-file' < '$base.stream' > '$out.s2f'"
  expect 0 "$name: VALIDATE stream-to-file output" \
    "$prog" --json "$json" --arrow "$out.s2f" --mode VALIDATE
  head -c 6 "$out.s2f" | grep -q ARROW1 || fail "$name: stream-to-file did not write the file format"
  expect 0 "$name: file-to-stream" sh -c "'$bin/cflight-file-to-stream' '$base.arrow_file' > '$out.f2s'"
  expect 0 "$name: VALIDATE file-to-stream output" \
    "$prog" --json "$json" --arrow "$out.f2s" --mode VALIDATE
  head -c 6 "$out.f2s" | grep -q ARROW1 && fail "$name: file-to-stream wrote the file format"
  expect 0 "$name: file-to-stream from standard input" \
    sh -c "'$bin/cflight-file-to-stream' < '$base.arrow_file' > '$out.f2s2'"
  cmp -s "$out.f2s" "$out.f2s2" || fail "$name: file-to-stream from stdin and from a path differ"
  expect 0 "$name: stream-to-file with paths" "$bin/cflight-stream-to-file" "$out.f2s" "$out.s2f2"
  expect 0 "$name: VALIDATE" "$prog" --json "$json" --arrow "$out.s2f2" --mode VALIDATE
done

# Differences are found and explained.
g=$gold/cpp-21.0.0
expect 1 "VALIDATE of another case's file" \
  "$prog" --arrow "$g/generated_primitive.arrow_file" --json "$g/generated_nested.json.gz" --mode VALIDATE
stderr_has "does not match" "VALIDATE of another case's file"
stderr_has "schema differs" "VALIDATE of another case's file"
"$prog" --arrow "$g/generated_primitive.arrow_file" --json "$tmp/prim.json" --mode ARROW_TO_JSON \
  2>"$tmp/stderr" || fail "ARROW_TO_JSON generated_primitive"
# The same schema, one value changed: a batch differs.
python3 - "$tmp/prim.json" <<'EOF' || fail "editing the JSON"
import json, sys
d = json.load(open(sys.argv[1]))
col = d["batches"][1]["columns"][2]   # int8_nullable
i = col["VALIDITY"].index(1)
col["DATA"][i] = 1 if col["DATA"][i] != 1 else 2
json.dump(d, open(sys.argv[1], "w"))
EOF
expect 1 "VALIDATE with one value changed" \
  "$prog" --arrow "$g/generated_primitive.arrow_file" --json "$tmp/prim.json" --mode VALIDATE
stderr_has "batch 1 differs" "VALIDATE with one value changed"

# Usage and input errors: clear, with the right status.
expect 2 "no arguments" "$prog"
stderr_has "--json FILE is required" "no arguments"
expect 2 "unknown mode" "$prog" --json x --arrow y --mode CONVERT
stderr_has "unknown --mode 'CONVERT'" "unknown mode"
expect 2 "unknown flag" "$prog" --jsn x
stderr_has "unknown flag '--jsn'" "unknown flag"
expect 2 "flag without value" "$prog" --json
expect 2 "bad compression" "$prog" --json x --arrow y --mode JSON_TO_ARROW --compression gzip
expect 0 "help" "$prog" --help
expect 1 "missing JSON" "$prog" --json "$tmp/none.json" --arrow "$g/generated_null.arrow_file"
stderr_has "$tmp/none.json" "missing JSON"
expect 1 "missing Arrow file" "$prog" --json "$g/generated_null.json.gz" --arrow "$tmp/none.arrow"
stderr_has "$tmp/none.arrow" "missing Arrow file"
expect 1 "JSON given as the Arrow file" \
  "$prog" --json "$g/generated_null.json.gz" --arrow "$g/generated_null.json.gz"
printf '{"schema": {"fields": [}' >"$tmp/bad.json"
expect 1 "malformed JSON" "$prog" --json "$tmp/bad.json" --arrow "$tmp/x.arrow" --mode JSON_TO_ARROW
stderr_has "bad.json: not valid JSON: line 1" "malformed JSON"
[ -e "$tmp/x.arrow" ] && fail "a failed JSON_TO_ARROW left its output behind"
expect 1 "stream-to-file of garbage" sh -c "echo garbage | '$bin/cflight-stream-to-file' > '$tmp/g'"
stderr_has "standard input" "stream-to-file of garbage"
expect 2 "stream-to-file, too many arguments" "$bin/cflight-stream-to-file" a b c
expect 1 "file-to-stream of a missing file" "$bin/cflight-file-to-stream" "$tmp/none" "$tmp/o"
stderr_has "$tmp/none" "file-to-stream of a missing file"

if [ "$fails" -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "all passed ($n gold cases)"
