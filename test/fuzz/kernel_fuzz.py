"""The exitlab kernel against abusive Jupyter clients (jupyter_client, Debian's python3).

  kernel_fuzz.py regressions          issue 19's kernel findings and the named abuse scenarios
  kernel_fuzz.py fuzz SEED SECONDS    random requests (wrong types in every content field,
                                      unknown types, bad signatures, malformed frames) for SECONDS
  kernel_fuzz.py replay FILE...       the requests saved in test/fuzz/corpus/kernel-*.json

The property: every request gets a reply (status ok or error) within REPLY_TIMEOUT, the heartbeat
keeps answering, and the kernel stays up. Prints "ok NAME" / "FAIL NAME: why" lines, a
"REPRO {json}" line with the minimal request that failed, and "inputs N" at the end.
Exit status 1 on any failure. Uses the kernelspec `exitlab` (JUPYTER_PATH says where)."""
import json, random, sys, time
import zmq
from jupyter_client.manager import start_new_kernel

REPLY_TIMEOUT = 15
failures = []


def check(name, cond, why=""):
    print(("ok " if cond else "FAIL ") + name + ("" if cond else ": " + why[:500]), flush=True)
    if not cond:
        failures.append(name)
    return cond


def start():
    return start_new_kernel(kernel_name="exitlab", startup_timeout=60)


def send(kc, msg_type, content):
    """A request on the shell channel with any JSON content (not only objects), signed; its msg_id."""
    msg = kc.session.msg(msg_type, {})
    frames = kc.session.serialize(msg)
    i = frames.index(b"<IDS|MSG>")
    frames[i + 5] = json.dumps(content).encode()
    frames[i + 1] = kc.session.sign(frames[i + 2 : i + 6])
    kc.shell_channel.socket.send_multipart(frames)
    return msg["header"]["msg_id"]


def reply_to(kc, msg_id, timeout=REPLY_TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            m = kc.get_shell_msg(timeout=max(0.01, deadline - time.time()))
        except Exception:
            return None
        if m["parent_header"].get("msg_id") == msg_id:
            return m
    return None


def heartbeat_ok(km):
    """The heartbeat socket echoes a ping within a second."""
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.linger = 0
    info = km.get_connection_info()
    s.connect(f"{info['transport']}://{info['ip']}:{info['hb_port']}")
    s.send(b"ping")
    ok = s.poll(1000) != 0
    s.close()
    return ok


def drain_iopub(kc):
    while True:
        try:
            kc.get_iopub_msg(timeout=0.01)
        except Exception:
            return


def execute(kc, code, timeout=60):
    msg_id = send(kc, "execute_request", {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": False})
    return reply_to(kc, msg_id, timeout)


def raw_send(kc, frames):
    kc.shell_channel.socket.send_multipart(frames)


# --- the requests a client may send, with content that follows the spec ---------------------
BASE = {
    "execute_request": {"code": "1+1", "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": False},
    "complete_request": {"code": "vm bo", "cursor_pos": 5},
    "inspect_request": {"code": "trap", "cursor_pos": 2, "detail_level": 0},
    "is_complete_request": {"code": "vm boot x86_64 asm {"},
    "history_request": {"output": False, "raw": True, "hist_access_type": "search", "pattern": "*", "unique": False, "n": 10, "session": 0, "start": 0, "stop": 5},
    "kernel_info_request": {},
    "comm_info_request": {"target_name": "x"},
}

ODD_VALUES = [None, 0, -1, 1.5, 2 ** 70, True, "", "x" * 1000, [], [1, "a"], {}, {"a": {"b": []}}, "\u0000\r\n", "((((((", -2 ** 53]


def random_request(rnd):
    """(msg_type, content): a spec request with one field of a wrong type, or worse."""
    kind = rnd.random()
    if kind < 0.08:
        return rnd.choice(["foo_request", "execute", "", "debug_request", "x" * 200 + "_request", "__proto___request", "constructor"]), {}
    msg_type = rnd.choice(list(BASE))
    content = json.loads(json.dumps(BASE[msg_type]))
    if kind < 0.15:
        return msg_type, rnd.choice([[], "content", 5, None])
    fields = list(content) or ["code"]
    for _ in range(rnd.randint(1, 2)):
        content[rnd.choice(fields)] = rnd.choice(ODD_VALUES)
    return msg_type, content


def one_request(kc, msg_type, content):
    """True when a request of a *_request type got its reply (other types are not answered)."""
    msg_id = send(kc, msg_type, content)
    if not (isinstance(msg_type, str) and msg_type.endswith("_request")):
        return True
    r = reply_to(kc, msg_id)
    # is_complete_reply's status is the verdict (complete, incomplete, invalid, unknown).
    return r is not None and r["content"].get("status") in ("ok", "error", "aborted", "complete", "incomplete", "invalid", "unknown")


def bad_frames(kc, rnd):
    """A bad signature or a malformed multipart message: dropped, never answered, never fatal."""
    msg = kc.session.msg("execute_request", {"code": "1"})
    frames = kc.session.serialize(msg)
    i = frames.index(b"<IDS|MSG>")
    choice = rnd.randrange(4)
    if choice == 0:
        frames[i + 1] = b"0" * 64  # bad signature
    elif choice == 1:
        frames = frames[: i + rnd.randint(0, 4)]  # truncated
    elif choice == 2:
        frames[i + 2] = b"{not json"
        frames[i + 1] = kc.session.sign(frames[i + 2 : i + 6])
    else:
        frames = [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 40))) for _ in range(rnd.randint(1, 8))]
    raw_send(kc, frames or [b""])


def fuzz(seed, seconds):
    rnd = random.Random(seed)
    km, kc = start()
    n = 0
    try:
        t_end = time.time() + seconds
        while time.time() < t_end:
            if rnd.random() < 0.1:
                bad_frames(kc, rnd)
                n += 1
                continue
            msg_type, content = random_request(rnd)
            n += 1
            if not one_request(kc, msg_type, content):
                check("reply to every request", False, json.dumps({"msg_type": msg_type, "content": content})[:300])
                print("REPRO " + json.dumps({"requests": [{"msg_type": msg_type, "content": content}]}), flush=True)
                return n
            drain_iopub(kc)
        check(f"{n} random requests answered", True)
        check("heartbeat after fuzzing", heartbeat_ok(km))
        r = reply_to(kc, send(kc, "kernel_info_request", {}))
        check("kernel_info after fuzzing", r is not None and r["content"]["status"] == "ok")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return n


def replay(paths):
    km, kc = start()
    try:
        for p in paths:
            with open(p) as f:
                case = json.load(f)
            for req in case["requests"]:
                check(f"{p}: {req['msg_type']} answered", one_request(kc, req["msg_type"], req["content"]), json.dumps(req)[:300])
            check(f"{p}: heartbeat", heartbeat_ok(km))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def regressions():
    km, kc = start()
    try:
        # complete_request with a non-string code: the client used to wait for ever.
        r = reply_to(kc, send(kc, "complete_request", {"code": 5, "cursor_pos": 1}))
        check("complete_request with a number as code: status error", r is not None and r["content"]["status"] == "error" and r["msg_type"] == "complete_reply", str(r and r["content"]))
        check("its ename says what is wrong", r is not None and r["content"].get("ename") == "TypeError" and "content.code must be a string" in r["content"].get("evalue", ""), str(r and r["content"]))
        r = reply_to(kc, send(kc, "frobnicate_request", {}))
        check("an unknown request is answered with status error", r is not None and r["msg_type"] == "frobnicate_reply" and r["content"]["status"] == "error", str(r and r["content"]))

        # history search with a pattern that a regex would backtrack on for a minute.
        execute(kc, "let a = " + "1" * 34 + "  # a")
        execute(kc, "a" * 42)
        t0 = time.time()
        msg_id = send(kc, "history_request", {"output": False, "raw": True, "hist_access_type": "search", "pattern": "*a" * 10 + "*c", "unique": False, "n": 0})
        time.sleep(0.05)
        hb = heartbeat_ok(km)
        r = reply_to(kc, msg_id, timeout=10)
        check("pathological history pattern answered at once", r is not None and time.time() - t0 < 3, f"{time.time() - t0:.1f}s")
        check("heartbeat answers during a history search", hb)
        check("no input matches *a*…*c", r is not None and r["content"]["history"] == [], str(r and r["content"]))
        r = reply_to(kc, send(kc, "history_request", {"output": False, "raw": True, "hist_access_type": "search", "pattern": "let a = 1*", "unique": True, "n": 0}))
        check("a history search finds its cell", r is not None and [h[2] for h in r["content"]["history"]] == ["let a = " + "1" * 34 + "  # a"], str(r and r["content"]))

        # 5 MB and 50 MB cells: an error, the session kept.
        execute(kc, "let kept = 41")
        for mb in (5, 50):
            r = execute(kc, "print 1\n" + "#" * (mb << 20), timeout=120)
            check(f"a {mb} MB cell is refused", r is not None and r["content"]["status"] == "error" and r["content"]["ename"] == "SyntaxError", str(r and r["content"])[:300])
        drain_iopub(kc)
        r = execute(kc, "expect kept == 41")
        check("the session survives the big cells", r is not None and r["content"]["status"] == "ok", str(r and r["content"]))

        # 200 queued executes, each answered in order.
        ids = [send(kc, "execute_request", dict(BASE["execute_request"], code=f"let q = {i}")) for i in range(200)]
        got = [reply_to(kc, i, timeout=60) for i in ids]
        check("200 queued executes answered", all(g is not None and g["content"]["status"] == "ok" for g in got))
        check("in order", [g["content"]["execution_count"] for g in got if g] == sorted(g["content"]["execution_count"] for g in got if g))
        drain_iopub(kc)

        # An interrupt storm during a long run: the run stops, the kernel stays.
        execute(kc, "vm boot x86_64 asm { 1: jmp 1b } as spin\nset steplimit 1000000000000")
        msg_id = send(kc, "execute_request", dict(BASE["execute_request"], code="run"))
        time.sleep(0.5)
        for _ in range(200):
            km.interrupt_kernel()
        r = reply_to(kc, msg_id, timeout=20)
        check("interrupt storm stops the run", r is not None and r["content"]["status"] == "error" and r["content"]["ename"] == "Interrupted", str(r and r["content"]))
        time.sleep(0.3)
        r = execute(kc, "print rip")
        check("the kernel answers after the storm", r is not None and r["content"]["status"] == "ok", str(r and r["content"]))
        check("heartbeat after the storm", heartbeat_ok(km))

        # 20 restarts.
        for i in range(20):
            km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=60)
        r = execute(kc, "1+1")
        check("20 restarts, then a cell", r is not None and r["content"]["status"] == "ok", str(r and r["content"]))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    n = 0
    if mode == "regressions":
        regressions()
    elif mode == "fuzz":
        n = fuzz(int(sys.argv[2]), float(sys.argv[3]))
    else:
        replay(sys.argv[2:])
    print(f"inputs {n}", flush=True)
    sys.exit(1 if failures else 0)
