// Where the LOCK prefix is valid (Intel SDM Vol. 2 "LOCK—Assert LOCK# Signal Prefix"): on the
// read-modify-write instructions ADD, ADC, AND, BTC, BTR, BTS, CMPXCHG, DEC, INC, NEG, NOT, OR,
// SBB, SUB, XOR, XADD, XCHG and CMPXCHG8B/16B, and only with a memory destination; anywhere else it is #UD. The
// guest's vCPUs run one instruction at a time each, so a valid LOCK changes nothing else here: the
// locked form runs as the plain one, interpreted or compiled.

import type { X86Insn } from "../types.js";

/** Semantics names (X86Spec.sem) of the lockable instructions ("bt" covers BTS/BTR/BTC, and BT too, as the interpreter always took it). */
const LOCKABLE = new Set(["alu", "incdec", "neg", "not", "xchg", "bt", "xadd", "cmpxchg", "cmpxchg8b"]);

/** Whether LOCK is valid on `insn`: a lockable read-modify-write with a memory destination (CMP, alu arg 7, is not one). */
export function lockable(insn: X86Insn): boolean {
  const dst = insn.operands[0];
  if (!dst || dst.kind !== "mem") return false;
  return LOCKABLE.has(insn.spec.sem) && !(insn.spec.sem === "alu" && insn.spec.arg === 7);
}
