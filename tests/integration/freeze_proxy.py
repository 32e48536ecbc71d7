#!/usr/bin/env python3
"""freeze_proxy.py - a loopback TCP proxy for the tests that freeze the
network: forwards 127.0.0.1:<port it picks> to HOST:PORT, one thread pair
per connection, and writes its port to PORTFILE once it listens.

The test freezes the "network" with SIGSTOP on this process: connections
stay open and the kernel still accepts new ones, but not a byte moves, as
with a peer that silently drops packets.  SIGCONT thaws it; the test
stops it by pid.

    freeze_proxy.py HOST PORT PORTFILE
"""
import os
import socket
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    host, port, portfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, portfile)
    while True:
        client, _ = ls.accept()
        try:
            upstream = socket.create_connection((host, port))
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    main()
