// INVLPG invalidates one page's translations (SDM Vol. 3 4.10.4.1), and for a large page every
// 4 KiB piece of it: the TLB keeps 4 KiB entries (runtime/x86/cpu.ts invalidatePage), so a guest
// that remaps a 2 MiB page and invalidates one address in it must see the new mapping at any
// other address of that page too. Run on the compiled path and on the interpreter.

import { describe, expect, test } from "vitest";
import { Lab } from "../../../lab/index.js";

// The asm block's identity map: PML4[0] → PDPT, PDPT[0] → the PD of the first GiB, 2 MiB pages.
const GUEST = `vm boot x86_64 asm x86_64 {
  movq $0x1111, 0x601000
  movq $0x2222, 0x801000
  movq $0x3333, 0x401000
  movq 0x601000, %rax
  movq 0x600000, %rax
  movq 0x401000, %rax
  mov %cr3, %rbx
  and $~0xfff, %rbx
  mov (%rbx), %rbx
  and $~0xfff, %rbx
  mov (%rbx), %rbx
  and $~0xfff, %rbx
  mov 24(%rbx), %rcx
  add $0x200000, %rcx
  mov %rcx, 24(%rbx)
  invlpg 0x600000
  movq 0x601000, %rdx
  movq 0x401000, %rsi
  hlt
}`;

describe("INVLPG", () => {
  for (const jit of ["on", "off"]) {
    test(`a remapped 2 MiB page is seen at every address of it after INVLPG of one (jit ${jit})`, async () => {
      const lab = await Lab.create();
      lab.text(`set jit ${jit}`);
      lab.text(GUEST);
      lab.text("run");
      const m = lab.machine!;
      expect(m.readRegister("rdx")).toBe(0x2222n); // 0x601000 now maps 0x801000
      expect(m.readRegister("rsi")).toBe(0x3333n); // another page's translation is untouched
    });
  }
});
