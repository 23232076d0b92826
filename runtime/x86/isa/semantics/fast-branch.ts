// The fast path's templates for control flow and the stack (SDM Vol. 2 pages: Jcc/JMP/CALL/RET,
// PUSH/POP, LEAVE): branch targets wrapped to the operand size, pushes and pops by the mode's
// stack-pointer width, memory before the register commit so a fault changes nothing.

import type { X86Insn, X86Operand } from "../types.js";
import { memRead, memWrite, read, SS, write, type Gen, type Template, type Val } from "./fast-gen.js";

function relTarget(g: Gen): string {
  const rel = g.insn.operands[0] as Extract<X86Operand, { kind: "rel" }>;
  return g.target(`${g.pc} + ${g.insn.length + Number(rel.disp)}`);
}

const jmp: Template = (g) => {
  g.branches = true;
  g.emit(`c.npc = ${relTarget(g)};`);
  return true;
};

const jcc: Template = (g, insn) => {
  g.branches = true;
  g.emit(`if (c.cond(${insn.spec.arg})) c.npc = ${relTarget(g)};`);
  return true;
};

/**
 * LOOP/LOOPE/LOOPNE (SDM Vol. 2A "LOOP/LOOPcc"): rCX of the address size decremented (flags
 * unchanged), then the branch while it is not 0 — LOOPE also while ZF is set, LOOPNE while clear
 * (spec.arg 2, 1, 0 as semantics/control.ts's loop).
 */
const loop: Template = (g, insn) => {
  g.branches = true;
  const n = g.v("n");
  const asz = insn.addressSize;
  if (asz === 2) g.emit(`const ${n} = (R[1] - 1) & 65535; R[1] = (R[1] & -65536) | ${n};`);
  else if (asz === 4) g.emit(`const ${n} = (R[1] - 1) | 0; R[1] = ${n}; R[17] = 0;`);
  else g.emit(`const ${n} = (R[1] - 1) | 0; if (R[1] === 0) R[17] = (R[17] - 1) | 0; R[1] = ${n};`);
  const nz = asz === 8 ? `(${n} !== 0 || R[17] !== 0)` : `${n} !== 0`;
  const cond = insn.spec.arg === 2 ? nz : `${nz} && ${insn.spec.arg === 1 ? "" : "!"}c.cond(4)`;
  g.emit(`if (${cond}) c.npc = ${relTarget(g)};`);
  return true;
};

/** Stack pointer width: 64-bit mode uses rsp; 32-bit code esp; real mode sp. */
function stackSize(insn: X86Insn): number {
  return insn.mode === "long64" ? 8 : insn.mode === "real" || insn.mode === "protected16" ? 2 : 4;
}

/** Push (lo, hi) of `size` bytes: memory first, then rsp. */
function push(g: Gen, size: number, v: Val): void {
  const ss = stackSize(g.insn);
  const sp = g.v("sp");
  if (ss === 8) {
    g.emit(`let ${sp} = (R[4] >>> 0) - ${size}; const ${sp}h = (R[20] - (${sp} < 0 ? 1 : 0)) | 0; ${sp} = ${sp} >>> 0;`);
    memWrite(g, SS, sp, `${sp}h`, size, v.lo, v.hi);
    g.emit(`R[4] = ${sp} | 0; R[20] = ${sp}h;`);
  } else if (ss === 4) {
    g.emit(`const ${sp} = (R[4] - ${size}) >>> 0;`);
    memWrite(g, SS, sp, "0", size, v.lo, v.hi);
    g.emit(`R[4] = ${sp} | 0; R[20] = 0;`);
  } else {
    g.emit(`const ${sp} = (R[4] - ${size}) & 65535;`);
    memWrite(g, SS, sp, "0", size, v.lo, v.hi);
    g.emit(`R[4] = (R[4] & -65536) | ${sp};`);
  }
}

/** Read the top of the stack; returns the value and the statement that commits the new rsp. */
function peekPop(g: Gen, size: number, extra = 0): { v: Val; commit: string } {
  const ss = stackSize(g.insn);
  const add = size + extra;
  const sp0 = g.v("sp");
  if (ss === 8) {
    g.emit(`const ${sp0} = R[4] >>> 0, ${sp0}h = R[20];`);
    const v = memRead(g, SS, sp0, `${sp0}h`, size);
    const sp = g.v("sp");
    g.emit(`let ${sp} = ${sp0} + ${add}; const ${sp}h = (${sp0}h + (${sp} > 4294967295 ? 1 : 0)) | 0;`);
    return { v, commit: `R[4] = ${sp} | 0; R[20] = ${sp}h;` };
  }
  g.emit(`const ${sp0} = R[4] ${ss === 4 ? ">>> 0" : "& 65535"};`);
  const v = memRead(g, SS, sp0, "0", size);
  if (ss === 4) return { v, commit: `R[4] = (${sp0} + ${add}) | 0; R[20] = 0;` };
  return { v, commit: `R[4] = (R[4] & -65536) | ((${sp0} + ${add}) & 65535);` };
}

/** The return address (rip of the next instruction) as a value of the operand size. */
function returnAddress(g: Gen): Val {
  const r = g.v("ra");
  g.emit(`const ${r} = ${g.nextRaw()};`);
  return { lo: `(${r} | 0)`, hi: g.insn.operandSize === 8 ? `(Math.floor(${r} / 4294967296) | 0)` : "0" };
}

/** A branch target from an operand value (lo, hi) of the operand size. */
function valueTarget(g: Gen, v: Val): string {
  if (g.insn.operandSize === 8) return g.target(`(${v.hi} | 0) * 4294967296 + (${v.lo} >>> 0)`);
  return g.target(v.lo);
}

const call: Template = (g) => {
  g.branches = true;
  const t = g.v("tg");
  g.emit(`const ${t} = ${relTarget(g)};`);
  push(g, g.insn.operandSize, returnAddress(g));
  g.emit(`c.npc = ${t};`);
  return true;
};

const callind: Template = (g, insn) => {
  g.branches = true;
  const v = read(g, insn.operands[0]!);
  if (!v) return false;
  const t = g.v("tg");
  g.emit(`const ${t} = ${valueTarget(g, v)};`);
  push(g, insn.operandSize, returnAddress(g));
  g.emit(`c.npc = ${t};`);
  return true;
};

const jmpind: Template = (g, insn) => {
  g.branches = true;
  const v = read(g, insn.operands[0]!);
  if (!v) return false;
  g.emit(`c.npc = ${valueTarget(g, v)};`);
  return true;
};

const ret: Template = (g, insn) => {
  g.branches = true;
  const op = insn.operands[0];
  const extra = op?.kind === "imm" ? Number(op.value) : 0;
  const { v, commit } = peekPop(g, insn.operandSize, extra);
  g.emit(commit);
  g.emit(`c.npc = ${valueTarget(g, v)};`);
  return true;
};

const pushOp: Template = (g, insn) => {
  const v = read(g, insn.operands[0]!, insn.operandSize);
  if (!v) return false;
  push(g, insn.operandSize, v);
  return true;
};

const pop: Template = (g, insn) => {
  const dst = insn.operands[0]!;
  const { v, commit } = peekPop(g, insn.operandSize);
  if (dst.kind === "mem") {
    if (!write(g, dst, v.lo, v.hi)) return false;
    g.emit(commit);
    return true;
  }
  g.emit(commit); // pop %rsp: the popped value wins over the increment
  return write(g, dst, v.lo, v.hi);
};

/** LEAVE: rSP = rBP, then pop rBP (operand size), stack-pointer width by mode. */
const leave: Template = (g, insn) => {
  const ss = stackSize(insn);
  const osz = insn.operandSize;
  const bp = g.v("bp");
  const rbp: X86Operand = { kind: "reg", reg: 5, size: osz };
  if (ss === 8) {
    g.emit(`const ${bp} = R[5] >>> 0, ${bp}h = R[21];`);
    const v = memRead(g, SS, bp, `${bp}h`, osz);
    g.emit(`{ const s = ${bp} + ${osz}; R[4] = s | 0; R[20] = (${bp}h + (s > 4294967295 ? 1 : 0)) | 0; }`);
    return write(g, rbp, v.lo, v.hi);
  }
  g.emit(`const ${bp} = R[5] ${ss === 4 ? ">>> 0" : "& 65535"};`);
  const v = memRead(g, SS, bp, "0", osz);
  g.emit(ss === 4 ? `R[4] = (${bp} + ${osz}) | 0; R[20] = 0;` : `R[4] = (R[4] & -65536) | ((${bp} + ${osz}) & 65535);`);
  return write(g, rbp, v.lo, v.hi);
};

/** The control-flow and stack templates by semantics name (X86Spec.sem). */
export const BRANCH_TEMPLATES: Readonly<Record<string, Template>> = { leave, jmp, jcc, loop, call, callind, jmpind, ret, push: pushOp, pop };
