#!/usr/bin/env node
// The server side of Arrow's Flight integration data round trip, on
// @grpc/grpc-js and apache-arrow, with the command line of Arrow's
// integration servers (docs/flight-integration.md):
//
//   node integration-server.mjs -port=0
//
// Listens on localhost at PORT (0 picks a free one), prints
// "Server listening on localhost:PORT" as its first line of stdout, and
// serves until SIGTERM or SIGINT, which end it with status 0.
//
// DoPut (PATH descriptor; INVALID_ARGUMENT without a path) acknowledges each
// record batch's app_metadata with a PutResult holding the same bytes as
// the batch arrives, reads the upload with apache-arrow and keeps its
// schema and batches under path[0], replacing an earlier upload there.
// GetFlightInfo of a PATH descriptor answers the schema, total_records and
// one endpoint: ticket path[0], location grpc+tcp://127.0.0.1:PORT
// (NOT_FOUND for an unknown path, UNIMPLEMENTED for a CMD descriptor).
// DoGet writes the batches kept under the ticket with apache-arrow, batch i
// with app_metadata "i". Other methods answer UNIMPLEMENTED. Only the
// default scenario (no -scenario) is implemented.

import {
  CHANNEL_OPTIONS, FlightService, IpcError, grpc, joinFlightData, messageType, readStream,
  schemaBytes, toFlightData,
} from './flight-common.mjs';
import { UsageError, parseFlags, parsePort } from './integration-common.mjs';

const PROG = 'integration-server.mjs';
const S = grpc.status;

const flights = new Map(); // hex of path[0] -> { schema, batches, rows }
let port = 0;

function status(code, details) {
  const e = new Error(details);
  e.code = code;
  e.details = details;
  return e;
}

function toStatus(e) {
  if (typeof e.code === 'number') return { code: e.code, details: e.details ?? e.message };
  if (e instanceof IpcError) return { code: S.INVALID_ARGUMENT, details: e.message };
  process.stderr.write(`${PROG}: ${e.stack || e}\n`);
  return { code: S.INTERNAL, details: `${e.message || e}` };
}

function key(bytes) {
  return Buffer.from(bytes).toString('hex');
}

function describe(d) {
  if (!d) return 'no descriptor';
  return d.type === 'PATH' ? `path ${JSON.stringify(d.path)}` : `${d.type} 0x${d.cmd.toString('hex')}`;
}

// Writes one message, waiting while the stream is over its buffer limit.
async function send(call, message) {
  if (!call.write(message)) {
    await new Promise((resolve) => {
      const done = () => {
        call.off('drain', done);
        call.off('cancelled', done);
        resolve();
      };
      call.on('drain', done);
      call.on('cancelled', done);
    });
  }
}

const handlers = {
  DoPut(call) {
    const received = [];
    let path0 = null;
    let failed = false;
    const stop = (e) => {
      if (failed) return;
      failed = true;
      call.emit('error', toStatus(e));
    };
    call.on('data', (fd) => {
      if (failed) return;
      try {
        if (path0 === null) {
          const d = fd.flight_descriptor;
          if (!d || d.type !== 'PATH' || d.path.length < 1) {
            throw status(S.INVALID_ARGUMENT, `Must specify a path (got ${describe(d)})`);
          }
          path0 = d.path[0];
        }
        let type = null;
        try {
          if (fd.data_header.length) type = messageType(fd.data_header);
        } catch (e) {
          throw status(S.INVALID_ARGUMENT, `data_header is not an IPC Message: ${e.message}`);
        }
        // A metadata-only message carries no batch; the acknowledgements are
        // for batches.
        if (type === null) return;
        received.push(fd);
        if (type === 'RecordBatch' && fd.app_metadata.length > 0) {
          call.write({ app_metadata: fd.app_metadata });
        }
      } catch (e) {
        stop(e);
      }
    });
    call.on('end', () => {
      if (failed) return;
      try {
        if (path0 === null) throw status(S.INVALID_ARGUMENT, 'Must specify a path (empty upload)');
        if (received.length === 0) throw status(S.INVALID_ARGUMENT, 'the upload has no schema');
        let read;
        try {
          read = readStream(joinFlightData(received));
        } catch (e) {
          throw status(S.INVALID_ARGUMENT, `apache-arrow cannot read the upload: ${e.message}`);
        }
        const { schema, batches } = read;
        flights.set(key(Buffer.from(path0)),
          { schema, batches, rows: batches.reduce((n, b) => n + b.numRows, 0) });
        call.end();
      } catch (e) {
        stop(e);
      }
    });
    call.on('error', () => {});
  },

  GetFlightInfo(call, callback) {
    const d = call.request;
    if (d.type !== 'PATH') {
      callback(status(S.UNIMPLEMENTED, 'GetFlightInfo: only PATH descriptors name uploaded flights'));
      return;
    }
    if (d.path.length === 0) {
      callback(status(S.INVALID_ARGUMENT, 'Invalid path'));
      return;
    }
    const f = flights.get(key(Buffer.from(d.path[0])));
    if (!f) {
      callback(status(S.NOT_FOUND, `Could not find flight: ${d.path[0]}`));
      return;
    }
    try {
      callback(null, {
        schema: schemaBytes(f.schema),
        flight_descriptor: d,
        endpoint: [{
          ticket: { ticket: Buffer.from(d.path[0]) },
          location: [{ uri: `grpc+tcp://127.0.0.1:${port}` }],
        }],
        total_records: f.rows,
        total_bytes: -1,
      });
    } catch (e) {
      callback(toStatus(e));
    }
  },

  async DoGet(call) {
    const f = flights.get(key(call.request.ticket));
    try {
      if (!f) {
        throw status(S.NOT_FOUND,
          `Could not find flight: ${JSON.stringify(call.request.ticket.toString('latin1'))}`);
      }
      for (const fd of toFlightData(f.schema, f.batches, (i) => String(i))) {
        delete fd.type;
        if (call.cancelled) return;
        await send(call, fd);
      }
      if (!call.cancelled) call.end();
    } catch (e) {
      if (!call.cancelled) call.emit('error', toStatus(e));
    }
  },
};

function usage() {
  return `usage: ${PROG} -port=PORT\n`
    + 'Serves the Flight integration data round trip on localhost:PORT (0 picks a free port)\n'
    + 'until SIGTERM or SIGINT (only the default scenario).\n';
}

function main() {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), { port: '31337', scenario: '' });
    if (flags.help) {
      process.stdout.write(usage());
      process.exit(0);
    }
    flags.port = parsePort(flags.port, true);
    if (flags.scenario !== '') {
      throw new UsageError(`scenario '${flags.scenario}' is not implemented by the Node peer `
        + '(only the data round trip, without -scenario)');
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${PROG}: ${e.message}\n${usage()}`);
    process.exit(2);
  }
  const server = new grpc.Server(CHANNEL_OPTIONS);
  server.addService(FlightService.service, handlers);
  // localhost: grpc-js binds every address the name resolves to (127.0.0.1
  // and ::1), all on the port the first one got.
  server.bindAsync(`localhost:${flags.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => {
    if (err) {
      process.stderr.write(`${PROG}: cannot listen on localhost:${flags.port}: ${err.message}\n`);
      process.exit(1);
    }
    port = p;
    process.stdout.write(`Server listening on localhost:${port}\n`);
  });
  const stop = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
