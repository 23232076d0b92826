// Compile decodetree-style bit patterns ("sf:1 0 0 100010 sh:1 imm12:12 Rn:5 Rd:5"; `.` ignored,
// `o` ignored by the decoder but set by the assembler: the Arm ARM's "(1)" bits) into a
// mask/value pair and field positions; extract and insert fields.

import type { A64FieldDef, A64Fields } from "./types.js";

export interface CompiledPattern {
  mask: number;
  value: number;
  /** value plus the "should be one" bits (`o` in a pattern) that the decoder ignores but the assembler sets. */
  asmValue: number;
  fields: A64FieldDef[];
}

export function compilePattern(pattern: string, where: string): CompiledPattern {
  let pos = 32;
  let mask = 0;
  let value = 0;
  let sbo = 0;
  const fields: A64FieldDef[] = [];
  for (const tok of pattern.trim().split(/\s+/)) {
    const m = /^([A-Za-z_][\w]*):(\d+)$/.exec(tok);
    if (m) {
      const width = Number(m[2]);
      pos -= width;
      fields.push({ name: m[1]!, lsb: pos, width });
      continue;
    }
    if (!/^[01.o]+$/.test(tok)) throw new Error(`${where}: bad pattern token '${tok}'`);
    for (const c of tok) {
      pos--;
      if (c === "o") sbo |= 1 << pos;
      else if (c !== ".") {
        mask |= 1 << pos;
        if (c === "1") value |= 1 << pos;
      }
    }
  }
  if (pos !== 0) throw new Error(`${where}: pattern has ${32 - pos} bits, not 32`);
  return { mask: mask >>> 0, value: value >>> 0, asmValue: (value | sbo) >>> 0, fields };
}

export function extractFields(word: number, defs: A64FieldDef[]): A64Fields {
  const f: A64Fields = {};
  for (const d of defs) f[d.name] = (word >>> d.lsb) & (d.width >= 32 ? 0xffffffff : (1 << d.width) - 1);
  return f;
}

/** Number of fixed bits in a mask (more fixed bits = more specific pattern). */
export function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v; v &= v - 1) n++;
  return n;
}
