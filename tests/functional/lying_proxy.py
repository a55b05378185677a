#!/usr/bin/python3
"""A lying node for the tests of the answer verifier (issue 11; tests/functional/test_verify.sh).

Listens on a loopback port and forwards each client's RPC frames, in order, to a real node
over plaintext, or TLS with --node-tls (one upstream connection per client connection;
clients always speak plaintext to it, which the tool allows on loopback); rewrites the answers to
GetRelease and Eligible by the lie named with --lie, and passes everything else through.

A frame is a 4-byte big-endian length and an encoded fwl.Request / fwl.Response. The
protobuf wire format is read and written here by hand (standard library only, no generated
code): a message is a list of fields kept in their order, a nested message is parsed when a
lie needs it and encoded again with correct lengths.

Lies (each makes the tool refuse the answer with the code in brackets):
  none                      pass every answer through unchanged (honest)
  best                      Eligible: the first product's best release swapped for another
                            candidate of the model from the proof's 'h' leaves   [-115]
  hide-revocation           GetRelease of a revoked release: revocation removed from the
                            record and from the proof's leaf, consistently        [-25]
  hide-revocation-eligible  Eligible: revocation removed from a candidate's leaf  [-25]
  drop-candidate            Eligible: one leaf left out of the 'h' range proof    [-25/-10]
  replay                    the first answer of each kind given again later (id rewritten):
                            old but genuine                        [-114 with --max-age]
  short-cert                one commit signature kept (on a multi-validator chain) [-113]
  forged-cert               a byte of the first commit signature flipped          [-113]
  other-chain               the proof, height and block hash of the same request asked to
                            --other, a node of another chain                        [-9]
  stale-root                the first proven answer passes; later ones get its header and
                            certificate (an earlier height: another state root)    [-25]
  no-proof                  the proof left out                                   [-112]
  drop-part                 Eligible: the binding proofs ('b' prefix) left out   [-112]
  drop-listed               ListReleases: the second release of the page left out [-115]

--dump DIR writes every answer frame sent to a client, as DIR/NNN-KIND.bin (the frame's
body, without the length): seeds for tests/fuzz/fuzz_verify.c. Each answer is logged on
stderr with what was done to it.
"""
import argparse
import hashlib
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading

FRAME_MAX = 64 << 20

# --- the protobuf wire format ---------------------------------------------------------------

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def read_varint(buf, pos):
    v = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, pos


def varint(v):
    if v < 0:
        v += 1 << 64  # int32/int64 negatives: ten bytes, two's complement
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class Msg:
    """A protobuf message as the list of its fields [number, wire type, value], in order.
    Values: int (varint), bytes (fixed-size and length-delimited fields) or Msg (a nested
    message parsed by msg()/msgs(), encoded again by enc())."""

    def __init__(self, data=b""):
        self.fields = []
        pos = 0
        while pos < len(data):
            key, pos = read_varint(data, pos)
            num, wt = key >> 3, key & 7
            if wt == VARINT:
                v, pos = read_varint(data, pos)
            elif wt == LEN:
                n, pos = read_varint(data, pos)
                if pos + n > len(data):
                    raise ValueError("truncated field %d" % num)
                v, pos = bytes(data[pos:pos + n]), pos + n
            elif wt in (I64, I32):
                n = 8 if wt == I64 else 4
                v, pos = bytes(data[pos:pos + n]), pos + n
            else:
                raise ValueError("wire type %d" % wt)
            self.fields.append([num, wt, v])

    def enc(self):
        out = bytearray()
        for num, wt, v in self.fields:
            out += varint(num << 3 | wt)
            if wt == VARINT:
                out += varint(v)
            elif wt == LEN:
                b = v.enc() if isinstance(v, Msg) else v
                out += varint(len(b)) + b
            else:
                out += v
        return bytes(out)

    def has(self, num):
        return any(f[0] == num for f in self.fields)

    def get(self, num, default=None):
        """The last occurrence's value (protobuf: the last one wins)."""
        for f in reversed(self.fields):
            if f[0] == num:
                return f[2]
        return default

    def msgs(self, num):
        """Every occurrence of a (repeated) message field, parsed in place."""
        out = []
        for f in self.fields:
            if f[0] == num and f[1] == LEN:
                if not isinstance(f[2], Msg):
                    f[2] = Msg(f[2])
                out.append(f[2])
        return out

    def msg(self, num):
        m = self.msgs(num)
        return m[-1] if m else None

    def set(self, num, value):
        """Replace the field (every occurrence) by one, where it was, or append it."""
        wt = VARINT if isinstance(value, int) else LEN
        for i, f in enumerate(self.fields):
            if f[0] == num:
                self.fields[i] = [num, wt, value]
                self.fields = self.fields[:i + 1] + [g for g in self.fields[i + 1:] if g[0] != num]
                return
        self.fields.append([num, wt, value])
        self.fields.sort(key=lambda g: g[0])

    def put(self, num, values):
        """Replace a repeated field by values (maybe none), where it was."""
        idx = [i for i, f in enumerate(self.fields) if f[0] == num]
        at = idx[0] if idx else len(self.fields)
        rest = [f for f in self.fields if f[0] != num]
        at -= sum(1 for i in idx if i < at)
        self.fields = rest[:at] + [[num, LEN, v] for v in values] + rest[at:]

    def drop(self, *nums):
        self.fields = [f for f in self.fields if f[0] not in nums]


# --- fwledger.proto field numbers -------------------------------------------------------------

REQ_KINDS = {10: "submit_tx", 11: "wait_for_tx", 12: "get_block", 13: "get_release",
             14: "list_releases", 15: "status", 16: "nonce", 17: "eligible", 18: "get_contract"}
GET_RELEASE, LIST_RELEASES, ELIGIBLE, ERROR = 13, 14, 17, 9
# GetReleaseResp {record 1, at_height 2, proof 3}; EligibleResp {answers 1, at_height 2,
# block_hash 3, proof 4}; ListReleasesResp {records 1, next 2, at_height 3, proof 4};
# Proof {header 1, commit 2, commit_round 3, state 4};
# StateProof {prefix 1, steps 2, leaves 3}; StateLeaf {key 1, value 2};
# ReleaseRecord {release 1, ..., revoked 6, revoke_reason 7, revoke_note 8, revoked_height 9};
# Release {product 1, version 4, file_hash 6}; DeviceAnswer {device_id 1, products 2};
# ProductAnswer {product 1, best 4}; ReleaseRef {product 1, version 2, file_hash 3};
# Signature {signer 1, sig 2}.
PROOF_FIELD = {GET_RELEASE: 3, LIST_RELEASES: 4, ELIGIBLE: 4}


class NoLie(Exception):
    """The answer gives this lie nothing to work on: it goes out unchanged."""


def body(resp):
    """(kind, answer) of a GetRelease, ListReleases or Eligible answer, else NoLie."""
    for kind in (GET_RELEASE, LIST_RELEASES, ELIGIBLE):
        if resp.has(kind):
            return kind, resp.msg(kind)
    raise NoLie("not a GetRelease, ListReleases or Eligible answer")


def proof_of(resp, want=None):
    kind, ans = body(resp)
    if want is not None and kind != want:
        raise NoLie("not the answer kind this lie edits")
    pf = ans.msg(PROOF_FIELD[kind])
    if pf is None:
        raise NoLie("the answer carries no proof")
    return kind, ans, pf


def parts(pf, tag):
    """The state proofs whose prefix starts with the key tag byte (b'h', b'b', ...)."""
    return [sp for sp in pf.msgs(4) if sp.get(1, b"")[:1] == tag]


def unrevoke(rec):
    """A release record as if never revoked (what nanopb writes for revoked = false)."""
    if not rec.get(6):
        return False
    rec.drop(6, 7, 8, 9)
    return True


# --- the lies ---------------------------------------------------------------------------------

class Proxy:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.first = {}        # replay: kind -> the first answer's bytes
        self.captured = None   # stale-root: (header, commit, round, height) of the first proof
        self.count = 0

    def lie_best(self, resp, req):
        _, el, pf = proof_of(resp, ELIGIBLE)
        devs = el.msgs(1)
        prods = devs[0].msgs(2) if devs else []
        if not prods:
            raise NoLie("no product in the first answer")
        p = prods[0]
        product = p.get(1, b"")
        best = p.msg(4)
        now = best.get(2, b"") if best is not None else None
        for sp in parts(pf, b"h"):
            for leaf in sp.msgs(3):
                rel = Msg(leaf.get(2, b"")).msg(1)
                if rel is None or rel.get(1, b"") != product or rel.get(4, b"") == now:
                    continue
                ref = Msg()
                ref.set(1, product)
                ref.set(2, rel.get(4, b""))
                ref.set(3, rel.get(6, b""))
                p.set(4, ref)
                return "best %s -> %s" % ((now or b"none").decode(), rel.get(4).decode())
        raise NoLie("no other candidate of %s in the proof" % product.decode())

    def lie_hide_revocation(self, resp, req):
        _, gr, pf = proof_of(resp, GET_RELEASE)
        rec = gr.msg(1)
        if rec is None or not unrevoke(rec):
            raise NoLie("the release is not revoked")
        n = 0
        for sp in parts(pf, b"r"):
            for leaf in sp.msgs(3):
                v = Msg(leaf.get(2, b""))
                if unrevoke(v):
                    leaf.set(2, v.enc())
                    n += 1
        return "revocation removed from the record and %d proven leaf" % n

    def lie_hide_revocation_eligible(self, resp, req):
        _, _, pf = proof_of(resp, ELIGIBLE)
        for sp in parts(pf, b"h"):
            for leaf in sp.msgs(3):
                v = Msg(leaf.get(2, b""))
                if unrevoke(v):
                    leaf.set(2, v.enc())
                    return "revocation removed from candidate %s" % v.msg(1).get(4, b"").decode()
        raise NoLie("no revoked candidate in the proof")

    def lie_drop_candidate(self, resp, req):
        _, _, pf = proof_of(resp, ELIGIBLE)
        for sp in parts(pf, b"h"):
            leaves = sp.msgs(3)
            if leaves:
                gone = Msg(leaves[-1].get(2, b"")).msg(1).get(4, b"").decode()
                sp.put(3, leaves[:-1])
                return "candidate %s left out of %d" % (gone, len(leaves))
        raise NoLie("no candidate in the proof")

    def lie_replay(self, resp, req):
        kind, _ = body(resp)
        with self.lock:
            old = self.first.setdefault(kind, resp.enc())
        if old == resp.enc():
            return "kept as the answer to replay"
        m = Msg(old)
        m.set(1, req.get(1, 0))
        resp.fields = m.fields
        return "replayed the first answer"

    def lie_short_cert(self, resp, req):
        _, _, pf = proof_of(resp)
        sigs = pf.msgs(2)
        if len(sigs) < 2:
            raise NoLie("a single signature already")
        pf.put(2, sigs[:1])
        return "1 of %d commit signatures kept" % len(sigs)

    def lie_forged_cert(self, resp, req):
        _, _, pf = proof_of(resp)
        sigs = pf.msgs(2)
        if not sigs or not sigs[0].get(2):
            raise NoLie("no signature")
        s = bytearray(sigs[0].get(2))
        s[len(s) // 2] ^= 0x01
        sigs[0].set(2, bytes(s))
        return "a byte of the first of %d signatures flipped" % len(sigs)

    def lie_other_chain(self, resp, req):
        kind, ans, _ = proof_of(resp)
        other = Msg(call(self.args.other, req.enc()))
        if not other.has(kind):
            raise NoLie("the other node answers %s" % describe(other))
        oans = other.msg(kind)
        for f in (2, PROOF_FIELD[kind]) + ((3,) if kind == ELIGIBLE else ()):
            if oans.has(f):
                ans.set(f, oans.get(f))
            else:
                ans.drop(f)
        return "proof of chain %s spliced in" % chain_of(oans.msg(PROOF_FIELD[kind]))

    def lie_stale_root(self, resp, req):
        kind, ans, pf = proof_of(resp)
        cur = (pf.get(1, b""), [s.enc() for s in pf.msgs(2)], pf.get(3, 0), ans.get(2, 0))
        with self.lock:
            if self.captured is None:
                self.captured = cur
                return "header of height %d kept for later" % cur[3]
            header, commit, rnd, height = self.captured
        if header == cur[0]:
            raise NoLie("still at the captured height %d" % height)
        pf.set(1, header)
        pf.put(2, commit)
        pf.drop(3)
        if rnd:
            pf.set(3, rnd)
        ans.set(2, height)
        if kind == ELIGIBLE:
            ans.set(3, hashlib.sha256(header).digest())
        return "header and certificate of height %d instead of %d" % (height, cur[3])

    def lie_no_proof(self, resp, req):
        kind, ans, _ = proof_of(resp)
        ans.drop(PROOF_FIELD[kind])
        return "proof left out"

    def lie_drop_part(self, resp, req):
        _, _, pf = proof_of(resp, ELIGIBLE)
        keep = [sp for sp in pf.msgs(4) if sp.get(1, b"")[:1] != b"b"]
        n = len(pf.msgs(4)) - len(keep)
        if not n:
            raise NoLie("no binding proof")
        pf.put(4, keep)
        return "%d binding proof%s left out" % (n, "s" if n > 1 else "")

    def lie_drop_listed(self, resp, req):
        lr = resp.msg(LIST_RELEASES)
        if lr is None or len(lr.msgs(1)) < 2:
            raise NoLie("not a ListReleases answer of two releases or more")
        recs = lr.msgs(1)
        lr.put(1, recs[:1] + recs[2:])
        return "the second of %d listed releases left out" % len(recs)

    def lie_none(self, resp, req):
        return "unchanged"

    def answer(self, req_bytes, resp_bytes):
        """The frame body to send back for one request and the node's answer."""
        req = Msg(req_bytes)
        kind = next((REQ_KINDS[f[0]] for f in req.fields if f[0] in REQ_KINDS), "unknown")
        resp = Msg(resp_bytes)
        fn = getattr(self, "lie_" + self.args.lie.replace("-", "_"))
        try:
            what = fn(resp, req) if kind in ("get_release", "eligible", "list_releases") \
                else "passed through"
            out = resp.enc()
        except NoLie as e:
            what, out = "not lied to: %s" % e, resp_bytes
        with self.lock:
            self.count += 1
            n = self.count
        if self.args.dump:
            with open(os.path.join(self.args.dump, "%03d-%s.bin" % (n, kind)), "wb") as f:
                f.write(out)
        log("%s %d %s: %s" % (self.args.lie, n, kind, what))
        return out


def chain_of(pf):
    try:
        return Msg(pf.get(1, b"")).get(2, b"?").decode()
    except (ValueError, AttributeError):
        return "?"


def describe(resp):
    if resp.has(ERROR):
        e = resp.msg(ERROR)
        code = e.get(1, 0)
        return "error %d %s" % (code - (1 << 64) if code >> 63 else code, e.get(2, b"").decode())
    return "another kind of answer"


def log(s):
    sys.stderr.write("lying_proxy: %s\n" % s)
    sys.stderr.flush()


# --- frames and connections -------------------------------------------------------------------

def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        b = sock.recv(n - len(buf))
        if not b:
            return None
        buf += b
    return bytes(buf)


def recv_frame(sock):
    head = recv_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n > FRAME_MAX:
        raise ValueError("frame of %d bytes" % n)
    return recv_exact(sock, n)


def send_frame(sock, data):
    sock.sendall(struct.pack(">I", len(data)) + data)


def addr(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def call(target, req_bytes):
    """One request to a node, on its own connection: the answer's body."""
    with socket.create_connection(addr(target), timeout=10) as s:
        send_frame(s, req_bytes)
        out = recv_frame(s)
    if out is None:
        raise ValueError("%s closed the connection" % target)
    return out


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        proxy = self.server.proxy
        up = None
        try:
            while True:
                req = recv_frame(self.request)
                if req is None:
                    return
                if up is None:
                    up = socket.create_connection(addr(proxy.args.node), timeout=10)
                    if proxy.args.node_tls:  # a liar does not check whom it relays for
                        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                        ctx.check_hostname = False
                        ctx.verify_mode = ssl.CERT_NONE
                        up = ctx.wrap_socket(up)
                send_frame(up, req)
                resp = recv_frame(up)
                if resp is None:
                    return
                send_frame(self.request, proxy.answer(req, resp))
        except (OSError, ValueError) as e:
            log("connection: %s" % e)
        finally:
            if up is not None:
                up.close()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


LIES = ["none", "best", "hide-revocation", "hide-revocation-eligible", "drop-candidate",
        "replay", "short-cert", "forged-cert", "other-chain", "stale-root", "no-proof",
        "drop-part", "drop-listed"]


def main():
    ap = argparse.ArgumentParser(description="a lying fwledger node (tests only)")
    ap.add_argument("--listen", required=True, type=int, help="port on 127.0.0.1")
    ap.add_argument("--node", required=True, help="HOST:PORT of a plaintext node")
    ap.add_argument("--node-tls", action="store_true",
                    help="the node speaks TLS (its key is not checked); clients still get plaintext")
    ap.add_argument("--lie", required=True, choices=LIES)
    ap.add_argument("--other", help="HOST:PORT of a node of another chain (other-chain)")
    ap.add_argument("--dump", help="write every answer frame into this directory")
    args = ap.parse_args()
    if args.lie == "other-chain" and not args.other:
        ap.error("--lie other-chain needs --other HOST:PORT")
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
    srv = Server(("127.0.0.1", args.listen), Handler)
    srv.proxy = Proxy(args)
    log("listening on 127.0.0.1:%d for %s, lie %s" % (args.listen, args.node, args.lie))
    srv.serve_forever()


if __name__ == "__main__":
    main()
