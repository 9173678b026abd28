#!/usr/bin/env python3
"""Majordomo peers written from the RFCs (7/MDP v0.1, 18/MDP v0.2, 8/MMI) with pyzmq.

They share no code with @raspy/mdp: the interop tests use them as an
independent implementation on the wire. Standard library and zmq only.

  client --endpoint E --version 1|2 --service S [--count N] [--timeout MS] frames...
      Sends the request N times, one after the other. Prints each reply as one
      JSON line {"final": bool, "service": str, "body": [str, ...]}. Exits 2 on timeout.
  worker --endpoint E --version 1|2 --service S [--heartbeat MS] [--partials K] [--name N] [--hang]
      Serves S: answers [name, *body], after K PARTIALs ["partial", i] (v0.2 only).
      Prints "ready" after each READY and "request <frames>" for each request.
      --hang: announce requests but never answer them. SIGTERM: DISCONNECT, exit 0.
  broker --bind tcp://127.0.0.1:0 [--heartbeat MS] [--verbose]
      Both versions on one ROUTER socket, LRU workers per service, heartbeats,
      mmi.service and 501 for other mmi.*. Prints its endpoint on the first line.
"""
import argparse
import collections
import json
import signal
import sys
import time

import zmq

C01, W01, C02, W02 = b"MDPC01", b"MDPW01", b"MDPC02", b"MDPW02"
C02_REQUEST, C02_PARTIAL, C02_FINAL = b"\x01", b"\x02", b"\x03"
# Worker command bytes per version (7/MDP and 18/MDP). A v0.1 REPLY is a FINAL.
W_CODES = {
    1: {"READY": 1, "REQUEST": 2, "FINAL": 3, "HEARTBEAT": 4, "DISCONNECT": 5},
    2: {"READY": 1, "REQUEST": 2, "PARTIAL": 3, "FINAL": 4, "HEARTBEAT": 5, "DISCONNECT": 6},
}
W_NAMES = {v: {code: name for name, code in codes.items()} for v, codes in W_CODES.items()}
# Missed heartbeat intervals before a peer is dead (the RFCs say "usually 3-5"):
# the broker expires workers after 3; the worker tolerates 5, for busy test machines.
BROKER_LIVENESS, WORKER_LIVENESS = 3, 5


def out(line):
    print(line, flush=True)


def err(line):
    print(line, file=sys.stderr, flush=True)


def text(frame):
    return frame.decode("utf-8", "backslashreplace")


def worker_msg(version, command, *args):
    """A worker command as it travels after the ROUTER identity (either direction)."""
    head = [b"", W01] if version == 1 else [W02]
    return head + [bytes([W_CODES[version][command]])] + list(args)


def parse_worker_msg(frames):
    """(version, command, args) of a worker command, or None if it is not one."""
    if len(frames) >= 3 and frames[0] == b"" and frames[1] == W01:
        version, rest = 1, frames[2:]
    elif len(frames) >= 2 and frames[0] == W02:
        version, rest = 2, frames[1:]
    else:
        return None
    if len(rest[0]) != 1 or rest[0][0] not in W_NAMES[version]:
        return None
    return version, W_NAMES[version][rest[0][0]], rest[1:]


def client_reply(version, service, body, final=True):
    if version == 1:
        return [b"", C01, service] + body
    return [C02, C02_FINAL if final else C02_PARTIAL, service] + body


class StopFlag:
    """Set by SIGTERM/SIGINT; loops poll with short timeouts and check it."""

    def __init__(self):
        self.set = False
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    def on_signal(self, *_):
        self.set = True


# ------------------------------------------------------------------ client

def run_client(args):
    ctx = zmq.Context()
    service = args.service.encode()
    body = [f.encode() for f in args.frames] or [b""]
    if args.version == 1:
        sock = ctx.socket(zmq.REQ)  # REQ adds the empty delimiter frame itself
        request = [C01, service] + body
    else:
        sock = ctx.socket(zmq.DEALER)
        request = [C02, C02_REQUEST, service] + body
    sock.linger = 0
    sock.connect(args.endpoint)
    try:
        for _ in range(args.count):
            sock.send_multipart(request)
            final = False
            while not final:
                if not sock.poll(args.timeout):
                    err(f"timeout: no reply from service {args.service} within {args.timeout} ms")
                    return 2
                reply = sock.recv_multipart()
                if args.version == 1:
                    ok = len(reply) >= 2 and reply[0] == C01
                    final, rest = True, reply[1:]
                else:
                    ok = len(reply) >= 3 and reply[0] == C02 and reply[1] in (C02_PARTIAL, C02_FINAL)
                    final, rest = reply[1:2] == [C02_FINAL], reply[2:]
                if not ok:
                    err(f"invalid reply: {[text(f) for f in reply]}")
                    return 3
                out(json.dumps({"final": final, "service": text(rest[0]), "body": [text(f) for f in rest[1:]]}))
        return 0
    finally:
        sock.close()
        ctx.term()


# ------------------------------------------------------------------ worker

def run_worker(args):
    stop = StopFlag()
    ctx = zmq.Context()
    interval = args.heartbeat / 1000.0
    v = args.version
    sock = None

    def connect():
        nonlocal sock
        if sock is not None:
            sock.close(linger=0)
        sock = ctx.socket(zmq.DEALER)
        sock.connect(args.endpoint)
        sock.send_multipart(worker_msg(v, "READY", args.service.encode()))
        out("ready")

    connect()
    heartbeat_at = time.monotonic() + interval
    broker_expires = time.monotonic() + interval * WORKER_LIVENESS
    while not stop.set:
        if sock.poll(max(0, (heartbeat_at - time.monotonic()) * 1000)):
            parsed = parse_worker_msg(sock.recv_multipart())
            if parsed is None or parsed[0] != v:
                err("invalid message from the broker, dropped")
                continue
            broker_expires = time.monotonic() + interval * WORKER_LIVENESS
            _, command, rest = parsed
            if command == "REQUEST":
                if len(rest) < 3 or rest[1] != b"":
                    err("REQUEST without client address and empty delimiter, dropped")
                    continue
                client, body = rest[0], rest[2:]
                out("request " + " ".join(text(f) for f in body))
                if args.hang:
                    continue
                if args.block:
                    # As the ZeroMQ Guide's worker API does: the application
                    # blocks, and no heartbeat goes out meanwhile.
                    time.sleep(args.block / 1000.0)
                if v == 2:
                    for i in range(args.partials):
                        sock.send_multipart(worker_msg(v, "PARTIAL", client, b"", b"partial", str(i).encode()))
                sock.send_multipart(worker_msg(v, "FINAL", client, b"", args.name.encode(), *body))
            elif command == "DISCONNECT":
                err("DISCONNECT from the broker, registering again")
                connect()
            # HEARTBEAT: liveness refreshed above
        now = time.monotonic()
        if now >= heartbeat_at:
            sock.send_multipart(worker_msg(v, "HEARTBEAT"))
            heartbeat_at = now + interval
        if now > broker_expires:
            err("no heartbeat from the broker, reconnecting")
            connect()
            broker_expires = now + interval * WORKER_LIVENESS
    sock.send_multipart(worker_msg(v, "DISCONNECT"))
    sock.close(linger=1000)
    ctx.term()
    return 0


# ------------------------------------------------------------------ broker

class Worker:
    def __init__(self, identity, version, service, expiry):
        self.identity, self.version, self.service, self.expiry = identity, version, service, expiry
        self.current = None  # the Request in hand


class Request:
    def __init__(self, client, version, body):
        self.client, self.version, self.body = client, version, body
        self.partials = []  # kept for a v0.1 client, which takes one REPLY


class Service:
    def __init__(self, name):
        self.name = name
        self.requests = collections.deque()
        self.idle = []  # least recently used first
        self.workers = 0


class Broker:
    def __init__(self, sock, heartbeat, verbose):
        self.sock, self.interval, self.verbose = sock, heartbeat / 1000.0, verbose
        self.services, self.workers = {}, {}
        self.idle_heartbeats_only = False

    def log(self, line):
        if self.verbose:
            err(line)

    def send(self, identity, frames):
        self.sock.send_multipart([identity] + frames)

    def service(self, name):
        return self.services.setdefault(name, Service(name))

    def handle(self, frames):
        identity, msg = frames[0], frames[1:]
        if len(msg) >= 4 and msg[0] == b"" and msg[1] == C01:
            self.client_request(identity, 1, msg[2], msg[3:])
        elif len(msg) >= 4 and msg[0] == C02 and msg[1] == C02_REQUEST:
            self.client_request(identity, 2, msg[2], msg[3:])
        else:
            parsed = parse_worker_msg(msg)
            if parsed is None:
                self.log(f"invalid message dropped: {[text(f) for f in msg[:3]]}")
            else:
                self.worker_message(identity, *parsed)

    def client_request(self, client, version, name, body):
        if name.startswith(b"mmi."):
            if name == b"mmi.service":
                known = self.services.get(body[0])
                status = b"200" if known is not None and known.workers > 0 else b"404"
            else:
                status = b"501"
            self.send(client, client_reply(version, name, [status]))
            return
        service = self.service(name)
        service.requests.append(Request(client, version, body))
        self.dispatch(service)

    def worker_message(self, identity, version, command, args):
        worker = self.workers.get(identity)
        if worker is not None and worker.version != version:
            self.delete(worker, disconnect=True)
            return
        if command == "READY" and worker is None and len(args) == 1 and not args[0].startswith(b"mmi."):
            worker = Worker(identity, version, self.service(args[0]), self.expiry())
            self.workers[identity] = worker
            worker.service.workers += 1
            self.log(f"worker ready for {text(args[0])} (v0.{version})")
            self.waiting(worker)
        elif command == "DISCONNECT":
            if worker is not None:
                self.log("worker disconnected")
                self.delete(worker, disconnect=False)
        elif worker is None or command not in ("HEARTBEAT", "PARTIAL", "FINAL"):
            # A valid but unexpected command: a second READY, a REQUEST, a reply from a stranger.
            if worker is not None:
                self.delete(worker, disconnect=True)
            else:
                self.send(identity, worker_msg(version, "DISCONNECT"))
        elif command == "HEARTBEAT":
            worker.expiry = self.expiry()
        else:  # PARTIAL or FINAL
            request = worker.current
            if request is None or len(args) < 3 or args[0] != request.client or args[1] != b"":
                self.delete(worker, disconnect=True)
                return
            worker.expiry = self.expiry()
            name, body = worker.service.name, args[2:]
            if command == "PARTIAL":
                if request.version == 2:
                    self.send(request.client, client_reply(2, name, body, final=False))
                else:
                    request.partials.extend(body)
                return
            self.send(request.client, client_reply(request.version, name, request.partials + body))
            worker.current = None
            self.waiting(worker)

    def waiting(self, worker):
        worker.service.idle.append(worker)
        self.dispatch(worker.service)

    def dispatch(self, service):
        while service.idle and service.requests:
            worker, request = service.idle.pop(0), service.requests.popleft()
            worker.current = request
            request.partials = []
            self.send(worker.identity, worker_msg(worker.version, "REQUEST", request.client, b"", *request.body))

    def delete(self, worker, disconnect):
        """Forgets a worker; the request it held goes back to the front of the queue."""
        if disconnect:
            self.send(worker.identity, worker_msg(worker.version, "DISCONNECT"))
        del self.workers[worker.identity]
        service = worker.service
        service.workers -= 1
        if worker in service.idle:
            service.idle.remove(worker)
        if worker.current is not None:
            service.requests.appendleft(worker.current)
            worker.current = None
            self.dispatch(service)

    def expiry(self):
        return time.monotonic() + self.interval * BROKER_LIVENESS

    def heartbeat(self):
        now = time.monotonic()
        for worker in list(self.workers.values()):
            if worker.expiry < now:
                self.log(f"worker expired ({text(worker.service.name)})")
                self.delete(worker, disconnect=False)
            elif worker.current is None or not self.idle_heartbeats_only:
                # The ZeroMQ Guide's brokers heartbeat idle workers only.
                self.send(worker.identity, worker_msg(worker.version, "HEARTBEAT"))


def run_broker(args):
    stop = StopFlag()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    host, _, port = args.bind.rpartition(":")
    if port == "0":
        port = sock.bind_to_random_port(host)
    else:
        sock.bind(args.bind)
    out(f"{host}:{port}")
    broker = Broker(sock, args.heartbeat, args.verbose)
    broker.idle_heartbeats_only = args.idle_heartbeats_only
    heartbeat_at = time.monotonic() + broker.interval
    while not stop.set:
        if sock.poll(max(0, (heartbeat_at - time.monotonic()) * 1000)):
            broker.handle(sock.recv_multipart())
        if time.monotonic() >= heartbeat_at:
            broker.heartbeat()
            heartbeat_at = time.monotonic() + broker.interval
    sock.close()
    ctx.term()
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="role", required=True)
    for role in ("client", "worker"):
        p = sub.add_parser(role)
        p.add_argument("--endpoint", required=True)
        p.add_argument("--version", type=int, choices=(1, 2), required=True)
        p.add_argument("--service", required=True)
    client = sub.choices["client"]
    client.add_argument("--count", type=int, default=1)
    client.add_argument("--timeout", type=int, default=5000, help="ms to wait for each reply")
    client.add_argument("frames", nargs="*")
    worker = sub.choices["worker"]
    worker.add_argument("--heartbeat", type=int, default=2500, help="ms, must match the broker")
    worker.add_argument("--partials", type=int, default=0)
    worker.add_argument("--name", default="py", help="first frame of every reply")
    worker.add_argument("--hang", action="store_true")
    worker.add_argument("--block", type=int, default=0, help="ms to block per request without heartbeating (Guide-style)")
    broker = sub.add_parser("broker")
    broker.add_argument("--bind", default="tcp://127.0.0.1:0")
    broker.add_argument("--heartbeat", type=int, default=250, help="ms")
    broker.add_argument("--verbose", action="store_true")
    broker.add_argument("--idle-heartbeats-only", action="store_true", help="heartbeat idle workers only, as the Guide's brokers do")
    args = parser.parse_args()
    return {"client": run_client, "worker": run_worker, "broker": run_broker}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
