// The block compiler: a basic block of instructions that all have code templates (semantics/
// fast.ts) becomes one JavaScript function — the templates concatenated, nothing written twice.
// A block that ends in a branch back to its own start runs as a JS loop while the step budget
// allows whole iterations. Exactness at every boundary: before an instruction that may fault
// (a memory access) the block commits rip and the count of completed instructions (c.done), so a
// guest fault or VM exit inside leaves registers, flags, rip and memory as the interpreter would;
// after a store that hit a page holding cached code (m.smc) the block stops.

import type { X86Mode } from "./env.js";
import type { X86Insn } from "./isa/types.js";
import type { X86Regs } from "./regs.js";
import { generate, type FastMem } from "./isa/semantics/fast.js";

/** Memory seen by compiled blocks: FastMem plus the self-modifying-code flag. */
export interface BlockMem extends FastMem {
  smc: boolean;
}

/** Runs the block (at most `max` instructions, whole iterations); returns instructions executed. */
export type BlockFn = (c: X86Regs, R: Int32Array, m: BlockMem, max: number) => number;

export interface Block {
  fn: BlockFn;
  /** Instructions in one pass. */
  count: number;
  insns: X86Insn[];
  /** Byte offset of each instruction from the block start. */
  offsets: number[];
  mode: X86Mode;
  loop: boolean;
}

export const MAX_BLOCK_INSNS = 64;

const compiled = new Map<string, BlockFn>();

/**
 * Compile the block starting with `insns[0]` (instructions in address order, all in one page,
 * cut by the caller at the page end). Stops after the first branch or before the first
 * instruction without a template. Null when the first instruction has none.
 */
export function compileBlock(insns: X86Insn[], mode: X86Mode): Block | null {
  const wrap = (e: string) => (mode === "long64" ? `(${e})` : `((${e}) >>> 0)`);
  const parts: string[] = [];
  const used: X86Insn[] = [];
  const offsets: number[] = [];
  let off = 0;
  let branch = false;
  let writes = false;
  let loop = false;
  for (const insn of insns) {
    if (used.length >= MAX_BLOCK_INSNS) break;
    if (insn.spec.privileged || insn.prefixes.lock) break;
    const i = used.length;
    const pc = `(p0 + ${off})`;
    const g = generate(insn, pc);
    if (!g) break;
    used.push(insn);
    offsets.push(off);
    const next = off + insn.length;
    const code: string[] = [];
    if (g.faults) code.push(`c.done = it + ${i}; c.pc = ${pc};`);
    if (g.branches) code.push(`c.npc = ${wrap(`p0 + ${next}`)};`);
    code.push(...g.out);
    const stores = g.out.some((l) => l.includes("m.wr("));
    if (stores) writes = true;
    if (stores && !g.branches) code.push(`if (m.smc) { c.pc = ${wrap(`p0 + ${next}`)}; return it + ${i + 1}; }`);
    parts.push(`{\n${code.join("\n")}\n}`);
    off = next;
    if (g.branches) {
      branch = true;
      const rel = insn.operands[0];
      loop = mode !== "real" && (insn.spec.sem === "jcc" || insn.spec.sem === "jmp") && rel?.kind === "rel" && Number(rel.disp) === -next;
      break;
    }
  }
  if (used.length === 0) return null;
  const n = used.length;
  let body: string;
  if (loop) {
    body = `for (;;) {\n${parts.join("\n")}\nit += ${n};\nif (c.npc !== p0 || it + ${n} > max${writes ? " || m.smc" : ""}) { c.pc = c.npc; return it; }\n}`;
  } else if (branch) {
    body = `${parts.join("\n")}\nc.pc = c.npc;\nreturn ${n};`;
  } else {
    body = `${parts.join("\n")}\nc.pc = ${wrap(`p0 + ${off}`)};\nreturn ${n};`;
  }
  const src = `"use strict";\nconst p0 = c.pc;\nlet it = 0;\n${body}`;
  let fn = compiled.get(src);
  if (!fn) {
    fn = new Function("c", "R", "m", "max", src) as BlockFn;
    if (compiled.size > 20_000) compiled.clear();
    compiled.set(src, fn);
  }
  return { fn, count: n, insns: used, offsets, mode, loop };
}
