// The decoder never throws; whatever it decodes, the disassembler prints and the assembler
// reads back to the same word (deterministic seeded sample of the whole 32-bit space).

import { describe, it, expect } from "vitest";
import { assembleA64, decodeA64, disassembleA64 } from "../../../../runtime/arm64/isa/index.js";

describe("decodeA64 on random words", () => {
  it("never throws, and disassembly reassembles to the same word", () => {
    let seed = 0x2015;
    const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
    const bad: string[] = [];
    let defined = 0;
    let equivalent = 0;
    for (let i = 0; i < 30000; i++) {
      const w = next();
      const insn = decodeA64(w);
      const text = disassembleA64(w, 0x40080000n);
      if (insn.spec.name === "UNDEFINED") continue;
      defined++;
      try {
        const p = assembleA64(text, { base: 0x40080000n });
        const again = new DataView(p.bytes.buffer, p.bytes.byteOffset).getUint32(0, true);
        // a non-canonical encoding (e.g. logical immediate with unused immr bits) may come back canonical
        if (again !== w && disassembleA64(again, 0x40080000n) === text) equivalent++;
        else if (again !== w) bad.push(`${w.toString(16)} ${insn.spec.name} '${text}' → ${again.toString(16)}`);
      } catch (e) {
        bad.push(`${w.toString(16)} ${insn.spec.name} '${text}': ${(e as Error).message}`);
      }
    }
    expect(bad.slice(0, 20)).toEqual([]);
    expect(defined).toBeGreaterThan(1000);
    expect(equivalent).toBeLessThan(defined / 20);
  });
  it("decodes the same word to the same entry every time (table compiled once)", () => {
    expect(decodeA64(0xd503201f).spec).toBe(decodeA64(0xd503201f).spec);
    expect(decodeA64(0xd503201f).spec.name).toBe("NOP");
  });
});
