#!/usr/bin/env node
// Which integration JSON files the Node peer's Flight integration programs
// can round-trip: those whose types apache-arrow has (integration-common.mjs,
// read-ipc.mjs's UNSUPPORTED_TYPES), as Arrow's harness skips cases per
// implementation.
//
//   node integration-files.mjs FILE.json[.gz]...
//
// Prints the files the peer can run, one per line, on stdout, and
// "skipped FILE: REASON" for the others on stderr. Exit status 0, or 1 when
// a file cannot be read.

import { parseJson } from './read-ipc.mjs';
import { readJsonText, unreadableReason } from './integration-common.mjs';

let status = 0;
for (const file of process.argv.slice(2)) {
  try {
    const reason = unreadableReason(parseJson(readJsonText(file)));
    if (reason) process.stderr.write(`skipped ${file}: ${reason}\n`);
    else process.stdout.write(`${file}\n`);
  } catch (e) {
    process.stderr.write(`integration-files.mjs: ${file}: ${e.message}\n`);
    status = 1;
  }
}
process.exitCode = status;
