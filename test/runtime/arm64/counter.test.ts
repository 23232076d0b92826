// The generic timer's count (Arm ARM D11.1.2): CNTPCT_EL0/CNTVCT_EL0 advance with modelled time at
// CNTFRQ_EL0 (62.5 MHz) on a 1 GHz modelled core (one cycle per guest instruction, exits their
// cost), so guests' delay loops (kvm-unit-tests' mdelay) end; the values are deterministic.

import { describe, expect, test } from "vitest";
import { createArm64Machine } from "../../../runtime/arm64/machine.js";

const SRC = `
start:
  mrs x1, cntvct_el0
  mov x3, #16000
1: subs x3, x3, #1
  b.ne 1b
  mrs x2, cntpct_el0
  // a delay loop: wait until the count passes x2 + 100
  add x4, x2, #100
2: mrs x5, cntvct_el0
  cmp x5, x4
  b.lo 2b
  movz x0, #8
  movk x0, #0x8400, lsl #16
  hvc #0
`;

describe("arm64 counter", () => {
  test("advances with modelled time at CNTFRQ_EL0, deterministically; a delay loop ends", () => {
    const run = () => {
      const m = createArm64Machine({ guest: { source: SRC }, settings: { stepLimit: 50_000_000 } });
      const r = m.run();
      return { r, x1: m.readRegister("x1"), x2: m.readRegister("x2"), x5: m.readRegister("x5"), x4: m.readRegister("x4"), cycles: m.cycles };
    };
    const a = run();
    expect(a.r.message).toMatch(/SYSTEM_OFF/);
    // 32,000 loop instructions between the reads: at least 2,000 ticks (16 cycles a tick).
    expect(a.x2 - a.x1).toBeGreaterThanOrEqual(2000n);
    expect(a.x5 >= a.x4).toBe(true);
    expect(Number(a.x5)).toBeLessThanOrEqual(a.cycles / 16);
    expect(run()).toEqual(a);
  });
});
