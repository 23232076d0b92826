"""Real-client checks of the exitlab kernel with jupyter_client: interrupt of a runaway guest,
a bad signature, a malformed frame, a syntax error then a good cell, restart, shutdown.
Prints one line per check ("ok NAME" / "FAIL NAME: why"); exit status 1 on any failure."""
import sys, time
import zmq
from jupyter_client.manager import start_new_kernel

failures = []
def check(name, cond, why=""):
    print(("ok " if cond else "FAIL ") + name + ("" if cond else ": " + why), flush=True)
    if not cond:
        failures.append(name)

def run(kc, code, timeout=30):
    outs = []
    r = kc.execute_interactive(code, output_hook=lambda m: outs.append(m), timeout=timeout)
    return r["content"], outs

def started(kc, msg_id, timeout=30):
    """Wait until the kernel has begun the cell (its execute_input on iopub): an interrupt sent
    before that finds no cell to stop, so a loaded machine would otherwise lose it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = kc.get_iopub_msg(timeout=deadline - time.time())
        if m["msg_type"] == "execute_input" and m["parent_header"].get("msg_id") == msg_id:
            return
    raise TimeoutError("the cell never started")

km, kc = start_new_kernel(kernel_name=sys.argv[1] if len(sys.argv) > 1 else "exitlab")
try:
    # A syntax error, then a good cell.
    c, outs = run(kc, "vm bot x86_64")
    errs = [m for m in outs if m["msg_type"] == "error"]
    check("syntax error reply", c["status"] == "error" and errs and errs[0]["content"]["ename"] == "SyntaxError", str(c))
    check("syntax error traceback has caret", errs and any("^" in l for l in errs[0]["content"]["traceback"]), str(errs))
    # A compiled self-loop runs about 10^9 jumps a second: the limit must outlast the interrupts.
    c, outs = run(kc, "vm boot x86_64 asm { 1: jmp 1b }\nset steplimit 1000000000000")
    check("good cell after error", c["status"] == "ok", str(c))

    # Interrupt a runaway guest (message mode), then the VM is intact.
    started(kc, kc.execute("run"))
    time.sleep(1.0)
    t0 = time.time()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=20)
    check("interrupt stops runaway guest", reply["content"]["status"] == "error" and "Interrupt" in reply["content"].get("ename", ""), str(reply["content"]))
    check("interrupt is prompt", time.time() - t0 < 5, f"{time.time() - t0:.1f}s")
    c, outs = run(kc, "show regs")
    check("VM intact after interrupt", c["status"] == "ok" and any(m["msg_type"] in ("display_data", "stream") for m in outs), str(c))

    # The same with SIGINT (interrupt_mode "signal"), the kernel process survives it.
    import signal
    started(kc, kc.execute("run"))
    time.sleep(1.0)
    km.signal_kernel(signal.SIGINT)
    reply = kc.get_shell_msg(timeout=20)
    check("SIGINT stops runaway guest", reply["content"]["status"] == "error" and "Interrupt" in reply["content"].get("ename", ""), str(reply["content"]))
    check("alive after SIGINT", km.is_alive())

    # A REP STOSB of 96 MiB (from 16 MiB, above the guest code at 4 MiB): each iteration is a step, so
    # the interrupt stops it between iterations, RIP on the instruction, ECX counting what is left
    # (issue 14; SDM Vol. 2 REP).
    c, outs = run(kc, "vm boot x86_64 asm mode 32 {\n  movl $0x6000000, %ecx\n  movl $0x1000000, %edi\n  rep stosb\n  hlt\n}")
    # Sent right after the SIGINT's error reply: run, not aborted by stop_on_error (abort_checks.py).
    check("the cell after an error reply runs", c["status"] == "ok", str(c))
    started(kc, kc.execute("run"))
    time.sleep(1.0)
    t0 = time.time()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=20)
    check("interrupt stops rep stosb", reply["content"]["status"] == "error" and "Interrupt" in reply["content"].get("ename", ""), str(reply["content"]))
    check("rep stosb interrupt is prompt", time.time() - t0 < 5, f"{time.time() - t0:.1f}s")
    c, outs = run(kc, "expect ecx > 0\nexpect ecx < 0x6000000\nlet left = ecx\nlet at = rip\nrun until ecx < left limit 10000000\nexpect ecx == left - 1\nexpect rip == at")
    check("rep stosb stopped between iterations", c["status"] == "ok", str(c))

    # A message with a bad signature and a malformed frame: dropped, the kernel stays alive.
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(f"{km.transport}://{km.ip}:{km.shell_port}")
    hdr = b'{"msg_id":"x1","session":"s","username":"u","date":"","msg_type":"execute_request","version":"5.3"}'
    sock.send_multipart([b"<IDS|MSG>", b"0" * 64, hdr, b"{}", b"{}", b'{"code":"vm boot x86_64 as evil"}'])
    sock.send_multipart([b"garbage", b"no delimiter"])
    sock.send_multipart([b"<IDS|MSG>", b"sig"])
    time.sleep(0.5)
    check("bad signature not answered", sock.poll(300) == 0, "kernel replied to a forged message")
    sock.close(0)
    c, outs = run(kc, "use evil")
    check("forged message never executed", c["status"] == "error", str(c))
    check("alive after bad frames", kc.kernel_info(reply=True, timeout=10)["content"]["status"] == "ok")

    # stop_on_error: a failing cell aborts the execute requests queued behind it; later cells run.
    # The failing cell must still run when the next request arrives: 400 M instructions of a
    # compiled loop take a good fraction of a second even at the engine's full speed.
    c, outs = run(kc, "vm boot x86_64 asm { 1: jmp 1b } as spin\nset steplimit 400000000")
    first = kc.execute("run")  # then the StepLimit error
    second = kc.execute("let queued = 1")
    replies = {}
    while len(replies) < 2:
        m = kc.get_shell_msg(timeout=60)
        replies[m["parent_header"]["msg_id"]] = m["content"]
    check("stop_on_error: the failing cell errors", replies[first]["status"] == "error", str(replies[first]))
    check("stop_on_error aborts the queued cell", replies[second]["status"] == "aborted", str(replies[second]))
    c, outs = run(kc, "let after = 2")
    check("cells after the aborted queue run", c["status"] == "ok", str(c))
    c, outs = run(kc, "let x = queued")
    check("the aborted cell never ran", c["status"] == "error", str(c))

    # Values and print: a bare expression is the cell's execute_result, in hex when it is hardware
    # state; print and the statements' reports are stdout; a cell without a value keeps its last
    # report as its result.
    c, outs = run(kc, 'vm boot x86_64 as v\nstep until exit\nprint "first:", exit.reason\nexit.exit_qualification\ncount(exits)')
    results = [m["content"]["data"]["text/plain"] for m in outs if m["msg_type"] == "execute_result"]
    stdout = "".join(m["content"]["text"] for m in outs if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")
    check("values are execute_results, hex for hardware state", c["status"] == "ok" and results == ["0x184", "1"], str(results))
    check("print and reports go to stdout", "first: EPT_VIOLATION\n" in stdout and "booted x86_64 VM `v`" in stdout, stdout)
    c, outs = run(kc, "let q = exit.exit_qualification")
    results = [m["content"]["data"]["text/plain"] for m in outs if m["msg_type"] == "execute_result"]
    check("a cell without a value: its last report is the result", results == ["q = 0x184"], str(results))

    # Restart: a fresh session (the VM is gone), the kernel answers.
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=30)
    c, outs = run(kc, "show regs")
    check("restart gives a fresh session", c["status"] == "error", str(c))
    c, outs = run(kc, "vm boot x86_64\nrun")
    check("works after restart", c["status"] == "ok", str(c))
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=False)
    check("shutdown", not km.is_alive())
sys.exit(1 if failures else 0)
