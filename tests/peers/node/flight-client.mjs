// A Flight client on @grpc/grpc-js and apache-arrow that checks a server
// implementing the test service of tests/interop/README.md (cflight's
// flight_test_server, or flight-server.mjs): every RPC, with Arrow data read
// by apache-arrow and compared value by value with the gold integration
// JSON files (through read-ipc.mjs's checks).
//
//   node flight-client.mjs --port N [--host H] [--gold DIR] [--only SUBSTRING]
//   node flight-client.mjs --security --port N --ports "NAME=PORT ..." [--certs DIR] ...
//
// With --security it checks the README's security configuration instead:
// TLS, mutual TLS, header and handshake authentication on every RPC kind,
// and middleware-visible metadata. Prints one line per failed check; exit
// status 0 when all passed.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import {
  ACTIONS, CHANNEL_OPTIONS, CLIENT_SUBJECT, DATASETS, DETAILS, DETAILS_MESSAGE, ENDLESS_ROWS, EXPIRATION,
  FlightService, LARGE_ROWS, LOCATIONS, PASSWORD, RENEWED, SECRET, USER, WRONG_PASSWORD,
  decodeMessage, defaultCerts, encodeMessage, grpc, int64Batch, joinFlightData, loadDataset,
  messageType, parseArgs, parsePorts, readCerts, readSchemaBytes, readStream, toFlightData,
} from './flight-common.mjs';
import { Mismatch, checkOutput, compareField, compareMetadata, parseJson } from './read-ipc.mjs';

const args = parseArgs(process.argv.slice(2), { security: false, certs: defaultCerts(), ports: '' });
const S = grpc.status;
const client = new FlightService(`${args.host}:${args.port}`, grpc.credentials.createInsecure(),
  CHANNEL_OPTIONS);

// ---- Checks ------------------------------------------------------------------------------

const failures = [];
let passed = 0;

class Failed extends Error {}

function expect(cond, what) {
  if (!cond) throw new Failed(what);
}

function expectEq(what, want, got) {
  const a = show(want);
  const b = show(got);
  if (a !== b) throw new Failed(`${what}: ${a} expected, got ${b}`);
}

function show(v) {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
    const s = Buffer.from(v).toString('utf-8');
    return /^[\x20-\x7e]*$/.test(s) ? JSON.stringify(s) : `0x${Buffer.from(v).toString('hex')}`;
  }
  return JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `${x}n` : x));
}

async function check(name, fn) {
  if (args.only && !name.includes(args.only)) return;
  try {
    await fn();
    passed++;
  } catch (e) {
    const why = e instanceof Failed || e instanceof Mismatch ? e.message : (e.stack || String(e));
    failures.push(`${name}: ${why}`);
    console.log(`FAIL ${name}: ${why}`);
  }
}

// ---- Calls -------------------------------------------------------------------------------
// Each resolves (never rejects) to { messages, headers, status } once the
// call's status is known; status.metadata holds the trailers.

function metadataOf(pairs = []) {
  const md = new grpc.Metadata();
  for (const [k, v] of pairs) md.add(k, v);
  return md;
}

function options(timeoutMs) {
  return timeoutMs ? { deadline: new Date(Date.now() + timeoutMs) } : {};
}

function observe(call, messages, onData) {
  return new Promise((resolve) => {
    let headers = null;
    call.on('metadata', (md) => { headers = md; });
    call.on('data', (m) => {
      messages.push(m);
      if (onData) onData(m, call);
    });
    call.on('error', () => {});
    call.on('status', (status) => resolve({ messages, headers, status }));
  });
}

function unaryCall(method, request, { headers, timeoutMs, via = client } = {}) {
  return new Promise((resolve) => {
    const messages = [];
    let got = null;
    const call = via[method](request, metadataOf(headers), options(timeoutMs), (err, resp) => {
      if (!err) messages.push(resp);
    });
    call.on('metadata', (md) => { got = md; });
    call.on('status', (status) => {
      // The callback runs before 'status'; wait a tick so that it has.
      setImmediate(() => resolve({ messages, headers: got, status }));
    });
  });
}

function streamCall(method, request, { headers, timeoutMs, onData, via = client } = {}) {
  const call = via[method](request, metadataOf(headers), options(timeoutMs));
  return observe(call, [], onData);
}

// A bidirectional call: `drive(call, next)` writes; next() resolves with the
// next message received (or null at the end).
function bidiCall(method, drive, { headers, timeoutMs, via = client } = {}) {
  const call = via[method](metadataOf(headers), options(timeoutMs));
  const queue = [];
  const waiters = [];
  let ended = false;
  const wake = () => {
    while (waiters.length && (queue.length || ended)) waiters.shift()(queue.length ? queue.shift() : null);
  };
  const done = observe(call, [], (m) => {
    queue.push(m);
    wake();
  });
  done.then(() => {
    ended = true;
    wake();
  });
  const next = () => new Promise((resolve) => {
    waiters.push(resolve);
    wake();
  });
  const driven = Promise.resolve().then(() => drive(call, next)).catch((e) => {
    call.cancel();
    throw e;
  });
  return Promise.all([driven, done]).then(([, result]) => result);
}

function expectOk(what, result) {
  const { code, details } = result.status;
  if (code !== S.OK) throw new Failed(`${what}: OK expected, got ${S[code]} (${code}) ${JSON.stringify(details)}`);
}

function expectStatus(what, result, code, details) {
  const st = result.status;
  if (st.code !== code) {
    throw new Failed(`${what}: ${S[code]} expected, got ${S[st.code]} (${st.code}) ${JSON.stringify(st.details)}`);
  }
  if (details !== undefined) expectEq(`${what}: status message`, details, st.details);
}

// ---- Expected values ---------------------------------------------------------------------

const jsonCache = new Map();
function goldJson(name) {
  if (!jsonCache.has(name)) {
    const text = gunzipSync(readFileSync(path.join(args.gold, `${name}.json.gz`))).toString('utf-8');
    jsonCache.set(name, parseJson(text));
  }
  return jsonCache.get(name);
}

function goldRows(name) {
  return goldJson(name).batches.reduce((n, b) => n + b.count, 0);
}

// The schema in FlightInfo/SchemaResult bytes, against the JSON's.
function checkSchemaBytes(where, name, bytes) {
  expect(bytes && bytes.length > 0, `${where}: no schema`);
  expectEq(`${where}: continuation marker`, 'ffffffff', Buffer.from(bytes).subarray(0, 4).toString('hex'));
  const schema = readSchemaBytes(bytes);
  const json = goldJson(name);
  expectEq(`${where}: number of fields`, json.schema.fields.length, schema.fields.length);
  compareMetadata(`${where}: schema`, json.schema.metadata, schema.metadata);
  json.schema.fields.forEach((jf, i) => compareField(`${where}: ${jf.name}`, jf, schema.fields[i]));
}

function checkTimestamp(what, want, got) {
  expect(got, `${what}: no timestamp`);
  expectEq(`${what} seconds`, want.seconds, Number(got.seconds));
  expectEq(`${what} nanos`, want.nanos, got.nanos);
}

function checkGoldInfo(where, name, info) {
  checkSchemaBytes(where, name, info.schema);
  const d = info.flight_descriptor;
  expect(d, `${where}: no descriptor`);
  expectEq(`${where}: descriptor`, ['PATH', ['gold', name]], [d.type, d.path]);
  expectEq(`${where}: endpoints`, 1, info.endpoint.length);
  const e = info.endpoint[0];
  expectEq(`${where}: ticket`, `gold/${name}`, e.ticket?.ticket);
  expectEq(`${where}: locations`, LOCATIONS, e.location.map((l) => l.uri));
  checkTimestamp(`${where}: expiration_time`, EXPIRATION, e.expiration_time);
  expectEq(`${where}: endpoint app_metadata`, `endpoint:${name}`, e.app_metadata);
  expectEq(`${where}: total_records`, goldRows(name), info.total_records);
  expectEq(`${where}: total_bytes`, -1, info.total_bytes);
  expectEq(`${where}: ordered`, true, info.ordered);
  expectEq(`${where}: app_metadata`, `info:${name}`, info.app_metadata);
}

// FlightData messages against a gold case: values through apache-arrow, and
// app_metadata on record batches as appMetadata(i) says.
function checkData(where, name, messages, appMetadata) {
  let k = 0;
  messages.forEach((fd, i) => {
    if (i === 0) expect(fd.data_header.length > 0, `${where}: the first message has no data_header`);
    const type = fd.data_header.length ? messageType(fd.data_header) : null;
    if (i === 0) expectEq(`${where}: first message`, 'Schema', type);
    const want = type === 'RecordBatch' ? appMetadata(k++) : '';
    if (type === 'RecordBatch' || type === null || fd.app_metadata.length) {
      expectEq(`${where}: message ${i} (${type ?? 'metadata only'}) app_metadata`, want, fd.app_metadata);
    }
  });
  checkOutput(where, goldJson(name), joinFlightData(messages), { format: 'stream' });
}

// ---- The checks ----------------------------------------------------------------------------

async function handshake() {
  await check('Handshake', async () => {
    const r = await bidiCall('Handshake', async (call, next) => {
      for (const [v, p] of [[7, 'alpha'], [9, '\u00e9\u0000\u00ff']]) {
        call.write({ protocol_version: v, payload: Buffer.from(p) });
        const resp = await next();
        expect(resp, 'the server ended the handshake early');
        expect(Number.isInteger(resp.protocol_version), 'protocol_version');
        expectEq('payload', Buffer.concat([Buffer.from('hs:'), Buffer.from(p)]), resp.payload);
      }
      call.end();
      expectEq('messages after the end', null, await next());
    });
    expectOk('Handshake', r);
  });
  await check('Handshake refused', async () => {
    const r = await bidiCall('Handshake', async (call) => {
      call.write({ protocol_version: 1, payload: Buffer.from('bad') });
      call.end();
    });
    expectStatus('bad payload', r, S.UNAUTHENTICATED, 'bad handshake payload');
  });
}

async function listActions() {
  await check('ListActions', async () => {
    const r = await streamCall('ListActions', {});
    expectOk('ListActions', r);
    expectEq('actions', ACTIONS, r.messages.map((a) => [a.type, a.description]));
  });
}

async function flights() {
  await check('ListFlights all', async () => {
    const r = await streamCall('ListFlights', { expression: Buffer.alloc(0) });
    expectOk('ListFlights', r);
    const names = [...DATASETS].sort();
    expectEq('number of flights', names.length, r.messages.length);
    r.messages.forEach((info, i) => checkGoldInfo(`flight ${i}`, names[i], info));
  });
  await check('ListFlights criteria', async () => {
    const r = await streamCall('ListFlights', { expression: Buffer.from('gold/generated_dictionary') });
    expectOk('ListFlights', r);
    expectEq('flights', [['gold', 'generated_dictionary'], ['gold', 'generated_dictionary_unsigned']],
      r.messages.map((i) => i.flight_descriptor.path));
    const none = await streamCall('ListFlights', { expression: Buffer.from('no such flight') });
    expectOk('ListFlights none', none);
    expectEq('flights', 0, none.messages.length);
  });
  for (const name of DATASETS) {
    await check(`GetFlightInfo ${name}`, async () => {
      const r = await unaryCall('GetFlightInfo', { type: 'PATH', path: ['gold', name] });
      expectOk('GetFlightInfo', r);
      checkGoldInfo(name, name, r.messages[0]);
    });
    await check(`GetSchema ${name}`, async () => {
      const r = await unaryCall('GetSchema', { type: 'PATH', path: ['gold', name] });
      expectOk('GetSchema', r);
      checkSchemaBytes(name, name, r.messages[0].schema);
    });
  }
  await check('GetFlightInfo unknown', async () => {
    const r = await unaryCall('GetFlightInfo', { type: 'PATH', path: ['gold', 'nope'] });
    expectStatus('unknown path', r, S.NOT_FOUND);
    const c = await unaryCall('GetFlightInfo', { type: 'CMD', cmd: Buffer.from('gold/generated_null') });
    expectStatus('command', c, S.NOT_FOUND);
    const s = await unaryCall('GetSchema', { type: 'PATH', path: ['nope'] });
    expectStatus('GetSchema unknown', s, S.NOT_FOUND);
  });
  await check('PollFlightInfo', async () => {
    const name = 'generated_nested';
    const r = await unaryCall('PollFlightInfo', { type: 'CMD', cmd: Buffer.from(`poll:${name}`) });
    expectOk('first poll', r);
    const p = r.messages[0];
    expect(p.info, 'first poll: no info');
    checkSchemaBytes('first poll', name, p.info.schema);
    expectEq('first poll: info descriptor', ['CMD', `poll:${name}`],
      [p.info.flight_descriptor?.type, p.info.flight_descriptor?.cmd.toString()]);
    expectEq('first poll: endpoints', 0, p.info.endpoint.length);
    expectEq('first poll: totals', [-1, -1, false], [p.info.total_records, p.info.total_bytes, p.info.ordered]);
    expectEq('first poll: info app_metadata', 'pending', p.info.app_metadata);
    expectEq('first poll: next descriptor', ['CMD', `poll:${name}:done`],
      [p.flight_descriptor?.type, p.flight_descriptor?.cmd.toString()]);
    expectEq('first poll: progress', ['progress', 0.5], [p._progress, p.progress]);
    checkTimestamp('first poll: expiration_time', EXPIRATION, p.expiration_time);
    const r2 = await unaryCall('PollFlightInfo', p.flight_descriptor);
    expectOk('second poll', r2);
    const q = r2.messages[0];
    checkGoldInfo('second poll', name, q.info);
    expectEq('second poll: descriptor', null, q.flight_descriptor);
    expectEq('second poll: progress', ['progress', 1], [q._progress, q.progress]);
    expectEq('second poll: expiration_time', null, q.expiration_time);
    const bad = await unaryCall('PollFlightInfo', { type: 'CMD', cmd: Buffer.from('poll:nope') });
    expectStatus('unknown query', bad, S.NOT_FOUND);
  });
}

async function doGet() {
  for (const name of DATASETS) {
    await check(`DoGet ${name}`, async () => {
      const r = await streamCall('DoGet', { ticket: Buffer.from(`gold/${name}`) });
      expectOk('DoGet', r);
      checkData(name, name, r.messages, (i) => `${name}:${i}`);
    });
  }
  await check('DoGet unknown', async () => {
    expectStatus('unknown ticket', await streamCall('DoGet', { ticket: Buffer.from('gold/nope') }),
      S.NOT_FOUND);
    expectStatus('empty ticket', await streamCall('DoGet', { ticket: Buffer.alloc(0) }), S.NOT_FOUND);
  });
  await check('DoGet large', async () => {
    const r = await streamCall('DoGet', { ticket: Buffer.from('large') }, { timeoutMs: 60000 });
    expectOk('DoGet large', r);
    const batchMsgs = r.messages.filter((m) => m.data_header.length && messageType(m.data_header) === 'RecordBatch');
    expectEq('batches', 1, batchMsgs.length);
    expectEq('app_metadata', 'large', batchMsgs[0].app_metadata);
    const { schema, batches } = readStream(joinFlightData(r.messages));
    expectEq('schema', [['data', 'Int64', false]], schema.fields.map((f) => [f.name, `${f.type}`, f.nullable]));
    expectEq('rows', LARGE_ROWS, batches[0].numRows);
    const col = batches[0].getChildAt(0).data[0];
    const values = col.values;
    for (let i = 0; i < LARGE_ROWS; i++) {
      if (values[i] !== BigInt(i)) throw new Failed(`data[${i}]: ${i} expected, got ${values[i]}`);
    }
  });
}

// Uploads a dataset: its batches written by apache-arrow, record batch i
// with app_metadata "up:NAME:i", a metadata-only message after the first
// batch and one at the end.
function uploadMessages(name) {
  const d = loadDataset(args.gold, name);
  const fds = toFlightData(d.schema, d.batches, (i) => `up:${name}:${i}`);
  const out = [];
  let seenBatch = false;
  for (const fd of fds) {
    out.push(fd);
    if (fd.type === 'RecordBatch' && !seenBatch) {
      seenBatch = true;
      out.push({ app_metadata: Buffer.from(`middle:${name}`) });
    }
  }
  out.push({ app_metadata: Buffer.from(`tail:${name}`) });
  out[0].flight_descriptor = { type: 'PATH', path: ['uploads', name] };
  return out;
}

// The app_metadata sequence of the upload's batches and metadata-only messages.
function uploadSequence(messages) {
  return messages.filter((m) => !m.data_header?.length || messageType(m.data_header) === 'RecordBatch')
    .map((m) => Buffer.from(m.app_metadata ?? []).toString());
}

async function doPut() {
  for (const name of DATASETS) {
    await check(`DoPut ${name}`, async () => {
      const sent = uploadMessages(name);
      const r = await bidiCall('DoPut', async (call) => {
        for (const fd of sent) call.write(fd);
        call.end();
      });
      expectOk('DoPut', r);
      const seq = uploadSequence(sent);
      expectEq('acks', seq.map((md, k) => `ack:${k}:${md}`), r.messages.map((m) => m.app_metadata.toString()));
      const g = await streamCall('DoGet', { ticket: Buffer.from(`uploads/${name}`) });
      expectOk('DoGet of the upload', g);
      expectEq('replayed app_metadata', seq, uploadSequence(g.messages));
      const onlyData = g.messages.filter((m) => m.data_header.length);
      checkOutput(`${name} uploaded`, goldJson(name), joinFlightData(onlyData), { format: 'stream' });
      const info = await unaryCall('GetFlightInfo', { type: 'PATH', path: ['uploads', name] });
      expectOk('GetFlightInfo of the upload', info);
      const i = info.messages[0];
      checkSchemaBytes('upload info', name, i.schema);
      expectEq('upload descriptor', ['PATH', ['uploads', name]], [i.flight_descriptor?.type, i.flight_descriptor?.path]);
      expectEq('upload ticket', [`uploads/${name}`], i.endpoint.map((e) => e.ticket.ticket.toString()));
      expectEq('upload total_records', goldRows(name), i.total_records);
      const s = await unaryCall('GetSchema', { type: 'PATH', path: ['uploads', name] });
      expectOk('GetSchema of the upload', s);
      checkSchemaBytes('upload schema', name, s.messages[0].schema);
    });
  }
  await check('DoPut bad descriptor', async () => {
    const fds = uploadMessages('generated_primitive');
    fds[0].flight_descriptor = { type: 'CMD', cmd: Buffer.from('x') };
    const r = await bidiCall('DoPut', async (call) => {
      for (const fd of fds) call.write(fd);
      call.end();
    });
    expectStatus('DoPut to a command', r, S.INVALID_ARGUMENT);
  });
}

async function doExchange() {
  for (const name of ['generated_primitive', 'generated_dictionary', 'generated_nested_dictionary',
    'generated_datetime', 'generated_decimal', 'generated_map', 'generated_union',
    'generated_binary_view', 'generated_null_trivial', 'generated_primitive_no_batches']) {
    await check(`DoExchange echo ${name}`, async () => {
      const d = loadDataset(args.gold, name);
      const fds = toFlightData(d.schema, d.batches, (i) => `ex:${name}:${i}`);
      fds[0].flight_descriptor = { type: 'CMD', cmd: Buffer.from('echo') };
      const r = await bidiCall('DoExchange', async (call, next) => {
        // One batch at a time: each must come back before the next is sent.
        let k = 0;
        for (const fd of fds) {
          call.write(fd);
          if (fd.type !== 'RecordBatch') continue;
          for (;;) {
            const m = await next();
            expect(m, `the echo of batch ${k} did not come`);
            if (m.data_header.length && messageType(m.data_header) === 'RecordBatch') break;
          }
          k++;
        }
        call.write({ app_metadata: Buffer.from('the end') });
        for (;;) {
          const m = await next();
          expect(m, 'the echo of the metadata did not come');
          if (!m.data_header.length) break;
        }
        call.end();
        expectEq('messages after the end', null, await next());
      });
      expectOk('DoExchange', r);
      const seq = r.messages.filter((m) => !m.data_header.length || messageType(m.data_header) === 'RecordBatch')
        .map((m) => m.app_metadata.toString());
      expectEq('app_metadata', [...d.batches.map((_, i) => `ex:${name}:${i}`), 'the end'], seq);
      if (d.batches.length) {
        checkOutput(`${name} echoed`, goldJson(name), joinFlightData(r.messages), { format: 'stream' });
      }
    });
  }
  await check('DoExchange metadata only', async () => {
    // Not an empty one: an empty FlightData is neither data nor metadata.
    const sent = ['one', '\u0000', 'three \u2713'].map((s) => Buffer.from(s));
    const r = await bidiCall('DoExchange', async (call) => {
      call.write({ flight_descriptor: { type: 'CMD', cmd: Buffer.from('echo') }, app_metadata: sent[0] });
      call.write({ app_metadata: sent[1] });
      call.write({ app_metadata: sent[2] });
      call.end();
    });
    expectOk('DoExchange', r);
    expectEq('echoed', sent.map(String), r.messages.map((m) => m.app_metadata.toString()));
    expect(r.messages.every((m) => m.data_header.length === 0 && m.data_body.length === 0),
      'metadata-only messages came back with data');
  });
  await check('DoExchange unknown command', async () => {
    const r = await bidiCall('DoExchange', async (call) => {
      call.write({ flight_descriptor: { type: 'CMD', cmd: Buffer.from('nope') } });
      call.end();
    });
    expectStatus('unknown command', r, S.INVALID_ARGUMENT);
  });
}

function action(type, body = '', opts = {}) {
  return streamCall('DoAction', { type, body: Buffer.from(body) }, opts);
}

const MESSAGE = 'd\u00e9j\u00e0 vu: 100% s\u00fbr \u2713, 50%25 is not 50%';

async function actions() {
  await check('DoAction echo', async () => {
    const body = Buffer.from([0, 1, 0xfe, 0xff, 0x25, 0x32, 0x35]);
    const r = await action('echo', body);
    expectOk('echo', r);
    expectEq('results', [body], r.messages.map((m) => m.body));
    const e = await action('echo', '');
    expectOk('echo empty', e);
    expectEq('results', [''], e.messages.map((m) => m.body.toString()));
  });
  await check('DoAction count', async () => {
    const r = await action('count', '5');
    expectOk('count', r);
    expectEq('results', ['0', '1', '2', '3', '4'], r.messages.map((m) => m.body.toString()));
    const z = await action('count', '0');
    expectOk('count 0', z);
    expectEq('results', 0, z.messages.length);
  });
  await check('DoAction fail', async () => {
    for (const code of [S.INVALID_ARGUMENT, S.NOT_FOUND, S.ALREADY_EXISTS, S.PERMISSION_DENIED,
      S.FAILED_PRECONDITION, S.ABORTED, S.OUT_OF_RANGE, S.INTERNAL, S.UNAUTHENTICATED]) {
      expectStatus(`fail ${S[code]}`, await action('fail', `${code}:${MESSAGE}`), code, MESSAGE);
    }
    expectStatus('fail with no message', await action('fail', `${S.NOT_FOUND}:`), S.NOT_FOUND, '');
  });
  await check('DoAction fail-details', async () => {
    const r = await action('fail-details');
    expectStatus('fail-details', r, S.FAILED_PRECONDITION, DETAILS_MESSAGE);
    expectEq('grpc-status-details-bin', DETAILS, r.status.metadata.get('grpc-status-details-bin')[0]);
  });
  await check('DoAction fail-after', async () => {
    const r = await action('fail-after', `3:${S.ABORTED}:${MESSAGE}`);
    expectStatus('fail-after', r, S.ABORTED, MESSAGE);
    expectEq('results before the error', ['0', '1', '2'], r.messages.map((m) => m.body.toString()));
  });
  await check('DoAction headers', async () => {
    const bin = Buffer.from([0, 0xff, 0x2c, 0x20, 0x0a]);
    const r = await action('headers', '', {
      headers: [['x-text', 'plain value'], ['x-data-bin', bin], ['authorization', 'Bearer abc'],
        ['other', 'not listed']],
    });
    expectOk('headers', r);
    const want = [Buffer.from('authorization=Bearer abc'),
      Buffer.concat([Buffer.from('x-data-bin='), bin]), Buffer.from('x-text=plain value')];
    expectEq('results', want, r.messages.map((m) => m.body));
  });
  await check('Header echo', async () => {
    const bin = Buffer.from([0xff, 0, 1, 0x80]);
    const headers = [['x-echo-text', 'hello'], ['x-echo-data-bin', bin]];
    const checkEcho = (what, r) => {
      const h = r.headers ? r.headers.toJSON() : {};
      const t = r.status.metadata.toJSON();
      const hv = h['x-echo-text'] ?? t['x-echo-text'];
      const hb = h['x-echo-data-bin'] ?? t['x-echo-data-bin'];
      expectEq(`${what}: header x-echo-text`, ['hello'], hv);
      expectEq(`${what}: header x-echo-data-bin`, [bin], hb);
      expectEq(`${what}: trailer x-trailer-text`, ['hello'], t['x-trailer-text']);
      expectEq(`${what}: trailer x-trailer-data-bin`, [bin], t['x-trailer-data-bin']);
    };
    const u = await unaryCall('GetFlightInfo', { type: 'PATH', path: ['gold', 'generated_null'] }, { headers });
    expectOk('GetFlightInfo', u);
    expect(u.headers?.get('x-echo-text').length, 'GetFlightInfo: no response headers');
    checkEcho('GetFlightInfo', u);
    const s = await streamCall('ListActions', {}, { headers });
    expectOk('ListActions', s);
    checkEcho('ListActions', s);
    const f = await action('fail', `${S.NOT_FOUND}:x`, { headers });
    expectStatus('fail', f, S.NOT_FOUND);
    checkEcho('fail', f);
    const x = await bidiCall('DoExchange', async (call) => {
      call.write({ flight_descriptor: { type: 'CMD', cmd: Buffer.from('echo') }, app_metadata: Buffer.from('m') });
      call.end();
    }, { headers });
    expectOk('DoExchange', x);
    checkEcho('DoExchange', x);
  });
  await check('DoAction deadline', async () => {
    const r = await action('deadline', '', { timeoutMs: 10000 });
    expectOk('deadline', r);
    const ms = Number(r.messages[0]?.body.toString());
    // A client may round grpc-timeout up to a coarser unit when it sends it.
    expect(ms > 0 && ms <= 11000, `the server sees ${r.messages[0]?.body} ms left of 10000`);
    const n = await action('deadline');
    expectOk('no deadline', n);
    expectEq('no deadline', ['none'], n.messages.map((m) => m.body.toString()));
  });
  await check('DoAction sleep', async () => {
    const r = await action('sleep', '50');
    expectOk('short sleep', r);
    expectEq('results', ['slept'], r.messages.map((m) => m.body.toString()));
    expectEq('probe', ['completed'], (await action('probe', 'sleep')).messages.map((m) => m.body.toString()));
  });
  await check('Deadline exceeded', async () => {
    const r = await action('sleep', '5000', { timeoutMs: 300 });
    expectStatus('sleep past the deadline', r, S.DEADLINE_EXCEEDED);
    const p = await action('probe', 'sleep');
    expectEq('the server saw', ['deadline'], p.messages.map((m) => m.body.toString()));
  });
  await check('Client cancels', async () => {
    const call = client.DoAction({ type: 'sleep', body: Buffer.from('5000') }, new grpc.Metadata());
    const done = observe(call, []);
    setTimeout(() => call.cancel(), 200);
    const r = await done;
    expectStatus('cancelled sleep', r, S.CANCELLED);
    const p = await action('probe', 'sleep');
    expectEq('the server saw', ['cancelled'], p.messages.map((m) => m.body.toString()));
  });
  await check('Client cancels DoGet', async () => {
    let n = 0;
    const r = await streamCall('DoGet', { ticket: Buffer.from('endless') }, {
      onData: (m, call) => {
        if (m.data_header.length && messageType(m.data_header) === 'RecordBatch' && ++n === 3) call.cancel();
      },
    });
    expectStatus('cancelled DoGet', r, S.CANCELLED);
    const batches = r.messages.filter((m) => m.data_header.length && messageType(m.data_header) === 'RecordBatch');
    expect(batches.length >= 3, `${batches.length} batches before the cancel`);
    const { batches: read } = readStream(joinFlightData(r.messages));
    read.forEach((b, k) => {
      expectEq(`batch ${k} app_metadata`, `endless:${k}`, batches[k].app_metadata);
      const v = b.getChildAt(0).data[0].values;
      expect(b.numRows === ENDLESS_ROWS && v[0] === BigInt(k * ENDLESS_ROWS)
        && v[ENDLESS_ROWS - 1] === BigInt(k * ENDLESS_ROWS + ENDLESS_ROWS - 1), `batch ${k} values`);
    });
    const p = await action('probe', 'endless');
    expectEq('the server saw', ['cancelled'], p.messages.map((m) => m.body.toString()));
  });
  await check('DoGet deadline exceeded', async () => {
    const r = await streamCall('DoGet', { ticket: Buffer.from('endless') }, { timeoutMs: 400 });
    expectStatus('endless DoGet', r, S.DEADLINE_EXCEEDED);
    const p = await action('probe', 'endless');
    expectEq('the server saw', ['deadline'], p.messages.map((m) => m.body.toString()));
  });
  await check('Server cancels', async () => {
    const r = await streamCall('DoGet', { ticket: Buffer.from('server-cancel') });
    expectStatus('server-cancel', r, S.CANCELLED, 'cancelled by the server');
    const batches = r.messages.filter((m) => m.data_header.length && messageType(m.data_header) === 'RecordBatch');
    expectEq('batches before the cancel', ['endless:0', 'endless:1'], batches.map((m) => m.app_metadata.toString()));
  });
  await check('DoAction unknown', async () => {
    expectStatus('unknown action', await action('no-such-action'), S.UNIMPLEMENTED);
  });
  await check('CancelFlightInfo', async () => {
    const info = (await unaryCall('GetFlightInfo', { type: 'PATH', path: ['gold', 'generated_primitive'] })).messages[0];
    const r = await action('CancelFlightInfo', encodeMessage('CancelFlightInfoRequest', { info }));
    expectOk('CancelFlightInfo', r);
    expectEq('status', 'CANCEL_STATUS_CANCELLED', decodeMessage('CancelFlightInfoResult', r.messages[0].body).status);
    const other = { ...info, endpoint: [{ ticket: { ticket: Buffer.from('uploads/x') } }] };
    const r2 = await action('CancelFlightInfo', encodeMessage('CancelFlightInfoRequest', { info: other }));
    expectOk('CancelFlightInfo', r2);
    expectEq('status', 'CANCEL_STATUS_NOT_CANCELLABLE', decodeMessage('CancelFlightInfoResult', r2.messages[0].body).status);
  });
  await check('RenewFlightEndpoint', async () => {
    const endpoint = { ticket: { ticket: Buffer.from('gold/generated_null') }, location: [{ uri: LOCATIONS[1] }],
      expiration_time: EXPIRATION, app_metadata: Buffer.from('e') };
    const r = await action('RenewFlightEndpoint', encodeMessage('RenewFlightEndpointRequest', { endpoint }));
    expectOk('RenewFlightEndpoint', r);
    expectEq('results', 1, r.messages.length);
    const e = decodeMessage('FlightEndpoint', r.messages[0].body);
    expectEq('ticket', 'gold/generated_null', e.ticket.ticket);
    expectEq('locations', [LOCATIONS[1]], e.location.map((l) => l.uri));
    checkTimestamp('expiration_time', RENEWED, e.expiration_time);
    expectEq('app_metadata', 'e', e.app_metadata);
  });
  await check('Session options', async () => {
    const set = {
      session_options: {
        text: { string_value: 'caf\u00e9' }, flag: { bool_value: true },
        number: { int64_value: -1234567890123 }, ratio: { double_value: 0.25 },
        list: { string_list_value: { values: ['a', '', 'c'] } }, bad_name: { string_value: 'x' },
      },
    };
    const r = await action('SetSessionOptions', encodeMessage('SetSessionOptionsRequest', set));
    expectOk('SetSessionOptions', r);
    const res = decodeMessage('SetSessionOptionsResult', r.messages[0].body);
    expectEq('errors', { bad_name: { value: 'INVALID_NAME' } }, res.errors);
    const unset = await action('SetSessionOptions', encodeMessage('SetSessionOptionsRequest',
      { session_options: { ratio: {} } }));
    expectOk('unset', unset);
    const g = await action('GetSessionOptions', encodeMessage('GetSessionOptionsRequest', {}));
    expectOk('GetSessionOptions', g);
    const got = decodeMessage('GetSessionOptionsResult', g.messages[0].body).session_options;
    const flat = Object.fromEntries(Object.entries(got).sort().map(([k, v]) => [k, v[v.option_value]]));
    expectEq('options', { flag: true, list: { values: ['a', '', 'c'] }, number: -1234567890123, text: 'caf\u00e9' }, flat);
    const c = await action('CloseSession', encodeMessage('CloseSessionRequest', {}));
    expectOk('CloseSession', c);
    expectEq('status', 'CLOSED', decodeMessage('CloseSessionResult', c.messages[0].body).status);
    const g2 = await action('GetSessionOptions', encodeMessage('GetSessionOptionsRequest', {}));
    expectEq('options after closing', {}, decodeMessage('GetSessionOptionsResult', g2.messages[0].body).session_options);
  });
}

// ---- Security mode (tests/interop/README.md, "Security") -----------------------------------

const securityPorts = parsePorts(args.ports);
let certs = null;
let tokenSeen = null; // the valid token of the running check: no error message may show it

// A client for the named port (null: the plaintext one); TLS with `creds`.
function clientFor(name, creds = null, channelOptions = {}) {
  const port = name ? securityPorts.get(name) : args.port;
  if (!port) throw new Failed(`the server has no port named ${name}`);
  return new FlightService(`${creds ? 'localhost' : args.host}:${port}`,
    creds ?? grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, ...channelOptions });
}

// A header or trailer (a call that fails at once may answer with trailers only).
function responseMetadata(r, key) {
  return [...(r.headers ? r.headers.get(key) : []), ...(r.status.metadata ? r.status.metadata.get(key) : [])];
}

function expectCode(what, r, code) {
  const st = r.status;
  if (st.code !== code) {
    throw new Failed(`${what}: ${S[code]} expected, got ${S[st.code]} (${st.code}) ${JSON.stringify(st.details)}`);
  }
  if (code !== S.OK) {
    expect(!st.details.includes(SECRET), `${what}: the message shows the password`);
    expect(!tokenSeen || !st.details.includes(tokenSeen), `${what}: the message shows the token`);
  }
}

// Every RPC kind but Handshake through `via` with `headers`: each must end
// with `code`, and when that is OK the answers are checked too.
async function everyRpc(via, headers, code, what, upload) {
  const o = { via, headers };
  const ok = code === S.OK;
  const lf = await streamCall('ListFlights', { expression: Buffer.from('gold/generated_primitive') }, o);
  expectCode(`${what}: ListFlights`, lf, code);
  if (ok) expectEq(`${what}: ListFlights: flights`, 3, lf.messages.length);
  const descriptor = { type: 'PATH', path: ['gold', 'generated_primitive'] };
  const gi = await unaryCall('GetFlightInfo', descriptor, o);
  expectCode(`${what}: GetFlightInfo`, gi, code);
  if (ok) checkGoldInfo(`${what}: GetFlightInfo`, 'generated_primitive', gi.messages[0]);
  const gs = await unaryCall('GetSchema', descriptor, o);
  expectCode(`${what}: GetSchema`, gs, code);
  if (ok) checkSchemaBytes(`${what}: GetSchema`, 'generated_primitive', gs.messages[0].schema);
  const dg = await streamCall('DoGet', { ticket: Buffer.from('gold/generated_primitive') }, o);
  expectCode(`${what}: DoGet`, dg, code);
  if (ok) checkData(`${what}: DoGet`, 'generated_primitive', dg.messages, (i) => `generated_primitive:${i}`);
  const { schema, batch } = int64Batch('n', 10, 0);
  const fds = toFlightData(schema, [batch], () => 'm0');
  fds[0].flight_descriptor = { type: 'PATH', path: ['uploads', upload] };
  const dp = await bidiCall('DoPut', async (call, next) => {
    for (const fd of fds) call.write(fd);
    const ack = await next(); // before the end: the server may refuse at any time
    if (ok) expectEq(`${what}: DoPut: ack`, 'ack:0:m0', ack?.app_metadata?.toString());
    call.end();
  }, o);
  expectCode(`${what}: DoPut`, dp, code);
  const dx = await bidiCall('DoExchange', async (call, next) => {
    call.write({ flight_descriptor: { type: 'CMD', cmd: Buffer.from('echo') }, app_metadata: Buffer.from('ping') });
    const echo = await next();
    if (ok) expectEq(`${what}: DoExchange: echo`, 'ping', echo?.app_metadata?.toString());
    call.end();
  }, o);
  expectCode(`${what}: DoExchange`, dx, code);
  const da = await action('echo', 'hi', o);
  expectCode(`${what}: DoAction`, da, code);
  if (ok) expectEq(`${what}: DoAction echo`, ['hi'], da.messages.map((m) => m.body.toString()));
  const la = await streamCall('ListActions', {}, o);
  expectCode(`${what}: ListActions`, la, code);
  if (ok) expectEq(`${what}: ListActions`, ACTIONS.length, la.messages.length);
}

async function identity(via, headers) {
  const r = await action('identity', '', { via, headers });
  expectOk('identity', r);
  expectEq('identity results', 1, r.messages.length);
  return r.messages[0].body.toString();
}

// An unauthenticated DoPut must not have run: the upload does not exist.
async function expectNoUpload(via, headers, upload) {
  const r = await unaryCall('GetFlightInfo', { type: 'PATH', path: ['uploads', upload] }, { via, headers });
  expectStatus(`GetFlightInfo of the refused upload ${upload}`, r, S.NOT_FOUND);
}

// A client that cannot connect: its first call fails (UNAVAILABLE unless anyCode).
async function expectRefused(what, via, pattern, anyCode = false) {
  const r = await action('echo', 'x', { via, timeoutMs: 20000 });
  via.close();
  expect(r.status.code !== S.OK, `${what}: the call succeeded`);
  console.log(`  ${what}: ${S[r.status.code]}: ${r.status.details}`);
  if (!anyCode) expectEq(`${what}: code`, 'UNAVAILABLE', S[r.status.code]);
  if (pattern) expect(pattern.test(r.status.details), `${what}: the message does not match ${pattern}`);
}

const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function securityChecks() {
  certs = readCerts(args.certs);
  const tls = (root = certs.ca, key = null, cert = null) => grpc.credentials.createSsl(root, key, cert);

  await check('TLS', async () => {
    const c = clientFor('tls', tls());
    await everyRpc(c, [], S.OK, 'TLS', 'tls');
    expectEq('identity without a client certificate', '', await identity(c));
    c.close();
  });
  await check('TLS wrong CA', async () => {
    await expectRefused('untrusted CA', clientFor('tls', tls(certs.untrusted)), /certificate/i);
    await expectRefused('other host name',
      clientFor('tls', tls(), { 'grpc.ssl_target_name_override': 'flight.example.com' }), /flight\.example\.com|altnames|certificate/i);
  });
  await check('TLS plaintext client', async () => {
    await expectRefused('plaintext client', clientFor('tls'), null, true);
  });
  await check('mTLS', async () => {
    const c = clientFor('mtls', tls(certs.ca, certs.key1, certs.cert1));
    expectEq('identity', CLIENT_SUBJECT, await identity(c));
    await everyRpc(c, [], S.OK, 'mTLS', 'mtls');
    c.close();
  });
  await check('mTLS refused', async () => {
    await expectRefused('no client certificate', clientFor('mtls', tls()), null, true);
    await expectRefused('client certificate of an untrusted CA',
      clientFor('mtls_wrong_ca', tls(certs.ca, certs.key1, certs.cert1)), null, true);
  });

  await check('Bearer', async () => {
    const c = clientFor('bearer');
    const hs = await bidiCall('Handshake', async (call) => { call.end(); },
      { via: c, headers: [['authorization', basic(USER, PASSWORD)]] });
    expectOk('Handshake', hs);
    const bearer = responseMetadata(hs, 'authorization').map(String).find((v) => /^bearer /i.test(v));
    expect(bearer, 'no "authorization: Bearer" in the Handshake\'s response');
    expect(bearer.length >= 7 + 16, `a short token: ${bearer}`);
    tokenSeen = bearer.slice(7);
    try {
      const auth = [['authorization', bearer]];
      await everyRpc(c, auth, S.OK, 'with the token', 'bearer');
      expectEq('identity', USER, await identity(c, auth));
      await everyRpc(c, [], S.UNAUTHENTICATED, 'no token', 'bearer-refused');
      await everyRpc(c, [['authorization', `${bearer}x`]], S.UNAUTHENTICATED, 'altered token', 'bearer-refused');
      await everyRpc(c, [['authorization', 'Bearer not-a-token']], S.UNAUTHENTICATED, 'made-up token', 'bearer-refused');
      await expectNoUpload(c, auth, 'bearer-refused');
    } finally {
      tokenSeen = null;
      c.close();
    }
  });
  await check('Bearer refused', async () => {
    const c = clientFor('bearer');
    for (const [what, headers] of [['wrong password', [['authorization', basic(USER, WRONG_PASSWORD)]]],
      ['unknown user', [['authorization', basic('nobody', PASSWORD)]]], ['no credentials', []]]) {
      const hs = await bidiCall('Handshake', async (call) => { call.end(); }, { via: c, headers });
      expectCode(`Handshake, ${what}`, hs, S.UNAUTHENTICATED);
      expect(!responseMetadata(hs, 'authorization').length, `${what}: a token came back`);
    }
    c.close();
  });

  // The BasicAuth handshake: the token comes back as the payload.
  const login = (via, password) => bidiCall('Handshake', async (call, next) => {
    call.write({ protocol_version: 0, payload: encodeMessage('BasicAuth', { username: USER, password }) });
    const resp = await next();
    call.token = resp?.payload ?? null;
    call.end();
  }, { via });
  await check('Handshake auth', async () => {
    const c = clientFor('handshake');
    let token = null;
    const hs = await bidiCall('Handshake', async (call, next) => {
      call.write({ protocol_version: 0, payload: encodeMessage('BasicAuth', { username: USER, password: PASSWORD }) });
      token = (await next())?.payload ?? null;
      call.end();
    }, { via: c });
    expectOk('Handshake', hs);
    expect(token && token.length >= 16, `a short token: ${show(token)}`);
    tokenSeen = token.toString('latin1');
    try {
      const auth = [['auth-token-bin', token]];
      await everyRpc(c, auth, S.OK, 'with the token', 'handshake');
      expectEq('identity', USER, await identity(c, auth));
      await everyRpc(c, [], S.UNAUTHENTICATED, 'no token', 'handshake-refused');
      const altered = Buffer.from(token);
      altered[altered.length >> 1] ^= 1;
      await everyRpc(c, [['auth-token-bin', altered]], S.UNAUTHENTICATED, 'altered token', 'handshake-refused');
      await expectNoUpload(c, auth, 'handshake-refused');
    } finally {
      tokenSeen = null;
      c.close();
    }
  });
  await check('Handshake auth refused', async () => {
    const c = clientFor('handshake');
    const hs = await login(c, WRONG_PASSWORD);
    expectCode('Handshake, wrong password', hs, S.UNAUTHENTICATED);
    const empty = await bidiCall('Handshake', async (call) => { call.end(); }, { via: c });
    expectCode('Handshake, no payload', empty, S.UNAUTHENTICATED);
    c.close();
  });

  await check('Middleware', async () => {
    const data = Buffer.from([0, 0xff, 0x10, 0x6d, 0x80]);
    const r = await action('middleware', '', { headers: [['x-mw-text', 'hello, middleware'], ['x-mw-data-bin', data]] });
    expectOk('middleware', r);
    expectEq('what the server\'s middleware saw',
      [Buffer.concat([Buffer.from('x-mw-data-bin='), data]), Buffer.from('x-mw-text=hello, middleware')],
      r.messages.map((m) => m.body));
    expectEq('x-mw-method', ['DoAction'], responseMetadata(r, 'x-mw-method').map(String));
    expectEq('x-mw-reply-bin', [data], responseMetadata(r, 'x-mw-reply-bin'));
    const la = await streamCall('ListActions', {});
    expectEq('x-mw-method of ListActions', ['ListActions'], responseMetadata(la, 'x-mw-method').map(String));
    const failed = await streamCall('DoGet', { ticket: Buffer.from('no-such-ticket') }, { headers: [['x-mw-data-bin', data]] });
    expectStatus('DoGet unknown', failed, S.NOT_FOUND);
    expectEq('x-mw-method of a failed call', ['DoGet'], responseMetadata(failed, 'x-mw-method').map(String));
    expectEq('x-mw-reply-bin of a failed call', [data], responseMetadata(failed, 'x-mw-reply-bin'));
    const b = clientFor('bearer');
    const refused = await action('echo', 'x', { via: b });
    b.close();
    expectStatus('DoAction without a token', refused, S.UNAUTHENTICATED);
    expectEq('x-mw-method of a refused call', ['DoAction'], responseMetadata(refused, 'x-mw-method').map(String));
  });
  await check('Cookies', async () => {
    const cookie = 'session=abc123; Max-Age=3600; Path=/';
    const r = await action('set-cookie', cookie);
    expectOk('set-cookie', r);
    expectEq('set-cookie header', [cookie], responseMetadata(r, 'set-cookie').map(String));
    const c = await action('cookies', '', { headers: [['cookie', 'session=abc123; theme=dark']] });
    expectOk('cookies', c);
    expectEq('the cookies the server got', ['session=abc123; theme=dark'], c.messages.map((m) => m.body.toString()));
    const none = await action('cookies', '');
    expectEq('no cookies', [''], none.messages.map((m) => m.body.toString()));
  });
}

async function main() {
  if (args.security) {
    await securityChecks();
  } else {
    await handshake();
    await listActions();
    await flights();
    await doGet();
    await doPut();
    await doExchange();
    await actions();
  }
  client.close();
  console.log(`${passed} checks passed, ${failures.length} failed`);
  process.exitCode = failures.length === 0 && passed > 0 ? 0 : 1;
}

main().catch((e) => {
  console.log(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
