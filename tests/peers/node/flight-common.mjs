// What the Node Flight peer's server and client share: the Flight protocol's
// messages and service (defined here from the Flight specification, not
// loaded from cflight's flight.proto), Arrow IPC streams as FlightData
// messages and back, the gold datasets and the constants of the test
// service that tests/interop/README.md describes.

import { readFileSync } from 'node:fs';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as arrow from 'apache-arrow';
import protobuf from 'protobufjs';

// ---- The Flight protocol ---------------------------------------------------------
// Message and field names, numbers and types as the Flight specification
// (Format/Flight.proto of Apache Arrow) defines them.

const TIMESTAMP_PROTO = `
syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
`;

const FLIGHT_PROTO = `
syntax = "proto3";
package arrow.flight.protocol;

service FlightService {
  rpc Handshake(stream HandshakeRequest) returns (stream HandshakeResponse);
  rpc ListFlights(Criteria) returns (stream FlightInfo);
  rpc GetFlightInfo(FlightDescriptor) returns (FlightInfo);
  rpc PollFlightInfo(FlightDescriptor) returns (PollInfo);
  rpc GetSchema(FlightDescriptor) returns (SchemaResult);
  rpc DoGet(Ticket) returns (stream FlightData);
  rpc DoPut(stream FlightData) returns (stream PutResult);
  rpc DoExchange(stream FlightData) returns (stream FlightData);
  rpc DoAction(Action) returns (stream Result);
  rpc ListActions(Empty) returns (stream ActionType);
}

message HandshakeRequest { uint64 protocol_version = 1; bytes payload = 2; }
message HandshakeResponse { uint64 protocol_version = 1; bytes payload = 2; }
message BasicAuth { string username = 2; string password = 3; }
message Empty {}
message ActionType { string type = 1; string description = 2; }
message Criteria { bytes expression = 1; }
message Action { string type = 1; bytes body = 2; }
message Result { bytes body = 1; }
message SchemaResult { bytes schema = 1; }
message FlightDescriptor {
  enum DescriptorType { UNKNOWN = 0; PATH = 1; CMD = 2; }
  DescriptorType type = 1;
  bytes cmd = 2;
  repeated string path = 3;
}
message FlightInfo {
  bytes schema = 1;
  FlightDescriptor flight_descriptor = 2;
  repeated FlightEndpoint endpoint = 3;
  int64 total_records = 4;
  int64 total_bytes = 5;
  bool ordered = 6;
  bytes app_metadata = 7;
}
message PollInfo {
  FlightInfo info = 1;
  FlightDescriptor flight_descriptor = 2;
  optional double progress = 3;
  google.protobuf.Timestamp expiration_time = 4;
}
message CancelFlightInfoRequest { FlightInfo info = 1; }
enum CancelStatus {
  CANCEL_STATUS_UNSPECIFIED = 0;
  CANCEL_STATUS_CANCELLED = 1;
  CANCEL_STATUS_CANCELLING = 2;
  CANCEL_STATUS_NOT_CANCELLABLE = 3;
}
message CancelFlightInfoResult { CancelStatus status = 1; }
message Ticket { bytes ticket = 1; }
message Location { string uri = 1; }
message FlightEndpoint {
  Ticket ticket = 1;
  repeated Location location = 2;
  google.protobuf.Timestamp expiration_time = 3;
  bytes app_metadata = 4;
}
message RenewFlightEndpointRequest { FlightEndpoint endpoint = 1; }
message FlightData {
  FlightDescriptor flight_descriptor = 1;
  bytes data_header = 2;
  bytes app_metadata = 3;
  bytes data_body = 1000;
}
message PutResult { bytes app_metadata = 1; }
message SessionOptionValue {
  message StringListValue { repeated string values = 1; }
  oneof option_value {
    string string_value = 1;
    bool bool_value = 2;
    sfixed64 int64_value = 3;
    double double_value = 4;
    StringListValue string_list_value = 5;
  }
}
message SetSessionOptionsRequest { map<string, SessionOptionValue> session_options = 1; }
message SetSessionOptionsResult {
  enum ErrorValue { UNSPECIFIED = 0; INVALID_NAME = 1; INVALID_VALUE = 2; ERROR = 3; }
  message Error { ErrorValue value = 1; }
  map<string, Error> errors = 1;
}
message GetSessionOptionsRequest {}
message GetSessionOptionsResult { map<string, SessionOptionValue> session_options = 1; }
message CloseSessionRequest {}
message CloseSessionResult {
  enum Status { UNSPECIFIED = 0; CLOSED = 1; CLOSING = 2; NOT_CLOSEABLE = 3; }
  Status status = 1;
}
`;

// Objects as proto-loader hands them to handlers and callbacks: field names
// as in the specification, bytes as Buffers, 64-bit integers as Numbers
// (every value here fits), enums as names, unset fields at their defaults
// and unset message fields null.
export const PROTO_OPTIONS = {
  keepCase: true, longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true,
};

const root = new protobuf.Root();
protobuf.parse(TIMESTAMP_PROTO, root, { keepCase: true });
protobuf.parse(FLIGHT_PROTO, root, { keepCase: true });
root.resolveAll();

const packageDefinition = protoLoader.fromJSON(root.toJSON(), PROTO_OPTIONS);
export const FlightService = grpc.loadPackageDefinition(packageDefinition)
  .arrow.flight.protocol.FlightService;

// Encoding and decoding of messages that travel inside others (actions' bodies).
export function encodeMessage(name, object) {
  const T = root.lookupType(`arrow.flight.protocol.${name}`);
  return Buffer.from(T.encode(T.fromObject(object)).finish());
}

export function decodeMessage(name, bytes) {
  const T = root.lookupType(`arrow.flight.protocol.${name}`);
  return T.toObject(T.decode(bytes), PROTO_OPTIONS);
}

// No limit on message sizes either way (grpc-js receives at most 4 MiB by default).
export const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
};

// ---- The test service's constants (tests/interop/README.md) -------------------------

export const DATASETS = [
  'generated_binary', 'generated_binary_no_batches', 'generated_binary_view',
  'generated_binary_zerolength', 'generated_custom_metadata', 'generated_datetime',
  'generated_decimal', 'generated_decimal256', 'generated_decimal32', 'generated_decimal64',
  'generated_dictionary', 'generated_dictionary_unsigned', 'generated_duplicate_fieldnames',
  'generated_duration', 'generated_extension', 'generated_interval', 'generated_interval_mdn',
  'generated_large_binary', 'generated_map', 'generated_map_non_canonical', 'generated_nested',
  'generated_nested_dictionary', 'generated_nested_large_offsets', 'generated_null',
  'generated_null_trivial', 'generated_primitive', 'generated_primitive_no_batches',
  'generated_primitive_zerolength', 'generated_recursive_nested', 'generated_union',
];

export const EXPIRATION = { seconds: 4102444800, nanos: 123456789 };
export const RENEWED = { seconds: 4102448400, nanos: 0 };
export const LOCATIONS = ['arrow-flight-reuse-connection://?', 'grpc+tls://flight.example.com:8443'];
export const DETAILS = Buffer.from(
  '0809120b64657461696c7320e29c931a320a2a747970652e676f6f676c65617069732e636f6d2f63666c69676874'
  + '2e696e7465726f702e44657461696c12040001feff', 'hex');
export const DETAILS_MESSAGE = 'details \u2713';
export const LARGE_ROWS = 8388608;
export const ENDLESS_ROWS = 1000;

export const ACTIONS = [
  ['echo', 'Returns the body \u2014 unchanged \u2014 as one result'],
  ['count', 'N results, "0" to "N-1"'],
  ['fail', 'Fails with the status CODE:MESSAGE'],
  ['fail-details', 'Fails with FAILED_PRECONDITION and status details'],
  ['fail-after', 'N results, then the status CODE:MESSAGE'],
  ['headers', 'The request headers, as KEY=VALUE results'],
  ['sleep', "Sleeps for the body's milliseconds"],
  ['deadline', "Milliseconds left before the call's deadline"],
  ['probe', 'How the last sleep or endless call ended'],
  ['CancelFlightInfo', 'Cancels a flight'],
  ['RenewFlightEndpoint', 'Renews an endpoint for an hour'],
  ['SetSessionOptions', 'Sets session options'],
  ['GetSessionOptions', 'Gets session options'],
  ['CloseSession', 'Closes the session'],
];

// The default gold folder: the shared test data's cpp-21.0.0 integration files.
export function defaultGold() {
  const data = process.env.CFLIGHT_TEST_DATA
    || path.join(path.dirname(new URL(import.meta.url).pathname), '../../../../shared/arrow-testing/data');
  return path.join(data, 'arrow-ipc-stream/integration/cpp-21.0.0');
}

export function parseArgs(argv, extra = {}) {
  const args = { port: 0, gold: defaultGold(), only: null, host: '127.0.0.1', ...extra };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const key = a.replace(/^--/, '');
    if (!a.startsWith('--') || !(key in args)) throw new Error(`unknown argument ${a}`);
    args[key] = typeof args[key] === 'boolean' ? true : argv[++i];
  }
  args.port = Number(args.port);
  return args;
}

// ---- The security configuration (tests/interop/README.md, "Security") ---------------

export const USER = 'flight-user';
// A colon (Basic credentials split at the first one) and non-ASCII on purpose.
export const PASSWORD = 's3cret:p\u00e4ss';
export const WRONG_PASSWORD = 's3cret:wrong';
// What no log line or error message may contain: a part of both passwords.
export const SECRET = 's3cret';
// The mutual-TLS client certificate's subject (cert1.pem) as RFC 2253 writes it.
export const CLIENT_SUBJECT = 'CN=localhost,O=MyOrg\\, Inc.,ST=CA,C=US';
// The named ports of a security server, in the order it prints them.
export const SECURITY_PORTS = ['tls', 'mtls', 'mtls_wrong_ca', 'bearer', 'handshake'];

// The default certificates: the shared test data's flight folder.
export function defaultCerts() {
  const data = process.env.CFLIGHT_TEST_DATA
    || path.join(path.dirname(new URL(import.meta.url).pathname), '../../../../shared/arrow-testing/data');
  return path.join(data, 'flight');
}

// The test certificates (Buffers), and a CA that signed none of them.
export function readCerts(dir) {
  const read = (name) => readFileSync(path.join(dir, name));
  const own = path.join(path.dirname(new URL(import.meta.url).pathname), '../../interop/certs');
  return {
    ca: read('root-ca.pem'),
    cert0: read('cert0.pem'),
    key0: read('cert0.key'),
    cert1: read('cert1.pem'),
    key1: read('cert1.key'),
    untrusted: readFileSync(path.join(own, 'untrusted-ca.pem')),
  };
}

// --ports "NAME=PORT ..." as a Map.
export function parsePorts(text) {
  return new Map((text || '').split(' ').filter(Boolean).map((p) => {
    const [name, port] = p.split('=');
    return [name, Number(port)];
  }));
}

// A certificate subject as RFC 2253 writes it (the last RDN first), as
// OpenSSL's XN_FLAG_RFC2253 does: "CN=localhost,O=MyOrg\, Inc.,ST=CA,C=US".
export function subjectString(subject) {
  const escape = (v) => String(v).replace(/[,+"\\<>;]/g, (c) => `\\${c}`);
  return Object.entries(subject || {}).reverse()
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${escape(x)}`)).join(',');
}

// ---- Arrow IPC streams and FlightData ------------------------------------------------

export class IpcError extends Error {}

const HEADER_NAMES = { 1: 'Schema', 2: 'DictionaryBatch', 3: 'RecordBatch' };

// The name of the IPC message type of a flatbuffer Message ('Schema', ...).
export function messageType(header) {
  const m = arrow.Message.decode(header);
  return HEADER_NAMES[m.headerType] || `header type ${m.headerType}`;
}

// Splits an IPC stream into its messages: { header (the flatbuffer Message
// as framed, padding included), body, type, rows (record batches) }.
// Reads the continuation-marker framing and the legacy one.
export function splitIpc(bytes) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    let len = buf.readInt32LE(off);
    off += 4;
    if (len === -1) {
      if (off + 4 > buf.length) throw new IpcError('stream ends inside a message prefix');
      len = buf.readInt32LE(off);
      off += 4;
    }
    if (len === 0) break; // end of stream
    if (len < 0 || off + len > buf.length) throw new IpcError(`bad message length ${len}`);
    const header = buf.subarray(off, off + len);
    off += len;
    const m = arrow.Message.decode(header);
    const bodyLength = Number(m.bodyLength);
    if (off + bodyLength > buf.length) throw new IpcError('stream ends inside a message body');
    const body = buf.subarray(off, off + bodyLength);
    off += bodyLength;
    const type = HEADER_NAMES[m.headerType] || `header type ${m.headerType}`;
    out.push({ header, body, type, rows: type === 'RecordBatch' ? Number(m.header().length) : 0 });
  }
  return out;
}

function pad8(n) {
  return (n + 7) & ~7;
}

// One encapsulated IPC message: continuation marker, length, the flatbuffer
// padded to 8 bytes, then the body.
export function frameMessage(header, body) {
  const len = pad8(header.length);
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32LE(0xffffffff, 0);
  prefix.writeInt32LE(len, 4);
  const parts = [prefix, header, Buffer.alloc(len - header.length)];
  if (body && body.length) parts.push(body);
  return Buffer.concat(parts);
}

const EOS = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

// Rebuilds an IPC stream from FlightData messages (their data_header and
// data_body; metadata-only messages are skipped). data_body must hold
// exactly the Message's bodyLength bytes.
export function joinFlightData(messages) {
  const parts = [];
  for (const [i, fd] of messages.entries()) {
    const header = fd.data_header;
    if (!header || header.length === 0) continue;
    let m;
    try {
      m = arrow.Message.decode(header);
    } catch (e) {
      throw new IpcError(`FlightData ${i}: data_header is not a flatbuffer Message: ${e.message}`);
    }
    const body = fd.data_body || Buffer.alloc(0);
    if (Number(m.bodyLength) !== body.length) {
      throw new IpcError(`FlightData ${i}: data_body has ${body.length} bytes but the Message's `
        + `bodyLength says ${m.bodyLength}`);
    }
    parts.push(frameMessage(header, body));
  }
  parts.push(EOS);
  return Buffer.concat(parts);
}

// An IPC stream written by apache-arrow: schema, then the batches.
export function writeStream(schema, batches) {
  const writer = new arrow.RecordBatchStreamWriter();
  writer.reset(undefined, schema);
  // apache-arrow's RecordBatch finds its columns' types by field name: with
  // duplicate names (generated_duplicate_fieldnames) one column gets the
  // other's type, and write() then drops the batch as not of the stream's
  // schema. The writer's own batch encoder takes the columns by position.
  const names = schema.fields.map((f) => f.name);
  const duplicates = new Set(names).size !== names.length;
  for (const b of batches) {
    if (duplicates) writer._writeRecordBatch(b);
    else writer.write(b);
  }
  writer.finish();
  return Buffer.from(writer.toUint8Array(true));
}

// The encapsulated IPC Schema message of a schema, as FlightInfo and
// SchemaResult carry it, written by apache-arrow.
export function schemaBytes(schema) {
  const [first] = splitIpc(writeStream(schema, []));
  return frameMessage(first.header, null);
}

// The schema encoded in FlightInfo.schema / SchemaResult.schema bytes.
export function readSchemaBytes(bytes) {
  const stream = Buffer.concat([Buffer.from(bytes), EOS]);
  return arrow.RecordBatchReader.from(stream).open().schema;
}

// Reads an IPC stream with apache-arrow. apache-arrow makes up one empty
// batch for a stream without any; that one is dropped here.
export function readStream(bytes) {
  const reader = arrow.RecordBatchReader.from(bytes).open();
  const { schema } = reader; // before readAll(), which closes the reader
  let batches = reader.readAll();
  const real = splitIpc(bytes).filter((m) => m.type === 'RecordBatch').length;
  if (real === 0) batches = [];
  if (batches.length !== real) {
    throw new IpcError(`apache-arrow read ${batches.length} batches from a stream of ${real}`);
  }
  return { schema, batches };
}

// A gold dataset as apache-arrow reads it.
export function loadDataset(gold, name) {
  const bytes = readFileSync(path.join(gold, `${name}.stream`));
  const { schema, batches } = readStream(bytes);
  return { name, schema, batches, rows: batches.reduce((n, b) => n + b.numRows, 0) };
}

// The FlightData messages of schema + batches, encoded by apache-arrow;
// record batch i gets app_metadata appMetadata(i).
export function toFlightData(schema, batches, appMetadata = () => null) {
  let k = 0;
  return splitIpc(writeStream(schema, batches)).map((m) => {
    const fd = { data_header: m.header, data_body: m.body, type: m.type };
    if (m.type === 'RecordBatch') {
      const md = appMetadata(k++);
      if (md) fd.app_metadata = Buffer.from(md);
    }
    return fd;
  });
}

// A column of one int64 field, values first, first + 1, ... (not nullable).
export function int64Batch(fieldName, rows, first) {
  const values = new BigInt64Array(rows);
  let v = BigInt(first);
  for (let i = 0; i < rows; i++) values[i] = v++;
  const schema = new arrow.Schema([new arrow.Field(fieldName, new arrow.Int64(), false)]);
  const data = arrow.makeData({ type: new arrow.Int64(), length: rows, nullCount: 0, data: values });
  const struct = arrow.makeData({
    type: new arrow.Struct(schema.fields), length: rows, nullCount: 0, children: [data],
  });
  return { schema, batch: new arrow.RecordBatch(schema, struct) };
}

export { arrow, grpc };
