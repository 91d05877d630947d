"""Connection probes run inside a container's network namespace (nsenter -n), for
test/compose-engine.spec.ts. Reads a JSON list of checks on stdin and prints one JSON result per
check, in order. A check names a `host` (asked of Docker's embedded DNS at 127.0.0.11, as the
container's own resolver would, type A, the first answer used) or an `ip`, and a `port`; with
`path` it sends an HTTP/1.0 GET and reports the status line. Checks run in parallel, each bounded
by `timeout` seconds (default 3)."""
import json
import random
import socket
import struct
import sys
from concurrent.futures import ThreadPoolExecutor

DNS = ("127.0.0.11", 53)


def resolve(name, timeout):
    query_id = random.randint(0, 0xFFFF)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, DNS)
        data, _ = sock.recvfrom(4096)
    (_, flags, _, answers, _, _) = struct.unpack(">HHHHHH", data[:12])
    rcode = flags & 0xF
    offset = 12 + len(question) + 4
    found = []
    for _ in range(answers):
        if data[offset] & 0xC0 == 0xC0:
            offset += 2
        else:
            while data[offset] != 0:
                offset += data[offset] + 1
            offset += 1
        rtype, _, ttl, length = struct.unpack(">HHIH", data[offset:offset + 10])
        offset += 10
        if rtype == 1:
            found.append({"address": socket.inet_ntoa(data[offset:offset + length]), "ttl": ttl})
        offset += length
    return rcode, found


def check(spec):
    timeout = spec.get("timeout", 3)
    result = {"check": spec}
    address = spec.get("ip")
    try:
        if address is None:
            rcode, answers = resolve(spec["host"], timeout)
            result["rcode"] = rcode
            result["answers"] = answers
            if not answers:
                result["error"] = "no address"
                return result
            address = answers[0]["address"]
        result["address"] = address
        with socket.create_connection((address, spec["port"]), timeout=timeout) as conn:
            result["connected"] = True
            if "path" in spec:
                conn.settimeout(timeout)
                host = spec.get("host", address)
                conn.sendall(f"GET {spec['path']} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                result["status"] = conn.recv(64).split(b"\r\n")[0].decode(errors="replace")
    except OSError as error:
        result["error"] = f"{type(error).__name__}: {error}"
    return result


def main():
    checks = json.load(sys.stdin)
    with ThreadPoolExecutor(max_workers=32) as pool:
        print(json.dumps(list(pool.map(check, checks))))


main()
