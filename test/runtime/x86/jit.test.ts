// The block compiler against the interpreter (setting jit off): random programs of the common
// integer instructions (with rare ones mixed in, which end blocks), in 32-bit protected mode and
// 64-bit mode, must leave the same registers, flags, rip, memory, steps and exits; a step limit
// stops at exactly N instructions; faults (EPT violations) inside a block are precise; a store
// into the running block's own page (self-modifying code) is seen by the next instruction.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../../../runtime/guests/x86_64/long-mode.js";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

const CC = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

/** A random instruction; registers avoid the data base (ebx/rbx), the stack and the loop counter (esi). */
function randomInsn(r: () => number, bits: 32 | 64, label: () => string): string {
  const pick = <T>(a: readonly T[]): T => a[r() % a.length]!;
  const r32 = ["eax", "ecx", "edx", "edi", "ebp", ...(bits === 64 ? ["r8d", "r9d", "r12d"] : [])];
  const r64 = ["rax", "rcx", "rdx", "rdi", "rbp", "r8", "r9", "r12"];
  const r16 = ["ax", "cx", "dx", "di", "bp"];
  const r8 = bits === 64 ? ["al", "cl", "dl", "dil", "r8b"] : ["al", "cl", "dl", "ah", "ch", "dh"];
  const size = bits === 64 ? pick(["q", "q", "l", "l", "w", "b"] as const) : pick(["l", "l", "l", "w", "b"] as const);
  const regs = size === "q" ? r64 : size === "l" ? r32 : size === "w" ? r16 : r8;
  const R = () => "%" + pick(regs);
  const imm = () => {
    const v = pick([0, 1, 7, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0x7fffffff, -1, -2, -0x80000000, r() & 0xffff, r() | 0]);
    const lim = size === "b" ? 0xff : size === "w" ? 0xffff : 0xffffffff;
    return `$${size === "q" || size === "l" ? (v | 0) : v & lim}`;
  };
  const mem = () => `${(r() % 64) * (size === "q" ? 8 : 4)}(%${bits === 64 ? "rbx" : "ebx"})`;
  const alu = pick(["add", "sub", "adc", "sbb", "and", "or", "xor", "cmp", "test"]);
  switch (r() % 25) {
    case 0: case 1: return `${alu}${size} ${R()},${R()}`;
    case 2: return `${alu}${size} ${imm()},${R()}`;
    case 3: return `${alu}${size} ${R()},${mem()}`;
    case 4: return `${alu}${size} ${mem()},${R()}`;
    case 5: return `${pick(["inc", "dec", "neg", "not"])}${size} ${pick([R(), mem()])}`;
    case 6: return `${pick(["shl", "shr", "sar"])}${size} $${pick([1, 3, 7, 8, 15, 16, 31, 32, 33, 63])},${R()}`;
    case 7: return `${pick(["shl", "shr", "sar"])}${size} %cl,${R()}`;
    case 8: return `mov${size} ${pick([R(), imm()])},${R()}`;
    case 9: return `mov${size} ${R()},${mem()}`;
    case 10: return `mov${size} ${mem()},${R()}`;
    case 11: return `${pick(["movzbl", "movsbl"])} %${pick(r8)},%${pick(r32)}`;
    case 12: return `${pick(["movzwl", "movswl"])} %${pick(r16)},%${pick(r32)}`;
    case 13: return bits === 64 ? `lea ${r() % 200 - 100}(%${pick(r64)},%${pick(r64)},${pick([1, 2, 4, 8])}),%${pick(r64)}` : `lea ${r() % 200 - 100}(%${pick(r32)},%${pick(r32)},${pick([1, 2, 4, 8])}),%${pick(r32)}`;
    case 14: return `set${pick(CC)} %${pick(r8)}`;
    case 15: return bits === 64 ? `cmov${pick(CC)} %${pick(r64)},%${pick(r64)}` : `cmov${pick(CC)} %${pick(r32)},%${pick(r32)}`;
    case 16: return bits === 64 ? `push %${pick(r64)}\npop %${pick(r64)}` : `push %${pick(r32)}\npop %${pick(r32)}`;
    case 17: {
      const l = label();
      return `j${pick(CC)} ${l}\ninc %${pick(r32)}\n${l}:`;
    }
    case 18: return `${pick(["rol", "ror", "rcl", "rcr"])}${size} $${pick([1, 5, 9])},${R()}`; // BigInt semantics: a block boundary
    case 19: return bits === 64 ? `imul %${pick(r64)},%${pick(r64)}` : `imul %${pick(r32)},%${pick(r32)}`;
    case 20: return bits === 64 ? `pushf\npop %${pick(r64)}` : `pushf\npop %${pick(r32)}`;
    case 21: return `xchg${size} ${R()},${pick([R(), mem()])}`;
    case 22: return pick(bits === 64 ? ["cltq", "cqto", "cltd", "cwtl", "cbtw", "cwtd"] : ["cltd", "cwtl", "cbtw", "cwtd"]);
    case 23: return bits === 64 ? `push %rbp\nmov %rsp,%rbp\npush %${pick(r64)}\nleave` : `push %ebp\nmov %esp,%ebp\npush %${pick(r32)}\nleave`;
    default: {
      const l = label();
      return `call ${l}f\njmp ${l}g\n${l}f: ret\n${l}g:`.replace(/(L\d+)f/g, "$1_f").replace(/(L\d+)g/g, "$1_g");
    }
  }
}

const LONG_MODE_PROLOGUE = LONG_MODE_ENTRY;

function program(seed: number, bits: 32 | 64, length: number, iterations: number): string {
  const r = rng(seed);
  let n = 0;
  const label = () => `L${n++}`;
  const body: string[] = [];
  for (let i = 0; i < length; i++) body.push(randomInsn(r, bits, label));
  const w = bits === 64 ? "r" : "e";
  return `
  .code32
start:
  mov $0x5f0000, %esp
  ${bits === 64 ? LONG_MODE_PROLOGUE : ""}
  mov $0x${(0x600000 + (seed % 7) * 0x1000).toString(16)}, %${w}bx
  mov $0x5f0000, %${w}sp
  mov $${iterations}, %esi
  mov $0x${(r() >>> 0).toString(16)}, %eax
  mov $0x${(r() >>> 0).toString(16)}, %edx
  mov $${r() % 64}, %ecx
loop:
  ${body.join("\n  ")}
  dec %esi
  jnz loop
  mov $0xf4, %dx
  mov $0, %al
  out %al, %dx
  ${bits === 64 ? LONG_MODE_TABLES : ""}
`;
}

const NAMES = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"];

function snapshot(m: X86Machine) {
  return {
    regs: Object.fromEntries(NAMES.map((n) => [n, m.readRegister(n).toString(16)])),
    steps: m.steps,
    cycles: m.cycles,
    halted: m.halted?.message ?? null,
    exits: m.exits.map((e) => `${e.reason}@${e.step}:${e.pc.toString(16)}:${JSON.stringify(e.info, (_k, v) => (typeof v === "bigint" ? v.toString(16) : v))}`),
    data: Buffer.from(m.readPhysical(0x5ef000, 0x1000)).toString("hex") + Buffer.from(m.readPhysical(0x600000, 0x8000)).toString("hex"),
  };
}

function machine(source: string, jit: boolean): X86Machine {
  return createX86Machine({ guest: { source }, settings: { jit, stepLimit: 10_000_000 } });
}

describe("block compiler = interpreter", () => {
  for (const bits of [32, 64] as const) {
    test(`random ${bits}-bit programs: registers, flags, memory, steps and exits agree`, () => {
      for (let seed = 1; seed <= 40; seed++) {
        const src = program(seed * 7919 + bits, bits, 4 + (seed % 12), 50 + seed);
        const a = machine(src, false);
        const b = machine(src, true);
        a.run({ maxSteps: 200_000 });
        b.run({ maxSteps: 200_000 });
        expect(a.halted?.message ?? "", `seed ${seed}`).toMatch(/exit|debug/i);
        expect(snapshot(b), `seed ${seed}\n${src}`).toEqual(snapshot(a));
      }
    });

    test(`${bits}-bit: a step limit stops at exactly N instructions`, () => {
      const src = program(4242 + bits, bits, 6, 1000);
      for (const n of [1, 2, 3, 7, 20, 33, 100, 101, 1001, 4099]) {
        const a = machine(src, false);
        const b = machine(src, true);
        const ra = a.run({ maxSteps: n });
        const rb = b.run({ maxSteps: n });
        expect(rb.steps).toBe(ra.steps);
        expect(snapshot(b), `limit ${n}`).toEqual(snapshot(a));
      }
    });
  }

  test("every condition after every inlined flag producer (sizes 1/2/4/8) agrees with the interpreter", () => {
    const vals: Record<string, bigint[]> = {
      b: [0n, 1n, 0x7fn, 0x80n, 0xffn],
      w: [0n, 1n, 0x7fffn, 0x8000n, 0xffffn],
      l: [0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn],
      q: [0n, 1n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0xffffffffn, 0x100000000n],
    };
    const reg = { b: ["al", "cl"], w: ["ax", "cx"], l: ["eax", "ecx"], q: ["rax", "rcx"] } as const;
    const lines: string[] = [];
    for (const sz of ["b", "w", "l", "q"] as const) {
      const [x, y] = reg[sz];
      for (const op of ["add", "sub", "cmp", "and", "xor", "test", "inc", "dec", "neg"]) {
        for (const a of vals[sz]!) {
          for (const b of vals[sz]!) {
            if ((op === "inc" || op === "dec" || op === "neg") && b !== 0n) continue;
            lines.push(`movabs $${a}, %rax`, `movabs $${b}, %rcx`);
            lines.push(op === "inc" || op === "dec" || op === "neg" ? `${op}${sz} %${x}` : `${op}${sz} %${y},%${x}`);
            CC.forEach((cc, i) => lines.push(`set${cc} ${i}(%rbx)`));
            lines.push("lea 16(%rbx),%rbx");
          }
        }
      }
    }
    const src = `
      .code32
    start:
      ${LONG_MODE_PROLOGUE}
      mov $0x600000, %rbx
      ${lines.join("\n      ")}
      mov $0xf4, %dx
      out %al, %dx
      ${LONG_MODE_TABLES}
    `;
    const a = machine(src, false);
    const b = machine(src, true);
    a.run({ maxSteps: 1_000_000 });
    b.run({ maxSteps: 1_000_000 });
    expect(a.halted?.message ?? "").toMatch(/exit|debug/i);
    const bytes = lines.filter((l) => l.startsWith("lea")).length * 16;
    expect(Buffer.from(b.readPhysical(0x600000, bytes)).toString("hex")).toBe(Buffer.from(a.readPhysical(0x600000, bytes)).toString("hex"));
    expect(snapshot(b)).toEqual(snapshot(a));
  });

  test("shifts by CL (zero counts keep the flags) and by constants, then every condition", () => {
    const lines: string[] = [];
    const reg = { b: "dl", w: "dx", l: "edx", q: "rdx" } as const;
    for (const sz of ["b", "w", "l", "q"] as const) {
      for (const op of ["shl", "shr", "sar"]) {
        for (const count of [0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64]) {
          for (const v of [0x80n, 0x8000_0001n, 0xffff_ffff_ffff_fffen, 0x4000_0000_0000_0000n]) {
            lines.push(`movabs $${v}, %rdx`, `mov $${count}, %ecx`, "cmp $0x55, %eax"); // flags from cmp going in
            lines.push(`${op}${sz} %cl,%${reg[sz]}`);
            CC.forEach((cc, i) => lines.push(`set${cc} ${i}(%rbx)`));
            lines.push(`mov %rdx,16(%rbx)`, "lea 24(%rbx),%rbx");
            lines.push(`movabs $${v}, %rdx`, "cmp $0x55, %eax", `${op}${sz} $${count},%${reg[sz]}`, "setc 0(%rbx)", "seto 1(%rbx)", "sets 2(%rbx)", "setz 3(%rbx)", "setp 4(%rbx)", "mov %rdx,8(%rbx)", "lea 16(%rbx),%rbx");
          }
        }
      }
    }
    const src = `
      .code32
    start:
      ${LONG_MODE_PROLOGUE}
      mov $0x600000, %rbx
      mov $0x12, %eax
      ${lines.join("\n      ")}
      mov $0xf4, %dx
      out %al, %dx
      ${LONG_MODE_TABLES}
    `;
    const a = machine(src, false);
    const b = machine(src, true);
    a.run({ maxSteps: 1_000_000 });
    b.run({ maxSteps: 1_000_000 });
    expect(a.halted?.message ?? "").toMatch(/exit|debug/i);
    const bytes = Number(a.readRegister("rbx")) - 0x600000;
    expect(Buffer.from(b.readPhysical(0x600000, bytes)).toString("hex")).toBe(Buffer.from(a.readPhysical(0x600000, bytes)).toString("hex"));
    expect(snapshot(b)).toEqual(snapshot(a));
  });

  test("tight loops run as compiled loops and stop at the limit mid-loop", () => {
    const src = `
      .code32
    start:
      mov $1000000, %ecx
    1: add $1, %eax
      dec %ecx
      jnz 1b
      mov $0xf4, %dx
      out %al, %dx
    `;
    const a = machine(src, false);
    const b = machine(src, true);
    for (const n of [10, 1000, 12345]) {
      a.run({ maxSteps: n });
      b.run({ maxSteps: n });
      expect(snapshot(b)).toEqual(snapshot(a));
    }
    b.run({ maxSteps: 10_000_000 });
    expect(b.readRegister("eax")).toBe(0x2badb002n + 1000000n); // eax starts with the multiboot magic
    expect(b.halted).not.toBeNull();
  });

  test("an interrupt stops a long compiled loop promptly", () => {
    const src = `
      .code32
    start:
      mov $0xffffffff, %ecx
    1: add $1, %eax
      dec %ecx
      jnz 1b
      hlt
    `;
    const m = machine(src, true);
    let calls = 0;
    const r = m.run({ maxSteps: 1_000_000_000, interrupted: () => ++calls > 1 });
    expect(r.stop).toBe("interrupted");
    expect(m.steps).toBeLessThan(5_000_000);
  });

  test("an EPT violation inside a block: same instruction, registers and step count", () => {
    // Each store touches a new page: KVM maps it on the EPT violation, the store re-executes.
    const src = `
      .code32
    start:
      mov $0x700000, %ebx
      mov $8, %ecx
    1: add $3, %eax
      mov %eax, (%ebx)
      add $0x1000, %ebx
      dec %ecx
      jnz 1b
      mov $0xf4, %dx
      out %al, %dx
    `;
    const a = machine(src, false);
    const b = machine(src, true);
    for (let i = 0; i < 40 && !a.halted; i++) {
      a.runUntilExit({ maxSteps: 1000 });
      b.runUntilExit({ maxSteps: 1000 });
      expect(snapshot(b)).toEqual(snapshot(a));
      expect(b.pendingExit?.info.instruction).toBe(a.pendingExit?.info.instruction);
      if (a.pendingExit) (a.handle(), b.handle());
    }
    expect(a.exits.filter((e) => e.reason === "EPT_VIOLATION").length).toBeGreaterThan(8);
  });

  test("self-modifying code: a store into the running block is seen by the next instruction", () => {
    // The mov rewrites the imm32 of the following add (05 id) to 5 before each pass reaches it.
    const src = `
      .code32
    start:
      mov $2, %ecx
      mov $5, %edx
    1: mov %edx, patch+1
    patch: add $0x12345678, %eax
      dec %ecx
      jnz 1b
      mov $0xf4, %dx
      out %al, %dx
    `;
    const a = machine(src, false);
    const b = machine(src, true);
    a.run({ maxSteps: 1000 });
    b.run({ maxSteps: 1000 });
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(a.readRegister("eax")).toBe(0x2badb002n + 10n);
  });

  test("a page read while never written (zeros), then written by another path, reads the new bytes", () => {
    const src = `
      .code32
    start:
      mov 0x700000, %eax
      mov 0x700004, %edx
      mov $0x700000, %edi
      mov $0x55, %al
      mov $4, %ecx
      rep stosb
      mov 0x700000, %ebx
      mov $0x66, %al
      mov %al, 0x700001
      mov 0x700000, %esi
      mov $0xf4, %dx
      out %al, %dx
    `;
    for (const jit of [false, true]) {
      const m = machine(src, jit);
      m.run({ maxSteps: 1000 });
      expect(m.readRegister("ebx")).toBe(0x55555555n);
      expect(m.readRegister("esi")).toBe(0x55556655n);
    }
  });

  test("CPUID ends a block and exits from it: same exits, trace, registers and steps at every limit", () => {
    // CPUID first in a block, after other instructions, after a store, and leaf changes each pass.
    const src = `
      .code32
    start:
      mov $0x600000, %edi
      mov $40, %esi
    1: cpuid
      mov %esi, %eax
      and $1, %eax
      add %eax, (%edi)
      cpuid
      xor %eax, %eax
      dec %esi
      jnz 1b
      mov $0xf4, %dx
      out %al, %dx
    `;
    const trace = (m: X86Machine) => m.trace.lines().join("\n");
    const a = machine(src, false);
    const b = machine(src, true);
    a.run();
    b.run();
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(trace(b)).toBe(trace(a));
    expect(a.exits.filter((e) => e.reason === "CPUID").length).toBe(80);
    for (let n = 1; n <= 40; n++) {
      const c = machine(src, false);
      const d = machine(src, true);
      const rc = c.run({ maxSteps: n });
      const rd = d.run({ maxSteps: n });
      expect(rd.steps, `limit ${n}`).toBe(rc.steps);
      expect(snapshot(d), `limit ${n}`).toEqual(snapshot(c));
      expect(trace(d), `limit ${n}`).toBe(trace(c));
    }
  });

  test("the built-in boot guest gives the same trace with and without the compiler", () => {
    const a = createX86Machine({ settings: { jit: false } });
    const b = createX86Machine();
    a.run();
    b.run();
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(b.trace.events.length).toBe(a.trace.events.length);
  });

  test("set jit on/off", () => {
    const m = createX86Machine();
    expect(m.settings.jit).toBe(true);
    m.set("jit", false);
    expect(m.settings.jit).toBe(false);
    m.set("jit", "on");
    expect(m.settings.jit).toBe(true);
    expect(() => m.set("jit", 3)).toThrow(/jit must be on or off/);
    expect(() => createX86Machine({ settings: { jit: "maybe" } })).toThrow(/jit must be on or off/);
  });
});
