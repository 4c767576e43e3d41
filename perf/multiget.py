#!/usr/bin/env python3
"""Latency of one connection's multi-key gets: PORT NKEYS ITERATIONS.

Sends "get key:0 ... key:NKEYS-1" ITERATIONS times, one at a time, and
prints the median and 99th percentile round trip. perf/compare-multiget.sh
runs it against builds side by side.
"""
import socket
import sys
import time

port, nkeys, iters = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
req = ("get " + " ".join("key:%d" % i for i in range(nkeys)) + "\r\n").encode()
lat = []
hits = 0
for _ in range(iters):
    t = time.perf_counter()
    s.sendall(req)
    hits = 0
    while True:
        line = f.readline()
        if not line:
            sys.exit("multiget: connection closed")
        if line == b"END\r\n":
            break
        if not line.startswith(b"VALUE"):
            sys.exit("multiget: unexpected reply %r" % line)
        hits += 1
        f.readline()
    lat.append(time.perf_counter() - t)
lat.sort()
print("keys %d hits %d median %.2f ms p99 %.2f ms" % (
    nkeys, hits, 1000 * lat[len(lat) // 2], 1000 * lat[int(len(lat) * 0.99)]))
