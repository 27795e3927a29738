// An independent reader for cflight's IPC writer: for every gold integration
// case, cflight-ipc-integration converts the JSON to Arrow IPC (file and
// stream formats, uncompressed, LZ4_FRAME and ZSTD); Node's apache-arrow then
// reads each output, and this script checks schema and every value against
// the integration JSON itself, read here without any cflight code.
//
//   node read-ipc.mjs --converter PATH/cflight-ipc-integration \
//                     --gold PATH/arrow-testing/data/arrow-ipc-stream/integration
//                     [--only SUBSTRING] [--keep]
//
// Exit status: 0 when everything apache-arrow can read matched, 1 otherwise.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

import * as arrow from 'apache-arrow';
import { decompress as zstdDecompress } from 'fzstd';
import lz4 from 'lz4js';

// Types that apache-arrow (JS, 21.2.0) cannot read, so that cases using them
// are skipped rather than failed:
export const UNSUPPORTED_TYPES = {
  // No ListView / LargeListView in arrow-js: reading fails with
  // 'Unrecognized type: "ListView" (25)'.
  listview: 'apache-arrow has no ListView type',
  largelistview: 'apache-arrow has no LargeListView type',
  // No RunEndEncoded in arrow-js: 'Unrecognized type: "RunEndEncoded" (22)'.
  runendencoded: 'apache-arrow has no RunEndEncoded type',
};

// arrow-js decompresses bodies only through codecs registered by the
// application. The copy gives each buffer its own 8-aligned ArrayBuffer:
// fzstd may return a view at an offset that BigInt64Array cannot use.
arrow.compressionRegistry.set(arrow.CompressionType.LZ4_FRAME, {
  decode: (bytes) => Uint8Array.from(lz4.decompress(bytes)),
});
arrow.compressionRegistry.set(arrow.CompressionType.ZSTD, {
  decode: (bytes) => new Uint8Array(zstdDecompress(bytes)),
});

const VARIANTS = [
  { format: 'file', compression: 'none' },
  { format: 'stream', compression: 'none' },
  { format: 'file', compression: 'lz4' },
  { format: 'stream', compression: 'zstd' },
];

// ---- Arguments ----------------------------------------------------------------

function parseArgs(argv) {
  const args = { converter: null, gold: null, only: null, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--converter') args.converter = argv[++i];
    else if (a === '--gold') args.gold = argv[++i];
    else if (a === '--only') args.only = argv[++i];
    else if (a === '--keep') args.keep = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.converter || !args.gold) {
    throw new Error('usage: read-ipc.mjs --converter PATH --gold DIR [--only SUBSTRING] [--keep]');
  }
  return args;
}

// ---- Differences ---------------------------------------------------------------

export class Mismatch extends Error {}

function differ(where, what) {
  throw new Mismatch(`${where}: ${what}`);
}

export function show(v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `0x${hex(v)}`;
  return JSON.stringify(v);
}

export function hex(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex').toUpperCase();
}

// ---- Schema ----------------------------------------------------------------------

export function unsupportedIn(fields) {
  for (const f of fields) {
    if (UNSUPPORTED_TYPES[f.type.name]) return UNSUPPORTED_TYPES[f.type.name];
    const inner = unsupportedIn(f.children || []);
    if (inner) return inner;
  }
  return null;
}

function metadataOf(json) {
  return (json || []).map((kv) => `${kv.key}\u0000${kv.value}`).sort();
}

export function compareMetadata(where, json, map) {
  const want = metadataOf(json);
  const got = [...(map || new Map()).entries()].map(([k, v]) => `${k}\u0000${v}`).sort();
  if (want.length !== got.length || want.some((x, i) => x !== got[i])) {
    differ(where, `metadata ${JSON.stringify(want)} expected, got ${JSON.stringify(got)}`);
  }
}

const TIME_UNITS = { SECOND: arrow.TimeUnit.SECOND, MILLISECOND: arrow.TimeUnit.MILLISECOND,
  MICROSECOND: arrow.TimeUnit.MICROSECOND, NANOSECOND: arrow.TimeUnit.NANOSECOND };

function expectEq(where, what, want, got) {
  if (want !== got) differ(where, `${what} ${show(want)} expected, got ${show(got)}`);
}

function compareType(where, jt, jchildren, at, mapEntries = false) {
  const T = arrow.Type;
  const ids = {
    null: T.Null, bool: T.Bool, int: T.Int, floatingpoint: T.Float, utf8: T.Utf8,
    largeutf8: T.LargeUtf8, binary: T.Binary, largebinary: T.LargeBinary, utf8view: T.Utf8View,
    binaryview: T.BinaryView, fixedsizebinary: T.FixedSizeBinary, decimal: T.Decimal, date: T.Date,
    time: T.Time, timestamp: T.Timestamp, duration: T.Duration, interval: T.Interval, list: T.List,
    largelist: T.LargeList, fixedsizelist: T.FixedSizeList, struct: T.Struct, map: T.Map,
    union: T.Union,
  };
  if (!(jt.name in ids)) differ(where, `type ${jt.name} is not checked by this script`);
  expectEq(where, 'type', `${jt.name}(${ids[jt.name]})`, `${jt.name}(${at.typeId})`);
  switch (jt.name) {
    case 'int':
      expectEq(where, 'bitWidth', jt.bitWidth, at.bitWidth);
      expectEq(where, 'isSigned', jt.isSigned, at.isSigned);
      break;
    case 'floatingpoint':
      expectEq(where, 'precision', jt.precision, arrow.Precision[at.precision]);
      break;
    case 'fixedsizebinary':
      expectEq(where, 'byteWidth', jt.byteWidth, at.byteWidth);
      break;
    case 'decimal':
      expectEq(where, 'precision', jt.precision, at.precision);
      expectEq(where, 'scale', jt.scale, at.scale);
      expectEq(where, 'bitWidth', jt.bitWidth ?? 128, at.bitWidth);
      break;
    case 'date':
      expectEq(where, 'unit', jt.unit === 'DAY' ? arrow.DateUnit.DAY : arrow.DateUnit.MILLISECOND,
        at.unit);
      break;
    case 'time':
      expectEq(where, 'unit', TIME_UNITS[jt.unit], at.unit);
      expectEq(where, 'bitWidth', jt.bitWidth, at.bitWidth);
      break;
    case 'timestamp':
      expectEq(where, 'unit', TIME_UNITS[jt.unit], at.unit);
      expectEq(where, 'timezone', jt.timezone ?? null, at.timezone ?? null);
      break;
    case 'duration':
      expectEq(where, 'unit', TIME_UNITS[jt.unit], at.unit);
      break;
    case 'interval':
      expectEq(where, 'unit', arrow.IntervalUnit[jt.unit], at.unit);
      break;
    case 'fixedsizelist':
      expectEq(where, 'listSize', jt.listSize, at.listSize);
      break;
    case 'map':
      expectEq(where, 'keysSorted', jt.keysSorted, at.keysSorted);
      break;
    case 'union':
      expectEq(where, 'mode', jt.mode === 'SPARSE' ? arrow.UnionMode.Sparse : arrow.UnionMode.Dense,
        at.mode);
      expectEq(where, 'typeIds', JSON.stringify(jt.typeIds), JSON.stringify([...at.typeIds]));
      break;
    default:
      break;
  }
  const kids = at.children || [];
  expectEq(where, 'number of children', jchildren.length, kids.length);
  const isMap = jt.name === 'map';
  jchildren.forEach((jc, i) => compareField(`${where}.${jc.name}`, jc, kids[i], isMap || mapEntries,
    isMap));
}

// ignoreName: a map's entries struct and its key and value fields, whose
// names are not part of the map type (apache-arrow renames them "entries",
// "key" and "value" when it reads, even for Arrow C++'s gold files).
export function compareField(where, jf, af, ignoreName = false, mapEntries = false) {
  // Field.name is optional in the format: apache-arrow writes "" as no name
  // and reads no name as null, so both stand for "".
  if (!ignoreName) expectEq(where, 'name', jf.name, af.name ?? '');
  expectEq(where, 'nullable', jf.nullable, af.nullable);
  compareMetadata(where, jf.metadata, af.metadata);
  if (jf.dictionary) {
    if (!arrow.DataType.isDictionary(af.type)) differ(where, 'a dictionary-encoded field expected');
    const it = jf.dictionary.indexType;
    expectEq(where, 'index bitWidth', it.bitWidth, af.type.indices.bitWidth);
    expectEq(where, 'index isSigned', it.isSigned, af.type.indices.isSigned);
    expectEq(where, 'isOrdered', jf.dictionary.isOrdered, af.type.isOrdered);
    compareType(where, jf.type, jf.children, af.type.dictionary);
  } else {
    if (arrow.DataType.isDictionary(af.type)) differ(where, 'a field without dictionary expected');
    compareType(where, jf.type, jf.children, af.type, mapEntries);
  }
}

// ---- Values -------------------------------------------------------------------------
// Expected values come from the JSON as the format defines them; actual ones
// from apache-arrow's Data objects (typed arrays for fixed-width values, so
// that 64-bit and decimal values compare exactly).

function jsonValid(jcol, row) {
  const v = jcol.VALIDITY[row];
  return v === 1 || v === true;
}

function arrowValid(data, row) {
  if (!data.nullBitmap || data.nullBitmap.length === 0 || data.nullCount === 0) return true;
  const i = data.offset + row;
  return ((data.nullBitmap[i >> 3] >> (i & 7)) & 1) === 1;
}

function toBigInt(v) {
  return typeof v === 'bigint' ? v : BigInt(v);
}

// Element `index` of a fixed-width buffer as a BigInt, whatever typed array
// arrow-js chose (64-bit values may be BigInt64Array or Int32Array pairs).
function intAt(data, index, signed = true) {
  const values = data.values;
  const stride = data.stride ?? 1;
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) return values[index];
  if (stride === 2 && values.BYTES_PER_ELEMENT === 4) {
    const lo = BigInt(values[2 * index] >>> 0);
    const hi = BigInt(values[2 * index + 1] >>> 0);
    const u = (hi << 32n) | lo;
    return signed ? BigInt.asIntN(64, u) : u;
  }
  return BigInt(values[index]);
}

function words32(data, index, n) {
  const bytes = new Uint8Array(data.values.buffer, data.values.byteOffset + index * n * 4, n * 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: n }, (_, k) => view.getUint32(4 * k, true));
}

function decimalAt(data, index, bitWidth) {
  const n = bitWidth / 32;
  const words = words32(data, index, n);
  let u = 0n;
  for (let k = n - 1; k >= 0; k--) u = (u << 32n) | BigInt(words[k]);
  return BigInt.asIntN(bitWidth, u);
}

function halfBits(x) {
  // float32 -> binary16, round to nearest even.
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = man | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = sign | (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return h;
}

function jsonNumber(v) {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return Number(v);
}

function sameFloat(a, b) {
  return (Number.isNaN(a) && Number.isNaN(b)) || Object.is(a, b) || a === b;
}

function hexToBytes(s) {
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

// The bytes (or string) of a binary-like JSON value.
function jsonBinary(jf, jcol, row) {
  const name = jf.type.name;
  if (name === 'utf8view' || name === 'binaryview') {
    const v = jcol.VIEWS[row];
    if ('INLINED' in v) return name === 'utf8view' ? v.INLINED : hexToBytes(v.INLINED);
    const buf = hexToBytes(jcol.VARIADIC_DATA_BUFFERS[v.BUFFER_INDEX]);
    const bytes = buf.subarray(v.OFFSET, v.OFFSET + v.SIZE);
    return name === 'utf8view' ? new TextDecoder('utf-8', { fatal: true }).decode(bytes) : bytes;
  }
  const s = jcol.DATA[row];
  return name === 'utf8' || name === 'largeutf8' ? s : hexToBytes(s);
}

function arrowBinary(jf, data, row) {
  const name = jf.type.name;
  if (name === 'utf8view' || name === 'binaryview') return arrow.makeVector(data).get(row);
  if (name === 'fixedsizebinary') {
    const w = jf.type.byteWidth;
    const i = data.offset + row;
    return data.values.subarray(i * w, (i + 1) * w);
  }
  const i = data.offset + row;
  const b = Number(data.valueOffsets[i]);
  const e = Number(data.valueOffsets[i + 1]);
  const bytes = data.values.subarray(b, e);
  return name === 'utf8' || name === 'largeutf8'
    ? new TextDecoder('utf-8', { fatal: true }).decode(bytes) : bytes;
}

function sameBinary(a, b) {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function dictionaryData(dictVector, index) {
  let i = index;
  for (const d of dictVector.data) {
    if (i < d.length) return [d, i];
    i -= d.length;
  }
  throw new Mismatch(`dictionary index ${index} past the dictionary's ${dictVector.length} values`);
}

function compareValue(where, jf, jcol, jrow, data, arow, dicts) {
  const name = jf.type.name;
  const at = `${where}[${jrow}]`;
  if (name === 'null') return;
  if (name !== 'union') {
    const want = jsonValid(jcol, jrow);
    const got = arrowValid(data, arow);
    if (want !== got) differ(at, `${want ? 'a value' : 'null'} expected, got ${got ? 'a value' : 'null'}`);
    if (!want) return;
  }
  if (jf.dictionary) {
    const want = Number(jcol.DATA[jrow]);
    const got = Number(intAt(data, data.offset + arow));
    expectEq(at, 'dictionary index', want, got);
    const values = dicts.get(jf.dictionary.id);
    if (!values) differ(at, `no dictionary ${jf.dictionary.id} in the JSON`);
    const [d, i] = dictionaryData(data.dictionary, got);
    const valueField = { ...jf, dictionary: undefined };
    compareValue(`${at}<dictionary>`, valueField, values, want, d, i, dicts);
    return;
  }
  const i = data.offset + arow;
  switch (name) {
    case 'bool': {
      const want = jcol.DATA[jrow] === true || jcol.DATA[jrow] === 1;
      const got = ((data.values[i >> 3] >> (i & 7)) & 1) === 1;
      expectEq(at, 'value', want, got);
      return;
    }
    case 'int':
      expectEq(at, 'value', toBigInt(jcol.DATA[jrow]), intAt(data, i, jf.type.isSigned));
      return;
    case 'date':
    case 'time':
    case 'timestamp':
    case 'duration':
      expectEq(at, 'value', toBigInt(jcol.DATA[jrow]), intAt(data, i));
      return;
    case 'floatingpoint': {
      const x = jsonNumber(jcol.DATA[jrow]);
      if (jf.type.precision === 'HALF') {
        expectEq(at, 'half float bits', halfBits(x), data.values[i]);
      } else {
        const want = jf.type.precision === 'SINGLE' ? Math.fround(x) : x;
        if (!sameFloat(want, data.values[i])) differ(at, `${want} expected, got ${data.values[i]}`);
      }
      return;
    }
    case 'decimal': {
      const bw = jf.type.bitWidth ?? 128;
      expectEq(at, 'value', BigInt(jcol.DATA[jrow]), decimalAt(data, i, bw));
      return;
    }
    case 'interval': {
      const v = jcol.DATA[jrow];
      if (jf.type.unit === 'YEAR_MONTH') {
        expectEq(at, 'months', Number(v), words32(data, i, 1)[0] | 0);
      } else if (jf.type.unit === 'DAY_TIME') {
        const [days, ms] = words32(data, i, 2).map((w) => w | 0);
        expectEq(at, 'days', v.days ?? 0, days);
        expectEq(at, 'milliseconds', v.milliseconds ?? 0, ms);
      } else {
        const w = words32(data, i, 4);
        expectEq(at, 'months', v.months ?? 0, w[0] | 0);
        expectEq(at, 'days', v.days ?? 0, w[1] | 0);
        const nanos = BigInt.asIntN(64, (BigInt(w[3]) << 32n) | BigInt(w[2]));
        expectEq(at, 'nanoseconds', BigInt(v.nanoseconds ?? 0), nanos);
      }
      return;
    }
    case 'utf8':
    case 'largeutf8':
    case 'binary':
    case 'largebinary':
    case 'utf8view':
    case 'binaryview':
    case 'fixedsizebinary': {
      const want = jsonBinary(jf, jcol, jrow);
      const got = arrowBinary(jf, data, arow);
      if (!sameBinary(want, got)) differ(at, `${show(want)} expected, got ${show(got)}`);
      return;
    }
    case 'list':
    case 'largelist':
    case 'map': {
      const jb = Number(jcol.OFFSET[jrow]);
      const je = Number(jcol.OFFSET[jrow + 1]);
      const ab = Number(data.valueOffsets[i]);
      const ae = Number(data.valueOffsets[i + 1]);
      expectEq(at, 'list length', je - jb, ae - ab);
      const kid = jf.children[0];
      for (let k = 0; k < je - jb; k++) {
        compareValue(`${at}.${kid.name}`, kid, jcol.children[0], jb + k, data.children[0], ab + k,
          dicts);
      }
      return;
    }
    case 'fixedsizelist': {
      const n = jf.type.listSize;
      const kid = jf.children[0];
      for (let k = 0; k < n; k++) {
        compareValue(`${at}.${kid.name}`, kid, jcol.children[0], jrow * n + k, data.children[0],
          i * n + k, dicts);
      }
      return;
    }
    case 'struct':
      jf.children.forEach((kid, k) => {
        compareValue(`${at}.${kid.name}`, kid, jcol.children[k], jrow, data.children[k], i, dicts);
      });
      return;
    case 'union': {
      const code = jcol.TYPE_ID[jrow];
      expectEq(at, 'type id', code, data.typeIds[i]);
      const k = jf.type.typeIds.indexOf(code);
      const dense = jf.type.mode === 'DENSE';
      const jchild = dense ? Number(jcol.OFFSET[jrow]) : jrow;
      const achild = dense ? data.valueOffsets[i] : i;
      const kid = jf.children[k];
      compareValue(`${at}.${kid.name}`, kid, jcol.children[k], jchild, data.children[k], achild,
        dicts);
      return;
    }
    default:
      differ(at, `type ${name} is not checked by this script`);
  }
}

// ---- One case ----------------------------------------------------------------------------

export function checkOutput(where, json, bytes, variant) {
  const reader = arrow.RecordBatchReader.from(bytes).open();
  expectEq(where, 'format is file', variant.format === 'file', reader.isFile());
  const schema = reader.schema;
  let batches = reader.readAll();
  // apache-arrow makes up one empty batch for a file or stream without any
  // (it does so for Arrow C++'s gold files too).
  if (json.batches.length === 0 && batches.length === 1 && batches[0].numRows === 0) batches = [];
  checkTable(where, json, schema, batches);
}

// An apache-arrow schema against the JSON's: fields, types, metadata.
export function checkSchema(where, json, schema) {
  expectEq(where, 'number of fields', json.schema.fields.length, schema.fields.length);
  compareMetadata(`${where}: schema`, json.schema.metadata, schema.metadata);
  json.schema.fields.forEach((jf, c) => compareField(`${where}: ${jf.name}`, jf, schema.fields[c]));
}

// An apache-arrow schema and record batches against the JSON: the schema,
// the number of batches, and every value.
export function checkTable(where, json, schema, batches) {
  checkSchema(where, json, schema);
  expectEq(where, 'number of batches', json.batches.length, batches.length);
  const dicts = new Map((json.dictionaries || []).map((d) => [d.id, d.data.columns[0]]));
  json.batches.forEach((jb, b) => {
    const ab = batches[b];
    expectEq(`${where}: batch ${b}`, 'rows', jb.count, ab.numRows);
    json.schema.fields.forEach((jf, c) => {
      const data = ab.data.children[c];
      for (let row = 0; row < jb.count; row++) {
        compareValue(`${where}: batch ${b}: ${jf.name}`, jf, jb.columns[c], row, data, row, dicts);
      }
    });
  });
}

// JSON.parse turns integers into doubles; the format writes 64-bit values as
// strings except month-day-nano "nanoseconds", which are quoted here first
// so that they stay exact (as BigInt-able strings).
export function parseJson(text) {
  return JSON.parse(text.replace(/(?<!\\)("nanoseconds"\s*:\s*)(-?\d+)/g, '$1"$2"'));
}

function goldCases(gold) {
  const cases = [];
  for (const folder of readdirSync(gold).sort()) {
    let names;
    try {
      names = readdirSync(path.join(gold, folder));
    } catch {
      continue;
    }
    for (const f of names.sort()) {
      if (f.endsWith('.json.gz')) cases.push(`${folder}/${f.slice(0, -'.json.gz'.length)}`);
    }
  }
  return cases;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const out = mkdtempSync(path.join(tmpdir(), 'cflight-node-read-ipc-'));
  const failures = [];
  const skipped = [];
  let checked = 0;
  try {
    for (const name of goldCases(args.gold)) {
      if (args.only && !name.includes(args.only)) continue;
      const jsonPath = path.join(args.gold, `${name}.json.gz`);
      const json = parseJson(gunzipSync(readFileSync(jsonPath)).toString('utf-8'));
      const reason = unsupportedIn(json.schema.fields);
      if (reason) {
        skipped.push(`${name}: ${reason}`);
        continue;
      }
      for (const v of VARIANTS) {
        const where = `${name} (${v.format}, ${v.compression})`;
        const arrowPath = path.join(out, `${path.basename(name)}.${v.format}.${v.compression}`);
        try {
          execFileSync(args.converter, ['--integration', `--json=${jsonPath}`,
            `--arrow=${arrowPath}`, '--mode=JSON_TO_ARROW', `--arrow-format=${v.format}`,
            `--compression=${v.compression}`], { stdio: ['ignore', 'ignore', 'pipe'] });
        } catch (e) {
          failures.push(`${where}: cflight-ipc-integration failed: ${String(e.stderr || e).trim()}`);
          continue;
        }
        try {
          checkOutput(where, json, readFileSync(arrowPath), v);
          checked++;
        } catch (e) {
          failures.push(e instanceof Mismatch ? e.message : `${where}: apache-arrow: ${e.stack || e}`);
        }
      }
    }
  } finally {
    if (!args.keep) rmSync(out, { recursive: true, force: true });
  }
  for (const s of skipped) console.log(`skipped ${s}`);
  for (const f of failures) console.log(`FAIL ${f}`);
  console.log(`${checked} outputs matched their JSON, ${failures.length} failed, `
    + `${skipped.length} cases skipped (types apache-arrow cannot read)`);
  process.exitCode = failures.length === 0 && checked > 0 ? 0 : 1;
}

// Run only as a program: flight-*.mjs import the checks above.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
