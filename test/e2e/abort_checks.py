"""stop_on_error against a kernel that stalls (issue 19): the kernel aborts the execute requests that
were queued when a cell failed, never one the client sent after it saw the error reply, however late
the kernel gets to answering the aborted ones. The stall is fault injection
(EXITLAB_KERNEL_STALL_AFTER_ERROR_MS: the kernel waits that long after an error reply, its event
loop running, before it answers the aborted requests), as a kernel descheduled under load would.
Prints one line per check ("ok NAME" / "FAIL NAME: why"); exit status 1 on any failure."""
import os, sys, time
from jupyter_client.manager import start_new_kernel

STALL = 2.0
failures = []
def check(name, cond, why=""):
    print(("ok " if cond else "FAIL ") + name + ("" if cond else ": " + why), flush=True)
    if not cond:
        failures.append(name)

env = {**os.environ, "EXITLAB_KERNEL_STALL_AFTER_ERROR_MS": str(int(STALL * 1000))}
km, kc = start_new_kernel(kernel_name=sys.argv[1] if len(sys.argv) > 1 else "exitlab", env=env)
try:
    r = kc.execute_interactive("vm boot x86_64 asm { 1: jmp 1b } as spin\nset steplimit 100000000", output_hook=lambda m: None, timeout=30)
    check("setup", r["content"]["status"] == "ok", str(r["content"]))

    # The failing cell runs a while (100 M steps, then StepLimit): `piped` is queued behind it.
    failing = kc.execute("run")
    piped = kc.execute("let piped = 1")
    reply = kc.get_shell_msg(timeout=60)
    # The error reply has arrived: the next cell goes at once, while the kernel stalls before
    # answering the aborted request.
    later = kc.execute("let later = 2")
    sent = time.monotonic()
    check("the failing cell's reply comes first", reply["parent_header"]["msg_id"] == failing, str(reply["parent_header"]))
    check("the failing cell errors", reply["content"]["status"] == "error" and reply["content"].get("ename") == "StepLimit", str(reply["content"]))
    replies, arrived = {}, {}
    while len(replies) < 2:
        m = kc.get_shell_msg(timeout=30)
        replies[m["parent_header"]["msg_id"]] = m["content"]
        arrived[m["parent_header"]["msg_id"]] = time.monotonic()
    check("the queued cell is aborted", replies[piped]["status"] == "aborted", str(replies[piped]))
    # Observable: the aborted cell was answered only after the next cell had been sent, so that
    # cell reached the kernel inside the window between the error reply and the aborting.
    check("the next cell was sent inside the stall", arrived[piped] - sent > STALL / 2, f"aborted reply {arrived[piped] - sent:.2f}s after the send")
    check("the cell sent after the error reply runs", replies[later]["status"] == "ok", str(replies[later]))
    r = kc.execute_interactive("let x = later", output_hook=lambda m: None, timeout=30)
    check("its effect is there", r["content"]["status"] == "ok", str(r["content"]))
    r = kc.execute_interactive("let y = piped", output_hook=lambda m: None, timeout=30)
    check("the aborted cell never ran", r["content"]["status"] == "error", str(r["content"]))
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=False)
sys.exit(1 if failures else 0)
