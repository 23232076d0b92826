// The irqchip's STI-shadow look (kvm/irqchip.ts atStiShadow): rip compared as the register
// file's sign-extended number must answer what `stiShadow === rip` on BigInts answers, for low
// and high-half canonical rips, a changed shadow, and none.

import { describe, expect, test } from "vitest";
import { createX86Machine } from "../../../../runtime/x86/machine.js";

describe("STI shadow at rip: numbers agree with the BigInt comparison", () => {
  test("low and high canonical rips, shadows moving between them", () => {
    const m = createX86Machine({ guest: { source: ".code32\nstart:\nnop\nhlt\n" }, settings: { stepLimit: 100 } });
    const s = m.cpu.state;
    const rips = [0n, 0x400000n, 0x7fff_ffff_f000n, 0xffff_8000_0000_1000n, 0xffff_ffff_ffff_fff0n];
    let checked = 0;
    for (const shadow of [undefined, ...rips, 0x400001n]) {
      for (const rip of rips) {
        s.rip = rip;
        s.stiShadow = shadow;
        const want = shadow !== undefined && shadow === s.rip;
        expect(m.irq.inStiShadow(), `shadow ${shadow} rip ${rip}`).toBe(want);
        if (want) checked++;
      }
    }
    expect(checked).toBe(rips.length);
  });
});
