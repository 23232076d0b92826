// Bit layouts declared as data (a name, lsb, width, symbolic values and a doc per field) and the
// one codec that reads them: x86 exit qualifications and arm64 ESR/ISS layouts are both tables of
// this shape, read by the hardware model (encode), KVM (decode), `show` (describe) and the tests.

export interface BitField {
  name: string;
  lsb: number;
  width: number;
  /** Symbolic values (e.g. access type 0 = "mov-to-cr"). */
  values?: readonly string[];
  /** How the field's number is written: "hex" for codes, syndromes, ports and data, as the manuals and traces write them; decimal by default (register numbers, flags, sizes). */
  radix?: "hex";
  doc: string;
}

export interface BitLayout {
  name: string;
  /** Where the layout is defined (manual table/section). */
  source: string;
  fields: readonly BitField[];
}

export type BitValues = Record<string, number>;

export function encodeBits(layout: BitLayout, values: BitValues): bigint {
  let q = 0n;
  for (const f of layout.fields) {
    const v = values[f.name] ?? 0;
    const max = 2 ** f.width - 1;
    if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${layout.name}: ${f.name}=${v} does not fit ${f.width} bits`);
    q |= BigInt(v) << BigInt(f.lsb);
  }
  return q;
}

export function decodeBits(layout: BitLayout, q: bigint): BitValues {
  const out: BitValues = {};
  for (const f of layout.fields) out[f.name] = Number((q >> BigInt(f.lsb)) & ((1n << BigInt(f.width)) - 1n));
  return out;
}

/** encodeBits for layouts within 32 bits, as a number (same checks). */
export function encodeBits32(layout: BitLayout, values: BitValues): number {
  let q = 0;
  for (const f of layout.fields) {
    const v = values[f.name] ?? 0;
    if (f.lsb + f.width > 32) return Number(encodeBits(layout, values));
    const max = f.width >= 32 ? 0xffff_ffff : (1 << f.width) - 1;
    if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${layout.name}: ${f.name}=${v} does not fit ${f.width} bits`);
    q = (q | (v << f.lsb)) >>> 0;
  }
  return q;
}

/** decodeBits for layouts within 32 bits, on a number (no BigInt): the exit fast paths. */
export function decodeBits32(layout: BitLayout, v: number): BitValues {
  const out: BitValues = {};
  for (const f of layout.fields) out[f.name] = f.width >= 32 ? v >>> 0 : (v >>> f.lsb) & ((1 << f.width) - 1);
  return out;
}

/** One field's extractor, for layouts within 32 bits: `bitField(CALL_ISS, "imm16")(iss)`. */
export function bitField(layout: BitLayout, name: string): (v: number) => number {
  const f = layout.fields.find((x) => x.name === name);
  if (!f || f.lsb + f.width > 32) throw new Error(`${layout.name}: no 32-bit field ${name}`);
  const mask = f.width >= 32 ? 0xffff_ffff : (1 << f.width) - 1;
  return (v) => ((v >>> f.lsb) & mask) >>> 0;
}

/** Decoded fields as display values (symbolic where the layout names them). */
export function describeBits(layout: BitLayout, q: bigint): Record<string, string | number> {
  const d = decodeBits(layout, q);
  const out: Record<string, string | number> = {};
  for (const f of layout.fields) {
    const v = d[f.name]!;
    out[f.name] = f.values ? (f.values[v] ?? v) : v;
  }
  return out;
}
