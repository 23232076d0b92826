// Where LOCK is valid (runtime/x86/isa/semantics/lock.ts, Intel SDM Vol. 2 "LOCK"): the
// read-modify-writes with a memory destination. Those compile like their plain forms (fast.ts
// compilable); LOCK anywhere else stays with the interpreter, which raises #UD.

import { describe, expect, test } from "vitest";
import { decodeX86 } from "../../../../../runtime/x86/isa/decode.js";
import { lockable } from "../../../../../runtime/x86/isa/semantics/lock.js";
import { compilable } from "../../../../../runtime/x86/isa/semantics/fast.js";
import { createX86Machine } from "../../../../../runtime/x86/machine.js";

const insn = (hex: string) => {
  const b = hex.split(" ").map((x) => Number.parseInt(x, 16));
  return decodeX86((o) => b[o]!, "long64");
};

describe("lockable / compilable", () => {
  const cases: [string, string, boolean][] = [
    ["lock incl (%rax)", "f0 ff 00", true],
    ["lock decq 8(%rbx)", "f0 48 ff 4b 08", true],
    ["lock addl %ecx, (%rdx)", "f0 01 0a", true],
    ["lock xchg %eax, (%rsi)", "f0 87 06", true],
    ["lock cmpl %ecx, (%rdx): CMP writes nothing", "f0 39 0a", false],
    ["lock incl %eax: no memory destination", "f0 ff c0", false],
    ["lock movl %ecx, (%rdx): MOV is not a read-modify-write", "f0 89 0a", false],
  ];
  for (const [what, hex, ok] of cases) {
    test(what, () => {
      const i = insn(hex);
      expect(i.prefixes.lock).toBe(true);
      expect(lockable(i)).toBe(ok);
      if (!ok) expect(compilable(i)).toBe(false);
    });
  }
  test("a valid LOCK compiles as its plain form does", () => {
    expect(compilable(insn("f0 ff 00"))).toBe(compilable(insn("ff 00")));
    expect(compilable(insn("f0 01 0a"))).toBe(compilable(insn("01 0a")));
  });
});

test("a guest's LOCK INC/DEC/ADD loop counts exactly, in compiled blocks as one instruction at a time; LOCK on a register is #UD", () => {
  const src = `.code32
start:
  mov $1000, %ecx
  mov $counter, %ebx
1:
  lock incl (%ebx)
  lock addl $3, 4(%ebx)
  lock decl 8(%ebx)
  dec %ecx
  jnz 1b
  mov $0xf4, %dx
  out %al, %dx
.align 16
counter:
  .long 0, 0, 0
`;
  const run = (jit: boolean) => {
    const m = createX86Machine({ guest: { source: src }, settings: { jit } });
    m.run({ maxSteps: 100_000 });
    return { words: [...new Uint32Array(m.readPhysical(Number(m.symbols.get("counter")!), 12).slice().buffer)], steps: m.steps, halted: m.halted?.message, ecx: m.readRegister("rcx") };
  };
  const compiled = run(true), interpreted = run(false);
  expect(compiled.halted).toMatch(/isa-debug-exit/);
  expect(compiled.words).toEqual([1000, 3000, 0xffffffff - 999]);
  expect(compiled).toEqual(interpreted);
  const ud = createX86Machine({ guest: { source: ".code32\nstart:\n  .byte 0xf0, 0xff, 0xc0\n  hlt\n" } });
  ud.run({ maxSteps: 100 });
  expect(ud.exits.map((e) => e).some((e) => e.reason === "EXCEPTION_NMI" || e.reason === "TRIPLE_FAULT")).toBe(true);
});
