"""What the Python Flight peer's server and client share: the Flight
protocol's messages (built here from the Flight specification's field names
and numbers, not loaded from cflight's flight.proto), Arrow IPC messages at
the byte level (split, framed, and read or written as flatbuffers by the
format's table layouts, with the flatbuffers package), and the constants of
the test service that tests/interop/README.md describes.

Runs under Debian's /usr/bin/python3 with python3-grpcio, python3-protobuf
and python3-flatbuffers; no Arrow library is used.
"""
import os
import struct
import sys

import flatbuffers
from flatbuffers import encode, number_types as N, packer
from flatbuffers.table import Table
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import timestamp_pb2

# ---- The Flight protocol as protobuf messages ---------------------------------------

FD = descriptor_pb2.FieldDescriptorProto
T_DOUBLE, T_INT64, T_UINT64, T_INT32, T_BOOL = (
    FD.TYPE_DOUBLE, FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_INT32, FD.TYPE_BOOL)
T_STRING, T_BYTES, T_MSG, T_ENUM, T_SFIXED64 = (
    FD.TYPE_STRING, FD.TYPE_BYTES, FD.TYPE_MESSAGE, FD.TYPE_ENUM, FD.TYPE_SFIXED64)
PKG = "arrow.flight.protocol"


def _field(msg, name, number, ftype, type_name=None, repeated=False, oneof=None,
           optional=False):
    f = msg.field.add(name=name, number=number, type=ftype,
                      label=FD.LABEL_REPEATED if repeated else FD.LABEL_OPTIONAL)
    if type_name:
        f.type_name = type_name
    if optional:  # proto3 `optional`: a synthetic one-field oneof
        f.proto3_optional = True
        oneof = "_" + name
    if oneof is not None:
        names = [o.name for o in msg.oneof_decl]
        if oneof not in names:
            msg.oneof_decl.add(name=oneof)
            names.append(oneof)
        f.oneof_index = names.index(oneof)
    return f


def _enum(parent, name, values):
    e = parent.enum_type.add(name=name)
    for i, v in enumerate(values):
        e.value.add(name=v, number=i)


def _map(msg, name, number, value_type):
    entry = msg.nested_type.add(name="".join(p.title() for p in name.split("_")) + "Entry")
    entry.options.map_entry = True
    _field(entry, "key", 1, T_STRING)
    _field(entry, "value", 2, T_MSG, value_type)
    _field(msg, name, number, T_MSG, ".%s.%s.%s" % (PKG, msg.name, entry.name), repeated=True)


def _flight_file():
    f = descriptor_pb2.FileDescriptorProto(
        name="cflight_interop/flight.proto", package=PKG, syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"])
    ts = ".google.protobuf.Timestamp"

    def msg(name):
        return f.message_type.add(name=name)

    def ref(name):
        return ".%s.%s" % (PKG, name)

    m = msg("HandshakeRequest")
    _field(m, "protocol_version", 1, T_UINT64)
    _field(m, "payload", 2, T_BYTES)
    m = msg("HandshakeResponse")
    _field(m, "protocol_version", 1, T_UINT64)
    _field(m, "payload", 2, T_BYTES)
    m = msg("BasicAuth")
    _field(m, "username", 2, T_STRING)
    _field(m, "password", 3, T_STRING)
    msg("Empty")
    m = msg("ActionType")
    _field(m, "type", 1, T_STRING)
    _field(m, "description", 2, T_STRING)
    m = msg("Criteria")
    _field(m, "expression", 1, T_BYTES)
    m = msg("Action")
    _field(m, "type", 1, T_STRING)
    _field(m, "body", 2, T_BYTES)
    m = msg("Result")
    _field(m, "body", 1, T_BYTES)
    m = msg("SchemaResult")
    _field(m, "schema", 1, T_BYTES)
    m = msg("FlightDescriptor")
    _enum(m, "DescriptorType", ["UNKNOWN", "PATH", "CMD"])
    _field(m, "type", 1, T_ENUM, ref("FlightDescriptor.DescriptorType"))
    _field(m, "cmd", 2, T_BYTES)
    _field(m, "path", 3, T_STRING, repeated=True)
    m = msg("FlightInfo")
    _field(m, "schema", 1, T_BYTES)
    _field(m, "flight_descriptor", 2, T_MSG, ref("FlightDescriptor"))
    _field(m, "endpoint", 3, T_MSG, ref("FlightEndpoint"), repeated=True)
    _field(m, "total_records", 4, T_INT64)
    _field(m, "total_bytes", 5, T_INT64)
    _field(m, "ordered", 6, T_BOOL)
    _field(m, "app_metadata", 7, T_BYTES)
    m = msg("PollInfo")
    _field(m, "info", 1, T_MSG, ref("FlightInfo"))
    _field(m, "flight_descriptor", 2, T_MSG, ref("FlightDescriptor"))
    _field(m, "progress", 3, T_DOUBLE, optional=True)
    _field(m, "expiration_time", 4, T_MSG, ts)
    m = msg("CancelFlightInfoRequest")
    _field(m, "info", 1, T_MSG, ref("FlightInfo"))
    _enum(f, "CancelStatus", ["CANCEL_STATUS_UNSPECIFIED", "CANCEL_STATUS_CANCELLED",
                              "CANCEL_STATUS_CANCELLING", "CANCEL_STATUS_NOT_CANCELLABLE"])
    m = msg("CancelFlightInfoResult")
    _field(m, "status", 1, T_ENUM, ref("CancelStatus"))
    m = msg("Ticket")
    _field(m, "ticket", 1, T_BYTES)
    m = msg("Location")
    _field(m, "uri", 1, T_STRING)
    m = msg("FlightEndpoint")
    _field(m, "ticket", 1, T_MSG, ref("Ticket"))
    _field(m, "location", 2, T_MSG, ref("Location"), repeated=True)
    _field(m, "expiration_time", 3, T_MSG, ts)
    _field(m, "app_metadata", 4, T_BYTES)
    m = msg("RenewFlightEndpointRequest")
    _field(m, "endpoint", 1, T_MSG, ref("FlightEndpoint"))
    m = msg("FlightData")
    _field(m, "flight_descriptor", 1, T_MSG, ref("FlightDescriptor"))
    _field(m, "data_header", 2, T_BYTES)
    _field(m, "app_metadata", 3, T_BYTES)
    _field(m, "data_body", 1000, T_BYTES)
    m = msg("PutResult")
    _field(m, "app_metadata", 1, T_BYTES)
    m = msg("SessionOptionValue")
    lst = m.nested_type.add(name="StringListValue")
    _field(lst, "values", 1, T_STRING, repeated=True)
    _field(m, "string_value", 1, T_STRING, oneof="option_value")
    _field(m, "bool_value", 2, T_BOOL, oneof="option_value")
    _field(m, "int64_value", 3, T_SFIXED64, oneof="option_value")
    _field(m, "double_value", 4, T_DOUBLE, oneof="option_value")
    _field(m, "string_list_value", 5, T_MSG, ref("SessionOptionValue.StringListValue"),
           oneof="option_value")
    m = msg("SetSessionOptionsRequest")
    _map(m, "session_options", 1, ref("SessionOptionValue"))
    m = msg("SetSessionOptionsResult")
    _enum(m, "ErrorValue", ["UNSPECIFIED", "INVALID_NAME", "INVALID_VALUE", "ERROR"])
    err = m.nested_type.add(name="Error")
    _field(err, "value", 1, T_ENUM, ref("SetSessionOptionsResult.ErrorValue"))
    _map(m, "errors", 1, ref("SetSessionOptionsResult.Error"))
    msg("GetSessionOptionsRequest")
    m = msg("GetSessionOptionsResult")
    _map(m, "session_options", 1, ref("SessionOptionValue"))
    msg("CloseSessionRequest")
    m = msg("CloseSessionResult")
    _enum(m, "Status", ["UNSPECIFIED", "CLOSED", "CLOSING", "NOT_CLOSEABLE"])
    _field(m, "status", 1, T_ENUM, ref("CloseSessionResult.Status"))
    return f


def _rpc_status_file():
    # google.rpc.Status, the message grpc-status-details-bin carries.
    f = descriptor_pb2.FileDescriptorProto(
        name="cflight_interop/status.proto", package="google.rpc", syntax="proto3",
        dependency=["google/protobuf/any.proto"])
    m = f.message_type.add(name="Status")
    _field(m, "code", 1, T_INT32)
    _field(m, "message", 2, T_STRING)
    _field(m, "details", 3, T_MSG, ".google.protobuf.Any", repeated=True)
    return f


_pool = descriptor_pool.DescriptorPool()
for _wkt in (timestamp_pb2, any_pb2):
    _pool.Add(descriptor_pb2.FileDescriptorProto.FromString(_wkt.DESCRIPTOR.serialized_pb))
_pool.Add(_flight_file())
_pool.Add(_rpc_status_file())


def _message_class(full_name):
    desc = _pool.FindMessageTypeByName(full_name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(_pool).GetPrototype(desc)


class _Messages:
    def __getattr__(self, name):
        cls = _message_class("%s.%s" % (PKG, name))
        setattr(self, name, cls)
        return cls


pb = _Messages()
RpcStatus = _message_class("google.rpc.Status")
Timestamp = _message_class("google.protobuf.Timestamp")

SERVICE = "arrow.flight.protocol.FlightService"
# method -> (request type, response type, request streaming, response streaming)
METHODS = {
    "Handshake": ("HandshakeRequest", "HandshakeResponse", True, True),
    "ListFlights": ("Criteria", "FlightInfo", False, True),
    "GetFlightInfo": ("FlightDescriptor", "FlightInfo", False, False),
    "PollFlightInfo": ("FlightDescriptor", "PollInfo", False, False),
    "GetSchema": ("FlightDescriptor", "SchemaResult", False, False),
    "DoGet": ("Ticket", "FlightData", False, True),
    "DoPut": ("FlightData", "PutResult", True, True),
    "DoExchange": ("FlightData", "FlightData", True, True),
    "DoAction": ("Action", "Result", False, True),
    "ListActions": ("Empty", "ActionType", False, True),
}

CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1),
                   ("grpc.max_send_message_length", -1)]

# ---- The test service's constants (tests/interop/README.md) ---------------------------

DATASETS = """
generated_binary generated_binary_no_batches generated_binary_view
generated_binary_zerolength generated_custom_metadata generated_datetime
generated_decimal generated_decimal256 generated_decimal32 generated_decimal64
generated_dictionary generated_dictionary_unsigned generated_duplicate_fieldnames
generated_duration generated_extension generated_interval generated_interval_mdn
generated_large_binary generated_map generated_map_non_canonical generated_nested
generated_nested_dictionary generated_nested_large_offsets generated_null
generated_null_trivial generated_primitive generated_primitive_no_batches
generated_primitive_zerolength generated_recursive_nested generated_union
""".split()

EXPIRATION = (4102444800, 123456789)
RENEWED = (4102448400, 0)
LOCATIONS = ["arrow-flight-reuse-connection://?", "grpc+tls://flight.example.com:8443"]
DETAILS = bytes.fromhex(
    "0809120b64657461696c7320e29c931a320a2a747970652e676f6f676c65617069732e636f6d2f63666c"
    "696768742e696e7465726f702e44657461696c12040001feff")
DETAILS_MESSAGE = "details \u2713"
LARGE_ROWS = 8388608
ENDLESS_ROWS = 1000

ACTIONS = [
    ("echo", "Returns the body \u2014 unchanged \u2014 as one result"),
    ("count", 'N results, "0" to "N-1"'),
    ("fail", "Fails with the status CODE:MESSAGE"),
    ("fail-details", "Fails with FAILED_PRECONDITION and status details"),
    ("fail-after", "N results, then the status CODE:MESSAGE"),
    ("headers", "The request headers, as KEY=VALUE results"),
    ("sleep", "Sleeps for the body's milliseconds"),
    ("deadline", "Milliseconds left before the call's deadline"),
    ("probe", "How the last sleep or endless call ended"),
    ("CancelFlightInfo", "Cancels a flight"),
    ("RenewFlightEndpoint", "Renews an endpoint for an hour"),
    ("SetSessionOptions", "Sets session options"),
    ("GetSessionOptions", "Gets session options"),
    ("CloseSession", "Closes the session"),
]


def default_gold():
    data = os.environ.get("CFLIGHT_TEST_DATA") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "../../../../shared/arrow-testing/data")
    return os.path.join(data, "arrow-ipc-stream/integration/cpp-21.0.0")


def parse_args(argv, **extra):
    args = {"port": "0", "gold": default_gold(), "only": None, "host": "127.0.0.1"}
    args.update(extra)
    i = 0
    while i < len(argv):
        key = argv[i][2:].replace("-", "_")
        if not argv[i].startswith("--") or key not in args:
            sys.exit("unknown argument %s" % argv[i])
        if isinstance(args[key], bool):
            args[key] = True
        else:
            i += 1
            args[key] = argv[i]
        i += 1
    args["port"] = int(args["port"])
    return type("Args", (), args)


# ---- The security configuration (tests/interop/README.md, "Security") ------------------

USER = "flight-user"
# A colon (Basic credentials split at the first one) and non-ASCII on purpose.
PASSWORD = "s3cret:p\u00e4ss"
WRONG_PASSWORD = "s3cret:wrong"
# What no log line or error message may contain: a part of both passwords.
SECRET = "s3cret"
# The mutual-TLS client certificate's subject as RFC 2253 writes it.
CLIENT_SUBJECT = "CN=localhost,O=MyOrg\\, Inc.,ST=CA,C=US"
# The named ports of a security server, in the order it prints them.
SECURITY_PORTS = ["tls", "mtls", "mtls_wrong_ca", "bearer", "handshake"]


def default_certs():
    data = os.environ.get("CFLIGHT_TEST_DATA") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "../../../../shared/arrow-testing/data")
    return os.path.join(data, "flight")


def read_certs(certs):
    """The test certificates (bytes), and a CA that signed none of them."""
    def read(path):
        with open(path, "rb") as f:
            return f.read()
    own = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../interop/certs")
    out = {n.replace("-", "_").replace(".pem", "").replace(".", "_"): read(os.path.join(certs, n))
           for n in ("root-ca.pem", "cert0.pem", "cert0.key", "cert1.pem", "cert1.key")}
    out["untrusted"] = read(os.path.join(own, "untrusted-ca.pem"))
    return out


def parse_ports(text):
    """--ports "NAME=PORT ..." as a dict."""
    return {k: int(v) for k, v in (p.split("=") for p in (text or "").split())}


# ---- Arrow IPC messages -------------------------------------------------------------
# The flatbuffer tables of Arrow's Message.fbs and Schema.fbs, read by slot:
# a table field's slot is its index among the fields, a union taking two
# (its type, then its value). Message: version 0, header_type 1, header 2,
# bodyLength 3, custom_metadata 4.

class IpcError(Exception):
    pass


HEADER_TYPES = {1: "Schema", 2: "DictionaryBatch", 3: "RecordBatch"}

# Schema.fbs's Type union, and the scalar fields of the types that have any:
# (slot, name, flags, default).
TYPE_NAMES = {
    1: "Null", 2: "Int", 3: "FloatingPoint", 4: "Binary", 5: "Utf8", 6: "Bool", 7: "Decimal",
    8: "Date", 9: "Time", 10: "Timestamp", 11: "Interval", 12: "List", 13: "Struct",
    14: "Union", 15: "FixedSizeBinary", 16: "FixedSizeList", 17: "Map", 18: "Duration",
    19: "LargeBinary", 20: "LargeUtf8", 21: "LargeList", 22: "RunEndEncoded",
    23: "BinaryView", 24: "Utf8View", 25: "ListView", 26: "LargeListView",
}
_I16, _I32, _BOOL = N.Int16Flags, N.Int32Flags, N.BoolFlags
TYPE_FIELDS = {
    2: [(0, "bitWidth", _I32, 0), (1, "is_signed", _BOOL, False)],
    3: [(0, "precision", _I16, 0)],
    7: [(0, "precision", _I32, 0), (1, "scale", _I32, 0), (2, "bitWidth", _I32, 128)],
    8: [(0, "unit", _I16, 1)],
    9: [(0, "unit", _I16, 1), (1, "bitWidth", _I32, 32)],
    10: [(0, "unit", _I16, 0), (1, "timezone", "string", None)],
    11: [(0, "unit", _I16, 0)],
    14: [(0, "mode", _I16, 0), (1, "typeIds", "int32s", None)],
    15: [(0, "byteWidth", _I32, 0)],
    16: [(0, "listSize", _I32, 0)],
    17: [(0, "keysSorted", _BOOL, False)],
    18: [(0, "unit", _I16, 1)],
}


def _slot(t, slot):
    return t.Offset(4 + 2 * slot)


def _scalar(t, slot, flags, default):
    o = _slot(t, slot)
    return t.Get(flags, t.Pos + o) if o else default


def _string(t, slot):
    o = _slot(t, slot)
    return t.String(t.Pos + o).decode("utf-8") if o else None


def _table(t, slot):
    o = _slot(t, slot)
    return Table(t.Bytes, t.Indirect(t.Pos + o)) if o else None


def _union(t, slot):
    o = _slot(t, slot)
    if not o:
        return None
    u = Table(bytearray(), 0)
    t.Union(u, o)
    return u


def _tables(t, slot):
    o = _slot(t, slot)
    if not o:
        return []
    start = t.Vector(o)
    return [Table(t.Bytes, t.Indirect(start + 4 * i)) for i in range(t.VectorLen(o))]


def _structs(t, slot, size, flags):
    """A vector of structs of int64s, as tuples."""
    o = _slot(t, slot)
    if not o:
        return []
    start = t.Vector(o)
    per = size // 8
    return [tuple(t.Get(flags, start + size * i + 8 * k) for k in range(per))
            for i in range(t.VectorLen(o))]


def _ints32(t, slot):
    o = _slot(t, slot)
    if not o:
        return None
    start = t.Vector(o)
    return [t.Get(N.Int32Flags, start + 4 * i) for i in range(t.VectorLen(o))]


def _metadata(t, slot):
    return sorted((_string(kv, 0), _string(kv, 1)) for kv in _tables(t, slot))


def _field_summary(f):
    """A field as a comparable tuple: what it means, whatever the encoder."""
    type_type = _scalar(f, 2, N.Uint8Flags, 0)
    type_table = _union(f, 3)
    params = []
    for slot, name, flags, default in TYPE_FIELDS.get(type_type, []):
        if type_table is None:
            value = default
        elif flags == "string":
            value = _string(type_table, slot)
        elif flags == "int32s":
            value = _ints32(type_table, slot)
        else:
            value = _scalar(type_table, slot, flags, default)
        params.append((name, value))
    dictionary = _table(f, 4)
    dict_summary = None
    if dictionary is not None:
        index = _table(dictionary, 1)
        dict_summary = (
            _scalar(dictionary, 0, N.Int64Flags, 0),
            (_scalar(index, 0, N.Int32Flags, 0), _scalar(index, 1, N.BoolFlags, False))
            if index else None,
            _scalar(dictionary, 2, N.BoolFlags, False))
    return {
        "name": _string(f, 0) or "",
        "nullable": _scalar(f, 1, N.BoolFlags, False),
        "type": (TYPE_NAMES.get(type_type, type_type), tuple(params)),
        "dictionary": dict_summary,
        "children": [_field_summary(c) for c in _tables(f, 5)],
        "metadata": _metadata(f, 6),
    }


class Message:
    """One IPC message: the flatbuffer Message as sent, and its body."""

    def __init__(self, header, body=b""):
        self.header = bytes(header)
        self.body = bytes(body)
        buf = bytearray(self.header)
        if len(buf) < 8:
            raise IpcError("a Message flatbuffer of %d bytes" % len(buf))
        try:
            t = Table(buf, encode.Get(packer.uoffset, buf, 0))
            self.version = _scalar(t, 0, N.Int16Flags, 0)
            self.type_id = _scalar(t, 1, N.Uint8Flags, 0)
            self.type = HEADER_TYPES.get(self.type_id, "header type %d" % self.type_id)
            self.body_length = _scalar(t, 3, N.Int64Flags, 0)
            self._header = _union(t, 2)
        except (IndexError, struct.error) as e:
            raise IpcError("a Message flatbuffer that does not parse: %s" % e)

    def _batch(self):
        if self.type == "RecordBatch":
            return self._header
        if self.type == "DictionaryBatch":
            return _table(self._header, 1)
        return None

    @property
    def rows(self):
        b = self._batch()
        return _scalar(b, 0, N.Int64Flags, 0) if b else 0

    @property
    def nodes(self):
        """[(length, null_count)] of a record or dictionary batch."""
        return _structs(self._batch(), 1, 16, N.Int64Flags)

    @property
    def buffers(self):
        """[(offset, length)] of a record or dictionary batch."""
        return _structs(self._batch(), 2, 16, N.Int64Flags)

    @property
    def compressed(self):
        return _slot(self._batch(), 3) != 0

    @property
    def dictionary_id(self):
        return _scalar(self._header, 0, N.Int64Flags, 0)

    @property
    def is_delta(self):
        return _scalar(self._header, 2, N.BoolFlags, False)

    @property
    def schema(self):
        """The fields of a Schema message, as comparable summaries."""
        return {"fields": [_field_summary(f) for f in _tables(self._header, 1)],
                "metadata": _metadata(self._header, 2)}

    def check_body(self):
        """The body's size and buffer layout, as the format requires."""
        if self.body_length != len(self.body):
            raise IpcError("data_body has %d bytes, the Message's bodyLength says %d"
                           % (len(self.body), self.body_length))
        for i, (off, length) in enumerate(self.buffers if self._batch() else []):
            if off % 8:
                raise IpcError("buffer %d at offset %d, not a multiple of 8" % (i, off))
            if off < 0 or length < 0 or off + length > len(self.body):
                raise IpcError("buffer %d (%d, %d) outside a body of %d bytes"
                               % (i, off, length, len(self.body)))


def split_ipc(data):
    """The messages of an IPC stream (framing with or without the
    continuation marker)."""
    out = []
    off = 0
    while off + 4 <= len(data):
        (n,) = struct.unpack_from("<i", data, off)
        off += 4
        if n == -1:
            (n,) = struct.unpack_from("<i", data, off)
            off += 4
        if n == 0:
            break
        if n < 0 or off + n > len(data):
            raise IpcError("bad message length %d" % n)
        m = Message(data[off:off + n])
        off += n
        if off + m.body_length > len(data):
            raise IpcError("stream ends inside a body")
        m.body = bytes(data[off:off + m.body_length])
        off += m.body_length
        out.append(m)
    return out


def frame(header):
    """An encapsulated message without body: marker, length, padded flatbuffer."""
    padded = header + b"\0" * (-len(header) % 8)
    return struct.pack("<Ii", 0xFFFFFFFF, len(padded)) + padded


def schema_of_bytes(data):
    """The Message of FlightInfo.schema / SchemaResult.schema bytes."""
    msgs = split_ipc(bytes(data) + b"\xff\xff\xff\xff\0\0\0\0")
    if len(msgs) != 1 or msgs[0].type != "Schema":
        raise IpcError("schema bytes hold %s" % [m.type for m in msgs])
    return msgs[0]


def load_gold(gold, name):
    with open(os.path.join(gold, name + ".stream"), "rb") as f:
        return split_ipc(f.read())


# ---- Writing the int64 streams of `large`, `endless` and `server-cancel` -------------

def _end_vector(b, n):
    try:
        return b.EndVector()
    except TypeError:  # flatbuffers < 2.0
        return b.EndVector(n)


def _message(b, header_type, header, body_length):
    b.StartObject(5)
    b.PrependInt16Slot(0, 4, 0)  # MetadataVersion V5
    b.PrependUint8Slot(1, header_type, 0)
    b.PrependUOffsetTRelativeSlot(2, header, 0)
    b.PrependInt64Slot(3, body_length, 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def int64_schema_message(name):
    """A Schema message of one int64 field, not nullable."""
    b = flatbuffers.Builder(256)
    fname = b.CreateString(name)
    b.StartObject(2)  # Int
    b.PrependInt32Slot(0, 64, 0)
    b.PrependBoolSlot(1, True, False)
    int_type = b.EndObject()
    b.StartVector(4, 0, 4)
    children = _end_vector(b, 0)
    b.StartObject(7)  # Field
    b.PrependUOffsetTRelativeSlot(0, fname, 0)
    b.PrependBoolSlot(1, False, False)
    b.PrependUint8Slot(2, 2, 0)  # Type.Int
    b.PrependUOffsetTRelativeSlot(3, int_type, 0)
    b.PrependUOffsetTRelativeSlot(5, children, 0)
    field = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(field)
    fields = _end_vector(b, 1)
    b.StartObject(4)  # Schema
    b.PrependInt16Slot(0, 0, 0)  # little-endian
    b.PrependUOffsetTRelativeSlot(1, fields, 0)
    return _message(b, 1, b.EndObject(), 0)


def int64_batch(rows, first):
    """A RecordBatch message and body: one int64 column first, first + 1, ..."""
    import array
    values = array.array("q", range(first, first + rows))
    if sys.byteorder != "little":
        values.byteswap()
    body = values.tobytes()
    b = flatbuffers.Builder(256)
    b.StartVector(16, 1, 8)  # nodes: one FieldNode{length, null_count}
    b.Prep(8, 16)
    b.PrependInt64(0)
    b.PrependInt64(rows)
    nodes = _end_vector(b, 1)
    b.StartVector(16, 2, 8)  # buffers: validity (none), values
    for off, length in reversed([(0, 0), (0, len(body))]):
        b.Prep(8, 16)
        b.PrependInt64(length)
        b.PrependInt64(off)
    buffers = _end_vector(b, 2)
    b.StartObject(5)  # RecordBatch
    b.PrependInt64Slot(0, rows, 0)
    b.PrependUOffsetTRelativeSlot(1, nodes, 0)
    b.PrependUOffsetTRelativeSlot(2, buffers, 0)
    return _message(b, 3, b.EndObject(), len(body)), body
