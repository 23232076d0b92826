// Trap-like exits of compiled stores taken without an exception (runtime/x86/trap-exit.ts): the
// deferred path must leave exactly what the thrown one leaves — same exits, trace, counts, memory.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../../runtime/x86/machine.js";
import { raiseTrapExit, takeTrapExit, type TrapCpu } from "../../../../runtime/x86/trap-exit.js";
import { VmExitSignal } from "../../../../runtime/x86/state.js";
import { readX86Fixture } from "../fixtures/index.js";

const SRC = readX86Fixture("apic/apic-write-guest.s");
const boot = (jit: boolean): X86Machine => createX86Machine({ guest: { source: SRC }, settings: { stepLimit: 100_000, era: "today", jit } });
const word = (m: X86Machine, sym: string) => Number(m.readPhysical(Number(m.symbols.get(sym)), 4)[0]);

/** Counts the exits stored as deferred in the machine's CPU (cpu.trap set to an exit). */
function countDeferrals(m: X86Machine): { n: number } {
  const seen = { n: 0 };
  const cpu = m.cpu as unknown as { trap: unknown };
  let value = cpu.trap;
  Object.defineProperty(cpu, "trap", {
    get: () => value,
    set: (v) => {
      if (v !== null) seen.n++;
      value = v;
    },
  });
  return seen;
}

describe("APIC_WRITE from a compiled block's store: deferred, not thrown (trap-exit.ts)", () => {
  test("the compiled run defers its APIC_WRITE exits and ends exactly as the interpreter, which throws them", () => {
    const jit = boot(true);
    const deferred = countDeferrals(jit);
    const rj = jit.run();
    const interp = boot(false);
    const thrown = countDeferrals(interp);
    const ri = interp.run();
    expect(word(jit, "ticks")).toBe(40);
    expect(word(jit, "sent")).toBe(40);
    // 40 × (ICR2, ICR, TMICT) writes, each an APIC_WRITE exit, and the SVR write before.
    const writes = jit.exits.filter((e) => e.reason === "APIC_WRITE").length;
    expect(writes).toBe(121);
    expect(deferred.n).toBeGreaterThan(100);
    expect(thrown.n).toBe(0);
    expect(rj.message).toBe(ri.message);
    expect(jit.steps).toBe(interp.steps);
    expect(jit.cycles).toBe(interp.cycles);
    const rows = (m: X86Machine) => m.exits.map((e) => `${e.step} ${e.reason} ${e.pc} ${e.cycles} ${JSON.stringify(e.info, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`);
    expect(rows(jit)).toEqual(rows(interp));
    const apicWrites = rows(jit).filter((r) => r.includes("APIC_WRITE"));
    expect(apicWrites[2]).toContain('"exit_qualification":"768","instruction_length":10,"intr_info":"0","idt_vectoring_info":"0","instruction":"movl $0x44040,0xfee00300"');
    expect(apicWrites[3]).toContain('"exit_qualification":"896"'); // the OR's store to TMICT, mid-instruction
    expect(jit.trace.lines("today")).toEqual(interp.trace.lines("today"));
    expect(word(interp, "ticks")).toBe(40);
    expect(jit.irq.lapic.readReg(0x380)).toBe(interp.irq.lapic.readReg(0x380));
    expect(jit.irq.lapic.readReg(0x380)).toBe(0x10);
  });

  test("raiseTrapExit defers only when asked, nothing is pending and no data breakpoint is watched; takeTrapExit clears", () => {
    const info = { reason: 56, qualification: 0x300n };
    const cpu: TrapCpu = { deferTraps: false, trap: null, dataWatch: false };
    expect(() => raiseTrapExit(cpu, info)).toThrow(VmExitSignal);
    cpu.deferTraps = true;
    raiseTrapExit(cpu, info);
    expect(cpu.trap).toBe(info);
    expect(() => raiseTrapExit(cpu, { ...info })).toThrow(VmExitSignal); // one at a time
    expect(takeTrapExit(cpu)).toBe(info);
    expect(cpu.trap).toBeNull();
    expect(() => takeTrapExit(cpu)).toThrow(/no deferred exit/);
    cpu.dataWatch = true;
    expect(() => raiseTrapExit(cpu, info)).toThrow(VmExitSignal);
  });
});
