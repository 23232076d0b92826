// Traces: a hot cycle of chained blocks compiled into one loop function. Guest code built from
// small functions (kvm-unit-tests' loops call a test function through a pointer, then compare and
// branch back) runs as blocks of one to three instructions, so the dispatcher's work per block
// (machine.ts execMany: find the successor, budget, checks, the call) costs as much as the block.
// When a block has been the head of HOT runs, the blocks its chain links (Block.s0, the most recent
// successor) lead through back to it become one function: the blocks' code one after the other,
// each transfer guarded by the rip the link recorded (an indirect call or a RET whose target
// changes leaves the trace there), looping while whole passes fit the budget.
//
// Exactness is the blocks': each block's code is the one compileBlock emits (jit.ts emitInsns),
// with instruction indices counted across the pass, so a fault or VM exit inside leaves rip, the
// completed count (c.done) and memory as the interpreter would. Between blocks the trace stops
// where the dispatcher's chain would: the rip the link expects not taken, a store that hit cached
// code (m.smc), a fetch translation or code change (m.epoch), a new interrupt event
// (m.events.nextEvent). Interrupts are looked at between passes: the budget the dispatcher gives a
// trace ends at the next timer event, as it does for a block.

import type { X86Mode } from "./env.js";
import type { X86Insn } from "./isa/types.js";
import { emitInsns, functionOf, newBlock, pcWrap, type Block, type BlockFn } from "./jit.js";

/** Runs of a block as the head before a trace is formed at it (again after a failed attempt). */
export const TRACE_HOT = 32;
/** A trace spans at most this many blocks and instructions (one pass). */
export const TRACE_MAX_BLOCKS = 8;
export const TRACE_MAX_INSNS = 256;

/** Trace functions by source: a trace's text is a few kilobytes (position-dependent), so fewer are kept than blocks. */
const traceFns = new Map<string, BlockFn>();
const TRACE_CACHE_CAP = 2_000;

/** Traces compiled since the process started (all machines): how tests and the bench see that traces form. */
export const traceCounts = { formed: 0 };

/** What the trace reads of the vCPU to know when to stop between blocks. */
export interface TraceCpu {
  epoch: number;
}

/**
 * The block to run at `pc`: the trace formed at `block` when it is valid for this epoch and rip,
 * else `block` itself (counting the run towards forming one). `mode` is the CPU's mode.
 */
export function hotPath(block: Block, pc: number, mode: X86Mode, cpu: TraceCpu): Block {
  const t = block.trace;
  if (t !== null && block.traceEpoch === cpu.epoch && block.tracePc === pc && t.mode === mode) return t;
  if (block.loop || block.exit !== null || block.poll) return block;
  if (++block.hits < TRACE_HOT) return block;
  block.hits = 0;
  block.trace = formTrace(block, pc, cpu.epoch);
  block.traceEpoch = cpu.epoch;
  block.tracePc = pc;
  return block.trace ?? block;
}

/**
 * The trace headed by `head` at rip `pc`: its chain links followed (s0, valid in `epoch`) until
 * they come back to it. Null when they do not within TRACE_MAX_BLOCKS / TRACE_MAX_INSNS, or a
 * block on the way cannot be in a trace (a CPUID exit, a self-loop, a flag poll, another mode).
 */
export function formTrace(head: Block, pc: number, epoch: number): Block | null {
  const path: { block: Block; pc: number }[] = [{ block: head, pc }];
  let total = head.count;
  for (let cur = head; ; ) {
    if (cur.epoch !== epoch || cur.s0 === null) return null;
    const next = cur.s0;
    const at = cur.s0pc;
    if (next === head && at === pc) break;
    if (path.length >= TRACE_MAX_BLOCKS || next.loop || next.exit !== null || next.poll || next.mode !== head.mode) return null;
    total += next.count;
    if (total > TRACE_MAX_INSNS) return null;
    path.push({ block: next, pc: at });
    cur = next;
  }
  if (path.length < 2) return null;
  return compileTrace(path, head.mode);
}

/** The loop function of a trace over `path` (blocks with the rip each is entered at). */
function compileTrace(path: { block: Block; pc: number }[], mode: X86Mode): Block | null {
  const wrap = pcWrap(mode);
  const insns: X86Insn[] = [];
  const offsets: number[] = [];
  const parts: string[] = [];
  let base = 0;
  let writes = false;
  for (let k = 0; k < path.length; k++) {
    const { block, pc } = path[k]!;
    const f = emitInsns(block.insns, mode, base);
    if (f === null || f.n !== block.count || f.exit !== null) return null;
    const last = k === path.length - 1;
    const nextPc = path[last ? 0 : k + 1]!.pc;
    // A block that ends without a branch falls through to the next instruction.
    const end = f.branch ? "" : `c.npc = ${wrap(`p0 + ${f.off}`)};\n`;
    if (!f.branch && !last && path[k + 1]!.pc !== pc + f.off) return null;
    base += f.n;
    writes ||= f.writes;
    const stop = `m.epoch !== e0 || m.events.nextEvent !== ev0${f.writes && f.branch ? " || m.smc" : ""}`;
    const guard = last ? "" : `if (c.npc !== ${nextPc} || ${stop}) { c.pc = c.npc; return it + ${base}; }\n`;
    parts.push(`{\nconst p0 = ${pc};\n${f.text}\n${end}${guard}}`);
    insns.push(...f.used);
    offsets.push(...f.offsets);
  }
  const n = base;
  traceCounts.formed++;
  const headPc = path[0]!.pc;
  const src = `"use strict";\nconst e0 = m.epoch, ev0 = m.events.nextEvent;\nlet it = 0;\nfor (;;) {\n${parts.join("\n")}\nit += ${n};\nif (c.npc !== ${headPc} || it + ${n} > max || m.epoch !== e0 || m.events.nextEvent !== ev0${writes ? " || m.smc" : ""}) { c.pc = c.npc; return it; }\n}`;
  return newBlock(functionOf(src, traceFns, TRACE_CACHE_CAP), insns, null, offsets, mode, true, false);
}
