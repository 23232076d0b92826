// The x86 assembler accepts what GNU as accepts and encodes it as GNU as does. Every entry of
// X86_TABLE gets random operand combinations for its operand forms (any register of the size,
// memory operands with every base/index/scale/displacement shape, immediates at and beyond the
// edges of their fields, relative targets near the short/near boundary), spelled with each of its
// mnemonics with and without a size suffix, in 64-, 32- and 16-bit code, plus the conveniences
// GNU as documents (GNU as manual, "i386-Mnemonics" and "i386-Regs": operand-size suffixes are
// optional when a register gives the size, accumulator-implied forms, `xchg` either way round,
// `*` before indirect branch targets). Each line must assemble to the same bytes as GNU as, or be
// rejected by both. One batch per mode (two `as` runs each). EXITLAB_AGREE_SEED picks another seed.

import { describe, expect, it } from "vitest";
import { X86_TABLE, assembleX86, type X86Spec } from "../../../../runtime/x86/isa/index.js";
import type { OperandForm } from "../../../../runtime/x86/isa/types.js";
import { Rng } from "../../difftest/prng.js";
import { gnuBatch } from "../../difftest/gnu-as.js";
import { binutilsRequired, haveTools } from "../../../tools.js";

const BASE = 0x400000n;
const PER_ENTRY = 8;
const HAVE = haveTools("as", "ld", "objcopy", "nm");

const R64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const R32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"];
const R16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"];
const R8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"];
const R8H = ["ah", "ch", "dh", "bh"];
const SUF: Record<number, string> = { 1: "b", 2: "w", 4: "l", 8: "q" };

/** Immediates around the edges of 8/16/32/64-bit fields, signed and unsigned. */
const EDGES = [0n, 1n, 2n, 0x7fn, 0x80n, -0x80n, -0x81n, 0xffn, 0x100n, -1n, 0x7fffn, 0x8000n, 0xffffn, -0x8000n, 0x7fffffffn, 0x80000000n,
  0xffffffffn, -0x80000000n, -0x80000001n, 0x100000000n, 0x123456789abcn, -0x8000000000000000n, 0xffffffffffffffffn];

class LineGen {
  constructor(private readonly rng: Rng, private readonly bits: 16 | 32 | 64) {}

  reg(size: number): string {
    const n = this.bits === 64 ? 16 : 8;
    if (size === 1 && this.bits === 32 && this.rng.chance(0.3)) return "%" + this.rng.pick(R8H);
    const names = size === 8 ? R64 : size === 4 ? R32 : size === 2 ? R16 : this.bits === 64 ? R8 : R8.slice(0, 4);
    return "%" + names[this.rng.int(0, Math.min(n, names.length) - 1)]!;
  }

  imm(): string {
    const v = this.rng.chance(0.7) ? this.rng.pick(EDGES) : BigInt(this.rng.int(-300, 300));
    return v < 0n ? `$-0x${(-v).toString(16)}` : `$0x${v.toString(16)}`;
  }

  disp(): string {
    const v = this.rng.pick([0n, 1n, 0x7fn, 0x80n, -0x80n, -0x81n, 0x1000n, -0x10n, 0x7fffffffn, BigInt(this.rng.int(-5000, 5000))]);
    return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
  }

  mem(): string {
    const r = this.rng;
    if (this.bits === 16 && r.chance(0.7)) {
      // 16-bit addressing: the eight ModRM base/index pairs (SDM Vol. 2 Table 2-1)
      const d = r.chance(0.5) ? this.disp() : "";
      const pair = r.pick(["(%bx,%si)", "(%bx,%di)", "(%bp,%si)", "(%bp,%di)", "(%si)", "(%di)", "(%bp)", "(%bx)", ""]);
      return `${pair ? d : d || "0x1000"}${pair}`;
    }
    const a32 = this.bits !== 64 || r.chance(0.1);
    const regs = a32 ? R32.slice(0, this.bits === 64 ? 16 : 8) : R64;
    const base = "%" + r.pick(regs);
    const index = "%" + r.pick(regs.filter((x) => !/sp$/.test(x)));
    const scale = r.pick([1, 2, 4, 8]);
    const seg = r.chance(0.1) ? `%${r.pick(["es", "cs", "ss", "ds", "fs", "gs"])}:` : "";
    const d = r.chance(0.5) ? this.disp() : "";
    const shapes = [`${d}(${base})`, `${d}(${base},${index},${scale})`, `${d}(,${index},${scale})`, `${d || "0x1000"}`, `${d}(${base},${index})`];
    if (this.bits === 64 && !a32) shapes.push(`${d}(%rip)`);
    return seg + r.pick(shapes);
  }

  /** AT&T text for one operand form at operand size `v`; null = left out. */
  operand(f: OperandForm, v: number): string | null {
    const r = this.rng;
    const a = this.bits === 64 ? "r" : "e";
    switch (f) {
      case "Eb": case "Ew": case "Ed": case "Ev": {
        const size = f === "Eb" ? 1 : f === "Ew" ? 2 : f === "Ed" ? 4 : v;
        return r.chance(0.5) ? this.reg(size) : this.mem();
      }
      case "Gb": return this.reg(1);
      case "Gw": return this.reg(2);
      case "Gv": case "Zv": case "Rv": return this.reg(v);
      case "Zb": return this.reg(1);
      case "Gy": return this.reg(v === 8 ? 8 : 4);
      case "Ry": return this.reg(this.bits === 64 ? 8 : 4);
      case "Ib": case "Iw": case "Iz": case "Iv": case "Ibs": return this.imm();
      case "Jb": case "Jz": return `.${r.pick(["+", "-"])}0x${r.pick([2, 0x10, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x86, 0x1000, r.int(0, 300)]).toString(16)}`;
      case "AL": return r.chance(0.8) ? "%al" : null;
      case "rAX": return r.chance(0.8) ? this.reg(v).replace(/%\w+/, "%" + (v === 8 ? "rax" : v === 4 ? "eax" : "ax")) : null;
      case "eAX": return v === 2 ? "%ax" : "%eax";
      case "DX": return r.pick(["(%dx)", "%dx"]);
      case "CL": return "%cl";
      case "One": return r.pick([null, "$1"]);
      case "Sw": return "%" + r.pick(["es", "cs", "ss", "ds", "fs", "gs"]);
      case "Cy": return "%cr" + r.pick([0, 2, 3, 4, 8]);
      case "Dy": return "%db" + r.int(0, 7);
      case "M": case "Mw": case "Ms": case "Mp": return this.mem();
      case "Ob": case "Ov": return r.pick(["0x1000", "0x12345678", this.bits === 64 ? "0x123456789a" : "0x10"]);
      case "Ap": return `$0x${r.int(0, 0xffff).toString(16)},$0x${r.int(0, 0xffffff).toString(16)}`;
      case "Xb": case "Xv": return r.pick([null, `%ds:(%${a}si)`, `(%${a}si)`]);
      case "Yb": case "Yv": return r.pick([null, `%es:(%${a}di)`]);
      default: return `%${f.toLowerCase()}`;
    }
  }

  line(spec: X86Spec): string {
    const r = this.rng;
    const bits = this.bits;
    const sizes = spec.osize ? [spec.osize / 8] : spec.size64 && bits === 64 ? [8, 2] : bits === 64 ? [4, 8, 2] : bits === 16 ? [2, 4] : [4, 2];
    const v = r.pick(sizes);
    const byteOp = spec.operands.some((f) => f === "Eb" || f === "Xb" || f === "Yb" || f === "AL") && !spec.operands.some((f) => f.endsWith("v"));
    const names = [spec.mnemonic, ...(spec.aliases ?? [])];
    let mn = r.pick(names);
    if (r.chance(0.5)) mn += SUF[byteOp ? 1 : v]!;
    const star = ["jmpind", "callind", "jmpfarind", "callfarind"].includes(spec.sem) && r.chance(0.9) ? "*" : "";
    const ops = [...spec.operands].reverse().map((f) => this.operand(f, v)).filter((o) => o !== null);
    if (spec.commutative && ops.length === 2 && r.chance(0.3)) ops.reverse();
    return `${mn} ${ops.map((o) => star + o).join(",")}`.trim();
  }
}

/** Fixed lines: the cases issue 14 names and GNU's xchg/nop special cases, in every register size. */
const HAND: Record<16 | 32 | 64, string[]> = {
  16: ["xchg %ax,%ax", "xchg %eax,%eax", "xchg %cx,%ax", "nop", "lgdtl (%bx)", "ljmp $0x8,$0x1000", "retl", "pushl $1", "iret"],
  64: ["xchg %rax,%rax", "xchg %eax,%eax", "xchg %ax,%ax", "xchg %al,%al", "xchg %r8,%r8", "xchg %rax,%r8", "xchg %r8,%rax", "xchg %r8d,%eax",
    "xchg %ecx,%eax", "xchg %rcx,%rcx", "xchgq %rax,%rax", "xchg %rax,(%rax)", "nop", "pause", "nopw (%rax)", "nopl 0x0(%rax,%rax,1)"],
  32: ["xchg %eax,%eax", "xchg %ax,%ax", "xchg %al,%al", "xchg %ecx,%eax", "xchg %eax,%ecx", "xchg %ax,%cx", "nop", "pause"],
};

function generate(bits: 16 | 32 | 64, seed: number): string[] {
  const gen = new LineGen(new Rng(seed), bits);
  const lines = [...HAND[bits]];
  for (const spec of X86_TABLE) {
    if (spec.noAsm || (bits === 64 && spec.modes === "i64") || (bits === 32 && spec.modes === "o64")) continue;
    for (let k = 0; k < PER_ENTRY; k++) lines.push(gen.line(spec));
  }
  return [...new Set(lines)];
}

/** Our verdict, assembled at the address GNU as gave the line (absolute branch targets depend on it). */
function ours(line: string, bits: 16 | 32 | 64, base: bigint): { hex?: string; error?: string } {
  try {
    return { hex: Buffer.from(assembleX86(line, { bits, base }).bytes).toString("hex") };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe.skipIf(!HAVE && !binutilsRequired)("x86 assembler agrees with GNU as on every table entry", () => {
  for (const bits of [64, 32, 16] as const) {
    it(`${bits}-bit${bits === 16 ? " (.code16)" : ""}: random operands and GNU's conveniences, same bytes or rejected by both`, () => {
      expect(HAVE).toBe(true);
      const lines = generate(bits, Number(process.env.EXITLAB_AGREE_SEED ?? (bits === 64 ? 0x8664 : bits === 32 ? 0x386 : 0x8086)));
      const gnu = gnuBatch(lines, { prefix: "", asArgs: [bits === 64 ? "--64" : "--32"], ldArgs: bits === 64 ? [] : ["-m", "elf_i386"], header: `.code${bits}` }, bits === 16 ? 0x7c00n : BASE);
      const base = bits === 16 ? 0x7c00n : BASE;
      const starts = [...gnu.address.entries()].sort((x, y) => (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : x[0] - y[0]));
      const end = new Map<number, bigint>();
      starts.forEach(([i], k) => end.set(i, k + 1 < starts.length ? starts[k + 1]![1] : base + BigInt(gnu.image.length)));
      const diffs: string[] = [];
      let same = 0;
      let bothReject = 0;
      lines.forEach((line, i) => {
        const mine = ours(line, bits, gnu.address.get(i) ?? base);
        const theirs = gnu.rejected.get(i);
        if (theirs !== undefined) {
          if (mine.error === undefined) diffs.push(`${line}: GNU rejects (${theirs}), ours ${mine.hex}`);
          else bothReject++;
          return;
        }
        const at = Number(gnu.address.get(i)! - base);
        const want = Buffer.from(gnu.image.subarray(at, Number(end.get(i)! - base))).toString("hex");
        if (mine.error !== undefined) diffs.push(`${line}: GNU ${want}, ours rejects (${mine.error})`);
        else if (mine.hex !== want) diffs.push(`${line}: GNU ${want}, ours ${mine.hex}`);
        else same++;
      });
      console.log(`x86 ${bits}-bit agreement: ${lines.length} lines (${same} same bytes, ${bothReject} rejected by both), ${diffs.length} differences`);
      expect(diffs).toEqual([]);
      expect(same).toBeGreaterThan(500);
    }, 120_000);
  }
});
