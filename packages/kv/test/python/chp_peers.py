#!/usr/bin/env python3
"""Clone peers written from the RFC (12/CHP, Clustered Hashmap Protocol) with pyzmq.

They share no code with @raspy/kv: the interop tests use them as an
independent implementation on the wire. Standard library and zmq only.
P is the snapshot port; the publisher is P+1, the collector P+2.

  client --port P [--host H] [--subtree /x/] [--set key=value ...] [--ttl N] [--uuid HEX]
         [--wait-key K[=V] ...] [--wait-gone K ...] [--timeout MS]
      The Guide's clonecli: SUB to P+1 (the subtree and "HUGZ"), DEALER to P
      for ICANHAZ?, KVSYNC until KTHXBAI, then KVPUBs newer than the last
      sequence (older ones are discarded). One JSON line per event:
        {"event":"snapshot","entries":{k:v},"sequence":N}
        {"event":"update","key":k,"value":v|null,"sequence":N,"uuid":hex,"properties":{}}
        {"event":"discarded","key":k,"sequence":N}
        {"event":"sent","key":k,"uuid":hex}   {"event":"confirmed","key":k,"uuid":hex}
      --set sends KVSETs to P+2 (a random 16-byte UUID each, or --uuid;
      "ttl=N\\n" with --ttl) and waits for the server's KVPUB of each one
      under the subtree. Exits 0 once every --wait-key is present (with value
      V if given) and every --wait-gone key is absent, checked after the
      snapshot and after each update; with no wait condition, right after
      the snapshot and the confirmations. Exit 2 on timeout, 3 on a message
      that breaks the RFC.
      Two things the Guide's client leaves to luck are waited for instead:
      a HUGZ on the subscriber before ICANHAZ (so no update falls between
      the snapshot and the subscription), and the collector's subscription
      before a KVSET (the PUB side is an XPUB, identical on the wire, that
      shows it; a PUB drops what it sends before).
  raw --port P [--host H] [--subtree /x/] [--count N] [--timeout MS]
      No parsing: prints the first HUGZ, every snapshot message and the next
      N (default 1) other messages of the subscriber as
      {"socket":"subscriber"|"snapshot","frames":[hex,...]}; "synced" after KTHXBAI.
  server --port 0|P [--host H] [--kthxbai server|highest] [--hugz-idle-only] [--hugz MS]
      The Guide's clonesrv: ROUTER P, PUB P+1, SUB P+2 (all keys). ICANHAZ? ->
      KVSYNC [key, seq, "", "", value] for the keys under the subtree, then
      KTHXBAI [.., seq, "", "", subtree]; seq is the server's sequence (as the
      Guide's servers send), or with --kthxbai highest the highest sequence of
      the KVSYNCs sent (the RFC's words; 0 when none). KVSET -> next sequence,
      store (empty value: delete), KVPUB with the KVSET's uuid and properties.
      ttl=N: deleted after N seconds, the delete published [key, seq, "", "", ""];
      ttl=0 is no TTL (the Guide's clone class sends it with every permanent set).
      HUGZ [HUGZ, 0, "", "", ""] every second (--hugz-idle-only: only after a
      second without any other publication, the RFC's "in the absence of
      other updates"). Port 0 finds three consecutive free ports. The first
      stdout line is "tcp://H:P"; then JSON lines:
        {"event":"icanhaz"|"kvset","frames":[hex,...]}   (as received)
        {"event":"published","key":k,"value":v|null,"sequence":N}
        {"event":"expired","key":k}
        {"event":"invalid","reason":...,"frames":[hex,...]}
      stdin takes JSON lines {"op":"set","key":k,"value":v[,"ttl":N]}: a set
      from the server's side, published exactly like a KVSET. SIGTERM: exit 0.
"""
import argparse
import json
import os
import signal
import sys
import time
import uuid as uuidlib

import zmq

ICANHAZ, KTHXBAI, HUGZ = b"ICANHAZ?", b"KTHXBAI", b"HUGZ"
ZERO_SEQ = b"\x00" * 8


class ProtocolError(Exception):
    pass


def out(obj):
    print(obj if isinstance(obj, str) else json.dumps(obj), flush=True)


def err(line):
    print(line, file=sys.stderr, flush=True)


def text(frame):
    return frame.decode("utf-8", "backslashreplace")


def hexes(frames):
    return [f.hex() for f in frames]


def seq_frame(n):
    return n.to_bytes(8, "big")


def check_subtree(subtree):
    """Empty, or a slash, one or more path segments, a final slash."""
    if subtree == "":
        return
    if not (subtree.startswith("/") and subtree.endswith("/") and len(subtree) > 2 and "//" not in subtree):
        raise SystemExit(f"bad subtree {subtree!r}: empty or /segment/.../")


def parse_properties(frame):
    """Zero or more name=value<newline>."""
    props = {}
    if frame == b"":
        return props
    body = text(frame)
    if not body.endswith("\n"):
        raise ProtocolError(f"properties frame {body!r} does not end with a newline")
    for line in body[:-1].split("\n"):
        name, eq, value = line.partition("=")
        if not eq or not name:
            raise ProtocolError(f"bad property {line!r}")
        props[name] = value
    return props


def parse_kv(frames, what):
    """(key, sequence, uuid, properties, value) of a five-frame message, checked against the RFC."""
    if len(frames) != 5:
        raise ProtocolError(f"{what}: {len(frames)} frames, the RFC says 5: {hexes(frames)}")
    key, seq, uuid, props, value = frames
    if len(seq) != 8:
        raise ProtocolError(f"{what}: sequence frame of {len(seq)} bytes, the RFC says 8")
    if len(uuid) not in (0, 16):
        raise ProtocolError(f"{what}: UUID frame of {len(uuid)} bytes, the RFC says 16 (or empty)")
    return key, int.from_bytes(seq, "big"), uuid, parse_properties(props), value


class StopFlag:
    """Set by SIGTERM/SIGINT; loops poll with short timeouts and check it."""

    def __init__(self):
        self.set = False
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    def on_signal(self, *_):
        self.set = True


class Deadline:
    def __init__(self, ms):
        self.at = time.monotonic() + ms / 1000.0
        self.ms = ms

    def left_ms(self):
        return max(0, int((self.at - time.monotonic()) * 1000))

    def expired(self):
        return time.monotonic() >= self.at


def recv_before(sock, deadline, what):
    if not sock.poll(deadline.left_ms()):
        raise TimeoutError(f"timeout after {deadline.ms} ms waiting for {what}")
    return sock.recv_multipart()


def endpoints(host, port):
    return f"{host}:{port}", f"{host}:{port + 1}", f"{host}:{port + 2}"


def subscribe(sub, subtree):
    # Both subscriptions go out before the connection does; a HUGZ heard
    # afterwards shows that they are in place at the server.
    sub.setsockopt(zmq.SUBSCRIBE, subtree.encode())
    if subtree != "":
        sub.setsockopt(zmq.SUBSCRIBE, HUGZ)


# ------------------------------------------------------------------ client

def run_client(args):
    check_subtree(args.subtree)
    deadline = Deadline(args.timeout)
    ctx = zmq.Context()
    snapshot_ep, publisher_ep, collector_ep = endpoints(args.host, args.port)
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    subscribe(sub, args.subtree)
    sub.connect(publisher_ep)
    snap = ctx.socket(zmq.DEALER)
    snap.linger = 0
    snap.connect(snapshot_ep)
    pub = None
    if args.set:
        pub = ctx.socket(zmq.XPUB)
        pub.linger = 2000
        pub.connect(collector_ep)
    kvmap = {}
    sequence = 0
    pending = {}  # uuid -> key, KVSETs under our subtree not yet published back

    def apply_update(frames):
        nonlocal sequence
        key, seq, uid, props, value = parse_kv(frames, "KVPUB")
        if key == HUGZ:
            if seq != 0 and args.strict_hugz:
                raise ProtocolError(f"HUGZ with sequence {seq}, the RFC says 00000000")
            return
        if not key.startswith(args.subtree.encode()):
            raise ProtocolError(f"KVPUB for {text(key)!r}, outside our subscription {args.subtree!r}")
        if seq <= sequence:
            out({"event": "discarded", "key": text(key), "sequence": seq})
            return
        sequence = seq
        if value == b"":
            kvmap.pop(key, None)
        else:
            kvmap[key] = value
        out({"event": "update", "key": text(key), "value": text(value) if value else None,
             "sequence": seq, "uuid": uid.hex(), "properties": props})
        if uid in pending:
            out({"event": "confirmed", "key": pending.pop(uid), "uuid": uid.hex()})

    def satisfied():
        if pending:
            return False
        for cond in args.wait_key:
            k, eq, v = cond.partition("=")
            have = kvmap.get(k.encode())
            if have is None or (eq and have != v.encode()):
                return False
        return all(k.encode() not in kvmap for k in args.wait_gone)

    try:
        # 1. The subscription is live once a HUGZ comes; updates before it are kept.
        early = []
        while True:
            frames = recv_before(sub, deadline, "a first HUGZ on the subscriber")
            if frames[:1] == [HUGZ]:
                parse_kv(frames, "HUGZ")
                break
            early.append(frames)
        # 2. The snapshot.
        snap.send_multipart([ICANHAZ, args.subtree.encode()])
        while True:
            frames = recv_before(snap, deadline, "the snapshot")
            key, seq, uid, props, value = parse_kv(frames, "KVSYNC/KTHXBAI")
            if key == KTHXBAI:
                if value != args.subtree.encode():
                    raise ProtocolError(f"KTHXBAI for subtree {text(value)!r}, we asked for {args.subtree!r}")
                sequence = seq
                break
            if uid or props:
                raise ProtocolError(f"KVSYNC {text(key)!r} with a UUID or properties; the RFC says both are empty")
            if not key.startswith(args.subtree.encode()):
                raise ProtocolError(f"KVSYNC {text(key)!r} outside the subtree {args.subtree!r}")
            if value:
                kvmap[key] = value
        out({"event": "snapshot", "entries": {text(k): text(v) for k, v in sorted(kvmap.items())}, "sequence": sequence})
        # 3. Updates that came while the snapshot was cut: only the newer ones.
        for frames in early:
            apply_update(frames)
        # 4. Our KVSETs, once the collector has subscribed to our publisher.
        if pub is not None:
            while True:
                sub_msg = recv_before(pub, deadline, "the collector's subscription")
                if sub_msg[0][:1] == b"\x01":
                    break
            for item in args.set:
                k, eq, v = item.partition("=")
                if not eq:
                    raise SystemExit(f"--set {item!r}: key=value")
                uid = bytes.fromhex(args.uuid) if args.uuid else uuidlib.uuid4().bytes
                props = f"ttl={args.ttl}\n".encode() if args.ttl is not None else b""
                if k.startswith(args.subtree):
                    pending[uid] = k
                pub.send_multipart([k.encode(), ZERO_SEQ, uid, props, v.encode()])
                out({"event": "sent", "key": k, "uuid": uid.hex()})
        # 5. Live updates until the wait conditions hold.
        while not satisfied():
            apply_update(recv_before(sub, deadline, f"{args.wait_key + args.wait_gone or 'the confirmations'} (pending {len(pending)})"))
        return 0
    except TimeoutError as e:
        err(f"timeout: {e}; replica: {json.dumps({text(k): text(v) for k, v in kvmap.items()})}")
        return 2
    except ProtocolError as e:
        err(f"protocol error: {e}")
        return 3
    finally:
        for s in (sub, snap, pub):
            if s is not None:
                s.close()
        ctx.term()


def run_raw(args):
    check_subtree(args.subtree)
    deadline = Deadline(args.timeout)
    ctx = zmq.Context()
    snapshot_ep, publisher_ep, _ = endpoints(args.host, args.port)
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    subscribe(sub, args.subtree)
    sub.connect(publisher_ep)
    snap = ctx.socket(zmq.DEALER)
    snap.linger = 0
    snap.connect(snapshot_ep)
    try:
        while True:
            frames = recv_before(sub, deadline, "a first HUGZ")
            if frames[:1] == [HUGZ]:
                out({"socket": "subscriber", "frames": hexes(frames)})
                break
        snap.send_multipart([ICANHAZ, args.subtree.encode()])
        while True:
            frames = recv_before(snap, deadline, "the snapshot")
            out({"socket": "snapshot", "frames": hexes(frames)})
            if frames[:1] == [KTHXBAI]:
                break
        out("synced")
        seen = 0
        while seen < args.count:
            frames = recv_before(sub, deadline, f"{args.count} updates")
            if frames[:1] == [HUGZ]:
                continue
            out({"socket": "subscriber", "frames": hexes(frames)})
            seen += 1
        return 0
    except TimeoutError as e:
        err(f"timeout: {e}")
        return 2
    finally:
        sub.close()
        snap.close()
        ctx.term()


# ------------------------------------------------------------------ server

class Server:
    def __init__(self, publisher, router, kthxbai, hugz_interval, hugz_idle_only):
        self.publisher, self.router = publisher, router
        self.kthxbai, self.hugz_interval, self.hugz_idle_only = kthxbai, hugz_interval, hugz_idle_only
        self.sequence = 0
        self.kvmap = {}  # key -> (sequence, value)
        self.expiry = {}  # key -> monotonic time
        self.last_publish = time.monotonic()

    def publish(self, frames):
        self.publisher.send_multipart(frames)
        if frames[0] != HUGZ:
            self.last_publish = time.monotonic()

    def update(self, key, uuid, props_frame, value):
        """A KVSET (or a set from stdin): next sequence, store, publish."""
        props = parse_properties(props_frame)
        ttl = float(props.get("ttl", "0"))  # 0: no TTL, as the Guide's servers read it
        self.sequence += 1
        if value == b"":
            self.kvmap.pop(key, None)
            self.expiry.pop(key, None)
        else:
            self.kvmap[key] = (self.sequence, value)
            if ttl > 0:
                self.expiry[key] = time.monotonic() + ttl
            else:
                self.expiry.pop(key, None)
        self.publish([key, seq_frame(self.sequence), uuid, props_frame, value])
        out({"event": "published", "key": text(key), "value": text(value) if value else None, "sequence": self.sequence})

    def kvset(self, frames):
        out({"event": "kvset", "frames": hexes(frames)})
        try:
            key, _, uuid, _, value = parse_kv(frames, "KVSET")
            if key in (HUGZ, KTHXBAI, ICANHAZ) or key == b"":
                raise ProtocolError(f"KVSET for the reserved key {text(key)!r}")
            self.update(key, uuid, frames[3], value)
        except (ProtocolError, ValueError) as e:
            out({"event": "invalid", "reason": str(e), "frames": hexes(frames)})

    def icanhaz(self, frames):
        identity, msg = frames[0], frames[1:]
        out({"event": "icanhaz", "frames": hexes(msg)})
        if len(msg) != 2 or msg[0] != ICANHAZ:
            out({"event": "invalid", "reason": "not ICANHAZ? + subtree", "frames": hexes(msg)})
            return
        subtree = msg[1]
        highest = 0
        for key in sorted(self.kvmap):
            if key.startswith(subtree):
                seq, value = self.kvmap[key]
                highest = max(highest, seq)
                self.router.send_multipart([identity, key, seq_frame(seq), b"", b"", value])
        seq = self.sequence if self.kthxbai == "server" else highest
        self.router.send_multipart([identity, KTHXBAI, seq_frame(seq), b"", b"", subtree])

    def expire(self):
        now = time.monotonic()
        for key in [k for k, at in self.expiry.items() if at <= now]:
            out({"event": "expired", "key": text(key)})
            self.update(key, b"", b"", b"")

    def hugz(self):
        if not self.hugz_idle_only or time.monotonic() - self.last_publish >= self.hugz_interval:
            self.publish([HUGZ, ZERO_SEQ, b"", b"", b""])

    def command(self, line):
        try:
            cmd = json.loads(line)
            if cmd.get("op") != "set":
                raise ValueError(f"unknown op {cmd.get('op')!r}")
            props = f"ttl={cmd['ttl']}\n".encode() if cmd.get("ttl") is not None else b""
            self.update(cmd["key"].encode(), b"", props, cmd.get("value", "").encode())
        except (ValueError, KeyError, TypeError) as e:
            out({"event": "invalid", "reason": f"stdin: {e}", "frames": []})


def bind_three(ctx, host, port):
    """ROUTER at P, PUB at P+1, SUB at P+2; with port 0, three consecutive free ports."""
    for _ in range(50):
        router, pub, sub = ctx.socket(zmq.ROUTER), ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
        for s in (router, pub, sub):
            s.linger = 0
        try:
            if port == 0:
                p = router.bind_to_random_port(host)
            else:
                router.bind(f"{host}:{port}")
                p = port
            pub.bind(f"{host}:{p + 1}")
            sub.bind(f"{host}:{p + 2}")
            return p, router, pub, sub
        except zmq.ZMQError:
            for s in (router, pub, sub):
                s.close()
            if port != 0:
                raise
    raise SystemExit("no three consecutive free ports found")


def run_server(args):
    stop = StopFlag()
    ctx = zmq.Context()
    port, router, publisher, collector = bind_three(ctx, args.host, args.port)
    collector.setsockopt(zmq.SUBSCRIBE, b"")
    out(f"{args.host}:{port}")
    server = Server(publisher, router, args.kthxbai, args.hugz / 1000.0, args.hugz_idle_only)
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    poller.register(collector, zmq.POLLIN)
    stdin = sys.stdin.fileno()
    poller.register(stdin, zmq.POLLIN)
    buffered = b""
    hugz_at = time.monotonic() + server.hugz_interval
    while not stop.set:
        timeout = min(100, max(0, (hugz_at - time.monotonic()) * 1000))
        for sock, _ in poller.poll(timeout):
            if sock is router:
                server.icanhaz(router.recv_multipart())
            elif sock is collector:
                server.kvset(collector.recv_multipart())
            else:
                chunk = os.read(stdin, 65536)
                if chunk == b"":
                    poller.unregister(stdin)
                    continue
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    if line.strip():
                        server.command(line.decode())
        server.expire()
        if time.monotonic() >= hugz_at:
            server.hugz()
            hugz_at = time.monotonic() + server.hugz_interval
    for s in (router, publisher, collector):
        s.close()
    ctx.term()
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="role", required=True)
    for role in ("client", "raw", "server"):
        p = sub.add_parser(role)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--host", default="tcp://127.0.0.1")
    for role in ("client", "raw"):
        p = sub.choices[role]
        p.add_argument("--subtree", default="")
        p.add_argument("--timeout", type=int, default=10000, help="ms for the whole run")
    client = sub.choices["client"]
    client.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    client.add_argument("--ttl", help="seconds, sent as the ttl property of every --set")
    client.add_argument("--uuid", help="32 hex digits: the UUID of every --set (default: a random one each)")
    client.add_argument("--wait-key", action="append", default=[], metavar="KEY[=VALUE]")
    client.add_argument("--wait-gone", action="append", default=[], metavar="KEY")
    client.add_argument("--strict-hugz", action="store_true", help="fail on a HUGZ whose sequence is not 0")
    raw = sub.choices["raw"]
    raw.add_argument("--count", type=int, default=1)
    server = sub.choices["server"]
    server.add_argument("--kthxbai", choices=("server", "highest"), default="server")
    server.add_argument("--hugz", type=int, default=1000, help="ms between HUGZ")
    server.add_argument("--hugz-idle-only", action="store_true")
    args = parser.parse_args()
    if not args.host.startswith("tcp://"):
        args.host = "tcp://" + args.host
    return {"client": run_client, "raw": run_raw, "server": run_server}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
