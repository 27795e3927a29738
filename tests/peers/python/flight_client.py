"""A Flight client on grpcio (gRPC core's HTTP/2) that checks a server
implementing the test service of tests/interop/README.md (cflight's
flight_test_server, or flight_server.py) at the protocol level: every RPC,
status codes and messages, grpc-status-details-bin, deadlines,
cancellation from either side, headers and trailers, binary metadata,
large and empty messages. Arrow data is checked by structure (schemas,
batch lengths, field nodes, body layout) against the gold .stream files.

  /usr/bin/python3 flight_client.py --port N [--host H] [--gold DIR] [--only SUBSTRING]
  /usr/bin/python3 flight_client.py --security --port N --ports "NAME=PORT ..." [--certs DIR] ...

With --security it checks the README's security configuration instead: TLS,
mutual TLS, header and handshake authentication on every RPC kind, and
middleware-visible metadata. Prints one line per failed check; exit status
0 when all passed.
"""
import base64
import queue
import sys
import threading
import time
import traceback

import grpc

from flight_common import (ACTIONS, CHANNEL_OPTIONS, CLIENT_SUBJECT, DATASETS, DETAILS,
                           DETAILS_MESSAGE, ENDLESS_ROWS, EXPIRATION, LARGE_ROWS, LOCATIONS,
                           METHODS, PASSWORD, RENEWED, SECRET, SERVICE, USER, WRONG_PASSWORD,
                           IpcError, Message, RpcStatus, default_certs, int64_batch,
                           int64_schema_message, load_gold, parse_args, parse_ports, pb,
                           read_certs, schema_of_bytes)

ARGS = parse_args(sys.argv[1:], security=False, certs=default_certs(), ports="")
SC = grpc.StatusCode
CODES = {c.value[0]: c for c in SC}
failures = []
passed = [0]


class Failed(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failed(what)


def _short(v):
    r = repr(v)
    return r if len(r) <= 400 else r[:300] + "...(%d characters)" % len(r)


def expect_eq(what, want, got):
    if want != got:
        raise Failed("%s: %s expected, got %s" % (what, _short(want), _short(got)))


def check(name):
    def run(fn):
        if ARGS.only and ARGS.only not in name:
            return fn
        try:
            fn()
            passed[0] += 1
        except Failed as e:
            failures.append("%s: %s" % (name, e))
            print("FAIL %s: %s" % (name, e), flush=True)
        except Exception:
            failures.append(name)
            print("FAIL %s: %s" % (name, traceback.format_exc()), flush=True)
        return fn
    return run


# ---- Calls ------------------------------------------------------------------------------

channel = grpc.insecure_channel("%s:%d" % (ARGS.host, ARGS.port), options=CHANNEL_OPTIONS)


def _callable(method, ch):
    req, resp, req_stream, resp_stream = METHODS[method]
    make = {(False, False): ch.unary_unary, (False, True): ch.unary_stream,
            (True, True): ch.stream_stream}[(req_stream, resp_stream)]
    return make("/%s/%s" % (SERVICE, method),
                request_serializer=getattr(pb, req).SerializeToString,
                response_deserializer=getattr(pb, resp).FromString)


def stubs_of(ch):
    return {m: _callable(m, ch) for m in METHODS}


STUBS = stubs_of(channel)


class Outcome:
    """A finished call: its messages, status, headers and trailers."""

    def __init__(self, messages, call):
        self.messages = messages
        self.code = call.code()
        self.details = call.details()
        self.headers = list(call.initial_metadata() or [])
        self.trailers = list(call.trailing_metadata() or [])

    def header(self, key):
        return [v for k, v in self.headers if k == key]

    def trailer(self, key):
        return [v for k, v in self.trailers if k == key]

    def ok(self, what):
        if self.code != SC.OK:
            raise Failed("%s: OK expected, got %s %r" % (what, self.code, self.details))
        return self

    def status(self, what, code, details=None):
        if self.code != code:
            raise Failed("%s: %s expected, got %s %r" % (what, code, self.code, self.details))
        if details is not None:
            expect_eq("%s: status message" % what, details, self.details)
        return self


def call(method, request, metadata=None, timeout=None, on_message=None, stubs=None):
    """Runs a call to its end; request is a message, or an iterator of them
    for the client-streaming methods. stubs: another channel's (stubs_of)."""
    stub = (stubs or STUBS)[method]
    if not METHODS[method][3]:  # unary response
        try:
            response, c = stub.with_call(request, metadata=metadata, timeout=timeout)
            return Outcome([response], c)
        except grpc.RpcError as e:
            return Outcome([], e)
    c = stub(request, metadata=metadata, timeout=timeout)
    messages = []
    try:
        for m in c:
            messages.append(m)
            if on_message:
                on_message(m, c)
    except grpc.RpcError:
        pass
    return Outcome(messages, c)


def action(kind, body=b"", **kw):
    return call("DoAction", pb.Action(type=kind, body=body), **kw)


def bodies(outcome):
    return [m.body for m in outcome.messages]


class Pipe:
    """A request iterator fed by the test, for ping-pong streams."""
    END = object()

    def __init__(self):
        self.q = queue.Queue()

    def send(self, m):
        self.q.put(m)

    def close(self):
        self.q.put(Pipe.END)

    def __iter__(self):
        while True:
            m = self.q.get()
            if m is Pipe.END:
                return
            yield m


# ---- Expectations -------------------------------------------------------------------------

GOLD = {}


def gold(name):
    if name not in GOLD:
        GOLD[name] = load_gold(ARGS.gold, name)
    return GOLD[name]


def gold_rows(name):
    return sum(m.rows for m in gold(name) if m.type == "RecordBatch")


def check_schema_bytes(where, name, data):
    expect(len(data) > 0, "%s: no schema" % where)
    expect_eq("%s: continuation marker" % where, b"\xff\xff\xff\xff", bytes(data[:4]))
    try:
        got = schema_of_bytes(data).schema
    except IpcError as e:
        raise Failed("%s: schema bytes: %s" % (where, e))
    expect_eq("%s: schema" % where, gold(name)[0].schema, got)


def check_timestamp(what, want, ts):
    expect_eq(what, want, (ts.seconds, ts.nanos))


def check_gold_info(where, name, info):
    check_schema_bytes(where, name, info.schema)
    d = info.flight_descriptor
    expect_eq("%s: descriptor" % where, (1, ["gold", name]), (d.type, list(d.path)))
    expect_eq("%s: endpoints" % where, 1, len(info.endpoint))
    e = info.endpoint[0]
    expect_eq("%s: ticket" % where, ("gold/" + name).encode(), e.ticket.ticket)
    expect_eq("%s: locations" % where, LOCATIONS, [loc.uri for loc in e.location])
    expect("%s: endpoint expiration_time set" % where, e.HasField("expiration_time"))
    check_timestamp("%s: expiration_time" % where, EXPIRATION, e.expiration_time)
    expect_eq("%s: endpoint app_metadata" % where, ("endpoint:" + name).encode(), e.app_metadata)
    expect_eq("%s: total_records" % where, gold_rows(name), info.total_records)
    expect_eq("%s: total_bytes" % where, -1, info.total_bytes)
    expect_eq("%s: ordered" % where, True, info.ordered)
    expect_eq("%s: app_metadata" % where, ("info:" + name).encode(), info.app_metadata)


def parse_data(where, messages):
    """FlightData -> (Message or None for metadata-only, app_metadata)."""
    out = []
    for i, fd in enumerate(messages):
        if not fd.data_header:
            expect(not fd.data_body, "%s: message %d has a body but no header" % (where, i))
            out.append((None, fd.app_metadata))
            continue
        try:
            m = Message(fd.data_header, fd.data_body)
            m.check_body()
        except IpcError as e:
            raise Failed("%s: message %d: %s" % (where, i, e))
        out.append((m, fd.app_metadata))
    return out


def check_stream(where, name, messages, metadata_of):
    """A stream against gold NAME by structure: schema, then for every record
    batch its rows and field nodes, with the dictionaries it needs before it;
    app_metadata as metadata_of(k) says for record batch k (None:
    metadata-only messages are not expected)."""
    parsed = parse_data(where, messages)
    expect(parsed and parsed[0][0] is not None, "%s: no schema message first" % where)
    expect_eq("%s: first message" % where, "Schema", parsed[0][0].type)
    expect_eq("%s: schema" % where, gold(name)[0].schema, parsed[0][0].schema)
    want_batches = [m for m in gold(name) if m.type == "RecordBatch"]
    dict_ids = set(m.dictionary_id for m in gold(name) if m.type == "DictionaryBatch")
    got_batches = []
    seen_dicts = set()
    for i, (m, md) in enumerate(parsed[1:], 1):
        if m is None:
            raise Failed("%s: unexpected metadata-only message %d" % (where, i))
        if m.type == "Schema":
            raise Failed("%s: a second schema at message %d" % (where, i))
        if m.type == "DictionaryBatch":
            expect(m.dictionary_id in dict_ids, "%s: dictionary id %d is not in the schema"
                   % (where, m.dictionary_id))
            seen_dicts.add(m.dictionary_id)
            expect_eq("%s: dictionary app_metadata" % where, b"", md)
            continue
        expect_eq("%s: dictionaries before batch %d" % (where, len(got_batches)), dict_ids,
                  seen_dicts)
        expect_eq("%s: batch %d app_metadata" % (where, len(got_batches)),
                  metadata_of(len(got_batches)), md)
        got_batches.append(m)
    expect_eq("%s: batches" % where, len(want_batches), len(got_batches))
    for k, (w, g) in enumerate(zip(want_batches, got_batches)):
        expect_eq("%s: batch %d rows" % (where, k), w.rows, g.rows)
        expect_eq("%s: batch %d field nodes" % (where, k), w.nodes, g.nodes)
        expect_eq("%s: batch %d number of buffers" % (where, k), len(w.buffers), len(g.buffers))


def raw_messages(name, metadata_of):
    """The gold stream's messages as FlightData, record batch k with metadata_of(k)."""
    out = []
    k = 0
    for m in gold(name):
        md = b""
        if m.type == "RecordBatch":
            md = metadata_of(k)
            k += 1
        out.append(pb.FlightData(data_header=m.header, data_body=m.body, app_metadata=md))
    return out


def int64_values(messages):
    """The int64 column of the record batches of an int64 stream."""
    out = []
    for m, md in parse_data("int64 stream", messages):
        if m is not None and m.type == "RecordBatch":
            expect_eq("compression", False, m.compressed)
            off, length = m.buffers[1]
            out.append((m.rows, m.body[off:off + length], md))
    return out


# ---- The checks -----------------------------------------------------------------------------

def run_checks():
    @check("Handshake")
    def _():
        pipe = Pipe()
        c = STUBS["Handshake"](iter(pipe), timeout=20)
        it = iter(c)
        for v, p in [(7, b"alpha"), (0, b""), (2 ** 64 - 2, b"\x00\xff")]:
            pipe.send(pb.HandshakeRequest(protocol_version=v, payload=p))
            r = next(it)
            expect(r.protocol_version in (0, v + 1), "protocol_version %d" % r.protocol_version)
            expect_eq("payload", b"hs:" + p, r.payload)
        pipe.close()
        expect_eq("messages after the end", [], list(it))
        expect_eq("status", SC.OK, c.code())

    @check("Handshake refused")
    def _():
        o = call("Handshake", iter([pb.HandshakeRequest(protocol_version=1, payload=b"bad")]))
        o.status("bad payload", SC.UNAUTHENTICATED, "bad handshake payload")

    @check("ListActions")
    def _():
        o = call("ListActions", pb.Empty()).ok("ListActions")
        expect_eq("actions", ACTIONS, [(a.type, a.description) for a in o.messages])

    @check("ListFlights all")
    def _():
        o = call("ListFlights", pb.Criteria()).ok("ListFlights")
        names = sorted(DATASETS)
        expect_eq("number of flights", len(names), len(o.messages))
        for name, info in zip(names, o.messages):
            check_gold_info("flight " + name, name, info)

    @check("ListFlights criteria")
    def _():
        o = call("ListFlights", pb.Criteria(expression=b"gold/generated_decimal")).ok("ListFlights")
        expect_eq("flights", ["generated_decimal", "generated_decimal256", "generated_decimal32",
                              "generated_decimal64"],
                  [i.flight_descriptor.path[1] for i in o.messages])
        none = call("ListFlights", pb.Criteria(expression=b"\xff")).ok("none")
        expect_eq("flights", 0, len(none.messages))

    for name in DATASETS:
        @check("GetFlightInfo " + name)
        def _(name=name):
            o = call("GetFlightInfo", pb.FlightDescriptor(type=1, path=["gold", name]))
            check_gold_info(name, name, o.ok("GetFlightInfo").messages[0])

        @check("GetSchema " + name)
        def _(name=name):
            o = call("GetSchema", pb.FlightDescriptor(type=1, path=["gold", name]))
            check_schema_bytes(name, name, o.ok("GetSchema").messages[0].schema)

    @check("GetFlightInfo unknown")
    def _():
        call("GetFlightInfo", pb.FlightDescriptor(type=1, path=["gold", "nope"])).status(
            "unknown", SC.NOT_FOUND)
        call("GetFlightInfo", pb.FlightDescriptor()).status("empty descriptor", SC.NOT_FOUND)
        call("GetSchema", pb.FlightDescriptor(type=2, cmd=b"\x00")).status("command", SC.NOT_FOUND)

    @check("PollFlightInfo")
    def _():
        name = "generated_datetime"
        o = call("PollFlightInfo", pb.FlightDescriptor(type=2, cmd=b"poll:" + name.encode()))
        p = o.ok("first poll").messages[0]
        check_schema_bytes("first poll", name, p.info.schema)
        expect_eq("first poll: info descriptor", (2, b"poll:" + name.encode()),
                  (p.info.flight_descriptor.type, p.info.flight_descriptor.cmd))
        expect_eq("first poll: info", (0, -1, -1, False, b"pending"),
                  (len(p.info.endpoint), p.info.total_records, p.info.total_bytes,
                   p.info.ordered, p.info.app_metadata))
        expect_eq("first poll: next", (2, b"poll:%s:done" % name.encode()),
                  (p.flight_descriptor.type, p.flight_descriptor.cmd))
        expect("first poll: progress set", p.HasField("progress"))
        expect_eq("first poll: progress", 0.5, p.progress)
        check_timestamp("first poll: expiration_time", EXPIRATION, p.expiration_time)
        q = call("PollFlightInfo", p.flight_descriptor).ok("second poll").messages[0]
        check_gold_info("second poll", name, q.info)
        expect("second poll: no descriptor", not q.HasField("flight_descriptor"))
        expect("second poll: progress set", q.HasField("progress"))
        expect_eq("second poll: progress", 1.0, q.progress)
        expect("second poll: no expiration", not q.HasField("expiration_time"))
        call("PollFlightInfo", pb.FlightDescriptor(type=2, cmd=b"poll:nope")).status(
            "unknown", SC.NOT_FOUND)

    for name in DATASETS:
        @check("DoGet " + name)
        def _(name=name):
            o = call("DoGet", pb.Ticket(ticket=b"gold/" + name.encode()), timeout=30).ok("DoGet")
            check_stream(name, name, o.messages, lambda k: b"%s:%d" % (name.encode(), k))

    @check("DoGet unknown")
    def _():
        call("DoGet", pb.Ticket(ticket=b"gold/nope")).status("unknown", SC.NOT_FOUND)
        call("DoGet", pb.Ticket()).status("empty ticket", SC.NOT_FOUND)

    @check("DoGet large")
    def _():
        o = call("DoGet", pb.Ticket(ticket=b"large"), timeout=60).ok("DoGet large")
        m0 = parse_data("large", o.messages)[0][0]
        expect_eq("schema", int64_schema_message_summary("data"), m0.schema)
        (rows, data, md), = int64_values(o.messages)
        expect_eq("rows", LARGE_ROWS, rows)
        expect_eq("app_metadata", b"large", md)
        expect(data == int64_batch(LARGE_ROWS, 0)[1], "the 64 MiB of values differ")

    for name in DATASETS:
        @check("DoPut " + name)
        def _(name=name):
            sent = raw_messages(name, lambda k: b"up:%s:%d" % (name.encode(), k))
            sent[0].flight_descriptor.type = 1
            sent[0].flight_descriptor.path.extend(["uploads", name])
            # A metadata-only message after the schema, and one at the end. (Not
            # an empty one: an empty FlightData is neither data nor metadata.)
            sent.insert(1, pb.FlightData(app_metadata=b"first"))
            sent.append(pb.FlightData(app_metadata=b"\x00"))
            seq = [fd.app_metadata for fd in sent
                   if not fd.data_header or Message(fd.data_header).type == "RecordBatch"]
            o = call("DoPut", iter(sent), timeout=30).ok("DoPut")
            expect_eq("acks", [b"ack:%d:" % k + md for k, md in enumerate(seq)],
                      [m.app_metadata for m in o.messages])
            g = call("DoGet", pb.Ticket(ticket=b"uploads/" + name.encode())).ok("DoGet upload")
            got = [fd.app_metadata for fd in g.messages
                   if not fd.data_header or Message(fd.data_header).type == "RecordBatch"]
            expect_eq("replayed app_metadata", seq, got)
            expect_eq("replayed metadata-only positions",
                      [i for i, fd in enumerate(sent) if not fd.data_header][:1],
                      [i for i, fd in enumerate(g.messages) if not fd.data_header][:1])
            data = [fd for fd in g.messages if fd.data_header]
            check_stream(name + " uploaded", name, data,
                         lambda k: b"up:%s:%d" % (name.encode(), k))
            info = call("GetFlightInfo", pb.FlightDescriptor(type=1, path=["uploads", name]))
            i = info.ok("upload info").messages[0]
            check_schema_bytes("upload info", name, i.schema)
            expect_eq("upload info", (["uploads", name], [b"uploads/" + name.encode()],
                                      gold_rows(name), -1),
                      (list(i.flight_descriptor.path), [e.ticket.ticket for e in i.endpoint],
                       i.total_records, i.total_bytes))

    @check("DoPut errors")
    def _():
        sent = raw_messages("generated_primitive", lambda k: b"")
        call("DoPut", iter(sent)).status("no descriptor", SC.INVALID_ARGUMENT)
        sent[0].flight_descriptor.type = 2
        sent[0].flight_descriptor.cmd = b"x"
        call("DoPut", iter(sent)).status("a command", SC.INVALID_ARGUMENT)

    @check("DoPut schema only")
    def _():
        schema = pb.FlightData(data_header=int64_schema_message("v"))
        schema.flight_descriptor.type = 1
        schema.flight_descriptor.path.extend(["uploads", "empty"])
        o = call("DoPut", iter([schema])).ok("DoPut")
        expect_eq("acks", [], o.messages)
        i = call("GetFlightInfo", pb.FlightDescriptor(type=1, path=["uploads", "empty"]))
        expect_eq("total_records", 0, i.ok("info").messages[0].total_records)

    for name in ["generated_primitive", "generated_dictionary", "generated_nested_dictionary",
                 "generated_union", "generated_binary_view", "generated_primitive_no_batches"]:
        @check("DoExchange echo " + name)
        def _(name=name):
            sent = raw_messages(name, lambda k: b"ex:%d" % k)
            sent[0].flight_descriptor.type = 2
            sent[0].flight_descriptor.cmd = b"echo"
            pipe = Pipe()
            c = STUBS["DoExchange"](iter(pipe), timeout=30)
            it = iter(c)
            got = []
            for fd in sent:
                pipe.send(fd)
                if fd.data_header and Message(fd.data_header).type == "RecordBatch":
                    while True:  # this batch's echo comes before the next is sent
                        got.append(next(it))
                        if got[-1].data_header and \
                                Message(got[-1].data_header).type == "RecordBatch":
                            break
            pipe.send(pb.FlightData(app_metadata=b"end \xff"))
            while True:
                got.append(next(it))
                if not got[-1].data_header:
                    break
            pipe.close()
            got.extend(it)
            expect_eq("status", SC.OK, c.code())
            expect_eq("trailing metadata-only message", b"end \xff", got[-1].app_metadata)
            if any(fd.data_header for fd in got):
                check_stream(name + " echoed", name, got[:-1], lambda k: b"ex:%d" % k)

    @check("DoExchange large")
    def _():
        header, body = int64_batch(LARGE_ROWS, 0)
        sent = [pb.FlightData(data_header=int64_schema_message("data")),
                pb.FlightData(data_header=header, data_body=body, app_metadata=b"big")]
        sent[0].flight_descriptor.type = 2
        sent[0].flight_descriptor.cmd = b"echo"
        o = call("DoExchange", iter(sent), timeout=60).ok("DoExchange")
        (rows, data, md), = int64_values(o.messages)
        expect_eq("rows", LARGE_ROWS, rows)
        expect_eq("app_metadata", b"big", md)
        expect(data == body, "the 64 MiB of values differ")

    @check("DoExchange metadata only")
    def _():
        sent = [pb.FlightData(app_metadata=b"one"), pb.FlightData(app_metadata=b"\x00\x01"),
                pb.FlightData(app_metadata=b"x" * 100000)]
        sent[0].flight_descriptor.type = 2
        sent[0].flight_descriptor.cmd = b"echo"
        o = call("DoExchange", iter(sent)).ok("DoExchange")
        expect_eq("echoed", [s.app_metadata for s in sent], [m.app_metadata for m in o.messages])
        expect("no data came back", all(not m.data_header and not m.data_body
                                        for m in o.messages))

    @check("DoExchange unknown command")
    def _():
        fd = pb.FlightData()
        fd.flight_descriptor.type = 2
        fd.flight_descriptor.cmd = b"nope"
        call("DoExchange", iter([fd])).status("unknown", SC.INVALID_ARGUMENT)

    @check("DoAction echo and empty messages")
    def _():
        expect_eq("echo", [b"\x00\x01\xfe\xff%25"], bodies(action("echo", b"\x00\x01\xfe\xff%25")))
        o = action("echo", b"").ok("empty echo")
        expect_eq("empty result", [b""], bodies(o))
        expect_eq("empty result bytes", b"", o.messages[0].SerializeToString())
        big = bytes(range(256)) * 4096
        expect("1 MiB echo", bodies(action("echo", big)) == [big])

    @check("DoAction count")
    def _():
        expect_eq("count", [b"%d" % i for i in range(100)], bodies(action("count", b"100").ok("count")))
        expect_eq("count 0", [], bodies(action("count", b"0").ok("count 0")))

    message = "d\u00e9j\u00e0 vu: 100% s\u00fbr \u2713, 50%25 is not 50%"

    @check("Status codes and messages")
    def _():
        for code in range(1, 17):
            o = action("fail", b"%d:" % code + message.encode())
            o.status("code %d" % code, CODES[code], message)
        for text in ["", "%", "%%41%zz", "line\nbreak\ttab", "\u4e2d\u6587 \U0001F600",
                     "x" * 1000]:
            action("fail", b"9:" + text.encode()).status("message %r" % text[:20],
                                                          SC.FAILED_PRECONDITION, text)

    @check("Long status messages")
    def _():
        # A server may shorten a long message (cflight keeps 1023 bytes), but
        # what it sends must stay UTF-8: grpc-message is percent-encoded UTF-8.
        # (Percent-encoded, these stay below gRPC core's 8 KiB of metadata.)
        for text in ["x" * 3000, "\u00e9" * 1000, "\u2713" * 600]:
            o = action("fail", b"9:" + text.encode()).status("long message", SC.FAILED_PRECONDITION)
            expect(len(o.details) >= 300 and text.startswith(o.details),
                   "a %d-byte message came back as %d characters that are not its start: ...%r"
                   % (len(text.encode()), len(o.details), o.details[-12:]))

    @check("grpc-status-details-bin")
    def _():
        o = action("fail-details").status("fail-details", SC.FAILED_PRECONDITION, DETAILS_MESSAGE)
        expect_eq("details", [DETAILS], o.trailer("grpc-status-details-bin"))
        status = RpcStatus.FromString(o.trailer("grpc-status-details-bin")[0])
        expect_eq("details code and message", (9, DETAILS_MESSAGE), (status.code, status.message))

    @check("Error after results")
    def _():
        o = action("fail-after", b"3:10:" + message.encode()).status("fail-after", SC.ABORTED,
                                                                        message)
        expect_eq("results", [b"0", b"1", b"2"], bodies(o))

    @check("Request headers")
    def _():
        binary = bytes(range(256))
        md = (("x-text", "plain"), ("x-data-bin", binary), ("x-empty-bin", b""),
              ("x-multi", "a"), ("x-multi", "b"), ("authorization", "Bearer t0k3n"),
              ("auth-token-bin", b"\x00tok"), ("x-long", "v" * 4000), ("other", "hidden"))
        o = action("headers", metadata=md).ok("headers")
        want = sorted([b"x-text=plain", b"x-data-bin=" + binary, b"x-empty-bin=",
                       b"x-multi=a", b"x-multi=b", b"authorization=Bearer t0k3n",
                       b"auth-token-bin=\x00tok", b"x-long=" + b"v" * 4000])
        got = bodies(o)
        # HTTP lets a server see repeated text headers joined with ", ".
        if b"x-multi=a, b" in got:
            got = sorted([g for g in got if g != b"x-multi=a, b"] + [b"x-multi=a", b"x-multi=b"])
        expect_eq("headers seen by the handler", want, got)

    @check("Response headers and trailers")
    def _():
        binary = b"\x00\xff\x80, \n"
        md = (("x-echo-text", "hello"), ("x-echo-data-bin", binary))

        def echoed(what, o, merged_ok):
            h_text, h_bin = o.header("x-echo-text"), o.header("x-echo-data-bin")
            if merged_ok and not h_text:  # a Trailers-Only response
                h_text, h_bin = o.trailer("x-echo-text"), o.trailer("x-echo-data-bin")
            expect_eq(what + ": header", (["hello"], [binary]), (h_text, h_bin))
            expect_eq(what + ": trailer", (["hello"], [binary]),
                      (o.trailer("x-trailer-text"), o.trailer("x-trailer-data-bin")))

        echoed("GetFlightInfo", call("GetFlightInfo", pb.FlightDescriptor(
            type=1, path=["gold", "generated_null"]), metadata=md).ok("GetFlightInfo"), False)
        echoed("ListActions", call("ListActions", pb.Empty(), metadata=md).ok("ListActions"),
               False)
        echoed("DoGet", call("DoGet", pb.Ticket(ticket=b"gold/generated_primitive"),
                             metadata=md).ok("DoGet"), False)
        echoed("count 0", action("count", b"0", metadata=md).ok("count 0"), True)
        echoed("failing GetFlightInfo", call("GetFlightInfo", pb.FlightDescriptor(), metadata=md)
               .status("unknown", SC.NOT_FOUND), True)
        echoed("fail-after", action("fail-after", b"1:5:x", metadata=md)
               .status("fail-after", SC.NOT_FOUND), False)
        fd = pb.FlightData(app_metadata=b"m")
        fd.flight_descriptor.type = 2
        fd.flight_descriptor.cmd = b"echo"
        echoed("DoExchange", call("DoExchange", iter([fd]), metadata=md).ok("DoExchange"), False)

    @check("Deadline seen by the server")
    def _():
        ms = int(bodies(action("deadline", timeout=10).ok("deadline"))[0])
        # gRPC core rounds grpc-timeout up to a coarser unit when it sends it.
        expect(0 < ms <= 11000, "the server sees %d ms left of 10000" % ms)
        expect_eq("no deadline", [b"none"], bodies(action("deadline").ok("no deadline")))

    @check("Sleep completes")
    def _():
        expect_eq("slept", [b"slept"], bodies(action("sleep", b"20", timeout=10).ok("sleep")))
        expect_eq("probe", [b"completed"], bodies(action("probe", b"sleep")))

    @check("Deadline exceeded on both sides")
    def _():
        t0 = time.monotonic()
        action("sleep", b"5000", timeout=0.3).status("sleep", SC.DEADLINE_EXCEEDED)
        expect(time.monotonic() - t0 < 4, "the deadline did not end the call early")
        expect_eq("the server saw", [b"deadline"], bodies(action("probe", b"sleep")))

    @check("Stream deadline exceeded")
    def _():
        o = call("DoGet", pb.Ticket(ticket=b"endless"), timeout=0.5)
        o.status("endless", SC.DEADLINE_EXCEEDED)
        expect(len(o.messages) >= 1, "no message before the deadline")
        expect_eq("the server saw", [b"deadline"], bodies(action("probe", b"endless")))

    @check("Client cancels a call")
    def _():
        c = STUBS["DoAction"](pb.Action(type="sleep", body=b"5000"))
        threading.Timer(0.2, c.cancel).start()
        try:
            list(c)
        except grpc.RpcError:
            pass
        expect_eq("status", SC.CANCELLED, c.code())
        expect_eq("the server saw", [b"cancelled"], bodies(action("probe", b"sleep")))

    @check("Client cancels a stream")
    def _():
        seen = []

        def on_message(fd, c):
            if fd.data_header and Message(fd.data_header).type == "RecordBatch":
                seen.append(fd)
                if len(seen) == 3:
                    c.cancel()
        o = call("DoGet", pb.Ticket(ticket=b"endless"), on_message=on_message)
        o.status("endless", SC.CANCELLED)
        values = int64_values(o.messages)
        for k, (rows, data, md) in enumerate(values):
            expect_eq("batch %d" % k, (ENDLESS_ROWS, int64_batch(ENDLESS_ROWS, k * ENDLESS_ROWS)[1],
                                        b"endless:%d" % k), (rows, data, md))
        expect_eq("the server saw", [b"cancelled"], bodies(action("probe", b"endless")))

    @check("Server cancels")
    def _():
        o = call("DoGet", pb.Ticket(ticket=b"server-cancel"))
        o.status("server-cancel", SC.CANCELLED, "cancelled by the server")
        expect_eq("batches first", [b"endless:0", b"endless:1"],
                  [md for _, _, md in int64_values(o.messages)])

    @check("Unknown action and method")
    def _():
        action("no-such-action").status("action", SC.UNIMPLEMENTED)
        stub = channel.unary_unary("/%s/NoSuchMethod" % SERVICE)
        try:
            stub(b"", timeout=10)
            raise Failed("NoSuchMethod succeeded")
        except grpc.RpcError as e:
            expect_eq("NoSuchMethod", SC.UNIMPLEMENTED, e.code())
        stub = channel.unary_unary("/no.such.Service/GetFlightInfo")
        try:
            stub(b"", timeout=10)
            raise Failed("no.such.Service succeeded")
        except grpc.RpcError as e:
            expect_eq("unknown service", SC.UNIMPLEMENTED, e.code())

    @check("Malformed request")
    def _():
        stub = channel.unary_unary("/%s/GetFlightInfo" % SERVICE)
        try:
            stub(b"\x12\xff\xff\xff\xff\x0f", timeout=10)  # cmd's length past the end
            raise Failed("a malformed FlightDescriptor was accepted")
        except grpc.RpcError as e:
            expect(e.code() in (SC.INVALID_ARGUMENT, SC.INTERNAL, SC.UNKNOWN),
                   "malformed request: %s %r" % (e.code(), e.details()))

    @check("CancelFlightInfo")
    def _():
        info = call("GetFlightInfo", pb.FlightDescriptor(type=1, path=["gold", "generated_null"]))
        info = info.ok("info").messages[0]
        o = action("CancelFlightInfo", pb.CancelFlightInfoRequest(info=info).SerializeToString())
        r = pb.CancelFlightInfoResult.FromString(o.ok("cancel").messages[0].body)
        expect_eq("status", 1, r.status)
        del info.endpoint[:]
        o = action("CancelFlightInfo", pb.CancelFlightInfoRequest(info=info).SerializeToString())
        r = pb.CancelFlightInfoResult.FromString(o.ok("cancel").messages[0].body)
        expect_eq("status without endpoints", 3, r.status)

    @check("RenewFlightEndpoint")
    def _():
        e = pb.FlightEndpoint(ticket=pb.Ticket(ticket=b"gold/x"), app_metadata=b"\x00",
                              location=[pb.Location(uri=LOCATIONS[0])])
        o = action("RenewFlightEndpoint",
                   pb.RenewFlightEndpointRequest(endpoint=e).SerializeToString()).ok("renew")
        expect_eq("results", 1, len(o.messages))
        r = pb.FlightEndpoint.FromString(o.messages[0].body)
        check_timestamp("expiration_time", RENEWED, r.expiration_time)
        expect_eq("the rest", (b"gold/x", b"\x00", [LOCATIONS[0]]),
                  (r.ticket.ticket, r.app_metadata, [loc.uri for loc in r.location]))

    @check("Session options")
    def _():
        req = pb.SetSessionOptionsRequest()
        req.session_options["text"].string_value = "caf\u00e9"
        req.session_options["flag"].bool_value = False
        req.session_options["number"].int64_value = -(2 ** 63)
        req.session_options["ratio"].double_value = -0.0
        req.session_options["list"].string_list_value.values.extend(["a", "", "\u2713"])
        req.session_options["empty-list"].string_list_value.SetInParent()
        req.session_options["bad"].string_value = "x"
        o = action("SetSessionOptions", req.SerializeToString()).ok("set")
        res = pb.SetSessionOptionsResult.FromString(o.messages[0].body)
        expect_eq("errors", {"bad": 1}, {k: v.value for k, v in res.errors.items()})
        unset = pb.SetSessionOptionsRequest()
        unset.session_options["flag"].SetInParent()
        action("SetSessionOptions", unset.SerializeToString()).ok("unset")
        o = action("GetSessionOptions", pb.GetSessionOptionsRequest().SerializeToString())
        got = pb.GetSessionOptionsResult.FromString(o.ok("get").messages[0].body)
        want = {k: v for k, v in req.session_options.items() if k not in ("bad", "flag")}
        expect_eq("options", {k: v.SerializeToString() for k, v in sorted(want.items())},
                  {k: v.SerializeToString() for k, v in sorted(got.session_options.items())})
        o = action("CloseSession", pb.CloseSessionRequest().SerializeToString()).ok("close")
        expect_eq("status", 1, pb.CloseSessionResult.FromString(o.messages[0].body).status)
        o = action("GetSessionOptions", b"").ok("get after close")
        expect_eq("options after close", 0,
                  len(pb.GetSessionOptionsResult.FromString(o.messages[0].body).session_options))

    @check("Concurrent calls")
    def _():
        results = [None] * 8

        def one(i):
            results[i] = call("DoGet", pb.Ticket(ticket=b"gold/generated_nested"), timeout=30)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, o in enumerate(results):
            check_stream("call %d" % i, "generated_nested", o.ok("call %d" % i).messages,
                         lambda k: b"generated_nested:%d" % k)


def int64_schema_message_summary(name):
    return Message(int64_schema_message(name)).schema


# ---- Security mode (tests/interop/README.md, "Security") ----------------------------------

PORTS = parse_ports(ARGS.ports)
TOKEN_SEEN = [None]  # the valid token of the running check: no error message may show it


def channel_for(name, creds=None, options=()):
    """A channel to the named port (None: the plaintext one); TLS with creds."""
    port = PORTS.get(name) if name else ARGS.port
    if not port:
        raise Failed("the server has no port named %s" % name)
    if creds is None:
        return grpc.insecure_channel("%s:%d" % (ARGS.host, port), options=CHANNEL_OPTIONS)
    return grpc.secure_channel("localhost:%d" % port, creds,
                               options=CHANNEL_OPTIONS + list(options))


def response_metadata(o, key):
    """A header or trailer (a call that fails at once may answer with trailers only)."""
    return o.header(key) + o.trailer(key)


def expect_code(what, o, code):
    o.status(what, code)
    if code != SC.OK:
        expect(SECRET not in (o.details or ""), "%s: the message shows the password" % what)
        expect(not TOKEN_SEEN[0] or TOKEN_SEEN[0] not in (o.details or ""),
               "%s: the message shows the token" % what)


def every_rpc(stubs, metadata, code, what, upload):
    """Every RPC kind but Handshake: each must end with `code`, and when that
    is OK the answers are checked too."""
    ok = code == SC.OK
    kw = dict(metadata=metadata, stubs=stubs, timeout=30)
    o = call("ListFlights", pb.Criteria(expression=b"gold/generated_primitive"), **kw)
    expect_code("%s: ListFlights" % what, o, code)
    if ok:
        expect_eq("%s: ListFlights: flights" % what, 3, len(o.messages))
    d = pb.FlightDescriptor(type=1, path=["gold", "generated_primitive"])
    o = call("GetFlightInfo", d, **kw)
    expect_code("%s: GetFlightInfo" % what, o, code)
    if ok:
        check_gold_info("%s: GetFlightInfo" % what, "generated_primitive", o.messages[0])
    o = call("GetSchema", d, **kw)
    expect_code("%s: GetSchema" % what, o, code)
    if ok:
        check_schema_bytes("%s: GetSchema" % what, "generated_primitive", o.messages[0].schema)
    o = call("DoGet", pb.Ticket(ticket=b"gold/generated_primitive"), **kw)
    expect_code("%s: DoGet" % what, o, code)
    if ok:
        check_stream("%s: DoGet" % what, "generated_primitive", o.messages,
                     lambda k: b"generated_primitive:%d" % k)
    header, body = int64_batch(10, 0)
    upload_messages = [
        pb.FlightData(flight_descriptor=pb.FlightDescriptor(type=1, path=["uploads", upload]),
                      data_header=int64_schema_message("n")),
        pb.FlightData(data_header=header, data_body=body, app_metadata=b"m0")]
    o = call("DoPut", iter(upload_messages), **kw)
    expect_code("%s: DoPut" % what, o, code)
    if ok:
        expect_eq("%s: DoPut: acks" % what, [b"ack:0:m0"], [m.app_metadata for m in o.messages])
    o = call("DoExchange", iter([pb.FlightData(flight_descriptor=pb.FlightDescriptor(
        type=2, cmd=b"echo"), app_metadata=b"ping")]), **kw)
    expect_code("%s: DoExchange" % what, o, code)
    if ok:
        expect_eq("%s: DoExchange: echo" % what, [b"ping"], [m.app_metadata for m in o.messages])
    o = action("echo", b"hi", **kw)
    expect_code("%s: DoAction" % what, o, code)
    if ok:
        expect_eq("%s: DoAction echo" % what, [b"hi"], bodies(o))
    o = call("ListActions", pb.Empty(), **kw)
    expect_code("%s: ListActions" % what, o, code)
    if ok:
        expect_eq("%s: ListActions" % what, len(ACTIONS), len(o.messages))


def identity(stubs, metadata=None):
    o = action("identity", metadata=metadata, stubs=stubs, timeout=30).ok("identity")
    expect_eq("identity results", 1, len(o.messages))
    return o.messages[0].body.decode("utf-8")


def expect_no_upload(stubs, metadata, upload):
    """An unauthenticated DoPut must not have run: the upload does not exist."""
    o = call("GetFlightInfo", pb.FlightDescriptor(type=1, path=["uploads", upload]),
             metadata=metadata, stubs=stubs, timeout=30)
    o.status("GetFlightInfo of the refused upload %s" % upload, SC.NOT_FOUND)


def expect_refused(what, ch, pattern=None, any_code=False):
    """A channel that cannot connect: its first call fails (UNAVAILABLE unless any_code)."""
    o = action("echo", b"x", stubs=stubs_of(ch), timeout=20)
    ch.close()
    expect(o.code != SC.OK, "%s: the call succeeded" % what)
    print("  %s: %s: %s" % (what, o.code, o.details), flush=True)
    if not any_code:
        expect_eq("%s: code" % what, SC.UNAVAILABLE, o.code)
    if pattern:
        expect(pattern.lower() in (o.details or "").lower(),
               "%s: the message does not say %r" % (what, pattern))


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def run_security_checks():
    certs = read_certs(ARGS.certs)

    def tls(root=certs["root_ca"], key=None, cert=None):
        return grpc.ssl_channel_credentials(root_certificates=root, private_key=key,
                                            certificate_chain=cert)

    @check("TLS")
    def _():
        ch = channel_for("tls", tls())
        s = stubs_of(ch)
        every_rpc(s, None, SC.OK, "TLS", "tls")
        expect_eq("identity without a client certificate", "", identity(s))
        ch.close()

    @check("TLS wrong CA")
    def _():
        expect_refused("untrusted CA", channel_for("tls", tls(certs["untrusted"])),
                       "certificate verify failed")
        expect_refused("other host name", channel_for(
            "tls", tls(), [("grpc.ssl_target_name_override", "flight.example.com")]))

    @check("TLS plaintext client")
    def _():
        expect_refused("plaintext client", channel_for("tls"), any_code=True)

    @check("mTLS")
    def _():
        ch = channel_for("mtls", tls(certs["root_ca"], certs["cert1_key"], certs["cert1"]))
        s = stubs_of(ch)
        expect_eq("identity", CLIENT_SUBJECT, identity(s))
        every_rpc(s, None, SC.OK, "mTLS", "mtls")
        ch.close()

    @check("mTLS refused")
    def _():
        expect_refused("no client certificate", channel_for("mtls", tls()), any_code=True)
        expect_refused("client certificate of an untrusted CA", channel_for(
            "mtls_wrong_ca", tls(certs["root_ca"], certs["cert1_key"], certs["cert1"])),
            any_code=True)

    @check("Bearer")
    def _():
        ch = channel_for("bearer")
        s = stubs_of(ch)
        hs = call("Handshake", iter(()), metadata=[("authorization", basic(USER, PASSWORD))],
                  stubs=s, timeout=30).ok("Handshake")
        bearer = [v for v in response_metadata(hs, "authorization")
                  if v[:7].lower() == "bearer "]
        expect(bearer, "no 'authorization: Bearer' in the Handshake's response")
        expect(len(bearer[0]) >= 7 + 16, "a short token: %r" % bearer[0])
        TOKEN_SEEN[0] = bearer[0][7:]
        try:
            auth = [("authorization", bearer[0])]
            every_rpc(s, auth, SC.OK, "with the token", "bearer")
            expect_eq("identity", USER, identity(s, auth))
            every_rpc(s, None, SC.UNAUTHENTICATED, "no token", "bearer-refused")
            every_rpc(s, [("authorization", bearer[0] + "x")], SC.UNAUTHENTICATED,
                      "altered token", "bearer-refused")
            every_rpc(s, [("authorization", "Bearer not-a-token")], SC.UNAUTHENTICATED,
                      "made-up token", "bearer-refused")
            expect_no_upload(s, auth, "bearer-refused")
        finally:
            TOKEN_SEEN[0] = None
            ch.close()

    @check("Bearer refused")
    def _():
        ch = channel_for("bearer")
        s = stubs_of(ch)
        for what, md in [("wrong password", [("authorization", basic(USER, WRONG_PASSWORD))]),
                         ("unknown user", [("authorization", basic("nobody", PASSWORD))]),
                         ("no credentials", None)]:
            hs = call("Handshake", iter(()), metadata=md, stubs=s, timeout=30)
            expect_code("Handshake, %s" % what, hs, SC.UNAUTHENTICATED)
            expect(not response_metadata(hs, "authorization"), "%s: a token came back" % what)
        ch.close()

    def login(s, password):
        payload = pb.BasicAuth(username=USER, password=password).SerializeToString()
        return call("Handshake", iter([pb.HandshakeRequest(payload=payload)]), stubs=s,
                    timeout=30)

    @check("Handshake auth")
    def _():
        ch = channel_for("handshake")
        s = stubs_of(ch)
        hs = login(s, PASSWORD).ok("Handshake")
        expect_eq("responses", 1, len(hs.messages))
        token = hs.messages[0].payload
        expect(len(token) >= 16, "a short token: %r" % token)
        TOKEN_SEEN[0] = token.decode("latin-1")
        try:
            auth = [("auth-token-bin", token)]
            every_rpc(s, auth, SC.OK, "with the token", "handshake")
            expect_eq("identity", USER, identity(s, auth))
            every_rpc(s, None, SC.UNAUTHENTICATED, "no token", "handshake-refused")
            altered = bytearray(token)
            altered[len(altered) // 2] ^= 1
            every_rpc(s, [("auth-token-bin", bytes(altered))], SC.UNAUTHENTICATED,
                      "altered token", "handshake-refused")
            expect_no_upload(s, auth, "handshake-refused")
        finally:
            TOKEN_SEEN[0] = None
            ch.close()

    @check("Handshake auth refused")
    def _():
        ch = channel_for("handshake")
        s = stubs_of(ch)
        expect_code("Handshake, wrong password", login(s, WRONG_PASSWORD), SC.UNAUTHENTICATED)
        expect_code("Handshake, no payload", call("Handshake", iter(()), stubs=s, timeout=30),
                    SC.UNAUTHENTICATED)
        ch.close()

    @check("Middleware")
    def _():
        data = b"\x00\xff\x10m\x80"
        o = action("middleware", metadata=[("x-mw-text", "hello, middleware"),
                                           ("x-mw-data-bin", data)], timeout=30).ok("middleware")
        expect_eq("what the server's middleware saw",
                  [b"x-mw-data-bin=" + data, b"x-mw-text=hello, middleware"], bodies(o))
        expect_eq("x-mw-method", ["DoAction"], response_metadata(o, "x-mw-method"))
        expect_eq("x-mw-reply-bin", [data], response_metadata(o, "x-mw-reply-bin"))
        o = call("ListActions", pb.Empty(), timeout=30).ok("ListActions")
        expect_eq("x-mw-method of ListActions", ["ListActions"],
                  response_metadata(o, "x-mw-method"))
        o = call("DoGet", pb.Ticket(ticket=b"no-such-ticket"),
                 metadata=[("x-mw-data-bin", data)], timeout=30)
        o.status("DoGet unknown", SC.NOT_FOUND)
        expect_eq("x-mw-method of a failed call", ["DoGet"], response_metadata(o, "x-mw-method"))
        expect_eq("x-mw-reply-bin of a failed call", [data],
                  response_metadata(o, "x-mw-reply-bin"))
        ch = channel_for("bearer")
        o = action("echo", b"x", stubs=stubs_of(ch), timeout=30)
        ch.close()
        o.status("DoAction without a token", SC.UNAUTHENTICATED)
        expect_eq("x-mw-method of a refused call", ["DoAction"],
                  response_metadata(o, "x-mw-method"))

    @check("Cookies")
    def _():
        cookie = "session=abc123; Max-Age=3600; Path=/"
        o = action("set-cookie", cookie.encode(), timeout=30).ok("set-cookie")
        expect_eq("set-cookie header", [cookie], response_metadata(o, "set-cookie"))
        o = action("cookies", metadata=[("cookie", "session=abc123; theme=dark")],
                   timeout=30).ok("cookies")
        expect_eq("the cookies the server got", [b"session=abc123; theme=dark"], bodies(o))
        expect_eq("no cookies", [b""], bodies(action("cookies", timeout=30).ok("cookies")))


def main():
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
    except grpc.FutureTimeoutError:
        print("FAIL: cannot connect to %s:%d" % (ARGS.host, ARGS.port))
        return 1
    if ARGS.security:
        run_security_checks()
    else:
        run_checks()
    channel.close()
    print("%d checks passed, %d failed" % (passed[0], len(failures)), flush=True)
    return 0 if not failures and passed[0] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
