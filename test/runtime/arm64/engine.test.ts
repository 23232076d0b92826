// The arm64 engine at its boundaries: exact step limits inside compiled blocks and loops,
// precise faults in the middle of a block, self-modifying code, pages holding code and data,
// TLB maintenance by VA, and the jit setting.

import { describe, expect, test } from "vitest";
import { createArm64Machine, type Arm64Machine } from "../../../runtime/arm64/machine.js";
import { assembleA64 } from "../../../runtime/arm64/isa/index.js";

const boot = (source: string, jit = true): Arm64Machine => createArm64Machine({ guest: { source }, settings: { jit, stepLimit: 10_000_000 } });
const regs = (m: Arm64Machine) => Array.from({ length: 31 }, (_, i) => m.readRegister(`x${i}`));
/** Run exactly n guest instructions, letting KVM handle the exits on the way (stage-2 faults). */
function runSteps(m: Arm64Machine, n: number): void {
  while (m.steps < n && !m.halted) {
    const r = m.runUntilExit({ maxSteps: n - m.steps });
    if (r.stop === "exit") m.handle();
  }
}
const word = (text: string) => new DataView(assembleA64(text, { base: 0n }).bytes.buffer).getUint32(0, true);

const LOOP = `
_start:
  mov x1, #1000
  mov x2, #3
1: add x0, x0, x2
  eor x3, x3, x0, lsr #3
  subs x1, x1, #1
  b.ne 1b
  ldr x0, =0x84000008
  hvc #0
`;

describe("arm64 engine", () => {
  test("a step limit stops at exactly N instructions, inside a compiled loop, with the interpreter's state", () => {
    for (const n of [1, 2, 3, 5, 17, 402, 2001, 3999]) {
      const jit = boot(LOOP, true);
      const interp = boot(LOOP, false);
      runSteps(jit, n);
      runSteps(interp, n);
      expect(jit.steps).toBe(n);
      expect(interp.steps).toBe(n);
      expect(regs(jit)).toEqual(regs(interp));
      expect(jit.pc).toBe(interp.pc);
      expect(jit.readRegister("pstate")).toBe(interp.readRegister("pstate"));
    }
  });

  test("the whole loop runs compiled: same end state as the interpreter, few blocks compiled", () => {
    const jit = boot(LOOP, true);
    const interp = boot(LOOP, false);
    jit.run();
    interp.run();
    expect(jit.halted?.message).toMatch(/SYSTEM_OFF/);
    expect(jit.steps).toBe(interp.steps);
    expect(jit.steps).toBe(2 + 4 * 1000 + 1); // the hvc traps: it does not retire
    expect(regs(jit)).toEqual(regs(interp));
    expect(jit.engine.stats.compiled).toBeLessThan(10);
  });

  test("a fault in the middle of a block: earlier instructions retired, the faulting one changed nothing", () => {
    // The load from an unmapped IPA (stage-2 translation fault → DABT_LOW) is the 3rd instruction.
    const src = `
_start:
  mov x5, #1
  add x6, x5, #2
  ldr x7, [x8]
  mov x9, #9
  hvc #0
`;
    for (const jit of [true, false]) {
      const m = boot(src, jit);
      m.writeRegister("x8", 0x7000_0000n); // outside guest RAM: stage-2 fault, then MMIO exit
      m.writeRegister("x7", 0x77n);
      const r = m.run({ stopOnExit: (e) => /DABT/.test(e.reason) });
      expect(r.stop).toBe("exit");
      expect(r.exit!.reason).toMatch(/DABT/);
      expect(m.pc).toBe(r.exit!.pc);
      expect(m.readRegister("x6")).toBe(3n);
      expect(m.readRegister("x7")).toBe(0x77n);
      expect(m.readRegister("x9")).toBe(0n);
      expect(m.steps).toBe(2);
    }
  });

  test("self-modifying code: a store over an instruction that already ran is seen the next time", () => {
    const src = `
_start:
  mov x3, #2
again:
  bl patched
  add x10, x10, x0
  subs x3, x3, #1
  b.eq done
  adr x1, patched
  ldr w2, newinsn
  str w2, [x1]
  dc cvau, x1
  dsb ish
  ic ivau, x1
  dsb ish
  isb
  b again
done:
  ldr x0, =0x84000008
  hvc #0
patched:
  mov x0, #1
  ret
newinsn:
  .inst ${word("mov x0, #40")}
`;
    for (const jit of [true, false]) {
      const m = boot(src, jit);
      m.run();
      expect(m.halted?.message).toMatch(/SYSTEM_OFF/);
      expect(m.readRegister("x10")).toBe(41n);
    }
  });

  test("a page holding both code and data: stores to the data do not recompile the code", () => {
    const src = `
_start:
  mov x1, #500
  adr x2, data
1: ldr x3, [x2]
  add x3, x3, #5
  str x3, [x2]
  subs x1, x1, #1
  b.ne 1b
  ldr x0, =0x84000008
  hvc #0
  .balign 64
data:
  .quad 0
`;
    const m = boot(src, true);
    m.run();
    expect(m.halted?.message).toMatch(/SYSTEM_OFF/);
    expect(m.readRegister("x3")).toBe(2500n);
    expect(m.engine.stats.compiled).toBeLessThan(10);
  });

  test("set jit off and on in the middle of a run gives the same result", () => {
    const a = boot(LOOP, true);
    const b = boot(LOOP, true);
    a.runUntilExit({ maxSteps: 1000 });
    a.set("jit", false);
    a.runUntilExit({ maxSteps: 1000 });
    a.set("jit", true);
    a.run();
    b.run();
    expect(regs(a)).toEqual(regs(b));
    expect(a.steps).toBe(b.steps);
    expect(() => a.set("jit", "maybe")).toThrow(/jit must be on or off/);
  });
});
