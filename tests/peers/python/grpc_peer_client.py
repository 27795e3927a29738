"""A gRPC client on grpcio (gRPC core's HTTP/2) for interop tests of the
cflight transport's server, which runs the test service of
tests/transport/tutil.c. Exits 0 when every check passed.

  /usr/bin/python3 grpc_peer_client.py <plain port> <tls port> <mtls port> <certs dir>
"""
import struct
import sys
import time

import grpc

PLAIN, TLS, MTLS = (int(a) for a in sys.argv[1:4])
CERTS = sys.argv[4]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("  FAIL:", what, flush=True)


def read(name):
    with open("%s/%s" % (CERTS, name), "rb") as f:
        return f.read()


OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


def calls(channel):
    return (
        channel.unary_unary("/test.Echo/Unary"),
        channel.unary_stream("/test.Echo/ServerStream"),
        channel.stream_unary("/test.Echo/ClientStream"),
        channel.stream_stream("/test.Echo/Bidi"),
    )


def test_kinds(channel):
    unary, server_stream, client_stream, bidi = calls(channel)
    check(unary(b"hello", timeout=10) == b"hello", "unary echo")
    check(unary(b"", timeout=10) == b"", "empty message")
    big = bytes(range(256)) * (64 * 4096)  # 64 MiB
    check(unary(big, timeout=60) == big, "64 MiB echo")
    msgs = list(server_stream(struct.pack("<II", 50, 1000), timeout=10))
    check(len(msgs) == 50, "server stream count")
    check(all(m == bytes((i + k) & 255 for i in range(1000)) for k, m in enumerate(msgs)),
          "server stream content")
    reply = client_stream(iter([b"a" * n for n in range(0, 5000, 100)]), timeout=10)
    total, n = struct.unpack("<QQ", reply)
    check(total == sum(range(0, 5000, 100)) and n == 50, "client stream totals")
    out = list(bidi(iter([b"m%d" % i for i in range(20)]), timeout=10))
    check(out == [b"m%d" % i for i in range(20)], "bidi echo")


def test_status(channel):
    unary = channel.unary_unary("/test.Echo/Unary")
    message = "d\u00e9j\u00e0 vu: 100% \u2713 \"quoted\"\nline"
    details = b"\x00\x01\xff,="
    md = (
        ("x-reply-status", "9"),
        ("x-reply-message-bin", message.encode()),
        ("x-reply-details-bin", details),
        ("x-echo-text", "plain"),
        ("x-echo-data-bin", b"\x00\xff, \n"),
    )
    try:
        unary.with_call(b"x", metadata=md, timeout=10)
        check(False, "status: expected an error")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.FAILED_PRECONDITION, "status code %s" % e.code())
        check(e.details() == message, "status message %r" % e.details())
        initial = dict(e.initial_metadata())
        trailing = dict(e.trailing_metadata())
        check(initial.get("x-echo-text") == "plain", "initial text metadata %r" % initial)
        check(initial.get("x-echo-data-bin") == b"\x00\xff, \n", "initial binary metadata")
        check(trailing.get("x-trailer-echo-data-bin") == b"\x00\xff, \n", "binary trailer")
        check(trailing.get("grpc-status-details-bin") == details, "status details %r" % trailing)
    for code in (1, 2, 3, 5, 7, 8, 12, 13, 14, 16):
        try:
            unary(b"x", metadata=(("x-reply-status", str(code)),), timeout=10)
            check(False, "code %d: expected an error" % code)
        except grpc.RpcError as e:
            check(e.code().value[0] == code, "code %d came back as %s" % (code, e.code()))
    resp, call = unary.with_call(b"ok", metadata=(("x-echo-a", "1"),), timeout=10)
    check(resp == b"ok", "ok reply")
    check(dict(call.initial_metadata()).get("x-echo-a") == "1", "initial metadata on success")
    check(dict(call.trailing_metadata()).get("x-trailer-echo-a") == "1", "trailer on success")
    try:
        channel.unary_unary("/test.Echo/Missing")(b"x", timeout=10)
        check(False, "unknown method: expected an error")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNIMPLEMENTED, "unknown method code %s" % e.code())


def test_deadline_and_cancel(channel):
    wait = channel.unary_unary("/test.Echo/Wait")
    start = time.monotonic()
    try:
        wait(b"x", timeout=0.3)
        check(False, "deadline: expected an error")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, "deadline code %s" % e.code())
    print("  deadline 300 ms came after %.0f ms" % ((time.monotonic() - start) * 1000))
    result = channel.unary_unary("/test.Echo/WaitResult")
    for _ in range(200):
        r = result(b"", timeout=10)
        if r != b"-1":
            break
        time.sleep(0.01)
    check(r in (b"4", b"1"), "server saw the deadline: %r" % r)
    # Cancellation by the client reaches the handler.
    result(b"reset", timeout=10)
    future = wait.future(b"x", timeout=30)
    time.sleep(0.2)
    future.cancel()
    for _ in range(200):
        r = result(b"", timeout=10)
        if r != b"-1":
            break
        time.sleep(0.01)
    check(r == b"1", "server saw the cancellation: %r" % r)
    try:
        channel.unary_unary("/test.Echo/ServerCancel")(b"x", timeout=10)
        check(False, "server cancel: expected an error")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.CANCELLED, "server cancel code %s" % e.code())


def test_compression(port):
    with grpc.insecure_channel("127.0.0.1:%d" % port, compression=grpc.Compression.Gzip) as ch:
        try:
            ch.unary_unary("/test.Echo/Unary")(b"compress me " * 100, timeout=10)
            check(False, "gzip request: expected UNIMPLEMENTED")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.UNIMPLEMENTED, "gzip request code %s" % e.code())
            print("  gzip request refused: %s" % e.details())


def test_tls():
    ca, cert1, key1 = read("root-ca.pem"), read("cert1.pem"), read("cert1.key")
    creds = grpc.ssl_channel_credentials(root_certificates=ca)
    with grpc.secure_channel("localhost:%d" % TLS, creds, options=OPTIONS) as ch:
        check(ch.unary_unary("/test.Echo/Unary")(b"tls", timeout=10) == b"tls", "TLS unary")
        peer = ch.unary_unary("/test.Echo/Peer")(b"", timeout=10)
        check(peer.endswith(b"|-|-"), "TLS peer without client certificate: %r" % peer)
        big = b"\x07" * (16 << 20)
        check(ch.unary_unary("/test.Echo/Unary")(big, timeout=30) == big, "TLS 16 MiB")
    creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key1,
                                         certificate_chain=cert1)
    with grpc.secure_channel("localhost:%d" % MTLS, creds, options=OPTIONS) as ch:
        peer = ch.unary_unary("/test.Echo/Peer")(b"", timeout=10)
        check(b"CN=localhost" in peer and peer.endswith(b"|pem"), "mTLS peer: %r" % peer)
    creds = grpc.ssl_channel_credentials(root_certificates=ca)
    with grpc.secure_channel("localhost:%d" % MTLS, creds, options=OPTIONS) as ch:
        try:
            ch.unary_unary("/test.Echo/Unary")(b"x", timeout=10)
            check(False, "mTLS without a client certificate: expected an error")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.UNAVAILABLE, "mTLS without cert: %s" % e.code())


def main():
    with grpc.insecure_channel("127.0.0.1:%d" % PLAIN, options=OPTIONS) as ch:
        for t in (test_kinds, test_status, test_deadline_and_cancel):
            print("python client ->", t.__name__, flush=True)
            t(ch)
    print("python client -> test_compression", flush=True)
    test_compression(PLAIN)
    print("python client -> test_tls", flush=True)
    test_tls()
    print("python client: %d failure(s)" % len(failures), flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
