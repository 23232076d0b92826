// CR0.WP without a TLB flush (runtime/x86/cpu.ts applyCr0): a MOV to CR0 that changes only WP keeps
// the translations (SDM Vol. 3 4.10.4.1 flushes on CR0.PG), and WP is applied at every access
// (4.10.2.2: TLB entries hold the R/W bit, not the outcome): with WP clear a supervisor write to a
// read-only page goes through, with WP set again the same write faults (#PF) — on the compiled path
// and the interpreter alike. Today's KVM lets the guest own CR0.WP (Linux kvm_cache_regs.h
// KVM_POSSIBLE_CR0_GUEST_BITS = TS | WP, with EPT): the toggles do not exit; v4.1's owned only TS.

import { describe, expect, test } from "vitest";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../../../runtime/guests/x86_64/long-mode.js";

const SRC = `
  .code32
start:
  mov $0x5f0000, %esp
  ${LONG_MODE_ENTRY}
  mov $0x5f0000, %rsp
  movl $0, 0x600000
  andq $~2, ptl2 + 24        /* 0x600000-0x7fffff read-only (PDE bit 1 R/W clear) */
  invlpg 0x600000
  mov %cr0, %rax
  btr $16, %rax
  mov %rax, %cr0             /* WP off */
  movl $1, 0x600000          /* supervisor write to a read-only page: allowed */
  bts $16, %rax
  mov %rax, %cr0             /* WP on again */
  movl $2, 0x600000          /* now a #PF (no IDT: the VM shuts down) */
  mov $0xf4, %dx
  out %al, %dx
  ${LONG_MODE_TABLES}
`;

describe("CR0.WP", () => {
  for (const era of ["2015", "today"] as const) {
    test(`era ${era}: WP toggles keep translations, and a write to a read-only page goes through only while WP is clear (compiled = interpreted)`, () => {
      const runs = [false, true].map((jit) => {
        const m = createX86Machine({ guest: { source: SRC }, settings: { jit, era } });
        m.run({ maxSteps: 100_000 });
        const cr = m.exits.map((e) => e).filter((e) => e.reason === "CR_ACCESS").length;
        return { word: new DataView(m.readPhysical(0x600000, 4).buffer).getUint32(0, true), halted: m.halted?.message ?? "", steps: m.steps, cr };
      });
      expect(runs[0]!.word).toBe(1);
      expect(runs[0]!.halted).not.toMatch(/debug-exit/);
      expect(runs[1]).toEqual(runs[0]);
    });
  }

  // The guest starts with WP clear, so only setting it differs from v4.1's read shadow: one exit there, none today.
  test("today's KVM does not intercept the WP toggle; v4.1's did (one more CR_ACCESS exit)", () => {
    const crExits = (era: "2015" | "today") => {
      const m = createX86Machine({ guest: { source: SRC }, settings: { era } });
      m.run({ maxSteps: 100_000 });
      return m.exits.map((e) => e).filter((e) => e.reason === "CR_ACCESS" && (Number(e.info.exit_qualification) & 15) === 0).length;
    };
    expect(crExits("2015") - crExits("today")).toBe(1);
  });
});
