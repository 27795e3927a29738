// A Flight server on @grpc/grpc-js and apache-arrow implementing the test
// service of tests/interop/README.md, for cflight's client to check. Data
// goes through apache-arrow both ways: datasets and uploads are written by
// apache-arrow's stream writer, and uploads are read by its reader.
//
//   node flight-server.mjs [--port N] [--gold DIR] [--exit-on-eof] [--security [--certs DIR]]
//
// Prints the port on stdout first thing, then serves until SIGTERM/SIGINT,
// or with --exit-on-eof until stdin closes (so that it never outlives the
// test that started it). With --security it serves the README's security
// configuration (TLS, mutual TLS, header and handshake authentication,
// middleware as a grpc-js server interceptor) and prints its ports as
// "PORT NAME=PORT ...".

import { randomBytes } from 'node:crypto';

import {
  ACTIONS, CHANNEL_OPTIONS, DATASETS, DETAILS, DETAILS_MESSAGE, ENDLESS_ROWS, EXPIRATION,
  FlightService, IpcError, LARGE_ROWS, LOCATIONS, PASSWORD, RENEWED, SECURITY_PORTS, USER,
  decodeMessage, defaultCerts, encodeMessage, grpc, int64Batch, joinFlightData, loadDataset,
  messageType, parseArgs, readCerts, readStream, schemaBytes, subjectString, toFlightData,
} from './flight-common.mjs';

const args = parseArgs(process.argv.slice(2),
  { 'exit-on-eof': false, security: false, certs: defaultCerts() });
const S = grpc.status;

// ---- State ---------------------------------------------------------------------------

const datasets = new Map(DATASETS.map((name) => [name, loadDataset(args.gold, name)]));
const uploads = new Map(); // X -> { schema, items: [{ batch | null, app_metadata }], rows }
const probes = new Map(); // probe name -> outcome
const session = new Map(); // option name -> SessionOptionValue object

function status(code, details, trailers) {
  const e = new Error(details);
  e.code = code;
  e.details = details;
  if (trailers) e.metadata = trailers;
  return e;
}

// ---- Headers: x-echo-* come back as a header and as a trailer --------------------------

function echoMetadata(call) {
  const headers = new grpc.Metadata();
  const trailers = new grpc.Metadata();
  for (const [key, values] of Object.entries(call.metadata.toJSON())) {
    if (!key.startsWith('x-echo-')) continue;
    for (const v of values) {
      headers.add(key, v);
      trailers.add(`x-trailer-${key.slice('x-echo-'.length)}`, v);
    }
  }
  return { headers, trailers };
}

// Wraps a handler so that every call echoes its x-echo-* headers, and a
// thrown error becomes the call's status.
function unary(fn) {
  return async (call, callback) => {
    const { headers, trailers } = echoMetadata(call);
    call.sendMetadata(headers);
    try {
      callback(null, await fn(call), trailers);
    } catch (e) {
      callback(errorStatus(e, trailers));
    }
  };
}

function streaming(fn) {
  return async (call) => {
    const { headers, trailers } = echoMetadata(call);
    call.sendMetadata(headers);
    try {
      await fn(call, trailers);
      if (!call.cancelled) call.end(trailers);
    } catch (e) {
      if (!call.cancelled) call.emit('error', errorStatus(e, trailers));
    }
  };
}

function errorStatus(e, trailers) {
  if (e.code !== undefined && typeof e.code === 'number') {
    if (e.metadata) {
      for (const [k, vs] of Object.entries(e.metadata.toJSON())) vs.forEach((v) => trailers.add(k, v));
    }
    return { code: e.code, details: e.details ?? e.message, metadata: trailers };
  }
  const code = e instanceof IpcError ? S.INVALID_ARGUMENT : S.INTERNAL;
  console.error(`flight-server: ${e.stack || e}`);
  return { code, details: `${e.message || e}`, metadata: trailers };
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

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// How a call that ended early ended: its deadline passed, or it was
// cancelled. A client whose deadline passes resets the stream, which can
// reach us a little before our own copy of the deadline passes.
function endedBy(call) {
  const deadline = call.getDeadline();
  const t = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  return Number.isFinite(t) && Date.now() >= t - 100 ? 'deadline' : 'cancelled';
}

// ---- Flights -------------------------------------------------------------------------

function goldInfo(d) {
  return {
    schema: schemaBytes(d.schema),
    flight_descriptor: { type: 'PATH', path: ['gold', d.name] },
    endpoint: [{
      ticket: { ticket: Buffer.from(`gold/${d.name}`) },
      location: LOCATIONS.map((uri) => ({ uri })),
      expiration_time: EXPIRATION,
      app_metadata: Buffer.from(`endpoint:${d.name}`),
    }],
    total_records: d.rows,
    total_bytes: -1,
    ordered: true,
    app_metadata: Buffer.from(`info:${d.name}`),
  };
}

function uploadInfo(name, u) {
  return {
    schema: schemaBytes(u.schema),
    flight_descriptor: { type: 'PATH', path: ['uploads', name] },
    endpoint: [{ ticket: { ticket: Buffer.from(`uploads/${name}`) } }],
    total_records: u.rows,
    total_bytes: -1,
    ordered: true,
  };
}

function describe(d) {
  if (!d) return 'no descriptor';
  return d.type === 'PATH' ? `path ${JSON.stringify(d.path)}` : `${d.type} ${d.cmd.toString('hex')}`;
}

function findFlight(d) {
  if (d && d.type === 'PATH' && d.path.length === 2) {
    if (d.path[0] === 'gold' && datasets.has(d.path[1])) return goldInfo(datasets.get(d.path[1]));
    if (d.path[0] === 'uploads' && uploads.has(d.path[1])) {
      return uploadInfo(d.path[1], uploads.get(d.path[1]));
    }
  }
  throw status(S.NOT_FOUND, `unknown flight: ${describe(d)}`);
}

const handlers = {
  Handshake: streaming((call) => new Promise((resolve, reject) => {
    call.on('data', (req) => {
      if (req.payload.toString() === 'bad') {
        reject(status(S.UNAUTHENTICATED, 'bad handshake payload'));
        return;
      }
      call.write({
        protocol_version: req.protocol_version + 1,
        payload: Buffer.concat([Buffer.from('hs:'), req.payload]),
      });
    });
    call.on('end', resolve);
    call.on('error', reject);
  })),

  ListFlights: streaming(async (call) => {
    const prefix = call.request.expression;
    for (const name of [...datasets.keys()].sort()) {
      if (Buffer.from(`gold/${name}`).subarray(0, prefix.length).equals(prefix)) {
        await send(call, goldInfo(datasets.get(name)));
      }
    }
  }),

  GetFlightInfo: unary((call) => findFlight(call.request)),

  GetSchema: unary((call) => ({ schema: findFlight(call.request).schema })),

  PollFlightInfo: unary((call) => {
    const d = call.request;
    const cmd = d.type === 'CMD' ? d.cmd.toString() : '';
    const m = /^poll:(.*?)(:done)?$/.exec(cmd);
    if (!m || !datasets.has(m[1])) throw status(S.NOT_FOUND, `unknown query: ${describe(d)}`);
    const ds = datasets.get(m[1]);
    if (m[2]) return { info: goldInfo(ds), progress: 1.0 };
    return {
      info: {
        schema: schemaBytes(ds.schema),
        flight_descriptor: { type: 'CMD', cmd: Buffer.from(cmd) },
        endpoint: [],
        total_records: -1,
        total_bytes: -1,
        ordered: false,
        app_metadata: Buffer.from('pending'),
      },
      flight_descriptor: { type: 'CMD', cmd: Buffer.from(`${cmd}:done`) },
      progress: 0.5,
      expiration_time: EXPIRATION,
    };
  }),

  DoGet: streaming(async (call) => {
    const ticket = call.request.ticket.toString();
    if (ticket.startsWith('gold/') && datasets.has(ticket.slice(5))) {
      const d = datasets.get(ticket.slice(5));
      for (const fd of toFlightData(d.schema, d.batches, (i) => `${d.name}:${i}`)) {
        await send(call, fd);
      }
    } else if (ticket.startsWith('uploads/') && uploads.has(ticket.slice(8))) {
      await replayUpload(call, uploads.get(ticket.slice(8)));
    } else if (ticket === 'large') {
      const { schema, batch } = int64Batch('data', LARGE_ROWS, 0);
      for (const fd of toFlightData(schema, [batch], () => 'large')) await send(call, fd);
    } else if (ticket === 'endless' || ticket === 'server-cancel') {
      await endless(call, ticket === 'server-cancel' ? 2 : 3000);
      if (ticket === 'server-cancel') throw status(S.CANCELLED, 'cancelled by the server');
    } else {
      throw status(S.NOT_FOUND, `unknown ticket: ${JSON.stringify(ticket)}`);
    }
  }),

  DoPut: streaming((call) => new Promise((resolve, reject) => {
    const received = [];
    let name = null;
    let k = 0;
    call.on('data', (fd) => {
      try {
        if (received.length === 0) {
          const d = fd.flight_descriptor;
          if (!d || d.type !== 'PATH' || d.path.length !== 2 || d.path[0] !== 'uploads') {
            throw status(S.INVALID_ARGUMENT, `DoPut wants PATH ["uploads", X], got ${describe(d)}`);
          }
          name = d.path[1];
        }
        received.push(fd);
        const type = fd.data_header.length ? messageType(fd.data_header) : null;
        if (type === null || type === 'RecordBatch') {
          call.write({ app_metadata: Buffer.concat([Buffer.from(`ack:${k++}:`), fd.app_metadata]) });
        }
      } catch (e) {
        reject(e);
      }
    });
    call.on('end', () => {
      try {
        uploads.set(name ?? '', storeUpload(received));
        resolve();
      } catch (e) {
        reject(e);
      }
    });
    call.on('error', reject);
  })),

  DoExchange: streaming((call) => new Promise((resolve, reject) => {
    const received = [];
    call.on('data', (fd) => {
      if (received.length === 0) {
        const d = fd.flight_descriptor;
        if (!d || d.type !== 'CMD' || d.cmd.toString() !== 'echo') {
          reject(status(S.INVALID_ARGUMENT, `unknown exchange: ${describe(d)}`));
          return;
        }
      }
      received.push(fd);
      call.write({ data_header: fd.data_header, data_body: fd.data_body,
        app_metadata: fd.app_metadata });
    });
    call.on('end', () => {
      // The echo is verbatim; apache-arrow must be able to read what came.
      try {
        if (received.some((fd) => fd.data_header.length)) readStream(joinFlightData(received));
        resolve();
      } catch (e) {
        reject(status(S.INVALID_ARGUMENT, `apache-arrow cannot read the exchanged stream: ${e.message}`));
      }
    });
    call.on('error', reject);
  })),

  DoAction: streaming(async (call) => {
    const { type, body } = call.request;
    const text = body.toString();
    const result = (b) => send(call, { body: Buffer.from(b) });
    if (args.security && type in SECURITY_ACTIONS) {
      for (const b of SECURITY_ACTIONS[type](call)) await result(b);
      return;
    }
    switch (type) {
      case 'echo':
        await result(body);
        return;
      case 'count':
        for (let i = 0; i < Number(text); i++) await result(String(i));
        return;
      case 'fail':
        throw failure(text);
      case 'fail-details': {
        const md = new grpc.Metadata();
        md.set('grpc-status-details-bin', DETAILS);
        throw status(S.FAILED_PRECONDITION, DETAILS_MESSAGE, md);
      }
      case 'fail-after': {
        const colon = text.indexOf(':');
        for (let i = 0; i < Number(text.slice(0, colon)); i++) await result(String(i));
        throw failure(text.slice(colon + 1));
      }
      case 'headers': {
        const out = [];
        for (const [key, values] of Object.entries(call.metadata.toJSON())) {
          if (!(key.startsWith('x-') || key === 'authorization' || key === 'auth-token-bin')) continue;
          for (const v of values) out.push(Buffer.concat([Buffer.from(`${key}=`), Buffer.from(v)]));
        }
        out.sort(Buffer.compare);
        for (const b of out) await result(b);
        return;
      }
      case 'sleep': {
        const end = Date.now() + Number(text);
        while (Date.now() < end && !call.cancelled) await sleep(Math.min(10, end - Date.now()));
        if (call.cancelled) {
          probes.set('sleep', endedBy(call));
          return;
        }
        probes.set('sleep', 'completed');
        await result('slept');
        return;
      }
      case 'deadline': {
        const deadline = call.getDeadline();
        const t = deadline instanceof Date ? deadline.getTime() : Number(deadline);
        await result(Number.isFinite(t) ? String(Math.floor(t - Date.now())) : 'none');
        return;
      }
      case 'probe': {
        const end = Date.now() + 5000;
        while (!probes.has(text) && Date.now() < end) await sleep(10);
        const v = probes.get(text) ?? 'unset';
        probes.delete(text);
        await result(v);
        return;
      }
      case 'CancelFlightInfo': {
        const { info } = decodeMessage('CancelFlightInfoRequest', body);
        const ticket = info?.endpoint?.[0]?.ticket?.ticket;
        const ok = ticket && ticket.subarray(0, 5).toString() === 'gold/';
        await result(encodeMessage('CancelFlightInfoResult',
          { status: ok ? 'CANCEL_STATUS_CANCELLED' : 'CANCEL_STATUS_NOT_CANCELLABLE' }));
        return;
      }
      case 'RenewFlightEndpoint': {
        const { endpoint } = decodeMessage('RenewFlightEndpointRequest', body);
        await result(encodeMessage('FlightEndpoint', { ...endpoint, expiration_time: RENEWED }));
        return;
      }
      case 'SetSessionOptions': {
        const req = decodeMessage('SetSessionOptionsRequest', body);
        const errors = {};
        for (const [name, value] of Object.entries(req.session_options)) {
          if (name.startsWith('bad')) errors[name] = { value: 'INVALID_NAME' };
          else if (!value.option_value) session.delete(name);
          else session.set(name, value);
        }
        await result(encodeMessage('SetSessionOptionsResult', { errors }));
        return;
      }
      case 'GetSessionOptions':
        decodeMessage('GetSessionOptionsRequest', body);
        await result(encodeMessage('GetSessionOptionsResult',
          { session_options: Object.fromEntries(session) }));
        return;
      case 'CloseSession':
        decodeMessage('CloseSessionRequest', body);
        session.clear();
        await result(encodeMessage('CloseSessionResult', { status: 'CLOSED' }));
        return;
      default:
        throw status(S.UNIMPLEMENTED, `unknown action: ${type}`);
    }
  }),

  ListActions: streaming(async (call) => {
    for (const [type, description] of ACTIONS) await send(call, { type, description });
  }),
};

function failure(text) {
  const colon = text.indexOf(':');
  return status(Number(text.slice(0, colon)), text.slice(colon + 1));
}

async function endless(call, limit) {
  for (let k = 0; k < limit; k++) {
    if (call.cancelled) break;
    const { schema, batch } = int64Batch('n', ENDLESS_ROWS, k * ENDLESS_ROWS);
    const fds = toFlightData(schema, [batch], () => `endless:${k}`);
    for (const fd of k === 0 ? fds : fds.slice(1)) await send(call, fd);
    await sleep(10);
  }
  if (limit > 2) probes.set('endless', call.cancelled ? endedBy(call) : 'completed');
}

// An upload as apache-arrow reads it: the batches, and the metadata-only
// messages in their places.
function storeUpload(received) {
  if (!received.some((fd) => fd.data_header.length)) {
    throw status(S.INVALID_ARGUMENT, 'the upload has no schema');
  }
  const { schema, batches } = readStream(joinFlightData(received));
  const items = [];
  let b = 0;
  for (const fd of received) {
    const type = fd.data_header.length ? messageType(fd.data_header) : null;
    if (type === 'RecordBatch') items.push({ batch: batches[b++], app_metadata: fd.app_metadata });
    else if (type === null) items.push({ batch: null, app_metadata: fd.app_metadata });
  }
  return { schema, items, rows: batches.reduce((n, x) => n + x.numRows, 0) };
}

async function replayUpload(call, u) {
  const batchItems = u.items.filter((it) => it.batch);
  const messages = toFlightData(u.schema, batchItems.map((it) => it.batch),
    (i) => batchItems[i].app_metadata);
  let m = 0;
  // The schema, then each item: a batch with the dictionaries before it, or metadata.
  await send(call, messages[m++]);
  for (const it of u.items) {
    if (!it.batch) {
      await send(call, { app_metadata: it.app_metadata });
      continue;
    }
    while (m < messages.length) {
      const fd = messages[m++];
      await send(call, fd);
      if (fd.type === 'RecordBatch') break;
    }
  }
}

// ---- Security mode (tests/interop/README.md, "Security") ------------------------------

const tokens = new Map(); // token -> user, for the bearer and handshake ports

function issueToken(user) {
  const token = randomBytes(24).toString('base64');
  tokens.set(token, user);
  return token;
}

// "authorization: Basic base64(user:password)" -> { user, password }, or null.
function basicCredentials(md) {
  for (const v of md.get('authorization')) {
    const m = /^basic +(.*)$/i.exec(String(v));
    if (!m) continue;
    const text = Buffer.from(m[1], 'base64').toString('utf-8');
    const colon = text.indexOf(':');
    if (colon >= 0) return { user: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  return null;
}

// The user of a call's bearer token or auth-token-bin, or null.
function tokenUser(md) {
  for (const v of md.get('authorization')) {
    const m = /^bearer +(.*)$/i.exec(String(v));
    if (m && tokens.has(m[1])) return tokens.get(m[1]);
  }
  const t = md.get('auth-token-bin')[0];
  const token = t === undefined ? null : Buffer.from(t).toString('latin1');
  return token !== null && tokens.has(token) ? tokens.get(token) : null;
}

// Actions of the security mode: each returns its Results.
const SECURITY_ACTIONS = {
  identity: (call) => {
    const cert = call.getAuthContext?.()?.sslPeerCertificate;
    const user = tokenUser(call.metadata);
    return [user ?? (cert?.subject ? subjectString(cert.subject) : '')];
  },
  middleware: (call) => Object.entries(call.metadata.toJSON())
    .filter(([key]) => key.startsWith('x-mw-'))
    .flatMap(([key, values]) => values.map((v) => Buffer.concat([Buffer.from(`${key}=`), Buffer.from(v)])))
    .sort(Buffer.compare),
  'set-cookie': () => ['set'], // the interceptor sends the header
  cookies: (call) => [call.metadata.get('cookie').join('; ')],
};

const unauthenticated = (details) => ({ code: S.UNAUTHENTICATED, details });

// Handshake on the bearer port: Basic credentials in, a bearer token out
// (in the response headers), as Arrow's servers do.
function bearerHandshake(call) {
  const creds = basicCredentials(call.metadata);
  if (creds === null && tokenUser(call.metadata) !== null) {
    call.sendMetadata(new grpc.Metadata());
  } else if (creds === null || creds.user !== USER || creds.password !== PASSWORD) {
    call.emit('error', unauthenticated('invalid username or password'));
    return;
  } else {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${issueToken(creds.user)}`);
    call.sendMetadata(md);
  }
  call.on('data', () => {});
  call.on('end', () => call.end());
}

// Handshake on the handshake port: a BasicAuth payload in, a token out.
function basicAuthHandshake(call) {
  let state = 'waiting';
  call.on('data', (req) => {
    if (state !== 'waiting') return;
    let auth = null;
    try {
      auth = decodeMessage('BasicAuth', req.payload);
    } catch (e) {
      auth = null;
    }
    if (!auth || auth.username !== USER || auth.password !== PASSWORD) {
      state = 'failed';
      call.emit('error', unauthenticated('invalid username or password'));
      return;
    }
    state = 'done';
    call.write({ protocol_version: 0, payload: Buffer.from(issueToken(auth.username)) });
  });
  call.on('end', () => {
    if (state === 'done') call.end();
    else if (state === 'waiting') call.emit('error', unauthenticated('no BasicAuth payload'));
  });
}

// The security server's middleware, as a grpc-js server interceptor: it
// refuses calls without a valid token on the authenticated ports (before
// any handler runs), and adds x-mw-method, x-mw-reply-bin and the cookie
// of a set-cookie action to the response headers (to the trailers of a
// refused call).
function securityInterceptor(mode) {
  return (methodDescriptor, call) => {
    const method = methodDescriptor.path.split('/').pop();
    const extra = new grpc.Metadata();
    extra.set('x-mw-method', method);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => next({
        onReceiveMetadata: (md, mdNext) => {
          const data = md.get('x-mw-data-bin')[0];
          if (data !== undefined) extra.set('x-mw-reply-bin', data);
          if (method !== 'Handshake' && mode !== '' && !mode.startsWith('tls')
              && !mode.startsWith('mtls') && tokenUser(md) === null) {
            call.sendStatus({ ...unauthenticated(`${mode}: no valid token`), metadata: extra });
            return;
          }
          mdNext(md);
        },
        onReceiveMessage: (message, messageNext) => {
          if (method === 'DoAction' && message?.type === 'set-cookie') {
            extra.set('set-cookie', Buffer.from(message.body).toString());
          }
          messageNext(message);
        },
      }),
      sendMetadata: (md, next) => {
        md.merge(extra);
        next(md);
      },
    });
  };
}

function bind(server, creds, port) {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${args.host}:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p)));
  });
}

async function startSecurity() {
  const c = readCerts(args.certs);
  const pair = [{ private_key: c.key0, cert_chain: c.cert0 }];
  const modes = ['', ...SECURITY_PORTS];
  const servers = [];
  const ports = [];
  for (const mode of modes) {
    const server = new grpc.Server({ ...CHANNEL_OPTIONS, interceptors: [securityInterceptor(mode)] });
    const own = { ...handlers };
    if (mode === 'bearer') own.Handshake = bearerHandshake;
    if (mode === 'handshake') own.Handshake = basicAuthHandshake;
    server.addService(FlightService.service, own);
    const creds = {
      tls: () => grpc.ServerCredentials.createSsl(null, pair, false),
      mtls: () => grpc.ServerCredentials.createSsl(c.ca, pair, true),
      mtls_wrong_ca: () => grpc.ServerCredentials.createSsl(c.untrusted, pair, true),
    }[mode]?.() ?? grpc.ServerCredentials.createInsecure();
    ports.push(await bind(server, creds, mode === '' ? args.port : 0));
    servers.push(server);
  }
  process.stdout.write(`${[ports[0], ...SECURITY_PORTS.map((m, i) => `${m}=${ports[i + 1]}`)].join(' ')}\n`);
  return servers;
}

// ---- Start ---------------------------------------------------------------------------

let servers = [];
if (args.security) {
  startSecurity().then((s) => { servers = s; }, (err) => {
    console.error(`flight-server: cannot listen: ${err.message}`);
    process.exit(1);
  });
} else {
  const server = new grpc.Server(CHANNEL_OPTIONS);
  server.addService(FlightService.service, handlers);
  servers.push(server);
  server.bindAsync(`${args.host}:${args.port}`, grpc.ServerCredentials.createInsecure(),
    (err, port) => {
      if (err) {
        console.error(`flight-server: cannot listen: ${err.message}`);
        process.exit(1);
      }
      process.stdout.write(`${port}\n`);
    });
}

function stop() {
  for (const server of servers) server.forceShutdown();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (args['exit-on-eof']) {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}
