"""A gRPC server on grpcio (gRPC core's HTTP/2) for interop tests of the
cflight transport's client. Methods under /test.Echo/ take and return raw
bytes (no protobuf): generic handlers with identity serializers.

Prints "PORTS <plain> <tls> <mtls>" on stdout once listening, then serves
until stdin closes (the test closes it, or dies).

  /usr/bin/python3 grpc_peer_server.py <certs dir>
"""
import struct
import sys
import threading
import time
from concurrent import futures

import grpc

CERTS = sys.argv[1] if len(sys.argv) > 1 else "."
last_cancel = {"value": "none"}


def _echo_metadata(context):
    md = context.invocation_metadata()
    headers = [(k, v) for k, v in md if k.startswith("x-echo")]
    trailers = [("x-trailer-" + k[2:], v) for k, v in md if k.startswith("x-echo")]
    return dict(md), headers, trailers


def unary(request, context):
    md, headers, trailers = _echo_metadata(context)
    if headers:
        context.send_initial_metadata(headers)
    status = int(md.get("x-reply-status", "0"))
    if status:
        message = md.get("x-reply-message-bin", b"").decode("utf-8")
        details = md.get("x-reply-details-bin")
        if details is not None:
            trailers.append(("grpc-status-details-bin", details))
        context.set_trailing_metadata(trailers)
        context.set_code(grpc.StatusCode(_code(status)))
        context.set_details(message)
        return b""
    context.set_trailing_metadata(trailers)
    return request


def _code(n):
    for c in grpc.StatusCode:
        if c.value[0] == n:
            return c.value
    raise ValueError(n)


def server_stream(request, context):
    count, size = struct.unpack("<II", request[:8])
    for k in range(count):
        yield bytes((i + k) & 255 for i in range(size)) if size <= 4096 else bytes([k & 255]) * size


def client_stream(request_iterator, context):
    total = n = 0
    for r in request_iterator:
        total += len(r)
        n += 1
    return struct.pack("<QQ", total, n)


def bidi(request_iterator, context):
    for r in request_iterator:
        yield r


def wait(request, context):
    done = threading.Event()

    def on_done():
        last_cancel["value"] = "cancelled" if not context.is_active() else "done"
        done.set()

    context.add_callback(on_done)
    while context.is_active():
        time.sleep(0.01)
    done.wait(5)
    return b""


def last_cancel_method(request, context):
    return last_cancel["value"].encode()


def deadline(request, context):
    remaining = context.time_remaining()
    return ("none" if remaining is None else "%.3f" % remaining).encode()


def compressed(request, context):
    # Asks for gzip; gRPC core must not use it: our client accepts identity only.
    context.set_compression(grpc.Compression.Gzip)
    return request * 100


def server_cancel(request, context):
    context.abort(grpc.StatusCode.CANCELLED, "cancelled by the server handler")


def peer(request, context):
    auth = context.auth_context()
    cn = auth.get("x509_common_name", [b"-"])[0].decode()
    return ("%s|%s" % (context.peer(), cn)).encode()


def handlers():
    return grpc.method_handlers_generic_handler(
        "test.Echo",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
            "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
            "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
            "Wait": grpc.unary_unary_rpc_method_handler(wait),
            "LastCancel": grpc.unary_unary_rpc_method_handler(last_cancel_method),
            "Deadline": grpc.unary_unary_rpc_method_handler(deadline),
            "Compressed": grpc.unary_unary_rpc_method_handler(compressed),
            "ServerCancel": grpc.unary_unary_rpc_method_handler(server_cancel),
            "Peer": grpc.unary_unary_rpc_method_handler(peer),
        },
    )


def read(name):
    with open("%s/%s" % (CERTS, name), "rb") as f:
        return f.read()


def main():
    options = [
        ("grpc.max_receive_message_length", -1),
        ("grpc.max_send_message_length", -1),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=options)
    server.add_generic_rpc_handlers((handlers(),))
    plain = server.add_insecure_port("127.0.0.1:0")
    key, cert, ca = read("cert0.key"), read("cert0.pem"), read("root-ca.pem")
    tls = server.add_secure_port("localhost:0", grpc.ssl_server_credentials([(key, cert)]))
    mtls = server.add_secure_port(
        "localhost:0",
        grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True),
    )
    server.start()
    print("PORTS %d %d %d" % (plain, tls, mtls), flush=True)
    sys.stdin.read()  # until the test closes our stdin
    server.stop(0)


if __name__ == "__main__":
    main()
