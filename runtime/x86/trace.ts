// Traces: a hot cycle of chained blocks compiled into one loop function. Guest code built from
// small functions (kvm-unit-tests' loops call a test function through a pointer, then compare and
// branch back) runs as blocks of one to three instructions, so the dispatcher's work per block
// (machine-run.ts execMany: find the successor, budget, checks, the call) costs as much as the block.
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
 * else `block` itself (counting the run towards forming one). `mode` is the CPU's mode. After the
 * epoch moves (a TLB flush, a code write elsewhere) the same trace serves again as soon as the
 * chain links, learnt anew, lead along its path: a guest that flushes every few hundred
 * instructions (kvm-unit-tests' access test) does not pay for forming it again.
 */
export function hotPath(block: Block, pc: number, mode: X86Mode, cpu: TraceCpu): Block {
  const t = block.trace;
  if (t !== null && block.tracePc === pc && t.mode === mode) {
    if (block.traceEpoch === cpu.epoch) return t;
    if (followsPath(t.path!, cpu.epoch)) {
      block.traceEpoch = cpu.epoch;
      return t;
    }
  }
  if (block.loop || block.exit !== null || block.poll) return block;
  if (++block.hits < TRACE_HOT) return block;
  block.hits = 0;
  const path = tracePath(block, pc, cpu.epoch);
  if (path === null) return block;
  block.trace = t !== null && samePath(t.path!, path) ? t : compileTrace(path, block.mode);
  block.traceEpoch = cpu.epoch;
  block.tracePc = pc;
  return block.trace ?? block;
}

/** The blocks of a trace's pass with the rip each is entered at. */
export type TracePath = { block: Block; pc: number }[];

/** The chain links (valid in `epoch`) lead along `path` and back to its head. */
function followsPath(path: TracePath, epoch: number): boolean {
  for (let k = 0; k < path.length; k++) {
    const b = path[k]!.block;
    const next = path[k + 1 === path.length ? 0 : k + 1]!;
    if (b.epoch !== epoch || b.s0 !== next.block || b.s0pc !== next.pc) return false;
  }
  return true;
}

function samePath(a: TracePath, b: TracePath): boolean {
  return a.length === b.length && a.every((x, k) => x.block === b[k]!.block && x.pc === b[k]!.pc);
}

/**
 * The path of a trace headed by `head` at rip `pc`: its chain links followed (s0, valid in
 * `epoch`) until they come back to it. Null when they do not within TRACE_MAX_BLOCKS /
 * TRACE_MAX_INSNS, or a block on the way cannot be in a trace (a CPUID exit, a self-loop, a flag
 * poll, another mode).
 */
export function tracePath(head: Block, pc: number, epoch: number): TracePath | null {
  const path: TracePath = [{ block: head, pc }];
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
  return path.length < 2 ? null : path;
}

/** The loop function of a trace over `path` (blocks with the rip each is entered at). */
function compileTrace(path: TracePath, mode: X86Mode): Block | null {
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
  const trace = newBlock(functionOf(src, traceFns, TRACE_CACHE_CAP), insns, null, offsets, mode, true, false);
  trace.path = path;
  return trace;
}
