// A Node.js Flight client reading one flight from `cflight serve`, for the
// cli_node_peer test: GetFlightInfo on a path descriptor, DoGet of each
// endpoint's ticket (@grpc/grpc-js), the data decoded by apache-arrow and
// written back out by apache-arrow as an Arrow IPC stream, which the test
// compares with what was uploaded. Uses tests/peers/node's shared module.
//
//   node node_get.mjs --uri grpc://HOST:PORT --path a/b --out FILE
//
// Exit status 0 when the flight was read, 1 otherwise (the reason on stderr).

import { writeFileSync } from 'node:fs';

import {
  CHANNEL_OPTIONS, FlightService, grpc, joinFlightData, readStream, writeStream,
} from '../peers/node/flight-common.mjs';

const args = { uri: null, path: null, out: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in args) || i + 1 >= argv.length) {
    console.error(`usage: node node_get.mjs --uri URI --path PATH --out FILE`);
    process.exit(2);
  }
  args[key] = argv[i + 1];
}
const target = args.uri.replace(/^grpc(\+tcp)?:\/\//, '');
const client = new FlightService(target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);

function unary(method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

function doGet(ticket) {
  return new Promise((resolve, reject) => {
    const messages = [];
    const call = client.DoGet({ ticket });
    call.on('data', (m) => messages.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(messages));
  });
}

try {
  const info = await unary('GetFlightInfo', { type: 'PATH', path: args.path.split('/') });
  let schema = null;
  const batches = [];
  for (const ep of info.endpoint) {
    const read = readStream(joinFlightData(await doGet(ep.ticket.ticket)));
    schema = schema || read.schema;
    batches.push(...read.batches);
  }
  const rows = batches.reduce((n, b) => n + b.numRows, 0);
  if (Number(info.total_records) !== rows) {
    throw new Error(`FlightInfo says ${info.total_records} rows, DoGet gave ${rows}`);
  }
  writeFileSync(args.out, writeStream(schema, batches));
  client.close();
  // Done: do not wait for grpc-js to finish tearing the connection down.
  process.exit(0);
} catch (e) {
  console.error(`node_get: ${e.stack || e}`);
  process.exit(1);
}
