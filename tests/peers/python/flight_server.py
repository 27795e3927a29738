"""A Flight server on grpcio (gRPC core's HTTP/2) implementing the test
service of tests/interop/README.md at the protocol level, for cflight's
client to check. Datasets are the gold .stream files replayed message by
message (bytes as they are); uploads are kept and replayed as received.

  /usr/bin/python3 flight_server.py [--port N] [--gold DIR] [--exit-on-eof]
                                   [--security [--certs DIR]]

Prints the port on stdout first thing, then serves until SIGTERM/SIGINT,
or with --exit-on-eof until stdin closes. With --security it serves the
README's security configuration (TLS, mutual TLS, header and handshake
authentication as a grpc.ServerInterceptor, middleware headers) and prints
its ports as "PORT NAME=PORT ...".
"""
import base64
import os
import secrets
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

from flight_common import (ACTIONS, CHANNEL_OPTIONS, DATASETS, DETAILS, DETAILS_MESSAGE,
                           ENDLESS_ROWS, EXPIRATION, LARGE_ROWS, LOCATIONS, METHODS, PASSWORD,
                           RENEWED, SECURITY_PORTS, SERVICE, USER, IpcError, Message,
                           default_certs, frame, int64_batch, int64_schema_message, load_gold,
                           parse_args, pb, read_certs)

ARGS = parse_args(sys.argv[1:], exit_on_eof=False, security=False, certs=default_certs())
CODES = {c.value[0]: c for c in grpc.StatusCode}


class State:
    def __init__(self):
        self.lock = threading.Condition()
        self.datasets = {name: load_gold(ARGS.gold, name) for name in DATASETS}
        self.uploads = {}  # X -> [FlightData] as received (the descriptor dropped)
        self.probes = {}
        self.session = {}  # name -> SessionOptionValue

    def set_probe(self, name, value):
        with self.lock:
            self.probes[name] = value
            self.lock.notify_all()

    def take_probe(self, name, timeout):
        with self.lock:
            self.lock.wait_for(lambda: name in self.probes, timeout)
            return self.probes.pop(name, "unset")


STATE = State()


class Abort(Exception):
    def __init__(self, code, message, trailers=()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.trailers = list(trailers)


# ---- Every call: x-echo-* headers back as headers and trailers -------------------------

def _echo(context):
    md = context.invocation_metadata()
    headers = [(k, v) for k, v in md if k.startswith("x-echo-")]
    trailers = [("x-trailer-" + k[len("x-echo-"):], v) for k, v in headers]
    return headers, trailers


def _middleware_headers(method, request, context):
    """Security mode: what the README's middleware adds to the response headers."""
    if not ARGS.security:
        return []
    out = [("x-mw-method", method)]
    out += [("x-mw-reply-bin", v) for k, v in context.invocation_metadata()
            if k == "x-mw-data-bin"][:1]
    if method == "DoAction" and request.type == "set-cookie":
        out.append(("set-cookie", request.body.decode("utf-8")))
    return out


def _finish(context, trailers, error):
    if error is None:
        context.set_trailing_metadata(trailers)
        return
    context.set_trailing_metadata(trailers + error.trailers)
    context.abort(CODES[error.code] if error.code in CODES else grpc.StatusCode.UNKNOWN,
                  error.message)


def unary(fn, method):
    def handler(request, context):
        headers, trailers = _echo(context)
        context.send_initial_metadata(headers + _middleware_headers(method, request, context))
        try:
            response = fn(request, context)
        except Abort as e:
            _finish(context, trailers, e)
        except IpcError as e:
            _finish(context, trailers, Abort(3, str(e)))
        _finish(context, trailers, None)
        return response
    return handler


def streaming(fn, method):
    def handler(request, context):
        headers, trailers = _echo(context)
        context.send_initial_metadata(headers + _middleware_headers(method, request, context))
        try:
            for response in fn(request, context):
                yield response
        except Abort as e:
            _finish(context, trailers, e)
        except IpcError as e:
            _finish(context, trailers, Abort(3, str(e)))
        _finish(context, trailers, None)
    return handler


def _ended_by(context):
    # A client whose deadline passes resets the stream, which can reach us a
    # little before our own copy of the deadline passes.
    remaining = context.time_remaining()
    return "deadline" if remaining is not None and remaining <= 0.1 else "cancelled"


# ---- Flights ------------------------------------------------------------------------

def _schema_message(messages):
    for m in messages:
        if m.type == "Schema":
            return m
    raise Abort(3, "no schema")


def gold_info(name):
    msgs = STATE.datasets[name]
    endpoint = pb.FlightEndpoint(
        ticket=pb.Ticket(ticket=("gold/" + name).encode()),
        location=[pb.Location(uri=u) for u in LOCATIONS],
        app_metadata=("endpoint:" + name).encode())
    endpoint.expiration_time.seconds, endpoint.expiration_time.nanos = EXPIRATION
    return pb.FlightInfo(
        schema=frame(_schema_message(msgs).header),
        flight_descriptor=pb.FlightDescriptor(type=1, path=["gold", name]),
        endpoint=[endpoint], total_records=sum(m.rows for m in msgs if m.type == "RecordBatch"),
        total_bytes=-1, ordered=True, app_metadata=("info:" + name).encode())


def upload_info(name):
    msgs = [Message(fd.data_header) for fd in STATE.uploads[name] if fd.data_header]
    return pb.FlightInfo(
        schema=frame(_schema_message(msgs).header),
        flight_descriptor=pb.FlightDescriptor(type=1, path=["uploads", name]),
        endpoint=[pb.FlightEndpoint(ticket=pb.Ticket(ticket=("uploads/" + name).encode()))],
        total_records=sum(m.rows for m in msgs if m.type == "RecordBatch"),
        total_bytes=-1, ordered=True)


def find_flight(d, context=None):
    if d.type == 1 and len(d.path) == 2:
        if d.path[0] == "gold" and d.path[1] in STATE.datasets:
            return gold_info(d.path[1])
        with STATE.lock:
            if d.path[0] == "uploads" and d.path[1] in STATE.uploads:
                return upload_info(d.path[1])
    raise Abort(5, "unknown flight: %s %r %r" % (d.type, list(d.path), d.cmd))


def handshake(requests, context):
    for req in requests:
        if req.payload == b"bad":
            raise Abort(16, "bad handshake payload")
        yield pb.HandshakeResponse(protocol_version=req.protocol_version + 1,
                                   payload=b"hs:" + req.payload)


def list_flights(criteria, context):
    for name in sorted(STATE.datasets):
        if ("gold/" + name).encode().startswith(criteria.expression):
            yield gold_info(name)


def poll_flight_info(d, context):
    cmd = d.cmd.decode("utf-8", "replace") if d.type == 2 else ""
    done = cmd.endswith(":done")
    name = cmd[len("poll:"):len(cmd) - (len(":done") if done else 0)]
    if not cmd.startswith("poll:") or name not in STATE.datasets:
        raise Abort(5, "unknown query %r" % cmd)
    if done:
        return pb.PollInfo(info=gold_info(name), progress=1.0)
    p = pb.PollInfo(
        info=pb.FlightInfo(schema=frame(_schema_message(STATE.datasets[name]).header),
                           flight_descriptor=pb.FlightDescriptor(type=2, cmd=d.cmd),
                           total_records=-1, total_bytes=-1, ordered=False,
                           app_metadata=b"pending"),
        flight_descriptor=pb.FlightDescriptor(type=2, cmd=d.cmd + b":done"), progress=0.5)
    p.expiration_time.seconds, p.expiration_time.nanos = EXPIRATION
    return p


def _int64_stream(name, batches, context, probe):
    """The `endless` stream: batch k holds n = 1000k + i, app_metadata endless:k."""
    state = {"done": False}
    if probe:
        def on_end():
            if not state["done"]:
                STATE.set_probe(probe, _ended_by(context))
        context.add_callback(on_end)
    yield pb.FlightData(data_header=int64_schema_message(name))
    for k in range(batches):
        if not context.is_active():
            return
        header, body = int64_batch(ENDLESS_ROWS, k * ENDLESS_ROWS)
        yield pb.FlightData(data_header=header, data_body=body,
                            app_metadata=b"endless:%d" % k)
        time.sleep(0.01)
    state["done"] = True
    if probe:
        STATE.set_probe(probe, "completed")


def do_get(ticket, context):
    t = ticket.ticket.decode("utf-8", "replace")
    if t.startswith("gold/") and t[5:] in STATE.datasets:
        name = t[5:]
        k = 0
        for m in STATE.datasets[name]:
            md = b""
            if m.type == "RecordBatch":
                md = ("%s:%d" % (name, k)).encode()
                k += 1
            yield pb.FlightData(data_header=m.header, data_body=m.body, app_metadata=md)
    elif t.startswith("uploads/"):
        with STATE.lock:
            upload = STATE.uploads.get(t[8:])
        if upload is None:
            raise Abort(5, "unknown upload %r" % t)
        for fd in upload:
            yield fd
    elif t == "large":
        yield pb.FlightData(data_header=int64_schema_message("data"))
        header, body = int64_batch(LARGE_ROWS, 0)
        yield pb.FlightData(data_header=header, data_body=body, app_metadata=b"large")
    elif t == "endless":
        yield from _int64_stream("n", 3000, context, "endless")
    elif t == "server-cancel":
        yield from _int64_stream("n", 2, context, None)
        raise Abort(1, "cancelled by the server")
    else:
        raise Abort(5, "unknown ticket %r" % t)


def do_put(requests, context):
    received = []
    name = None
    k = 0
    for fd in requests:
        if not received:
            d = fd.flight_descriptor
            if not fd.HasField("flight_descriptor") or d.type != 1 or len(d.path) != 2 \
                    or d.path[0] != "uploads":
                raise Abort(3, "DoPut wants PATH [uploads, X], got %s" % d)
            name = d.path[1]
        m = Message(fd.data_header) if fd.data_header else None
        if m is not None:
            Message(fd.data_header, fd.data_body).check_body()
        received.append(pb.FlightData(data_header=fd.data_header, data_body=fd.data_body,
                                      app_metadata=fd.app_metadata))
        if m is None or m.type == "RecordBatch":
            yield pb.PutResult(app_metadata=b"ack:%d:" % k + fd.app_metadata)
            k += 1
    if name is not None:
        with STATE.lock:
            STATE.uploads[name] = received


def do_exchange(requests, context):
    first = True
    for fd in requests:
        if first:
            d = fd.flight_descriptor
            if d.type != 2 or d.cmd != b"echo":
                raise Abort(3, "unknown exchange %s" % d)
            first = False
        yield pb.FlightData(data_header=fd.data_header, data_body=fd.data_body,
                            app_metadata=fd.app_metadata)


def _failure(text):
    code, _, message = text.partition(":")
    return Abort(int(code), message)


def do_action(action, context):
    kind = action.type
    body = action.body
    if ARGS.security and kind in SECURITY_ACTIONS:
        for r in SECURITY_ACTIONS[kind](action, context):
            yield pb.Result(body=r)
    elif kind == "echo":
        yield pb.Result(body=body)
    elif kind == "count":
        for i in range(int(body or b"0")):
            yield pb.Result(body=str(i).encode())
    elif kind == "fail":
        raise _failure(body.decode("utf-8"))
    elif kind == "fail-details":
        raise Abort(9, DETAILS_MESSAGE, [("grpc-status-details-bin", DETAILS)])
    elif kind == "fail-after":
        n, _, rest = body.decode("utf-8").partition(":")
        for i in range(int(n)):
            yield pb.Result(body=str(i).encode())
        raise _failure(rest)
    elif kind == "headers":
        out = []
        for k, v in context.invocation_metadata():
            if k.startswith("x-") or k in ("authorization", "auth-token-bin"):
                out.append(k.encode() + b"=" + (v if isinstance(v, bytes) else v.encode()))
        for r in sorted(out):
            yield pb.Result(body=r)
    elif kind == "sleep":
        state = {"done": False}

        def on_end():
            if not state["done"]:
                STATE.set_probe("sleep", _ended_by(context))
        context.add_callback(on_end)
        end = time.monotonic() + int(body) / 1000.0
        while time.monotonic() < end and context.is_active():
            time.sleep(min(0.01, max(0.0, end - time.monotonic())))
        if not context.is_active():
            return
        state["done"] = True
        STATE.set_probe("sleep", "completed")
        yield pb.Result(body=b"slept")
    elif kind == "deadline":
        remaining = context.time_remaining()
        # grpcio gives None or a time centuries away when there is no deadline.
        none = remaining is None or remaining > 1e9
        yield pb.Result(body=b"none" if none else b"%d" % int(remaining * 1000))
    elif kind == "probe":
        yield pb.Result(body=STATE.take_probe(body.decode(), 5.0).encode())
    elif kind == "CancelFlightInfo":
        req = pb.CancelFlightInfoRequest.FromString(body)
        ok = len(req.info.endpoint) > 0 and req.info.endpoint[0].ticket.ticket.startswith(b"gold/")
        yield pb.Result(body=pb.CancelFlightInfoResult(status=1 if ok else 3).SerializeToString())
    elif kind == "RenewFlightEndpoint":
        req = pb.RenewFlightEndpointRequest.FromString(body)
        e = req.endpoint
        e.expiration_time.seconds, e.expiration_time.nanos = RENEWED
        yield pb.Result(body=e.SerializeToString())
    elif kind == "SetSessionOptions":
        req = pb.SetSessionOptionsRequest.FromString(body)
        res = pb.SetSessionOptionsResult()
        with STATE.lock:
            for name, value in req.session_options.items():
                if name.startswith("bad"):
                    res.errors[name].value = 1
                elif value.WhichOneof("option_value") is None:
                    STATE.session.pop(name, None)
                else:
                    STATE.session[name] = value
        yield pb.Result(body=res.SerializeToString())
    elif kind == "GetSessionOptions":
        pb.GetSessionOptionsRequest.FromString(body)
        res = pb.GetSessionOptionsResult()
        with STATE.lock:
            for name, value in STATE.session.items():
                res.session_options[name].CopyFrom(value)
        yield pb.Result(body=res.SerializeToString())
    elif kind == "CloseSession":
        pb.CloseSessionRequest.FromString(body)
        with STATE.lock:
            STATE.session.clear()
        yield pb.Result(body=pb.CloseSessionResult(status=1).SerializeToString())
    else:
        raise Abort(12, "unknown action %r" % kind)


def list_actions(empty, context):
    for t, d in ACTIONS:
        yield pb.ActionType(type=t, description=d)


IMPLEMENTATIONS = {
    "Handshake": (streaming, handshake),
    "ListFlights": (streaming, list_flights),
    "GetFlightInfo": (unary, find_flight),
    "PollFlightInfo": (unary, poll_flight_info),
    "GetSchema": (unary, lambda d, c: pb.SchemaResult(schema=find_flight(d, c).schema)),
    "DoGet": (streaming, do_get),
    "DoPut": (streaming, do_put),
    "DoExchange": (streaming, do_exchange),
    "DoAction": (streaming, do_action),
    "ListActions": (streaming, list_actions),
}

KINDS = {(False, False): grpc.unary_unary_rpc_method_handler,
         (False, True): grpc.unary_stream_rpc_method_handler,
         (True, True): grpc.stream_stream_rpc_method_handler}


def handlers(overrides=None):
    out = {}
    for method, (req, resp, req_stream, resp_stream) in METHODS.items():
        wrap, fn = IMPLEMENTATIONS[method]
        behavior = (overrides or {}).get(method) or wrap(fn, method)
        out[method] = KINDS[(req_stream, resp_stream)](
            behavior, request_deserializer=getattr(pb, req).FromString,
            response_serializer=getattr(pb, resp).SerializeToString)
    return grpc.method_handlers_generic_handler(SERVICE, out)


# ---- Security mode (tests/interop/README.md, "Security") -------------------------------

TOKENS = {}  # token (bytes) -> user, for the bearer and handshake ports


def issue_token(user):
    token = base64.b64encode(secrets.token_bytes(24))
    TOKENS[token] = user
    return token


def token_user(metadata):
    """The user of a call's bearer token or auth-token-bin, or None."""
    for k, v in metadata:
        if k == "authorization" and v[:7].lower() == "bearer ":
            user = TOKENS.get(v[7:].lstrip(" ").encode("latin-1"))
            if user is not None:
                return user
        if k == "auth-token-bin" and v in TOKENS:
            return TOKENS[v]
    return None


def basic_credentials(metadata):
    """'authorization: Basic base64(user:password)' -> (user, password), or None."""
    for k, v in metadata:
        if k == "authorization" and v[:6].lower() == "basic ":
            try:
                text = base64.b64decode(v[6:].strip(), validate=True).decode("utf-8")
            except ValueError:
                return None
            user, colon, password = text.partition(":")
            return (user, password) if colon else None
    return None


def _identity(action, context):
    user = token_user(context.invocation_metadata())
    if user is None:
        subject = context.auth_context().get("x509_subject")
        user = subject[0].decode() if subject else ""
    return [user.encode()]


SECURITY_ACTIONS = {
    "identity": _identity,
    "middleware": lambda a, c: sorted(k.encode() + b"=" + (v if isinstance(v, bytes) else v.encode())
                                      for k, v in c.invocation_metadata()
                                      if k.startswith("x-mw-")),
    "set-cookie": lambda a, c: [b"set"],  # the header comes from _middleware_headers
    "cookies": lambda a, c: ["; ".join(v for k, v in c.invocation_metadata()
                                       if k == "cookie").encode()],
}


def bearer_handshake(requests, context):
    """Handshake on the bearer port: Basic credentials in, a bearer token out
    (in the response headers), as Arrow's servers do."""
    md = context.invocation_metadata()
    headers = _middleware_headers("Handshake", None, context)
    creds = basic_credentials(md)
    if creds is None and token_user(md) is not None:
        context.send_initial_metadata(headers)
    elif creds != (USER, PASSWORD):
        context.set_trailing_metadata(headers)
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid username or password")
    else:
        token = issue_token(creds[0]).decode()
        context.send_initial_metadata(headers + [("authorization", "Bearer " + token)])
    for _ in requests:
        pass
    return iter(())


def basic_auth_handshake(requests, context):
    """Handshake on the handshake port: a BasicAuth payload in, a token out."""
    context.send_initial_metadata(_middleware_headers("Handshake", None, context))
    done = False
    for req in requests:
        if done:
            continue
        try:
            auth = pb.BasicAuth.FromString(req.payload)
        except Exception:  # noqa: BLE001 (any parse error)
            auth = None
        if auth is None or (auth.username, auth.password) != (USER, PASSWORD):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid username or password")
        done = True
        yield pb.HandshakeResponse(protocol_version=0, payload=issue_token(auth.username))
    if not done:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "no BasicAuth payload")


class AuthInterceptor(grpc.ServerInterceptor):
    """Refuses calls without a valid token before any handler runs."""

    def __init__(self, mode):
        self.mode = mode

    def intercept_service(self, continuation, details):
        method = details.method.rsplit("/", 1)[-1]
        if method == "Handshake" or method not in METHODS or \
                token_user(details.invocation_metadata) is not None:
            return continuation(details)
        mode = self.mode

        def refuse(request, context):
            context.set_trailing_metadata([("x-mw-method", method)])
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "%s: no valid token" % mode)
        _, _, req_stream, resp_stream = METHODS[method]
        return KINDS[(req_stream, resp_stream)](refuse)


def start_security():
    c = read_certs(ARGS.certs)
    pair = [(c["cert0_key"], c["cert0"])]
    creds = {
        "tls": grpc.ssl_server_credentials(pair),
        "mtls": grpc.ssl_server_credentials(pair, root_certificates=c["root_ca"],
                                            require_client_auth=True),
        "mtls_wrong_ca": grpc.ssl_server_credentials(pair, root_certificates=c["untrusted"],
                                                     require_client_auth=True),
    }
    servers, ports = [], []
    for mode in [""] + SECURITY_PORTS:
        auth = mode in ("bearer", "handshake")
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=CHANNEL_OPTIONS,
                             interceptors=[AuthInterceptor(mode)] if auth else [])
        overrides = {"bearer": {"Handshake": bearer_handshake},
                     "handshake": {"Handshake": basic_auth_handshake}}.get(mode)
        server.add_generic_rpc_handlers((handlers(overrides),))
        address = "%s:%d" % (ARGS.host, ARGS.port if mode == "" else 0)
        ports.append(server.add_secure_port(address, creds[mode]) if mode in creds
                     else server.add_insecure_port(address))
        server.start()
        servers.append(server)
    print(" ".join([str(ports[0])] + ["%s=%d" % (m, p) for m, p in zip(SECURITY_PORTS, ports[1:])]),
          flush=True)
    return servers


def main():
    if ARGS.security:
        servers = start_security()
    else:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=CHANNEL_OPTIONS)
        server.add_generic_rpc_handlers((handlers(),))
        port = server.add_insecure_port("%s:%d" % (ARGS.host, ARGS.port))
        server.start()
        print(port, flush=True)
        servers = [server]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if ARGS.exit_on_eof:
        def watch_stdin():
            while os.read(0, 4096):
                pass
            stop.set()
        threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop.wait(0.5):
        pass
    for server in servers:
        server.stop(0)


if __name__ == "__main__":
    main()
