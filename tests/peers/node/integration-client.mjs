#!/usr/bin/env node
// The client side of Arrow's Flight integration data round trip, on
// @grpc/grpc-js and apache-arrow, with the command line of Arrow's
// integration clients (docs/flight-integration.md):
//
//   node integration-client.mjs -host localhost -port=PORT -path FILE.json [-path FILE2.json ...]
//
// For each integration JSON file (plain or gzip-compressed): uploads its
// batches with DoPut under the PATH descriptor [FILE], record batch i
// carrying app_metadata "i", waiting after each batch for the server's
// PutResult echoing those bytes; then GetFlightInfo of that descriptor (its
// schema must be the JSON's) and DoGet of every endpoint's ticket at every
// location (on this connection when the endpoint has none, or when the
// location is arrow-flight-reuse-connection: or this server's own
// host:port), checking the schema, every value against the JSON and
// app_metadata "i" on batch i. Several -path flags (an extension: Arrow's
// clients take one) run the files one after the other in one process.
//
// Exit status: 0 when every check passed; 1 with a message on stderr saying
// what failed; 2 for a bad command line. Only the default scenario (no
// -scenario) is implemented.

import {
  CHANNEL_OPTIONS, FlightService, grpc, joinFlightData, messageType, readSchemaBytes, readStream,
  toFlightData,
} from './flight-common.mjs';
import { UsageError, loadJson, parseFlags, parsePort } from './integration-common.mjs';
import { Mismatch, checkSchema, checkTable } from './read-ipc.mjs';

const PROG = 'integration-client.mjs';
const S = grpc.status;
// Every call's deadline: a server that stops answering fails the run
// rather than hanging it.
const CALL_TIMEOUT_MS = 30000;
const REUSE_CONNECTION = 'arrow-flight-reuse-connection://?';

class Failed extends Error {}

function fail(what) {
  throw new Failed(what);
}

function deadline() {
  return { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) };
}

function statusText(st) {
  return `${S[st.code] ?? 'status'} (${st.code}): ${st.details}`;
}

// The bytes as text when printable, else as hex.
function showBytes(b) {
  if (!b || b.length === 0) return 'nothing';
  const s = Buffer.from(b).toString('utf-8');
  return /^[\x20-\x7e]*$/.test(s) ? `'${s}'` : `0x${Buffer.from(b).toString('hex')}`;
}

// ---- Calls -----------------------------------------------------------------------------

function getFlightInfo(client, descriptor) {
  return new Promise((resolve, reject) => {
    client.GetFlightInfo(descriptor, new grpc.Metadata(), deadline(), (err, info) => {
      if (err) reject(new Failed(`GetFlightInfo: ${statusText(err)}`));
      else resolve(info);
    });
  });
}

// A DoGet's messages, once the call has ended with OK.
function doGet(client, ticket, where) {
  return new Promise((resolve, reject) => {
    const messages = [];
    const call = client.DoGet(ticket, new grpc.Metadata(), deadline());
    call.on('data', (m) => messages.push(m));
    call.on('error', () => {}); // the status says it
    call.on('status', (st) => {
      if (st.code === S.OK) resolve(messages);
      else reject(new Failed(`DoGet at ${where}: ${statusText(st)}`));
    });
  });
}

// Uploads the FlightData messages of a dataset with DoPut: after each record
// batch, waits for the PutResult acknowledging it (its app_metadata echoed).
function doPut(client, messages, nBatches) {
  return new Promise((resolve, reject) => {
    const call = client.DoPut(new grpc.Metadata(), deadline());
    const acks = [];
    let waiting = null; // resolves the wait for the next acknowledgement
    let status = null;
    const wake = () => {
      if (waiting && (acks.length || status)) {
        const w = waiting;
        waiting = null;
        w(acks.length ? acks.shift() : null);
      }
    };
    call.on('data', (r) => {
      acks.push(r.app_metadata);
      wake();
    });
    call.on('error', () => {});
    const ended = new Promise((res) => {
      call.on('status', (st) => {
        status = st;
        wake();
        res(st);
      });
    });
    const nextAck = () => new Promise((res) => {
      waiting = res;
      wake();
    });
    // Resolves once the stream takes more, or once the call has ended.
    const write = (fd) => new Promise((res) => {
      if (call.write(fd)) {
        res();
        return;
      }
      call.once('drain', res);
      ended.then(res);
    });
    const run = async () => {
      let k = 0;
      for (const fd of messages) {
        if (status) break;
        await write(fd);
        if (fd.type !== 'RecordBatch') continue;
        const want = String(k);
        const ack = await nextAck();
        if (ack === null) {
          fail(`DoPut: expected metadata value ${want} (the acknowledgement of batch ${k}), but the `
            + `call ended with ${statusText(status)}`);
        }
        if (Buffer.from(ack).toString('latin1') !== want) {
          fail(`DoPut: expected metadata value ${want} (the acknowledgement of batch ${k}), but got `
            + `${showBytes(ack)}`);
        }
        k++;
      }
      if (k !== nBatches) {
        fail(`DoPut: the call ended with ${statusText(status)} after ${k} batches of ${nBatches}`);
      }
      call.end();
      const st = await ended;
      if (st.code !== S.OK) fail(`DoPut: ${statusText(st)}`);
    };
    run().then(resolve, (e) => {
      call.cancel();
      reject(e);
    });
  });
}

// ---- The round trip --------------------------------------------------------------------

// Where an endpoint's location leads: 'self' (this connection) or a host:port.
function locationTarget(uri, self) {
  if (uri === REUSE_CONNECTION || uri.startsWith('arrow-flight-reuse-connection:')) return 'self';
  const m = /^grpc(?:\+tcp)?:\/\/([^/?#]+)/.exec(uri);
  if (!m) fail(`the endpoint's location ${uri} is not one this client can connect to (grpc+tcp)`);
  return m[1] === self ? 'self' : m[1];
}

// The IPC message type of a FlightData ('Schema', ...), or null for
// app_metadata alone.
function typeOf(where, i, fd) {
  if (!fd.data_header || fd.data_header.length === 0) return null;
  try {
    return messageType(fd.data_header);
  } catch (e) {
    return fail(`${where}: message ${i}: data_header is not an IPC Message: ${e.message}`);
  }
}

function checkStream(where, json, messages) {
  if (messages.length === 0) fail(`${where}: the stream is empty (no schema)`);
  if (typeOf(where, 0, messages[0]) !== 'Schema') fail(`${where}: the first message is not a Schema`);
  let k = 0;
  for (const [i, fd] of messages.entries()) {
    const type = typeOf(where, i, fd);
    if (type === null) {
      fail(`${where}: got app_metadata without a batch (${showBytes(fd.app_metadata)}) where batch `
        + `${k} was expected`);
    }
    if (type !== 'RecordBatch') continue;
    const want = String(k);
    if (Buffer.from(fd.app_metadata || []).toString('latin1') !== want) {
      fail(`${where}: batch ${k}: expected metadata value ${want}, but got ${showBytes(fd.app_metadata)}`);
    }
    k++;
  }
  let read;
  try {
    read = readStream(joinFlightData(messages));
  } catch (e) {
    fail(`${where}: apache-arrow cannot read the stream: ${e.message}`);
  }
  checkTable(where, json, read.schema, read.batches);
}

async function roundTrip(client, self, file, verbose) {
  let data;
  try {
    data = loadJson(file);
  } catch (e) {
    fail(`reading the JSON: ${e.message}`);
  }
  if (data.reason) fail(`the Node peer cannot run this file: ${data.reason}`);
  const descriptor = { type: 'PATH', path: [file] };

  // 1. Upload.
  const messages = toFlightData(data.schema, data.batches, (i) => String(i));
  messages[0].flight_descriptor = descriptor;
  await doPut(client, messages, data.batches.length);
  if (verbose) console.log(`uploaded ${data.batches.length} batches`);

  // 2. The flight's info.
  const info = await getFlightInfo(client, descriptor);
  if (!info.schema || info.schema.length === 0) fail('GetFlightInfo: no schema');
  let schema;
  try {
    schema = readSchemaBytes(info.schema);
  } catch (e) {
    fail(`GetFlightInfo: the schema does not decode: ${e.message}`);
  }
  checkSchema('GetFlightInfo: the schema', data.json, schema);
  if (info.endpoint.length === 0) fail('GetFlightInfo: no endpoints returned from the Flight server');

  // 3. Every endpoint, at every location.
  for (const [e, ep] of info.endpoint.entries()) {
    const ticket = ep.ticket ?? { ticket: Buffer.alloc(0) };
    const targets = ep.location.length === 0 ? [['the server itself', 'self']]
      : ep.location.map((l) => [l.uri, locationTarget(l.uri, self)]);
    for (const [where, target] of targets) {
      if (verbose) console.log(`endpoint ${e}: verifying location ${where}`);
      const other = target === 'self' ? null
        : new FlightService(target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      try {
        const got = await doGet(other ?? client, ticket, where);
        checkStream(`the DoGet stream at ${where}`, data.json, got);
      } finally {
        if (other) other.close();
      }
    }
  }
}

// ---- Main ------------------------------------------------------------------------------

function usage() {
  return `usage: ${PROG} -host HOST -port=PORT -path FILE.json [-path FILE.json ...] [-verbose]\n`
    + 'Runs the Flight integration data round trip of each integration JSON file against the\n'
    + 'server at HOST:PORT (only the default scenario).\n';
}

async function main() {
  let flags;
  let port;
  try {
    flags = parseFlags(process.argv.slice(2),
      { host: 'localhost', port: '', path: [], scenario: '', verbose: false });
    if (flags.help) {
      process.stdout.write(usage());
      return 0;
    }
    port = parsePort(flags.port, false);
    if (flags.scenario !== '') {
      throw new UsageError(`scenario '${flags.scenario}' is not implemented by the Node peer `
        + '(only the data round trip, without -scenario)');
    }
    if (flags.path.length === 0) throw new UsageError('give -path FILE.json');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${PROG}: ${e.message}\n${usage()}`);
    return 2;
  }
  const self = flags.host.includes(':') ? `[${flags.host}]:${port}` : `${flags.host}:${port}`;
  const client = new FlightService(self, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  let failures = 0;
  for (const file of flags.path) {
    if (flags.verbose) console.log(`Opening JSON file '${file}'`);
    try {
      await roundTrip(client, self, file, flags.verbose);
      if (flags.verbose) console.log(`${file}: OK`);
    } catch (e) {
      failures++;
      const why = e instanceof Failed || e instanceof Mismatch ? e.message : (e.stack || String(e));
      process.stderr.write(`${PROG}: ${file} against ${self} failed: ${why}\n`);
    }
  }
  client.close();
  return failures === 0 ? 0 : 1;
}

// Should the event loop run dry with a call unsettled, Node would exit with
// status 0: a failure, unless main() says otherwise.
process.exitCode = 1;
main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`${PROG}: ${e.stack || e}\n`);
  process.exit(1);
});
