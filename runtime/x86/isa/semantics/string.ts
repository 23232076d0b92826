// String instructions with REP/REPE/REPNE (SDM Vol. 2 MOVS, STOS, LODS, CMPS, SCAS, INS, OUTS, REP):
// each iteration does its memory accesses, then commits rSI/rDI/rCX, so a fault mid-string leaves
// registers describing exactly the iterations that completed and the instruction restarts.

import type { X86Insn } from "../types.js";
import { SEG_ORDER } from "../types.js";
import { X86Regs } from "../../regs.js";
import type { FastMem } from "./fast.js";
import {
  ARITH_FLAGS, DF, ZF, flag, mask, readGpr, readMem, setFlags, subFlags, writeGpr, writeMem, type MemOperand, type Sem,
} from "./core.js";

/**
 * Iterations per execution for an env that sets no budget (and for KVM's emulator): the
 * instruction then yields and re-executes, as after an interrupt between iterations.
 */
export const MAX_ITERATIONS_PER_EXECUTION = 1 << 16;

/**
 * What a machine tells a REP string instruction and learns from it: each iteration is a step of its
 * own, interruptible between iterations (SDM Vol. 2 REP: "a REP STOS instruction can be interrupted
 * between iterations; RIP stays on the instruction, RCX/RSI/RDI describe the iterations done"). An env
 * with `repBudget` runs at most that many iterations per execution and finds the number it ran in
 * `repDone` (also when an iteration faults: the ones before it completed).
 */
export interface RepBudget {
  repBudget: number;
  repDone: number;
}
const hasBudget = (env: object): env is RepBudget => typeof (env as Partial<RepBudget>).repBudget === "number";

type Kind = "movs" | "stos" | "lods" | "cmps" | "scas" | "ins" | "outs";

function stringOp(kind: Kind): Sem {
  return (env, insn: X86Insn) => {
    const s = env.state;
    const asz = insn.addressSize;
    const size = elementSize(insn);
    const step = flag(s, DF) ? -BigInt(size) : BigInt(size);
    const repeated = insn.prefixes.rep || insn.prefixes.repne;
    const src = insn.operands.find((o) => o.kind === "mem" && o.base === 6) as MemOperand | undefined;
    const srcSeg = src?.seg ?? "ds";
    const budgeted = hasBudget(env) ? env : null;
    let cmpFlags: bigint | null = null;
    const budget = budgeted ? Math.max(1, budgeted.repBudget) : MAX_ITERATIONS_PER_EXECUTION;
    let i = 0;
    try {
      const fast = repeated && (kind === "stos" || kind === "movs" || kind === "lods") && asz !== 2 ? fastRegs(env) : null;
      if (fast) {
        // The same loop on the Number register file and FastMem (no BigInt per iteration): every
        // iteration's memory access first, then its registers, so a fault leaves the state exact.
        const r = fast.r, mem = env as unknown as FastMem;
        const wide = asz === 8;
        const d = (fast.fl & 0x400) !== 0 ? -size : size;
        const srcIdx = SEG_ORDER.indexOf(srcSeg);
        for (; ; i++) {
          if (r[1] === 0 && (!wide || r[17] === 0)) return;
          if (i >= budget) {
            s.nextRip = s.rip;
            return;
          }
          if (kind === "stos") mem.wr(0, r[7]!, wide ? r[23]! : 0, size, r[0]!, r[16]!);
          else {
            const lo = mem.rd(srcIdx, r[6]!, wide ? r[22]! : 0, size);
            if (kind === "movs") mem.wr(0, r[7]!, wide ? r[23]! : 0, size, lo, mem.hi);
            else if (size === 8) (r[0] = lo), (r[16] = mem.hi);
            else if (size === 4) (r[0] = lo), (r[16] = 0);
            else if (size === 2) r[0] = (r[0]! & ~0xffff) | (lo & 0xffff);
            else r[0] = (r[0]! & ~0xff) | (lo & 0xff);
          }
          if (kind !== "stos") step64(r, 6, d, wide);
          if (kind !== "lods") step64(r, 7, d, wide);
          step64(r, 1, -1, wide);
        }
      }
      for (; ; i++) {
        if (repeated && readGpr(s, 1, asz) === 0n) return;
        if (repeated && i >= budget) {
          s.nextRip = s.rip; // resume later, as after an interrupt between iterations
          return;
        }
        iteration();
        if (!repeated) {
          i++;
          return;
        }
        writeGpr(s, 1, asz, (readGpr(s, 1, asz) - 1n) & mask(asz));
        if (cmpFlags !== null) {
          const zf = flag(s, ZF);
          if ((insn.prefixes.rep && !zf) || (insn.prefixes.repne && zf)) {
            // repe stops on a difference, repne on a match
            i++;
            return;
          }
        }
      }
    } finally {
      if (budgeted) budgeted.repDone = i;
    }
    function iteration(): void {
      const rsi = readGpr(s, 6, asz);
      const rdi = readGpr(s, 7, asz);
      cmpFlags = null;
      switch (kind) {
        case "movs":
          writeMem(env, "es", rdi, size, readMem(env, srcSeg, rsi, size));
          break;
        case "stos":
          writeMem(env, "es", rdi, size, readGpr(s, 0, size));
          break;
        case "lods":
          writeGpr(s, 0, size, readMem(env, srcSeg, rsi, size));
          break;
        case "cmps": {
          const a = readMem(env, srcSeg, rsi, size);
          const b = readMem(env, "es", rdi, size);
          cmpFlags = subFlags(a, b, 0n, size).flags;
          break;
        }
        case "scas":
          cmpFlags = subFlags(readGpr(s, 0, size), readMem(env, "es", rdi, size), 0n, size).flags;
          break;
        case "ins": {
          // The port is read before the memory write can fault; a restarted INS reads it again (as hardware may).
          const v = env.in(Number(readGpr(s, 2, 2)), size as 1 | 2 | 4);
          writeMem(env, "es", rdi, size, BigInt(v >>> 0));
          break;
        }
        case "outs":
          env.out(Number(readGpr(s, 2, 2)), size as 1 | 2 | 4, Number(readMem(env, srcSeg, rsi, size)));
          break;
      }
      if (kind === "movs" || kind === "lods" || kind === "cmps" || kind === "outs") writeGpr(s, 6, asz, (rsi + step) & mask(asz));
      if (kind !== "lods" && kind !== "outs") writeGpr(s, 7, asz, (rdi + step) & mask(asz));
      if (cmpFlags !== null) setFlags(s, ARITH_FLAGS, cmpFlags);
    }
  };
}

/** The Number register file when the env is the machine's CPU (X86Regs and FastMem), else null. */
function fastRegs(env: Parameters<Sem>[0]): X86Regs | null {
  return env.state instanceof X86Regs && typeof (env as Partial<FastMem>).wr === "function" ? env.state : null;
}

/** Register `n` += d on the halves: 64-bit with carry/borrow, or a 32-bit write (zero-extends). */
function step64(r: Int32Array, n: number, d: number, wide: boolean): void {
  const lo = (r[n]! >>> 0) + d;
  if (!wide) {
    r[n] = lo | 0;
    r[n + 16] = 0;
    return;
  }
  if (lo >= 4294967296) (r[n] = lo - 4294967296), (r[n + 16] = (r[n + 16]! + 1) | 0);
  else if (lo < 0) (r[n] = lo + 4294967296), (r[n + 16] = (r[n + 16]! - 1) | 0);
  else r[n] = lo;
}

function elementSize(insn: X86Insn): number {
  const f = insn.spec.operands;
  return f.includes("Xb") || f.includes("Yb") ? 1 : insn.operandSize;
}

export const STRING_SEMANTICS: Record<string, Sem> = {
  movs: stringOp("movs"),
  stos: stringOp("stos"),
  lods: stringOp("lods"),
  cmps: stringOp("cmps"),
  scas: stringOp("scas"),
  ins: stringOp("ins"),
  outs: stringOp("outs"),
};
