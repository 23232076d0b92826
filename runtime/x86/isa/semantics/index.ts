// The interpreter: every table entry's `sem` names either a code template (fast.ts: the common
// integer instructions, on the Number register file) or one of the small BigInt functions of the
// other files (rare and system instructions). Each instruction's behaviour exists once.

import type { X86Env, X86State } from "../../env.js";
import type { X86Insn } from "../types.js";
import { X86Regs } from "../../regs.js";
import { join64 } from "../../../core/bits.js";
import { ALU_SEMANTICS } from "./alu.js";
import { BITS_SEMANTICS } from "./bits.js";
import { CONTROL_SEMANTICS } from "./control.js";
import { cpl, type Sem } from "./core.js";
import { compilable, fastFunction, TEMPLATES, type FastFn, type FastMem } from "./fast.js";
import { LEGACY_SEMANTICS } from "./legacy.js";
import { STRING_SEMANTICS } from "./string.js";
import { SYSTEM_SEMANTICS } from "./system.js";
import { SYSCALL_SEMANTICS } from "./syscall.js";
import { SYSENTER_SEMANTICS } from "./sysenter.js";
import { PKEYS_SEMANTICS } from "./pkeys.js";
import { SSE_SEMANTICS } from "./sse.js";
import { X87_SEMANTICS } from "./x87.js";
import { XLAT_SEMANTICS } from "./xlat.js";
import { XSAVE_SEMANTICS } from "./xsave.js";
import { AVX_SEMANTICS } from "./avx.js";
import { SEG_ORDER } from "../types.js";
import { VECTOR } from "../../vectors.js";
import { lockable } from "./lock.js";

export const SEMANTICS: Readonly<Record<string, Sem>> = {
  ...ALU_SEMANTICS,
  ...BITS_SEMANTICS,
  ...CONTROL_SEMANTICS,
  ...LEGACY_SEMANTICS,
  ...STRING_SEMANTICS,
  ...SYSTEM_SEMANTICS,
  ...SYSCALL_SEMANTICS,
  ...SYSENTER_SEMANTICS,
  ...PKEYS_SEMANTICS,
  ...SSE_SEMANTICS,
  ...X87_SEMANTICS,
  ...XLAT_SEMANTICS,
  ...XSAVE_SEMANTICS,
  ...AVX_SEMANTICS,
};

/**
 * Execute one decoded instruction. The CPU loop has set state.rip (this instruction) and
 * state.nextRip (rip + length); branches overwrite nextRip. Faults come from env.raise/env.read/...
 */
export function executeX86(env: X86Env, insn: X86Insn): void {
  const sem = SEMANTICS[insn.spec.sem];
  if (!sem && !TEMPLATES[insn.spec.sem]) return env.raise(VECTOR.UD);
  if (insn.spec.privileged && cpl(env.state) !== 0) return env.raise(VECTOR.GP, 0);
  if (insn.prefixes.lock && !lockable(insn)) return env.raise(VECTOR.UD);
  const fast = fastFunction(insn);
  if (fast) return runFast(env, fast);
  if (!sem) return env.raise(VECTOR.UD); // a template that does not cover this operand shape (none known)
  sem(env, insn);
}

/**
 * The compiled form of an instruction the machine may call directly (no privilege or LOCK checks
 * needed), else null (then executeX86).
 */
export function directFunction(insn: X86Insn): FastFn | null {
  if (!compilable(insn)) return null;
  return fastFunction(insn);
}

/** An env whose state is the Number register file and which offers FastMem (the machine's CPU). */
function isFastEnv(env: X86Env): env is X86Env & FastMem & { state: X86Regs } {
  return env.state instanceof X86Regs && typeof (env as Partial<FastMem>).rd === "function";
}

function runFast(env: X86Env, fn: FastFn): void {
  if (isFastEnv(env)) return fn(env.state, env.state.r, env);
  // Bridge for an env with a BigInt state: run on a Number copy, memory through env.read/write.
  const regs = X86Regs.from(env.state);
  fn(regs, regs.r, bridgeMem(env));
  regs.store(env.state as X86State);
}

function bridgeMem(env: X86Env): FastMem {
  const mem: FastMem = {
    hi: 0,
    rd(seg, lo, hi, size) {
      const v = env.read(SEG_ORDER[seg]!, join64(lo, hi), { size: size as 1 | 2 | 4 | 8, write: false });
      mem.hi = Number((v >> 32n) & 0xffff_ffffn) | 0;
      const l = Number(v & 0xffff_ffffn);
      return size >= 4 ? l | 0 : l;
    },
    wr(seg, lo, hi, size, vlo, vhi) {
      const v = join64(vlo, size === 8 ? vhi : 0) & ((1n << BigInt(8 * size)) - 1n);
      env.write(SEG_ORDER[seg]!, join64(lo, hi), v, { size: size as 1 | 2 | 4 | 8, write: true });
      return false; // nothing deferred here: exits are thrown (trap-exit.ts)
    },
    readCr8: (gpr) => Number(env.readCr(8, gpr)),
    writeCr8: (lo, hi, gpr) => env.writeCr(8, join64(lo, hi), gpr),
  };
  return mem;
}

