// Branches, exception generation and system instructions: Arm ARM C4.1.85 — unconditional
// branch (immediate, register), conditional branch, compare and branch, test and branch.

import { A64BuildError, type A64Ops } from "../types.js";
import { maskOf } from "../../../core/bits.js";
import { konst64 } from "../gen.js";
import { fieldsAsOps, num, pcDiff, sext, sfit, type Decl } from "./common.js";

const decls: Decl[] = [];

function target(pc: bigint, imm: number, width: number): bigint {
  return (pc + (sext(imm, width) << 2n)) & maskOf(64);
}
function offset(o: A64Ops, pc: bigint, width: number): number {
  const t = o.target ?? 0n;
  if ((t & 3n) !== 0n) throw new A64BuildError(`branch target 0x${t.toString(16)} is not 4-byte aligned`);
  return sfit(pcDiff(t, pc), width, 2, "branch offset");
}

for (const [mn, op] of [["b", 0], ["bl", 1]] as const) {
  decls.push({
    name: mn.toUpperCase(), pattern: `${op} 00101 imm26:26`, syntax: `${mn} <label>`,
    view: (f, pc) => ({ ...fieldsAsOps(f), target: target(pc, f.imm26!, 26) }),
    build: (o, pc) => ({ imm26: offset(o, pc, 26) }),
    branches: true,
    gen: (f, g) => {
      if (op) g.setReg(30, konst64(g.pc + 4n), 1);
      g.branchTo(target(g.pc, f.imm26!, 26));
    },
  });
}
decls.push({
  name: "B_cond", pattern: "01010100 imm19:19 0 cond:4", syntax: "b.<cond> <label>",
  view: (f, pc) => ({ ...fieldsAsOps(f), target: target(pc, f.imm19!, 19) }),
  build: (o, pc) => ({ imm19: offset(o, pc, 19), cond: num(o.cond) }),
  branches: true,
  gen: (f, g) => g.branchTo(target(g.pc, f.imm19!, 19), g.cond(f.cond!)),
});
decls.push({
  // GNU as also takes the condition without the dot (`bne 1b`), except al/nv (tc-aarch64.c)
  name: "B_cond_nodot", asmOnly: true, pattern: "01010100 imm19:19 0 cond:4", syntax: "b<cond> <label>",
  build: (o, pc) => {
    if (num(o.cond) >= 14) throw new A64BuildError("b" + (o.cond === 14n ? "al" : "nv") + " is not an instruction", "write b.al/b.nv with the dot");
    return { imm19: offset(o, pc, 19), cond: num(o.cond) };
  },
});
for (const [mn, op] of [["cbz", 0], ["cbnz", 1]] as const) {
  decls.push({
    name: mn.toUpperCase(), pattern: `sf:1 011010 ${op} imm19:19 Rt:5`, syntax: `${mn} <Rt>, <label>`,
    view: (f, pc) => ({ ...fieldsAsOps(f), target: target(pc, f.imm19!, 19) }),
    build: (o, pc) => ({ sf: num(o.sf, 1), imm19: offset(o, pc, 19), Rt: num(o.Rt) }),
    branches: true,
    gen: (f, g) => {
      const v = g.reg(f.Rt!, f.sf!);
      g.branchTo(target(g.pc, f.imm19!, 19), `(${v.lo} | ${v.hi}) ${op ? "!==" : "==="} 0`);
    },
  });
}
for (const [mn, op] of [["tbz", 0], ["tbnz", 1]] as const) {
  decls.push({
    name: mn.toUpperCase(), pattern: `b5:1 011011 ${op} b40:5 imm14:14 Rt:5`, syntax: `${mn} <Rt>, #<bit:d>, <label>`,
    view: (f, pc) => ({ ...fieldsAsOps(f), sf: BigInt(f.b5!), bit: BigInt((f.b5! << 5) | f.b40!), target: target(pc, f.imm14!, 14) }),
    build: (o, pc) => {
      const bit = Number(o.bit ?? 0n);
      const w = o.sf === 0n ? 32 : 64;
      if (bit < 0 || bit >= w) throw new A64BuildError(`bit number #${bit} is out of range`, `bit must be 0..${w - 1} for a ${w}-bit register`);
      return { b5: bit >> 5, b40: bit & 31, imm14: offset(o, pc, 14), Rt: num(o.Rt) };
    },
    branches: true,
    gen: (f, g) => {
      const v = g.reg(f.Rt!, 1);
      g.branchTo(target(g.pc, f.imm14!, 14), `((${f.b5 ? v.hi : v.lo} >>> ${f.b40!}) & 1) ${op ? "!==" : "==="} 0`);
    },
  });
}
decls.push(
  {
    name: "BR", pattern: "1101011 0000 11111 000000 Rn:5 00000", syntax: "br <Xn>",
    branches: true,
    gen: (f, g) => g.jump(g.reg(f.Rn!, 1)),
  },
  {
    name: "BLR", pattern: "1101011 0001 11111 000000 Rn:5 00000", syntax: "blr <Xn>",
    branches: true,
    gen: (f, g) => {
      const t = g.reg(f.Rn!, 1);
      g.setReg(30, konst64(g.pc + 4n), 1);
      g.jump(t);
    },
  },
  {
    name: "RET", pattern: "1101011 0010 11111 000000 Rn:5 00000", syntax: "ret{ <Xn>}",
    view: (f) => ({ ...fieldsAsOps(f), Rn: f.Rn === 30 ? undefined : BigInt(f.Rn!) }),
    build: (o) => ({ Rn: num(o.Rn, 30) }),
    branches: true,
    gen: (f, g) => g.jump(g.reg(f.Rn!, 1)),
  },
  { name: "ERET", pattern: "1101011 0100 11111 000000 11111 00000", syntax: "eret", exec: (env) => env.eret() },
);

export const branches = decls;
