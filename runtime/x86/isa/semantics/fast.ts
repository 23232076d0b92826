// Semantics of the common integer instructions, written once as JavaScript code templates over
// the decoded operands: data operations in fast-data.ts (MOV, MOVZX/MOVSX, LEA, ADD..CMP, TEST,
// INC/DEC, NOT/NEG, SHL/SHR/SAR, SETcc/CMOVcc, XCHG, CBW/CWD, NOP), control flow and the stack in
// fast-branch.ts (Jcc/JMP/CALL/RET, PUSH/POP, LEAVE), MOV to/from CR8 in fast-system.ts, all built on fast-gen.ts. This module
// looks them up: the interpreter compiles one template per decoded instruction (cached by its
// source text); the block compiler concatenates the same templates into one function per basic
// block. Everything works on the Number register file (runtime/x86/regs.ts): no BigInt, no
// allocation. Instructions (or operand shapes) without a template run on the BigInt semantics of
// the other files.
//
// Generated code sees: `c` (X86Regs: lazy flags, pc/npc, helpers), `R` (c.r, the GPR halves) and
// `m` (FastMem: memory through segmentation, paging and EPT; may throw a guest fault or VM exit).
// Memory accesses come before register commits, so a faulting instruction changes nothing.

import type { X86Insn } from "../types.js";
import { Gen, type FastFn, type Template } from "./fast-gen.js";
import { DATA_TEMPLATES } from "./fast-data.js";
import { BRANCH_TEMPLATES } from "./fast-branch.js";
import { SYSTEM_TEMPLATES } from "./fast-system.js";
import { lockable } from "./lock.js";

export type { FastFn, FastMem, FlagsOut } from "./fast-gen.js";
export { Gen } from "./fast-gen.js";

/** Every template by semantics name (X86Spec.sem): an instruction whose sem is here has a fast form. */
export const TEMPLATES: Readonly<Record<string, Template>> = { ...DATA_TEMPLATES, ...BRANCH_TEMPLATES, ...SYSTEM_TEMPLATES };

/**
 * Whether an instruction may take its compiled form without the interpreter's checks: not LOCKed
 * unless LOCK is valid on it (lock.ts: the locked form runs as the plain one), and not privileged unless its template checks the privilege itself (fast-system.ts: MOV CR8).
 */
export function compilable(insn: X86Insn): boolean {
  return (!insn.prefixes.lock || lockable(insn)) && (!insn.spec.privileged || SYSTEM_TEMPLATES[insn.spec.sem] !== undefined);
}

/** The template code of one instruction, or null when it has no fast form. */
export function generate(insn: X86Insn, pc: string, tag = "", inlineMem = false): Gen | null {
  const t = TEMPLATES[insn.spec.sem];
  if (!t) return null;
  const g = new Gen(insn, pc, tag);
  g.inlineMem = inlineMem;
  return t(g, insn) ? g : null;
}

const compiled = new Map<string, FastFn>();

/**
 * The interpreter's compiled form of one decoded instruction (c.pc = its rip, c.npc = the next
 * rip on entry; a branch assigns c.npc), or null. Cached on the instruction and by source text.
 */
export function fastFunction(insn: X86Insn): FastFn | null {
  if (insn.fast !== undefined) return insn.fast;
  const g = generate(insn, "c.pc");
  let fn: FastFn | null = null;
  if (g) {
    const src = g.out.join("\n");
    fn = compiled.get(src) ?? null;
    if (!fn) {
      fn = new Function("c", "R", "m", `"use strict";\n${src}`) as FastFn;
      if (compiled.size > 50_000) compiled.clear();
      compiled.set(src, fn);
    }
  }
  insn.fast = fn;
  return fn;
}
