import { describe, expect, test } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, defaultFactory } from "../../lab/session.js";
import type { ErrorResult, Result, TableResult } from "../../lab/results.js";
import { formatError } from "../../lab/results.js";
import { renderAllText } from "../../lab/render/text.js";
import { x86Factory } from "./factory.js";

const session = () => new Session(x86Factory);
const errors = (rs: Result[]) => rs.filter((r): r is ErrorResult => r.kind === "error");
const only = (rs: Result[]) => {
  expect(errors(rs)).toEqual([]);
  return rs;
};
function err(s: Session, src: string): ErrorResult {
  const e = errors(s.execute(src));
  expect(e.length, src).toBe(1);
  return e[0]!;
}
const textOf = (rs: Result[]) => rs.map((r) => (r.kind === "text" ? r.text : "")).join("\n");

describe("statements", () => {
  test("vm boot, step until exit, handle, step N, run until halt", () => {
    const s = session();
    const rs = only(s.execute("vm boot x86_64 as intel\nstep until exit\nhandle\nstep 3\nrun until halt"));
    expect(textOf(rs)).toMatch(/booted x86_64 VM `intel`/);
    expect(textOf(rs)).toMatch(/exit #0 EPT_VIOLATION at 0x400000/);
    expect(textOf(rs)).toMatch(/the VM stopped: isa-debug-exit/);
    expect(s.current!.machine.halted).not.toBeNull();
  });

  test("step until a condition on a register / exit reason", () => {
    const s = session();
    only(s.execute("vm boot x86_64; step until exit; handle; step until exit.reason == CR_ACCESS"));
    expect(s.current!.machine.pendingExit!.reason).toBe("CR_ACCESS");
    only(s.execute("handle; step until rip == 0x40001d"));
    expect(s.current!.machine.pc).toBe(0x40001dn);
  });

  test("run until a condition on the exit stops with that exit pending", () => {
    const s = session();
    only(s.execute("vm boot x86_64; run until exit.reason == MSR_WRITE && exit.msr == 0xc0000080"));
    const m = s.current!.machine;
    expect(m.pendingExit!.reason).toBe("MSR_WRITE");
    expect(m.exits.length).toBe(5);
    // `exit` in an until condition is the new exit, not the last one: this runs on to CR0.
    only(s.execute("handle; run until exit.reason == CR_ACCESS"));
    expect(m.pendingExit!.info["qual.cr"]).toBe(0);
  });

  test("vm boot with an inline asm block; use switches VMs", () => {
    const s = session();
    only(s.execute("vm boot x86_64 asm x86_64 mode 32 {\n  mov $0x2a, %eax\n  hlt\n} as tiny\nvm boot x86_64 as big\nuse tiny\nstep until exit\nhandle\nstep"));
    expect(s.currentName).toBe("tiny");
    expect(s.current!.machine.readRegister("rax") & 0xffn).toBe(0x2an);
  });

  test("vm boot from a file", () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-"));
    writeFileSync(join(dir, "g.s"), "mov $7, %ebx\nhlt\n");
    const s = session();
    only(s.execute('vm boot x86_64 from "g.s"\nstep until exit\nhandle\nstep', { baseDir: dir }));
    expect(s.current!.machine.readRegister("rbx")).toBe(7n);
  });

  test("trap / untrap change what exits", () => {
    const s = session();
    const rs = only(s.execute("vm boot x86_64; untrap cr3; trap msr 0xc0000080; trap hlt; trap io 0x3f8; untrap cr0"));
    expect(textOf(rs)).toMatch(/CPU_BASED_CR3_LOAD_EXITING/);
  });

  test("show: regs, exit, vmcs group, mem, disasm, trace last, console, exits, other views", () => {
    const s = session();
    const rs = only(s.execute("vm boot x86_64; step until exit; show regs; show exit; show vmcs guest; show mem 0x400000 32; show disasm 0x400000 2; show trace last 2; show console; show exits; show controls; show stats"));
    const tables = rs.filter((r): r is TableResult => r.kind === "table");
    expect(tables.map((t) => t.title)).toContain("exit #0 (pending)");
    const regs = tables.find((t) => t.title.includes("registers"))!;
    expect(regs.rows.find((r) => r[0] === "rip")![1]).toBe("0x400000");
    const tr = rs.find((r) => r.kind === "trace");
    expect(tr && tr.kind === "trace" && tr.lines).toEqual(["kvm_entry: vcpu 0", "kvm_exit: reason EPT_VIOLATION rip 0x400000 info 184 0"]);
    expect(textOf(rs)).toMatch(/^00400000 {2}/m);
  });

  test("table, chart (vega-lite v5), compare", () => {
    const s = session();
    const rs = only(s.execute("vm boot x86_64 as a; run; vm boot x86_64 as b; trap hlt; run; table exits by reason; chart exits by reason; chart a over time; compare a b"));
    const t = rs.find((r): r is TableResult => r.kind === "table" && r.title === "exits of b by reason")!;
    expect(t.rows.find((r) => r[0] === "CR_ACCESS")).toEqual(["CR_ACCESS", 3, 4650]);
    const c = rs.find((r) => r.kind === "chart")!;
    expect(c.kind === "chart" && c.spec.$schema).toBe("https://vega.github.io/schema/vega-lite/v5.json");
    const cmp = rs.find((r): r is TableResult => r.kind === "table" && r.title.startsWith("a vs b"))!;
    expect(cmp.columns.map((x) => x.name)).toEqual(["reason", "a exits", "a cycles", "b exits", "b cycles"]);
    expect(cmp.rows.at(-1)![0]).toBe("total");
  });

  test("let, expressions, count, exits[i], shorthand fields", () => {
    const s = session();
    only(s.execute("vm boot x86_64 as v; step until exit; handle; step until exit; let q = vmcs.exit_qualification; let c = qual.cr; let g = vmcs.GUEST_RIP"));
    expect(s.variables.get("q")).toBe(4n);
    expect(s.variables.get("c")).toBe(4n);
    expect(s.variables.get("g")).toBe(0x400015n);
    only(s.execute("vm boot x86_64; run; let n = count(exits where reason == CR_ACCESS && qual.cr == 0); let m = exits[1].qual.cr * 2 + 0x10 - 0b1; let k = 1 << 4 | 3 & 1 ^ 2"));
    expect(s.variables.get("n")).toBe(1n);
    expect(s.variables.get("m")).toBe(23n);
    expect(s.variables.get("k")).toBe(16n | (3n & 1n) ^ 2n);
  });

  test("set: steplimit, era, unknown setting", () => {
    const s = session();
    const rs = only(s.execute("set steplimit 50; vm boot x86_64 as old; set kvm today"));
    expect(s.settings).toMatchObject({ steplimit: 50, era: "today" });
    // A booted VM keeps the KVM it was booted with, and the result says so.
    expect(s.current!.machine.settings.era).toBe("2015");
    expect(textOf(rs.slice(-1))).toBe("kvm = today: applies to VMs booted from now on; `old` keeps 2015 (`set kvm today for old` changes one)");
    only(s.execute("vm boot x86_64 as new"));
    expect(s.current!.machine.settings.era).toBe("today");
    // The per-VM form changes that VM only.
    expect(textOf(only(s.execute("set era today for old")))).toBe("era = today for VM `old` (was 2015)");
    expect(s.vms.get("old")!.machine.settings.era).toBe("today");
    expect(err(s, "set steplimit 5 for old").message).toBe("`steplimit` is a setting of the session, not of one VM");
    expect(err(s, "set kvm today for nosuch").name).toBe("NameError");
    const e = err(s, "set stepliimt 5");
    expect(e.name).toBe("NameError");
    expect(e.hint).toBe("did you mean `steplimit`?");
  });

  test("save trace / load trace, and tables of a loaded trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-"));
    const s = session();
    only(s.execute('vm boot x86_64; run; save trace "t.trace"; load trace "t.trace" as host; table host by reason; compare x86_64 host', { baseDir: dir }));
    expect(readFileSync(join(dir, "t.trace"), "utf8").split("\n")[1]).toBe("kvm_exit: reason EPT_VIOLATION rip 0x400000 info 184 0");
    expect(s.traces.get("host")!.read.table.length).toBe(s.current!.machine.trace.events.length);
  });

  test("help", () => {
    const s = session();
    expect(textOf(only(s.execute("help")))).toMatch(/exitlab statements/);
    expect(textOf(only(s.execute("help CR_ACCESS")))).toMatch(/^CR_ACCESS \(28\)/);
    expect(err(s, "help trpa").hint).toBe("did you mean `trap`?");
  });
});

describe("errors", () => {
  test("caret format (exact)", () => {
    const s = session();
    const e = err(s, "vm boot x86_64\nexpect count(exits) == 1, \"none yet\"");
    expect(formatError(e)).toBe(
      "ExpectationFailed: line 2, column 8: none yet: `count(exits) == 1`: left side 0, right side 1\n" +
        "  expect count(exits) == 1, \"none yet\"\n" +
        "         ^^^^^^^^^^^^^^^^^",
    );
  });

  test("every error class", () => {
    const s = session();
    expect(err(s, "stpe 5").name).toBe("SyntaxError");
    // A lone word is an expression: an unknown name, close to a statement keyword.
    expect(err(s, "stpe")).toMatchObject({ name: "NameError", hint: "did you mean `step`?" });
    expect(err(s, "step").name).toBe("NoVm");
    expect(err(s, "vm boot arm46").message).toBe("unknown architecture `arm46`");
    expect(err(s, "vm boot x86_64 guest bot").hint).toBe("did you mean `boot`?");
    only(s.execute("vm boot x86_64"));
    expect(err(s, "let x = nosuch").name).toBe("NameError");
    expect(err(s, "let x = EPT_VIOLATOIN").hint).toBe("did you mean `EPT_VIOLATION`?");
    expect(err(s, "let x = raxx").hint).toBe("did you mean `rax`?");
    expect(err(s, "let x = exit.reason").name).toBe("NoExit");
    expect(err(s, 'let x = 1 + "a"').name).toBe("TypeError");
    expect(err(s, "let x = 1 / 0").name).toBe("ZeroDivisionError");
    expect(err(s, "let x = exits[5].pc").name).toBe("IndexError");
    expect(err(s, "show mem 1").name).toBe("UsageError");
    expect(err(s, "show regz").hint).toBe("did you mean `regs`?");
    expect(err(s, "trap cpuidd").hint).toBe("did you mean `cpuid`?");
    expect(err(s, "trap tvm").hint).toBe("`tvm` is a trap of the other architecture");
    expect(err(s, "set kvm 2016").name).toBe("ValueError");
    expect(err(s, "use nope").name).toBe("NameError");
    expect(err(s, 'load trace "/nonexistent/x"').name).toBe("FileError");
    expect(err(s, "expect 1 == 2").name).toBe("ExpectationFailed");
    expect(err(s, "run limit 10").name).toBe("StepLimit");
    const asm = err(s, "vm boot x86_64 asm {\n  nop\n  frob %eax\n}");
    expect(asm.name).toBe("AsmError");
    expect(asm.line).toBe(3);
    expect(asm.column).toBe(3);
    // One position: the program's line and column, not the block's too.
    expect(asm.message).toBe("no such instruction: `frob'");
    // The machine's refusals are ValueErrors, not the runtime's generic ExitlabError.
    expect(err(s, "show vmcs nosuchgroup").name).toBe("ValueError");
    expect(err(s, "trap cr 2")).toMatchObject({ name: "ValueError", column: 9, message: "CR2 accesses cannot be trapped: VMX traps CR0, CR3, CR4 and CR8" });
  });

  test("an x86 asm error names the problem in a sentence", () => {
    const e = err(session(), "vm boot x86_64 asm mode 32 {\n  incq %rax\n}");
    expect(e).toMatchObject({ name: "AsmError", line: 2, column: 3 });
    expect(e.message).toBe("`incq': a 64-bit operand size needs 64-bit code (.code64)");
    // A guest file: the program's `from "FILE"`, the file's own line and column after the message.
    const dir = mkdtempSync(join(tmpdir(), "exitlab-"));
    writeFileSync(join(dir, "g.s"), "  nop\n  frob %eax\n");
    const f = errors(session().execute('vm boot x86_64 from "g.s"', { baseDir: dir }))[0]!;
    expect(f).toMatchObject({ name: "AsmError", line: 1, column: 21, message: "no such instruction: `frob' (g.s line 2, column 3)" });
  });

  test("trap arguments: what is wrong with them, at them", () => {
    const s = session();
    only(s.execute("vm boot x86_64"));
    expect(err(s, "trap cr0 foo")).toMatchObject({ name: "ValueError", column: 10, message: "`trap cr0` names its register already: `foo` is extra", hint: "write `trap cr0` or `trap cr 0`" });
    expect(err(s, "trap hlt 3")).toMatchObject({ name: "ValueError", column: 10, message: "`trap hlt` takes no argument: `3` is extra" });
    expect(err(s, "untrap io")).toMatchObject({ name: "ValueError", message: "`untrap io` needs an I/O port number (`trap io 0x3f8`)" });
    expect(err(s, "trap msr frob")).toMatchObject({ name: "ValueError", column: 10 });
    only(s.execute("trap cr 0; trap io 0x3f8; untrap cr0"));
  });

  test("a runaway guest stops at the step limit with its state intact", () => {
    const s = session();
    const e = errors(s.execute("vm boot x86_64 asm {\nloop: jmp loop\n}\nset steplimit 1000\nrun"));
    expect(e.map((x) => x.name)).toEqual(["StepLimit"]);
    // The budget counts instructions and handled exits (here the first fetch's EPT violation).
    expect(e[0]!.message).toMatch(/^step limit of 1000 reached at pc 0x400000 \(\d+ instructions this statement\); the VM is kept as it stopped$/);
    const before = s.current!.machine.steps;
    expect(before).toBeGreaterThan(900);
    only(s.execute("step 2"));
    expect(s.current!.machine.steps).toBe(before + 2);
  });

  test("interrupt stops a run at an instruction boundary", () => {
    const s = session();
    let polls = 0;
    const rs = s.execute("vm boot x86_64 asm {\nloop: jmp loop\n}\nrun\nlet after = 1", { interrupted: () => ++polls > 2 });
    expect(errors(rs).map((e) => e.name)).toEqual(["Interrupted", "Interrupted"]);
    expect(errors(rs)[0]!.message).toMatch(/^interrupted after \d+ instructions at pc 0x400000; the VM is kept as it stopped$/);
    expect(errors(rs)[1]!.message).toBe("interrupted before this statement");
    expect(s.variables.has("after")).toBe(false);
    expect(s.current!.machine.halted).toBeNull();
  });
});

describe("recovery", () => {
  test("a failing statement changes nothing; later statements still run", () => {
    const s = session();
    only(s.execute("vm boot x86_64 as a; let x = 5"));
    const rs = s.execute("let x = nosuch\nvm boot arm46 as b\nset kvm 1999\nuse b\nlet y = x + 1");
    expect(errors(rs).map((e) => e.name)).toEqual(["NameError", "NameError", "ValueError", "NameError"]);
    expect(s.variables.get("x")).toBe(5n);
    expect(s.variables.get("y")).toBe(6n);
    expect([...s.vms.keys()]).toEqual(["a"]);
    expect(s.currentName).toBe("a");
    expect(s.settings.era).toBe("2015");
  });

  test("stopOnError stops at the first error; a syntax error runs nothing", () => {
    const s = session();
    expect(s.execute("let a = 1; let b = zz; let c = 3", { stopOnError: true }).length).toBe(2);
    expect(s.variables.has("c")).toBe(false);
    s.execute("let d = 4\nlet e = = 5");
    expect(s.variables.has("d")).toBe(false);
  });

  test("output is deterministic", () => {
    const prog = "vm boot x86_64; run; table exits by reason; show trace; chart exits over time";
    expect(renderAllText(session().execute(prog))).toBe(renderAllText(session().execute(prog)));
  });
});

describe("inputs past the evaluator's limits", () => {
  test("an expression nested too deeply is an error at its statement, and the session goes on", () => {
    const s = session();
    const e = err(s, "let a = 1\nlet y = " + "-".repeat(50_000) + "1");
    expect(e.name).toBe("TooDeep");
    expect(e.message).toBe("the statement nests too deeply to evaluate");
    expect([e.line, e.column]).toEqual([2, 1]);
    expect(e.hint).toMatch(/let/);
    expect(textOf(only(s.execute("let b = a + 1")))).toBe("b = 2");
  });
});

describe("exit and trace caps", () => {
  test("set exitcap keeps the newest exits; counts stay exact and the listings say what was dropped", () => {
    const full = session();
    only(full.execute("vm boot x86_64; run until halt"));
    const all = full.current!.machine.exits.total;
    const s = session();
    only(s.execute("set exitcap 4\nset tracecap 6\nvm boot x86_64\nrun until halt"));
    const m = s.current!.machine;
    expect(m.exits.length).toBe(4);
    expect(m.exits.total).toBe(all);
    const rs = only(s.execute("table exits\ntable exits by reason\nshow trace\nlet n = count(exits)"));
    const [list, by, trace] = rs as [TableResult, TableResult, Result];
    expect(list.title).toBe(`exits of x86_64 (the last 4 of ${all}: ${all - 4} older exits dropped, \`set exitcap N\` keeps more)`);
    expect(list.rows.map((r) => r[0])).toEqual([all - 4, all - 3, all - 2, all - 1]);
    const fullBy = full.execute("table exits by reason")[0] as TableResult;
    expect(by.rows).toEqual(fullBy.rows);
    expect(trace.kind === "trace" && trace.title).toMatch(/^trace of x86_64 \(6 events; \d+ older events dropped, KVM 2015\)$/);
    expect(s.variables.get("n")).toBe(BigInt(all));
    expect(err(s, "let x = exits[0].pc").message).toMatch(/exits\[0\] was dropped: this VM keeps its last 4 exits/);
    expect(err(s, "set exitcap 0").name).toBe("ValueError");
    // A running VM takes the new cap too.
    only(s.execute("set exitcap 2"));
    expect(m.exits.length).toBe(2);
  });
});

describe("set jit", () => {
  test("off and on give the same trace and registers, on both machines, and bad values are errors", async () => {
    const factory = await defaultFactory();
    const run = (jit: string, arch: string) => {
      const s = new Session(factory);
      const rs = only(s.execute(`set jit ${jit}\nvm boot ${arch} as a\nrun until halt\nshow trace`));
      return renderAllText(rs);
    };
    for (const arch of ["x86_64", "arm64"]) {
      const on = run("on", arch);
      expect(on).toMatch(/kvm_exit/);
      expect(run("off", arch)).toBe(on.replace("jit = on", "jit = off"));
    }
    const s = new Session(factory);
    only(s.execute("vm boot arm64 as b"));
    expect(textOf(only(s.execute("set jit off")))).toMatch(/jit = off \(VM `b` and VMs booted from now on\)/);
    expect(err(s, "set jit maybe").message).toMatch(/jit must be on or off/);
  });
});
