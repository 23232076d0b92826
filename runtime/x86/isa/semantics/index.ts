// The interpreter: every table entry's `sem` names one of these small functions.

import type { X86Env } from "../../env.js";
import type { X86Insn } from "../types.js";
import { ALU_SEMANTICS } from "./alu.js";
import { BITS_SEMANTICS } from "./bits.js";
import { CONTROL_SEMANTICS } from "./control.js";
import { GP, UD, cpl, type Sem } from "./core.js";
import { STRING_SEMANTICS } from "./string.js";
import { SYSTEM_SEMANTICS } from "./system.js";

export const SEMANTICS: Readonly<Record<string, Sem>> = {
  ...ALU_SEMANTICS,
  ...BITS_SEMANTICS,
  ...CONTROL_SEMANTICS,
  ...STRING_SEMANTICS,
  ...SYSTEM_SEMANTICS,
};

/**
 * Execute one decoded instruction. The CPU loop has set state.rip (this instruction) and
 * state.nextRip (rip + length); branches overwrite nextRip. Faults come from env.raise/env.read/...
 */
export function executeX86(env: X86Env, insn: X86Insn): void {
  const sem = SEMANTICS[insn.spec.sem];
  if (!sem) return env.raise(UD);
  if (insn.spec.privileged && cpl(env.state) !== 0) return env.raise(GP, 0);
  if (insn.prefixes.lock && !lockable(insn)) return env.raise(UD);
  sem(env, insn);
}

/** LOCK is valid only on read-modify-write instructions with a memory destination (SDM Vol. 2 LOCK). */
function lockable(insn: X86Insn): boolean {
  const dst = insn.operands[0];
  if (!dst || dst.kind !== "mem") return false;
  return ["alu", "incdec", "neg", "not", "xchg", "bt", "xadd", "cmpxchg"].includes(insn.spec.sem) && !(insn.spec.sem === "alu" && insn.spec.arg === 7);
}
