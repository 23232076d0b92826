// run() with exits handled inside execMany (VmBase.takeInline, KVM's vcpu_run loop): the same
// stops, steps, exits and trace as run() handling every exit itself (a stopOnExit that never
// stops turns the inline path off), at every kind of limit.

import { describe, expect, test } from "vitest";
import { createMachine } from "../../../runtime/index.js";
import type { Machine } from "../../../runtime/index.js";

// The machine that handles exits inline: x86 on its compiled path, one vCPU (X86Machine.canInline).
const LOOP = {
  x86_64: (n: number) => `.code32\nstart:\n mov $${n}, %esi\n1: xor %eax, %eax\n cpuid\n dec %esi\n jnz 1b\n mov $0xf4, %dx\n out %al, %dx\n`,
};

function outcome(arch: "x86_64", maxSteps: number, inline: boolean) {
  const m = createMachine(arch, { guest: { source: LOOP[arch](40_000) }, settings: { stepLimit: 1e12 } }) as Machine & { handle(): unknown };
  let handleCalls = 0;
  const handle = m.handle.bind(m);
  m.handle = () => (handleCalls++, handle());
  const r = m.run(inline ? { maxSteps } : { maxSteps, stopOnExit: () => false });
  return {
    handleCalls,
    seen: JSON.stringify([r.stop, r.steps, r.message, r.exit?.index, m.exits.total, m.trace.total, m.cycles, m.halted?.message ?? null, m.readRegister("rip").toString(16)]),
    tail: m.trace.lines().slice(-6).join("\n"),
  };
}

describe("exits handled inside execMany", () => {
  for (const arch of ["x86_64"] as const) {
    test(`${arch}: the same stop, steps, exits and trace as run() handling each exit`, () => {
      // Around one interrupt chunk (65,536: inline stops within a chunk of the end), a few units
      // either side of an exit, far past it, and the whole run.
      for (const n of [65_535, 65_537, 70_001, 70_002, 70_003, 131_073, 150_000, 150_001, 150_002, 1e9]) {
        const a = outcome(arch, n, true);
        const b = outcome(arch, n, false);
        expect(a.seen, `limit ${n}`).toBe(b.seen);
        expect(a.tail, `limit ${n}`).toBe(b.tail);
        // The inline path ran: exits more than a chunk from the end never went back through handle().
        if (n >= 150_000) expect(a.handleCalls, `limit ${n}`).toBeLessThan(b.handleCalls * 0.6);
        if (n === 1e9) expect(a.handleCalls, `limit ${n}`).toBeLessThan(b.handleCalls / 100);
      }
    });
  }
});
