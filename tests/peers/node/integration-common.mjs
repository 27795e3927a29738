// What the Node peer's Flight integration programs (integration-client.mjs,
// integration-server.mjs) share: their command lines, which take the flags
// of Arrow's integration programs, and Arrow integration JSON files as
// apache-arrow record batches. docs/flight-integration.md describes the
// protocol; the checks of values against the JSON are read-ipc.mjs's.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import { arrow } from './flight-common.mjs';
import { Mismatch, checkTable, parseJson, unsupportedIn } from './read-ipc.mjs';

// ---- Command lines ---------------------------------------------------------------------
// Flags as Arrow's integration programs (gflags) take them: -flag=value,
// -flag value, --flag=value and --flag value; a boolean flag alone is true.

export class UsageError extends Error {}

// defs: { name: default value } (a boolean default makes a boolean flag;
// an array default a flag that may be repeated). Returns the values.
export function parseFlags(argv, defs) {
  const out = {};
  for (const [k, v] of Object.entries(defs)) out[k] = Array.isArray(v) ? [] : v;
  const given = new Set();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([A-Za-z_][A-Za-z0-9_-]*)(?:=(.*))?$/s.exec(argv[i]);
    if (!m) throw new UsageError(`unexpected argument '${argv[i]}'`);
    const [, name, inline] = m;
    if (name === 'help') {
      out.help = true;
      continue;
    }
    if (!(name in defs)) throw new UsageError(`unknown flag -${name}`);
    let value = inline;
    if (typeof defs[name] === 'boolean') {
      if (value === undefined) value = 'true';
      if (!['true', 'false', '1', '0'].includes(value)) {
        throw new UsageError(`-${name} takes true or false, not '${value}'`);
      }
      out[name] = value === 'true' || value === '1';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`-${name} needs a value`);
      value = argv[++i];
    }
    if (Array.isArray(defs[name])) {
      out[name].push(value);
    } else {
      if (given.has(name)) throw new UsageError(`-${name} is given twice`);
      out[name] = value;
    }
    given.add(name);
  }
  return out;
}

// A port number from 0 (or 1, when zero is not allowed) to 65535, or a UsageError.
export function parsePort(text, allowZero) {
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(n >= (allowZero ? 0 : 1) && n <= 65535)) {
    throw new UsageError(`-port must be a number from ${allowZero ? 0 : 1} to 65535, not '${text}'`);
  }
  return n;
}

// ---- Integration JSON files ------------------------------------------------------------------

// Why the Node peer cannot run the data round trip of this JSON (a string),
// or null when it can: a type apache-arrow does not have (read-ipc.mjs's
// UNSUPPORTED_TYPES). Every other gold file runs, decimal32/64/256 included
// (see fixDecimals); a file skipped for another reason would be named here,
// with why.
export function unreadableReason(json) {
  return unsupportedIn(json.schema.fields);
}

// The text of an integration JSON file, plain or gzip-compressed.
export function readJsonText(file) {
  const bytes = readFileSync(file);
  const gz = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  return (gz ? gunzipSync(bytes) : bytes).toString('utf-8');
}

// Decimal values of `bitWidth` bits, two's complement little-endian in
// 32-bit words, from the JSON's decimal strings.
function decimalWords(strings, bitWidth) {
  const n = bitWidth / 32;
  const words = new Uint32Array(strings.length * n);
  strings.forEach((s, i) => {
    let u = BigInt.asUintN(bitWidth, BigInt(s));
    for (let k = 0; k < n; k++) {
      words[i * n + k] = Number(u & 0xffffffffn);
      u >>= 32n;
    }
  });
  return words;
}

// apache-arrow's JSON reader (21.2.0) reads every decimal as 128 bits wide
// (Int128.convertArray), so that decimal32, decimal64 and decimal256
// columns come out wrong. This rebuilds those columns' values from the JSON
// and leaves everything else as apache-arrow read it.
function fixDecimals(jf, jcol, data) {
  const bitWidth = jf.type.bitWidth ?? 128;
  const wrongWidth = jf.type.name === 'decimal' && bitWidth !== 128;
  if (jf.dictionary) {
    if (wrongWidth) throw new Error(`${jf.name}: dictionary-encoded decimal${bitWidth} is not handled`);
    return data;
  }
  let { children } = data;
  (jf.children || []).forEach((kid, k) => {
    const fixed = fixDecimals(kid, jcol.children[k], data.children[k]);
    if (fixed !== data.children[k]) {
      if (children === data.children) children = [...data.children];
      children[k] = fixed;
    }
  });
  const values = wrongWidth ? decimalWords(jcol.DATA, bitWidth) : data.values;
  if (values === data.values && children === data.children) return data;
  return data.clone(data.type, data.offset, data.length, data._nullCount,
    [data.valueOffsets, values, data.nullBitmap, data.typeIds], children);
}

// An integration JSON file as apache-arrow record batches, read by
// apache-arrow's JSON reader: { json (the parsed JSON, for read-ipc.mjs's
// checks), schema, batches, reason (non-null when apache-arrow cannot
// carry the file's types; schema and batches are then null) }. The batches
// are checked against the JSON here, so that a mistake in reading the JSON
// is reported as ours rather than blamed on the other side.
export function loadJson(file) {
  const text = readJsonText(file);
  const json = parseJson(text);
  const reason = unreadableReason(json);
  if (reason) return { json, schema: null, batches: null, reason };
  // parseJson keeps month-day-nano nanoseconds exact (as strings), which
  // apache-arrow's reader takes; it gets its own copy of the JSON.
  const reader = arrow.RecordBatchReader.from(parseJson(text)).open();
  const { schema } = reader;
  let batches = reader.readAll();
  // apache-arrow makes up an empty batch for a file without any.
  if (json.batches.length === 0) batches = [];
  batches = batches.map((b, i) => {
    const jb = json.batches[i];
    const children = json.schema.fields.map((jf, c) => fixDecimals(jf, jb.columns[c],
      b.data.children[c]));
    if (children.every((d, c) => d === b.data.children[c])) return b;
    return new arrow.RecordBatch(schema, b.data.clone(b.data.type, b.data.offset, b.data.length,
      b.data._nullCount, b.data, children));
  });
  try {
    checkTable('the JSON as apache-arrow read it', json, schema, batches);
  } catch (e) {
    if (!(e instanceof Mismatch)) throw e;
    throw new Error(`the Node peer misreads ${file}: ${e.message}`);
  }
  return { json, schema, batches, reason: null };
}
