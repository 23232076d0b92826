// Values as the field reads them, bare expressions, print, the default architecture and what
// step/run say, through Session.execute (the surface the CLI, the REPL and the kernel share).
import { beforeAll, describe, expect, test } from "vitest";
import { Session, defaultFactory, type MachineFactory } from "../../lab/session.js";
import type { ErrorResult, Result } from "../../lab/results.js";
import { renderAllText } from "../../lab/render/text.js";

let factory: MachineFactory;
beforeAll(async () => {
  factory = await defaultFactory();
});
const session = () => new Session(factory);
const errors = (rs: Result[]) => rs.filter((r): r is ErrorResult => r.kind === "error");
const only = (rs: Result[]) => {
  expect(errors(rs)).toEqual([]);
  return rs;
};
/** The text of the last result of running `src`. */
const last = (s: Session, src: string) => {
  const rs = only(s.execute(src));
  const r = rs.at(-1)!;
  return r.kind === "text" || r.kind === "value" || r.kind === "print" ? r.text : "";
};

describe("bare expressions are values", () => {
  test("a value result, written as the field reads it", () => {
    const s = session();
    expect(only(s.execute("1+2"))).toEqual([{ kind: "value", text: "3", type: "number", line: 1 }]);
    only(s.execute("vm boot x86_64; step until exit"));
    expect(last(s, "exit.exit_qualification")).toBe("0x184");
    expect(last(s, "exit.pc")).toBe("0x400000");
    expect(last(s, "exit.reason")).toBe('"EPT_VIOLATION"');
    expect(last(s, "exit.code")).toBe("48"); // SDM Appendix C numbers basic exit reasons in decimal
    expect(last(s, "exit.guest_physical_address")).toBe("0x400000");
    expect(last(s, "exit.qual.fetch")).toBe("1");
    expect(last(s, "rip")).toBe("0x400000");
    expect(last(s, "count(exits where reason == EPT_VIOLATION)")).toBe("1");
    expect(last(s, "exit.cycles")).toBe("3650");
    expect(last(s, "exit.exit_qualification & 0x7")).toBe("0x4");
    expect(last(s, "1 - 2")).toBe("-1");
    expect(last(s, "~0")).toBe("0xffffffffffffffff");
    expect(last(s, "1 == 1")).toBe("true");
  });

  test("let keeps the radix: hardware state in hex, counts in decimal", () => {
    const s = session();
    only(s.execute("vm boot x86_64; run until exit.reason == CR_ACCESS"));
    expect(last(s, "let q = exit.exit_qualification")).toBe("q = 0x4");
    only(s.execute("handle; run until halt"));
    expect(last(s, "let n = count(exits)")).toBe("n = 41");
    expect(last(s, "n * 200")).toBe("8200");
    expect(last(s, "let big = 8001")).toBe("big = 8001");
    expect(last(s, "let pc = exits[3].pc + 4")).toBe("pc = 0x400029");
    expect(last(s, "pc")).toBe("0x400029");
    expect(last(s, "let port = exits[40].qual.port")).toBe("port = 0xf4");
    expect(last(s, "let msr = first(exits where reason == MSR_WRITE)")).toMatch(/^msr = \d+$/);
  });

  test("expect shows both sides in their radix", () => {
    const s = session();
    only(s.execute("vm boot x86_64; step until exit"));
    const e = errors(s.execute("expect exit.exit_qualification == 0x185"));
    expect(e[0]!.message).toBe("`exit.exit_qualification == 0x185`: left side 0x184, right side 0x185");
  });

  test("show exit and exit fields of arm64: syndromes in hex", () => {
    const s = session();
    only(s.execute("vm boot arm64; step until exit"));
    const shown = renderAllText(only(s.execute("show exit")));
    expect(shown).toMatch(/^esr\s+0x82000006$/m);
    expect(shown).toMatch(/^esr\.ec\s+0x20$/m);
    expect(shown).toMatch(/^esr\.iss\s+0x6$/m);
    expect(shown).toMatch(/^esr\.iss\.ifsc\s+0x6$/m);
    expect(shown).toMatch(/^esr\.il\s+1$/m);
    expect(last(s, "exit.esr.iss")).toBe("0x6");
    expect(last(s, "esr.iss")).toBe("0x6");
    expect(last(s, "exit.code")).toBe("0x20");
    only(s.execute("run"));
    expect(last(s, "exits[first(exits where reason == DABT_LOW)].esr.iss.srt")).toMatch(/^\d+$/);
  });
});

describe("print", () => {
  test("writes its values separated by spaces, strings as they are", () => {
    const s = session();
    expect(only(s.execute('print "hello, world"'))).toEqual([{ kind: "print", text: "hello, world", line: 1 }]);
    only(s.execute("vm boot x86_64; run"));
    expect(last(s, 'print "exits:", count(exits), "last at", exits[40].pc, exits[40].reason')).toBe("exits: 41 last at 0x400070 IO_INSTRUCTION");
    expect(last(s, "print")).toBe("");
  });
});

describe("the default architecture", () => {
  test("`vm boot` boots x86_64, or what `set arch` says; an asm block's arch decides too", () => {
    const s = session();
    expect(last(s, "vm boot")).toBe("booted x86_64 VM `x86_64` (guest boot), pc 0x400000");
    expect(last(s, "set arch arm64")).toBe("arch = arm64: `vm boot` without an architecture boots arm64");
    expect(last(s, "vm boot as a")).toBe("booted arm64 VM `a` (guest boot), pc 0x40080000");
    expect(s.vms.get("x86_64")!.arch).toBe("x86_64"); // set arch changes no booted VM
    only(s.execute("set arch x86_64; vm boot asm arm64 {\n  hvc #0\n} as b"));
    expect(s.current!.arch).toBe("arm64");
    expect(errors(s.execute("set arch sparc"))[0]).toMatchObject({ name: "NameError", message: "unknown architecture `sparc`" });
  });

  test("the card's line stops at the first exit", () => {
    const s = session();
    const rs = only(s.execute("vm boot; trap cr0; step until exit"));
    expect(rs.map((r) => r.kind === "text" && r.text)).toEqual([
      "booted x86_64 VM `x86_64` (guest boot), pc 0x400000",
      "CR0_GUEST_HOST_MASK = 0xffffffffffffffff: MOV to CR0 exits whenever it changes a bit from CR0_READ_SHADOW",
      "stepped 0 instructions: exit #0 EPT_VIOLATION at 0x400000 (pending: `handle` it or `run`)",
    ]);
    expect(s.current!.machine.exits.total).toBe(1);
  });
});

describe("what step and run say", () => {
  test("one instruction, and the VM stopped", () => {
    const s = session();
    only(s.execute("vm boot x86_64; step until exit; handle"));
    expect(last(s, "step")).toBe("stepped 1 instruction, pc 0x400005");
    expect(last(s, "step until exit")).toMatch(/^stepped \d+ instructions: exit #1 /);
    expect(last(s, "step")).toMatch(/^exit #1 \w+ at 0x[0-9a-f]+ is pending: the guest steps on once it is handled/);
    expect(last(s, "run")).toBe("ran 168 instructions (KVM handled 40 exits, emulating 35 instructions): the VM stopped: isa-debug-exit: the guest wrote 0x0 to port 0xf4; QEMU exits with status 1; 41 exits in all");
    expect(last(s, "step")).toBe("the VM is stopped (isa-debug-exit: the guest wrote 0x0 to port 0xf4; QEMU exits with status 1): there is nothing to step");
  });

  test("the instructions KVM emulated are counted apart from the guest's", () => {
    const s = session();
    only(s.execute("vm boot x86_64; run"));
    const m = s.current!.machine;
    expect(m.emulated).toBeGreaterThan(0);
    expect(m.emulated).toBeLessThanOrEqual(m.exits.total);
  });
});
