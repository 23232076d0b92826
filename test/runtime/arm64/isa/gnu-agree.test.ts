// The A64 assembler accepts what GNU as accepts and encodes it as GNU as does. Every entry of
// A64_TABLE gets random operand combinations (random field values in its encoding space, kept
// when they decode back to that entry, printed by the disassembler with branch targets as `.±N`),
// and each printed line is also respelled with GNU as's documented conveniences (GNU as manual,
// "AArch64 Dependent Features", and binutils gas/config/tc-aarch64.c): `#` left off immediates,
// decimal immediates, upper case, the register names fp/lr/ip0/ip1, `b<cond>` without the dot,
// barrier options as numbers, add/sub/cmp/cmn with negated immediates, `[xn, #0]`, ldr/str for
// ldur/stur and back, `ret x30`, an explicit `lsl #0`, and one register
// of the other width (how `uxtb x5, w13` was found). Each line must assemble to the same bytes as
// GNU as, or be rejected by both. All lines go through one batch (two `as` runs);
// EXITLAB_AGREE_SEED picks another seed.

import { describe, expect, it } from "vitest";
import { A64_TABLE, assembleA64, decodeA64, disassembleA64, formatA64, type A64Fields } from "../../../../runtime/arm64/isa/index.js";
import { Rng } from "../../difftest/prng.js";
import { gnuBatch } from "../../difftest/gnu-as.js";
import { binutilsRequired, haveTools } from "../../../tools.js";

const BASE = 0x40080000n;
/** Random encodings tried per table entry, and those kept (that decode back to the entry). */
const TRIES = 400;
const PER_ENTRY = 6;

const tools = haveTools("aarch64-linux-gnu-as", "aarch64-linux-gnu-ld", "aarch64-linux-gnu-objcopy", "aarch64-linux-gnu-nm");

/** The disassembly of `word` (at address 0) with its branch target written relative to `.`. */
function canonical(word: number, hasLabel: boolean): string {
  const text = disassembleA64(word, 0n);
  if (!hasLabel) return text;
  return text.replace(/0x([0-9a-f]+)$/, (_all, h: string) => {
    const v = BigInt.asIntN(64, BigInt("0x" + h));
    return v < 0n ? `.-0x${(-v).toString(16)}` : `.+0x${v.toString(16)}`;
  });
}

const REG_SYNONYMS: Record<string, string> = { x29: "fp", x30: "lr", x16: "ip0", x17: "ip1" };

/** GNU as conveniences applied to one canonical line (each variant applies one or two). */
export function respell(line: string, rng: Rng): string[] {
  const out: string[] = [];
  const [mn, ...rest] = line.split(" ");
  const ops = rest.join(" ");
  if (/#/.test(ops)) out.push(line.replace(/#/g, ""));
  if (/#0x[0-9a-f]+/.test(ops)) out.push(line.replace(/#0x([0-9a-f]+)/g, (_a, h: string) => "#" + BigInt("0x" + h).toString()));
  if (rng.chance(0.3)) out.push(line.toUpperCase());
  if (/\bx(29|30|16|17)\b/.test(ops)) out.push(line.replace(/\bx(29|30|16|17)\b/g, (r) => REG_SYNONYMS[r]!));
  if (/^b\.\w+$/.test(mn!)) out.push(line.replace(/^b\./, "b"));
  const barrier = /^(dmb|dsb|isb) (\w+)$/.exec(line);
  if (barrier) for (const n of [0, 3, 11, 15, rng.int(0, 15)]) out.push(`${barrier[1]} #${n}`, `${barrier[1]} ${n}`);
  if (/^(isb)$/.test(line)) out.push("isb sy");
  const addsub = /^(add|adds|sub|subs|cmp|cmn) (.*), #(0x[0-9a-f]+)(, lsl #12)?$/.exec(line);
  if (addsub) {
    const opp: Record<string, string> = { add: "sub", sub: "add", adds: "subs", subs: "adds", cmp: "cmn", cmn: "cmp" };
    out.push(`${opp[addsub[1]!]} ${addsub[2]}, #-${addsub[3]}${addsub[4] ?? ""}`);
  }
  if (/\[(x\d+|sp)\]/.test(ops)) out.push(line.replace(/\[(x\d+|sp)\]/, "[$1, #0]"));
  // ldr/str with an offset the scaled form cannot hold: GNU as picks ldur/stur (and the other way round)
  const unscaled = /^(ld|st)ur(b|h|sb|sh|sw)? /.exec(line);
  if (unscaled) out.push(line.replace(/^(ld|st)ur/, "$1r"));
  if (/^(ldr|str)(b|h|sb|sh|sw)? \w+, \[\w+, #-?\d+\]$/.test(line)) out.push(line.replace(/^(ld|st)r/, "$1ur"));
  if (line === "ret") out.push("ret x30", "ret lr");
  // a shifted register operand with an explicit lsl #0
  if (/^(add|adds|sub|subs|and|ands|orr|eor|bic|orn|eon|cmp|cmn|tst|mvn|neg|negs) [^#]*\b[wx]\d+$/.test(line)) out.push(line + ", lsl #0");
  // one register of the other width (GNU accepts a few: uxtb/uxth/uxtw with an x destination)
  const regs = [...ops.matchAll(/\b([wx])(\d+|zr)\b/g)];
  if (regs.length) {
    const r = rng.pick(regs);
    const flipped = (r[1] === "w" ? "x" : "w") + r[2];
    const at = line.length - ops.length + r.index!;
    out.push(line.slice(0, at) + flipped + line.slice(at + r[0].length));
  }
  return out;
}

/** Hand-picked spellings from GNU as's documentation and the issue that started this test (issue 14). */
const HAND = [
  "uxtb x5, w13",
  "uxth x5, w13",
  "uxtw x5, w13",
  "sxtb x5, x13",
  "uxtb w5, x13",
  "add x0, x1, w2",
  "add x0, x1, 1",
  "mov x0, 5",
  "ADD X0, X1, X2",
  "mov fp, lr",
  "mov x0, ip0",
  "mov x0, ip1",
  "movz x0, #0x10000",
  "add x0, x1, #0x1000",
  "add x0, x1, #-1",
  "cmp x0, #-1",
  "ldr x0, [x1, #-8]",
  "str x0, [x1, #3]",
  "movk x0, #1, lsl 16",
  "beq .",
  "b.hs .",
  "cset w0, hs",
  "mov x0, sp",
  "mov sp, x0",
  "hvc 0",
  "dsb sy",
  "dmb 11",
  "isb sy",
  "ldr x0, [x1, x2, lsl 3]",
  "lsl x0, x1, x2",
  "mov w0, #-1",
  "mov x0, #0x1234, lsl #16",
  "and x0, x1, #0xff",
  "neg x0, x1, lsl #3",
  "mvn w0, w1",
  "tst x0, #1",
  "cmn w0, w1, uxtb",
  "sub sp, sp, x0",
  "add x0, sp, w1, uxtw #2",
  "ldp x0, x1, [sp], 16",
  "ret",
  "ret x1",
  "ngc x0, x1",
  "smull x0, w1, w2",
  "mul x0, x1, x2",
  "mov w0, w1",
  "sxtw x0, w1",
  "sxtw w0, w1",
  "ubfx x0, x1, 4, 8",
  "lsr x0, x1, 4",
  "tbz x0, 3, .",
  "cbz w0, .",
  "adr x0, .",
  "adrp x0, .",
  "ldrsw x0, [x1]",
  "ldr w0, [x1, w2, sxtw]",
  "ldr w0, [x1, w2, sxtw #2]",
  "ldrb w0, [x1, #4]!",
  "prfm pldl1keep, [x0]",
  "nop",
  "yield",
  "msr daifset, 2",
  "msr daifset, #2",
  "mrs x0, currentel",
  "mrs x0, CurrentEL",
  "csinc x0, x1, x2, al",
  "cinc x0, x1, eq",
  "movn x0, #0",
  "mov x0, #0xffffffffffffffff",
  "orr x0, xzr, #1",
  "mov w0, 0x10000",
  "and w0, w1, 0xff",
  "eor x0, x1, x2, ror 3",
  "ldr x0, [x1], 8",
  "ldr x0, [x1, 8]!",
  "ldur x0, [x1, 8]",
  "ldr x0, [x1, 1]",
  "ldrh w0, [x1, 3]",
  "mov x0, xzr",
  "add x0, xzr, 1",
  "tlbi vmalle1",
  "dc civac, x0",
  "ic iallu",
  "sys #0, c7, c5, #0",
  "svc #0x10",
  "eret",
  "wfi",
  "at s1e1r, x0",
  "clrex",
  "ldxr x0, [x1]",
  "stxr w2, x0, [x1]",
  "ldaxr w0, [x1, #0]",
  "rev x0, x1",
  "rev32 x0, x1",
  "clz w0, w1",
  "rbit x0, x1",
  "extr x0, x1, x2, 3",
  "ror x0, x1, 3",
  "madd x0, x1, x2, x3",
  "udiv w0, w1, w2",
  "adds x0, x1, #0, lsl #12",
  "mov w0, #0xffffffff00000001",
  "and w0, w1, #0xffffffff0000ffff",
  "mov w0, #-0x80000001",
  "mov w0, #0x1ffffffff",
  "movz x0, #0x10000",
  "movk x0, #0x10000",
  "bal .",
  "bnv .",
  "b.al .",
  "uxtw w5, w13",
  "isb 15",
  "sub x4, sp, w6, lsl #4",
  "add x0, x1, w2, lsl #2",
  "adds x0, sp, w2, lsl #2",
  "adds x0, x1, w2, lsl #2",
];

/** Canonical lines for every entry of the table, then their respellings. */
function generate(seed: number): string[] {
  const rng = new Rng(seed);
  const lines: string[] = [...HAND];
  for (const spec of A64_TABLE) {
    const hasLabel = /<label>/.test(spec.syntax);
    if (spec.asmOnly) {
      // assembler-only spellings (no decoder entry): their template filled with random fields
      if (spec.syntax.includes("=")) continue;
      for (let t = 0; t < PER_ENTRY; t++) {
        const word = (spec.value | (rng.u32() & ~spec.mask)) >>> 0;
        const fields: A64Fields = {};
        for (const f of spec.fields) fields[f.name] = (word >>> f.lsb) & (2 ** f.width - 1);
        const line = formatA64({ spec, fields, word }, 0n).replace(/0x([0-9a-f]+)$/, hasLabel ? ".+0x$1" : "0x$1");
        lines.push(line, ...respell(line, rng));
      }
      continue;
    }
    const seen = new Set<number>();
    for (let t = 0; t < TRIES && seen.size < PER_ENTRY; t++) {
      const word = ((spec.value | (rng.u32() & ~spec.mask)) >>> 0);
      if (seen.has(word) || decodeA64(word).spec !== spec) continue;
      seen.add(word);
      const line = canonical(word, hasLabel);
      lines.push(line, ...respell(line, rng));
    }
  }
  return [...new Set(lines)];
}

/** Our verdict per line: the 4-byte word, or the error. */
function ours(line: string): { word?: string; error?: string } {
  try {
    const p = assembleA64(line, { base: BASE });
    return { word: Buffer.from(p.bytes).toString("hex") };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe.skipIf(!tools && !binutilsRequired)("A64 assembler agrees with GNU as on every table entry", () => {
  it("random operands and GNU's conveniences: same bytes, or rejected by both", () => {
    expect(tools).toBe(true);
    const lines = generate(Number(process.env.EXITLAB_AGREE_SEED ?? 0xa64a5));
    const gnu = gnuBatch(lines, { prefix: "aarch64-linux-gnu-", asArgs: ["-march=armv8.2-a"], header: ".text" }, BASE);
    const diffs: string[] = [];
    let agreedBytes = 0;
    let agreedReject = 0;
    lines.forEach((line, i) => {
      const mine = ours(line);
      const theirs = gnu.rejected.get(i);
      if (theirs !== undefined) {
        if (mine.error === undefined) diffs.push(`${line}: GNU rejects (${theirs}), ours ${mine.word}`);
        else agreedReject++;
        return;
      }
      const at = Number(gnu.address.get(i)! - BASE);
      const want = Buffer.from(gnu.image.subarray(at, at + 4)).toString("hex");
      if (mine.error !== undefined) diffs.push(`${line}: GNU ${want}, ours rejects (${mine.error})`);
      else if (mine.word !== want) diffs.push(`${line}: GNU ${want}, ours ${mine.word}`);
      else agreedBytes++;
    });
    console.log(`A64 agreement: ${lines.length} lines (${agreedBytes} same bytes, ${agreedReject} rejected by both), ${diffs.length} differences`);
    expect(diffs).toEqual([]);
    expect(agreedBytes).toBeGreaterThan(1000);
  }, 120_000);
});
