// LOOP, LOOPE and LOOPNE through their compiled template (semantics/fast-branch.ts, used by the
// block compiler and, instruction by instruction, with jit off): the counter of the address size
// (CX with 67h in 32-bit code, ECX with 67h in 64-bit code, RCX across a borrow from its high
// half), ZF for the conditional forms; blocks and single instructions agree, and the counts are
// those of the SDM's LOOP/LOOPcc.

import { describe, expect, test } from "vitest";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../../../runtime/guests/x86_64/long-mode.js";

/** \`narrow\`: the address-size prefix that makes the counter narrower (addr16 in 32-bit code: CX; addr32 in 64-bit: ECX). */
const body = (narrow: string) => `
  xor %eax, %eax
  xor %edx, %edx
  xor %edi, %edi
  mov $1000, %ecx
1: add $3, %eax
  loop 1b
  mov $0x10005, %ecx
2: inc %edx
  ${narrow} loop 2b
  mov $50, %ecx
  xor %ebx, %ebx
3: inc %ebx
  cmp $20, %ebx
  loopne 3b
  mov $50, %ecx
  xor %esi, %esi
4: inc %esi
  cmp $0, %edi
  loope 4b
`;
const SRC32 = `.code32\nstart:\n${body("addr16")}  hlt\n`;
const SRC64 = `${LONG_MODE_ENTRY}
  mov $0x100000002, %rcx
  xor %r8, %r8
5: inc %r8
  cmp $5, %r8
  loopne 5b
${body("addr32")}  hlt
${LONG_MODE_TABLES}
`;

describe("LOOP/LOOPcc compiled", () => {
  for (const [bits, src] of [[32, SRC32], [64, SRC64]] as const) {
    test(`${bits}-bit: compiled blocks and single instructions leave the SDM's counts`, () => {
      const run = (jit: boolean) => {
        const m = createX86Machine({ guest: { source: src }, settings: { jit, stepLimit: 200_000 } });
        m.run();
        return { gpr: [...m.cpu.state.gpr], steps: m.steps, rflags: m.cpu.state.rflags };
      };
      const fast = run(true);
      const slow = run(false);
      expect(fast).toEqual(slow);
      expect(slow.gpr[0]).toBe(3000n);
      // 32-bit: CX counts 5 down, ECX's high half stays; 64-bit: ECX counts 0x10005 down.
      expect(slow.gpr[2]).toBe(bits === 32 ? 5n : 0x10005n);
      if (bits === 64) expect(slow.gpr[8]).toBe(5n); // loopne over RCX = 2^32 + 2: the borrow from the high half
      expect(slow.gpr[3]).toBe(20n); // loopne stops when ZF is set
      expect(slow.gpr[6]).toBe(50n); // loope runs while ZF is set (edi is 0) until ECX is 0
    });
  }
});
