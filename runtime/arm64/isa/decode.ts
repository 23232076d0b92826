// The decoder: the table compiled into 16 buckets by instruction bits [28:25] (the A64 top-level
// op0 field, Arm ARM C4.1), each a list in decode-priority order: more fixed bits first, table
// order among equals (aliases before their base entry). The first entry whose mask/value match
// and whose `when` condition holds wins; none → UNDEFINED.

import type { A64Insn } from "./types.js";
import { extractFields, popcount } from "./pattern.js";
import { A64_TABLE, UNDEFINED_SPEC, type CompiledSpec } from "./table/index.js";

const BUCKET_SHIFT = 25;
const buckets: CompiledSpec[][] = [];
{
  const order = A64_TABLE.filter((s) => !s.asmOnly)
    .map((s, i) => ({ s, i, fixed: popcount(s.mask) }))
    .sort((a, b) => (b.s.priority ?? 0) - (a.s.priority ?? 0) || b.fixed - a.fixed || a.i - b.i)
    .map((x) => x.s);
  for (let op0 = 0; op0 < 16; op0++) {
    const v = op0 << BUCKET_SHIFT;
    buckets.push(order.filter((s) => ((s.value ^ v) & s.mask & (0xf << BUCKET_SHIFT)) === 0));
  }
}

/** Decoded words (a decoded instruction is never modified), bounded: cleared when full. */
const decoded = new Map<number, A64Insn>();
const DECODED_MAX = 1 << 16;

export function decodeA64(word: number): A64Insn {
  const w = word >>> 0;
  const hit = decoded.get(w);
  if (hit !== undefined) return hit;
  if (decoded.size >= DECODED_MAX) decoded.clear();
  const insn = decodeUncached(w);
  decoded.set(w, insn);
  return insn;
}

function decodeUncached(w: number): A64Insn {
  for (const spec of buckets[(w >>> BUCKET_SHIFT) & 0xf]!) {
    if (((w & spec.mask) >>> 0) !== spec.value) continue;
    const fields = extractFields(w, spec.fields);
    if (spec.when && !spec.when(fields)) continue;
    return { spec, fields, word: w };
  }
  return { spec: UNDEFINED_SPEC, fields: {}, word: w };
}
