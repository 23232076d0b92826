import { describe, it, expect } from "vitest";
import { assembleA64, decodeA64, disassembleA64 } from "../../../../runtime/arm64/isa/index.js";

describe("smoke", () => {
  it("assembles and disassembles", () => {
    const src = `
_start:
  adrp x0, stack_top
  add x0, x0, :lo12:stack_top
  mov sp, x0
  mov x0, #1
  mov x1, x2
  movk x0, #0x1234, lsl #16
  ldr x1, =0x09000000
  stp x29, x30, [sp, #-32]!
  ldp x29, x30, [sp], #32
  str w1, [x0, #4]
  strb w1, [x0]
  ldr x2, [x0, x1, lsl #3]
  lsl x0, x1, #3
  ubfx x0, x1, #4, #8
  bfi x0, x1, #4, #8
  cmp x0, #1
  b.ne 1f
  cbz x0, _start
1: msr daifset, #0xf
  mrs x0, s3_0_c1_c0_0
  msr s3_0_c1_c0_0, x0
  isb
  dsb sy
  dc civac, x0
  ic iallu
  tlbi vmalle1
  hvc #0
  eret
  wfi
  ret
  orr x0, x0, #0xff
  and w1, w2, #0xfffffff0
  bic x0, x0, x1
  cset x0, eq
  .align 3
stack_top: .quad 0
`;
    const p = assembleA64(src, { base: 0x40080000n });
    const dv = new DataView(p.bytes.buffer);
    const out: string[] = [];
    for (const l of p.lines) {
      const off = Number(l.address - p.base);
      if (l.text.startsWith(".")) continue;
      const w = dv.getUint32(off, true);
      out.push(`${l.text.padEnd(36)} ${w.toString(16).padStart(8, "0")} ${decodeA64(w).spec.name.padEnd(14)} ${disassembleA64(w, l.address)}`);
    }
    console.log(out.join("\n"));
  });
});
