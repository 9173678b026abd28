#!/usr/bin/env python3
"""Titanic peers written from the RFCs (9/TSP over 7/MDP and 18/MDP) with pyzmq.

They share no code with @raspy/titanic or @raspy/mdp: the interop tests use
them as an independent implementation on the wire. Standard library and zmq
only. A frame given on the command line as "hex:0001ff" is those bytes; any
other is its UTF-8 text.

  client --endpoint E --service S [--timeout MS] [--close] [--version 1|2] [--dealer]
         [--poll MS] [--uuid U] [--no-wait] [--request-timeout MS] [--retries N] [--] frames...
      The Guide's ticlient on the Guide's mdcliapi: a v0.1 client on a REQ
      socket (--dealer: a DEALER that adds the empty frame itself; --version 2:
      a DEALER speaking MDPC02). Sends titanic.request [S, frames...] and expects
      ["200", uuid]; then polls titanic.reply [uuid] every --poll ms (default
      50): 300 (pending) and 500 (error, retry later) are tried again, 400
      (unknown) is fatal, 200 carries the reply. --close then sends
      titanic.close [uuid] and expects ["200"]. --uuid skips titanic.request
      and polls that id; --no-wait stops after titanic.request. Each MDP
      request waits --request-timeout ms (default 2500) and is sent again on a
      fresh socket up to --retries times (default 3), as mdcliapi does. One
      JSON line per event:
        {"event":"uuid","uuid":U}
        {"event":"pending","status":"300"}   (each 300 or 500 answer)
        {"event":"reply","body":[text,...],"hex":[hex,...]}
        {"event":"closed"}
      Exit 0 on success; 1 when Titanic answers 400 or another unexpected
      status (the message on stderr); 2 when --timeout ms (default 10000) pass
      without success; 3 on a reply that breaks 7/MDP, 18/MDP or 9/TSP.
  call --endpoint E --service S [--version 1|2] [--dealer] [--no-body] [--timeout MS] [--] frames...
      One plain MDP request, no retries: prints {"event":"reply","body":[...],"hex":[...]}
      and exits 0, or exits 2 on timeout. --no-body sends no body frame at all
      (which 7/MDP does not allow).
  worker --endpoint E --service S [--heartbeat MS] [--name N] [--count N]
      The Guide's mdworker on mdwrkapi: a 7/MDP v0.1 worker on a DEALER socket,
      READY, heartbeats both ways, reconnects on a fresh socket after 5 silent
      intervals or a DISCONNECT. Answers [name (default "py"), *body]. Prints
      "ready" after each READY and "request <JSON list of the body as text>"
      for each request. --count N: DISCONNECT and exit 0 after N replies.
      SIGTERM: DISCONNECT, exit 0.
"""
import argparse
import json
import re
import signal
import sys
import time

import zmq

C01, W01, C02 = b"MDPC01", b"MDPW01", b"MDPC02"
C02_REQUEST, C02_PARTIAL, C02_FINAL = b"\x01", b"\x02", b"\x03"
W_READY, W_REQUEST, W_REPLY, W_HEARTBEAT, W_DISCONNECT = (bytes([i]) for i in range(1, 6))
WORKER_LIVENESS = 5  # missed heartbeat intervals before the worker reconnects (7/MDP: "usually 3-5")
UUID = re.compile(rb"^[0-9A-Fa-f]{32}$")


def out(event, **fields):
    print(json.dumps(dict(event=event, **fields)), flush=True)


def err(line):
    print(line, file=sys.stderr, flush=True)


def text(frame):
    return frame.decode("utf-8", "backslashreplace")


def frame_arg(arg):
    return bytes.fromhex(arg[4:]) if arg.startswith("hex:") else arg.encode("utf-8")


def frames_json(frames):
    return {"body": [text(f) for f in frames], "hex": [f.hex() for f in frames]}


class ProtocolError(Exception):
    """A reply that breaks 7/MDP, 18/MDP or 9/TSP."""


class Timeout(Exception):
    pass


class StopFlag:
    def __init__(self):
        self.set = False
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    def on_signal(self, *_):
        self.set = True


# ------------------------------------------------------------------ client

class MajorDomoClient:
    """mdcliapi: one request at a time; on silence, a fresh socket and the request again."""

    def __init__(self, endpoint, version, dealer, timeout_ms, retries, deadline):
        self.endpoint, self.version, self.dealer = endpoint, version, dealer or version == 2
        self.timeout, self.retries, self.deadline = timeout_ms, retries, deadline
        self.ctx = zmq.Context()
        self.sock = None
        self.reconnect()

    def reconnect(self):
        if self.sock is not None:
            self.sock.close(linger=0)
        self.sock = self.ctx.socket(zmq.DEALER if self.dealer else zmq.REQ)
        self.sock.linger = 0
        self.sock.connect(self.endpoint)

    def close(self):
        self.sock.close(linger=0)
        self.ctx.term()

    def request_frames(self, service, body):
        if self.version == 2:
            return [C02, C02_REQUEST, service] + body
        # A REQ socket adds the empty delimiter itself; a DEALER must.
        return ([b""] if self.dealer else []) + [C01, service] + body

    def send(self, service, body, retries=None):
        """Sends one request and returns the reply body (a list of frames)."""
        service = service.encode() if isinstance(service, str) else service
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            self.sock.send_multipart(self.request_frames(service, body))
            try:
                return self.receive(service)
            except Timeout:
                if attempt == retries or time.monotonic() >= self.deadline:
                    raise
                err(f"W: no reply from {text(service)}, reconnecting and sending again")
                self.reconnect()
        raise Timeout()

    def receive(self, service):
        partials = []
        while True:
            left = min(self.timeout, (self.deadline - time.monotonic()) * 1000)
            if left <= 0 or not self.sock.poll(left):
                raise Timeout()
            reply = self.sock.recv_multipart()
            if self.dealer and self.version == 1:
                if not reply or reply[0] != b"":
                    raise ProtocolError(f"v0.1 reply without the empty delimiter: {[text(f) for f in reply]}")
                reply = reply[1:]
            if self.version == 1:
                if len(reply) < 2 or reply[0] != C01 or reply[1] != service:
                    raise ProtocolError(f"invalid v0.1 reply: {[text(f) for f in reply]}")
                return reply[2:]
            if len(reply) < 3 or reply[0] != C02 or reply[1] not in (C02_PARTIAL, C02_FINAL) or reply[2] != service:
                raise ProtocolError(f"invalid v0.2 reply: {[text(f) for f in reply]}")
            partials += reply[3:]
            if reply[1] == C02_FINAL:
                return partials


def status_of(reply, what):
    """The three digits of a TSP status frame (text may follow after a space)."""
    if not reply or not re.match(rb"^\d{3}( |$)", reply[0]):
        raise ProtocolError(f"{what}: expected a status frame, got {[text(f) for f in reply]}")
    return reply[0][:3].decode()


def ticlient(args, session, deadline):
    if args.uuid is None:
        reply = session.send("titanic.request", [args.service.encode()] + [frame_arg(f) for f in args.frames])
        status = status_of(reply, "titanic.request")
        if status != "200":
            err(f"E: titanic.request answered {' '.join(text(f) for f in reply)}")
            return 1
        if len(reply) != 2 or not UUID.match(reply[1]):
            raise ProtocolError(f"titanic.request: 200 without a 32-hex-digit uuid: {[text(f) for f in reply]}")
        uuid = reply[1]
        out("uuid", uuid=uuid.decode())
        if args.no_wait:
            return 0
    else:
        uuid = args.uuid.encode()
    while True:
        reply = session.send("titanic.reply", [uuid])
        status = status_of(reply, "titanic.reply")
        if status == "200":
            out("reply", **frames_json(reply[1:]))
            break
        if status == "400":
            err(f"E: titanic.reply: Titanic does not know request {text(uuid)} (400)")
            return 1
        if status not in ("300", "500"):
            err(f"E: titanic.reply answered {' '.join(text(f) for f in reply)}")
            return 1
        out("pending", status=status)
        # Polling is the protocol: 300 means "try again later".
        wait = min(args.poll / 1000.0, deadline - time.monotonic())
        if wait <= 0:
            raise Timeout()
        time.sleep(wait)
    if args.close:
        reply = session.send("titanic.close", [uuid])
        if status_of(reply, "titanic.close") != "200":
            err(f"E: titanic.close answered {' '.join(text(f) for f in reply)}")
            return 1
        out("closed")
    return 0


def run_client(args):
    deadline = time.monotonic() + args.timeout / 1000.0
    session = MajorDomoClient(args.endpoint, args.version, args.dealer, args.request_timeout, args.retries, deadline)
    try:
        return ticlient(args, session, deadline)
    except Timeout:
        err(f"E: timeout: no success within {args.timeout} ms")
        return 2
    except ProtocolError as e:
        err(f"E: protocol violation: {e}")
        return 3
    finally:
        session.close()


def run_call(args):
    deadline = time.monotonic() + args.timeout / 1000.0
    session = MajorDomoClient(args.endpoint, args.version, args.dealer, args.timeout, 0, deadline)
    body = [] if args.no_body else ([frame_arg(f) for f in args.frames] or [b""])
    try:
        out("reply", **frames_json(session.send(args.service, body, retries=0)))
        return 0
    except Timeout:
        err(f"E: timeout: no reply from {args.service} within {args.timeout} ms")
        return 2
    except ProtocolError as e:
        err(f"E: protocol violation: {e}")
        return 3
    finally:
        session.close()


# ------------------------------------------------------------------ worker

def run_worker(args):
    stop = StopFlag()
    ctx = zmq.Context()
    interval = args.heartbeat / 1000.0
    service = args.service.encode()
    sock = None
    served = 0

    def send(command, *frames):
        sock.send_multipart([b"", W01, command] + list(frames))

    def out_line(line):
        print(line, flush=True)

    def connect():
        nonlocal sock
        if sock is not None:
            sock.close(linger=0)
        sock = ctx.socket(zmq.DEALER)
        sock.connect(args.endpoint)
        send(W_READY, service)
        out_line("ready")

    connect()
    heartbeat_at = time.monotonic() + interval
    broker_expires = time.monotonic() + interval * WORKER_LIVENESS
    while not stop.set and (args.count == 0 or served < args.count):
        if sock.poll(max(0, (heartbeat_at - time.monotonic()) * 1000)):
            msg = sock.recv_multipart()
            if len(msg) < 3 or msg[0] != b"" or msg[1] != W01:
                err(f"invalid message from the broker, dropped: {[text(f) for f in msg[:3]]}")
                continue
            broker_expires = time.monotonic() + interval * WORKER_LIVENESS
            command, rest = msg[2], msg[3:]
            if command == W_REQUEST:
                if len(rest) < 3 or rest[1] != b"":
                    err("REQUEST without client address and empty delimiter, dropped")
                    continue
                client, body = rest[0], rest[2:]
                out_line("request " + json.dumps([text(f) for f in body]))
                send(W_REPLY, client, b"", args.name.encode(), *body)
                served += 1
            elif command == W_DISCONNECT:
                err("DISCONNECT from the broker, registering again")
                connect()
            elif command != W_HEARTBEAT:
                err(f"unexpected command {command.hex()} from the broker, dropped")
        now = time.monotonic()
        if now >= heartbeat_at:
            send(W_HEARTBEAT)
            heartbeat_at = now + interval
        if now > broker_expires:
            err("no heartbeat from the broker, reconnecting")
            connect()
            broker_expires = now + interval * WORKER_LIVENESS
    send(W_DISCONNECT)
    sock.close(linger=1000)
    ctx.term()
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="role", required=True)
    for role in ("client", "call", "worker"):
        p = sub.add_parser(role)
        p.add_argument("--endpoint", required=True)
        p.add_argument("--service", required=True)
    for role in ("client", "call"):
        p = sub.choices[role]
        p.add_argument("--version", type=int, choices=(1, 2), default=1)
        p.add_argument("--dealer", action="store_true", help="v0.1 on a DEALER socket instead of REQ")
        p.add_argument("frames", nargs="*")
    client = sub.choices["client"]
    client.add_argument("--timeout", type=int, default=10000, help="ms for the whole exchange")
    client.add_argument("--request-timeout", type=int, default=2500, help="ms to wait for each MDP reply")
    client.add_argument("--retries", type=int, default=3)
    client.add_argument("--poll", type=int, default=50, help="ms between titanic.reply polls")
    client.add_argument("--close", action="store_true")
    client.add_argument("--uuid")
    client.add_argument("--no-wait", action="store_true")
    call = sub.choices["call"]
    call.add_argument("--timeout", type=int, default=3000, help="ms")
    call.add_argument("--no-body", action="store_true")
    worker = sub.choices["worker"]
    worker.add_argument("--heartbeat", type=int, default=2500, help="ms, must match the broker")
    worker.add_argument("--name", default="py", help="first frame of every reply")
    worker.add_argument("--count", type=int, default=0, help="exit after this many replies (0: never)")
    args = parser.parse_args()
    return {"client": run_client, "call": run_call, "worker": run_worker}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
