// Differential test against the host x86-64 CPU (v86's idea): each ALU/shift/rotate instruction is
// assembled by GNU as into a tiny function (popf; <insn>; pushf), run natively on boundary and
// seeded random inputs, and compared with executeX86 on the same instruction text. Flags the SDM
// leaves undefined for an instruction are masked out. Skips when gcc/as are missing unless
// EXITLAB_REQUIRE_BINUTILS is set.

import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assembleX86 } from "../../../../runtime/x86/isa/index.js";
import { FakeEnv } from "./fake-env.js";
import { binutilsRequired, haveTools } from "../../../tools.js";

const HAVE = process.arch === "x64" && haveTools("gcc", "as");
if (!HAVE && binutilsRequired && process.arch === "x64") throw new Error("EXITLAB_REQUIRE_BINUTILS is set but gcc/as are missing");

const CF = 1n, PF = 4n, AF = 0x10n, ZF = 0x40n, SF = 0x80n, OF = 0x800n;
const ALL = CF | PF | AF | ZF | SF | OF;
const REG = { 1: ["al", "sil"], 2: ["ax", "si"], 4: ["eax", "esi"], 8: ["rax", "rsi"] } as const;
type Size = 1 | 2 | 4 | 8;

interface Case { text: string; size: Size; kind: "binary" | "unary" | "shift"; defined: (count: bigint) => bigint }

function cases(): Case[] {
  const out: Case[] = [];
  for (const size of [1, 2, 4, 8] as Size[]) {
    const [d, s] = REG[size];
    for (const op of ["add", "adc", "sub", "sbb", "cmp"]) out.push({ text: `${op} %${s},%${d}`, size, kind: "binary", defined: () => ALL });
    for (const op of ["and", "or", "xor", "test"]) out.push({ text: `${op} %${s},%${d}`, size, kind: "binary", defined: () => ALL & ~AF });
    out.push({ text: `inc %${d}`, size, kind: "unary", defined: () => ALL });
    out.push({ text: `dec %${d}`, size, kind: "unary", defined: () => ALL });
    out.push({ text: `neg %${d}`, size, kind: "unary", defined: () => ALL });
    out.push({ text: `not %${d}`, size, kind: "unary", defined: () => ALL });
    const one = (c: bigint) => (c === 1n ? OF : 0n);
    for (const op of ["shl", "shr", "sar"]) {
      // CF is undefined when the count reaches the operand width (SDM SAL/SAR/SHL/SHR).
      out.push({ text: `${op} %cl,%${d}`, size, kind: "shift", defined: (c) => (c >= BigInt(size * 8) ? 0n : CF) | ZF | SF | PF | one(c) });
    }
    for (const op of ["rol", "ror", "rcl", "rcr"]) out.push({ text: `${op} %cl,%${d}`, size, kind: "shift", defined: (c) => CF | one(c) });
    if (size > 1) {
      out.push({ text: `imul %${s},%${d}`, size, kind: "binary", defined: () => CF | OF });
      for (const op of ["bt", "bts", "btr", "btc"]) out.push({ text: `${op} %${s},%${d}`, size, kind: "binary", defined: () => CF });
      for (const op of ["bsf", "bsr"]) out.push({ text: `${op} %${s},%${d}`, size, kind: "binary", defined: () => ZF });
    }
    out.push({ text: `xadd %${s},%${d}`, size, kind: "binary", defined: () => ALL });
  }
  return out;
}

function inputs(size: Size): [bigint, bigint][] {
  const bits = BigInt(size * 8);
  const m = (1n << bits) - 1n;
  const edge = [0n, 1n, 2n, 0x0fn, 0x10n, m >> 1n, (m >> 1n) + 1n, m - 1n, m];
  const out: [bigint, bigint][] = [];
  for (const a of edge) for (const b of edge) out.push([a & m, b & m]);
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 40; i++) {
    x ^= (x << 13n) & ((1n << 64n) - 1n);
    x ^= x >> 7n;
    x ^= (x << 17n) & ((1n << 64n) - 1n);
    out.push([x & m, (x >> 11n) & m]);
  }
  return out;
}

/** Build the native harness: function i runs case i on (a, b, flags) and stores result and flags. */
function buildHarness(all: Case[]): string {
  const dir = mkdtempSync(join(tmpdir(), "exitlab-hostflags-"));
  const asm = [".section .note.GNU-stack,\"\",@progbits", ".text"];
  all.forEach((c, i) => {
    asm.push(`.globl f${i}`, `f${i}:`, "mov %rcx, %r8", "mov %rdi, %rax", "mov %rsi, %rcx", "push %rdx", "popfq", c.text, "pushfq", "pop %rdx", "mov %rdx, (%r8)", "ret");
  });
  writeFileSync(join(dir, "ops.s"), asm.join("\n") + "\n");
  const decl = all.map((_, i) => `extern unsigned long long f${i}(unsigned long long, unsigned long long, unsigned long long, unsigned long long *);`).join("\n");
  const table = all.map((_, i) => `f${i}`).join(", ");
  writeFileSync(
    join(dir, "main.c"),
    `#include <stdio.h>
${decl}
static unsigned long long (*fns[])(unsigned long long, unsigned long long, unsigned long long, unsigned long long *) = { ${table} };
int main(void) {
  unsigned idx; unsigned long long a, b, f;
  while (scanf("%u %llx %llx %llx", &idx, &a, &b, &f) == 4) {
    unsigned long long out;
    unsigned long long r = fns[idx](a, b, f | 2, &out);
    printf("%llx %llx\\n", r, out);
  }
  return 0;
}
`,
  );
  execFileSync("gcc", ["-O0", "-o", join(dir, "harness"), join(dir, "main.c"), join(dir, "ops.s")]);
  return join(dir, "harness");
}

describe.skipIf(!HAVE)("flags agree with the host CPU", () => {
  it("ALU, shift and rotate instructions at 8/16/32/64 bits over boundary and random inputs", () => {
    const all = cases();
    const harness = buildHarness(all);
    const jobs: { i: number; a: bigint; b: bigint; f: bigint }[] = [];
    all.forEach((c, i) => {
      for (const [a, b0] of inputs(c.size)) {
        const b = c.kind === "shift" ? b0 & 0xffn : b0;
        for (const f of [0n, CF | ZF | OF | AF | SF | PF]) jobs.push({ i, a, b, f });
      }
    });
    const text = execFileSync(harness, { input: jobs.map((j) => `${j.i} ${j.a.toString(16)} ${j.b.toString(16)} ${j.f.toString(16)}`).join("\n") + "\n", encoding: "utf8", maxBuffer: 64 << 20 });
    const native = text.trim().split("\n").map((l) => l.split(" ").map((x) => BigInt("0x" + x)) as [bigint, bigint]);
    expect(native.length).toBe(jobs.length);
    const programs = all.map((c) => assembleX86(c.text, { base: 0x1000n }).bytes);
    const diffs: string[] = [];
    jobs.forEach((j, n) => {
      const c = all[j.i]!;
      const env = new FakeEnv("long64");
      env.load(0x1000n, programs[j.i]!);
      env.state.rip = 0x1000n;
      env.state.gpr[0] = j.a;
      env.state.gpr[6] = j.b;
      env.state.gpr[1] = j.b;
      env.state.rflags = j.f | 2n;
      env.step();
      const [r, fl] = native[n]!;
      const count = c.kind === "shift" ? j.b & (c.size === 8 ? 0x3fn : 0x1fn) : 0n;
      const mask = c.defined(count);
      const width = BigInt(c.size * 8);
      const resMask = c.text.startsWith("cmp") || c.text.startsWith("test") ? 0n : (1n << width) - 1n;
      const ours = env.state.gpr[0]!;
      if ((ours & resMask) !== (r & resMask) || (env.state.rflags & mask) !== (fl & mask)) {
        diffs.push(`${c.text} a=${j.a.toString(16)} b=${j.b.toString(16)} f=${j.f.toString(16)}: ours ${ours.toString(16)}/${(env.state.rflags & mask).toString(16)} cpu ${r.toString(16)}/${(fl & mask).toString(16)}`);
      }
    });
    expect(diffs.slice(0, 20)).toEqual([]);
    expect(jobs.length).toBeGreaterThan(10000);
  });
});
