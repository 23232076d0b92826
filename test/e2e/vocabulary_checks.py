"""Completion and decode through a real Jupyter client: complete_request for `trap `, `trap cr`,
`set `, `show `, `decode ` before and after booting each arch, and `decode esr` as an
execute_result/display. The expected lists come from the machines' own tables, as JSON in argv[2]
(written by kernel.test.ts). Prints "ok NAME" / "FAIL NAME: why"; exit status 1 on any failure."""
import json, sys
from jupyter_client.manager import start_new_kernel

want = json.loads(sys.argv[2])
failures = []
def check(name, cond, why=""):
    print(("ok " if cond else "FAIL ") + name + ("" if cond else ": " + why), flush=True)
    if not cond:
        failures.append(name)

def complete(kc, code):
    kc.complete(code, len(code))
    r = kc.get_shell_msg(timeout=20)
    assert r["msg_type"] == "complete_reply", r["msg_type"]
    c = r["content"]
    return c["status"], sorted(c["matches"]), c["cursor_start"], c["cursor_end"]

def run(kc, code):
    outs = []
    r = kc.execute_interactive(code, output_hook=lambda m: outs.append(m), timeout=60)
    texts = [m["content"].get("data", {}).get("text/plain", "") or m["content"].get("text", "") for m in outs if m["msg_type"] in ("execute_result", "display_data", "stream")]
    return r["content"], "\n".join(texts), outs

km, kc = start_new_kernel(kernel_name=sys.argv[1])
try:
    st, m, s, e = complete(kc, "trap cr")
    check("trap cr completes to cr0 cr3 cr4 cr8", st == "ok" and m == ["cr0", "cr3", "cr4", "cr8"] and (s, e) == (5, 7), f"{st} {m} {s} {e}")
    st, m, s, e = complete(kc, "trap ")
    check("trap (no VM) offers the default arch's kinds", m == sorted(want["trap"]["x86_64"]), str(m))
    st, m, s, e = complete(kc, "set ")
    check("set offers every setting", m == sorted(want["settings"]), str(m))
    st, m, s, e = complete(kc, "decode ")
    check("decode offers every register", m == sorted(want["decoders"]), str(m))
    st, m, s, e = complete(kc, "decode qual ")
    check("decode qual offers its layouts", m == ["cr", "ept", "io"], str(m))
    for arch in ["arm64", "x86_64"]:
        c, _, _ = run(kc, f"vm boot {arch}")
        check(f"boot {arch}", c["status"] == "ok", str(c))
        st, m, s, e = complete(kc, "trap ")
        check(f"trap offers every {arch} kind", m == sorted(want["trap"][arch]), str(m))
        st, m, s, e = complete(kc, "show ")
        check(f"show offers every {arch} view", set(want["views"][arch]) <= set(m), str(m))
    c, text, outs = run(kc, "decode esr 0x92000045")
    check("decode esr replies ok", c["status"] == "ok", str(c))
    check("decode esr shows the class and the fault", "DABT_LOW" in text and "translation fault, level 1" in text, text)
    html = [m["content"]["data"].get("text/html", "") for m in outs if m["msg_type"] in ("execute_result", "display_data")]
    check("decode esr has an HTML table", any("<table" in h and "iss.dfsc" in h for h in html), str(html)[:300])
    c, text, outs = run(kc, "help 49")
    check("help 49 names both arches' exits", "EPT_MISCONFIG" in text and "BREAKPT_CUR" in text, text)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
sys.exit(1 if failures else 0)
