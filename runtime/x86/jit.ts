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
import { compilable, generate, type FastMem, type FlagsOut } from "./isa/semantics/fast.js";
import { isFlagPoll } from "./flag-poll.js";

/** Memory seen by compiled blocks: FastMem plus the self-modifying-code flag. */
export interface BlockMem extends FastMem {
  smc: boolean;
  // The CPU's data TLB, probed inline by the generated loads and stores (cpu-memory.ts).
  segBaseN: Float64Array;
  rKey: Float64Array;
  rArr: (Uint8Array | null)[];
  wKey: Float64Array;
  wArr: (Uint8Array | null)[];
  ownHook: boolean;
  // What a trace (trace.ts) watches between its blocks: fetch translations and cached code, and
  // the vCPU's next interrupt event (KvmIrqChip.nextEvent).
  epoch: number;
  events: { readonly nextEvent: number };
}

/** Runs the block (at most `max` instructions, whole iterations); returns instructions executed. */
export type BlockFn = (c: X86Regs, R: Int32Array, m: BlockMem, max: number) => number;

export interface Block {
  fn: BlockFn;
  /** Instructions in one pass. */
  count: number;
  insns: X86Insn[];
  /**
   * The instruction that ends the block because it always exits (CPUID, SDM Vol. 3 25.1.2), the
   * last of `insns` (counted in `count`), or null. The block stops at it with rip on it, its next
   * rip in npc and c.exit = 1; the machine takes the exit (machine-run.ts runBlock).
   */
  exit: X86Insn | null;
  /** Byte offset of each instruction from the block start. */
  offsets: number[];
  mode: X86Mode;
  loop: boolean;
  /** A loop that only polls memory (flag-poll.ts isFlagPoll): it cannot leave without another vCPU's store or an interrupt. */
  poll: boolean;
  // Chaining (machine-run.ts): the last two successors by rip, valid while epoch === cpu.epoch.
  epoch: number;
  s0pc: number;
  s0: Block | null;
  s1pc: number;
  s1: Block | null;
  // Traces (trace.ts): runs of this block as a trace's head, and the trace formed here (valid
  // while traceEpoch === cpu.epoch, entered only at rip tracePc).
  hits: number;
  trace: Block | null;
  traceEpoch: number;
  tracePc: number;
  /** A trace's blocks and their rips (trace.ts), null for a block. */
  path: { block: Block; pc: number }[] | null;
}

export const MAX_BLOCK_INSNS = 64;

const compiled = new Map<string, BlockFn>();

/**
 * Compile the block starting with `insns[0]` (instructions in address order, all in one page,
 * cut by the caller at the page end). Stops after the first branch or before the first
 * instruction without a template. Null when the first instruction has none.
 */
export function compileBlock(insns: X86Insn[], mode: X86Mode): Block | null {
  const f = emitInsns(insns, mode, 0);
  if (f === null) return null;
  const { text, n, off, exit, loop, branch, writes, used, offsets } = f;
  const wrap = pcWrap(mode);
  let body: string;
  if (exit !== null) {
    body = `${text}\nc.pc = ${wrap(`p0 + ${off}`)};\nc.npc = ${wrap(`p0 + ${off + exit.length}`)};\nc.exit = 1;\nreturn ${n};`;
    used.push(exit);
    offsets.push(off);
  } else if (loop) {
    body = `for (;;) {\n${text}\nit += ${n};\nif (c.npc !== p0 || it + ${n} > max${writes ? " || m.smc" : ""}) { c.pc = c.npc; return it; }\n}`;
  } else if (branch) {
    body = `${text}\nc.pc = c.npc;\nreturn ${n};`;
  } else {
    body = `${text}\nc.pc = ${wrap(`p0 + ${off}`)};\nreturn ${n};`;
  }
  const fn = functionOf(`"use strict";\nconst p0 = c.pc;\nlet it = 0;\n${body}`);
  const poll = loop && exit === null && !writes && isFlagPoll(used);
  return newBlock(fn, used, exit, offsets, mode, loop, poll);
}

/** A Block record with no chain links and no trace yet. */
export function newBlock(fn: BlockFn, insns: X86Insn[], exit: X86Insn | null, offsets: number[], mode: X86Mode, loop: boolean, poll: boolean): Block {
  return { fn, count: insns.length, insns, exit, offsets, mode, loop, poll, epoch: -1, s0pc: NaN, s0: null, s1pc: NaN, s1: null, hits: 0, trace: null, traceEpoch: -1, tracePc: NaN, path: null };
}

/** rip arithmetic as the mode wraps it: 64-bit rip is kept as a signed Number, others modulo 2^32. */
export function pcWrap(mode: X86Mode): (e: string) => string {
  return (e: string) => (mode === "long64" ? `(${e})` : `((${e}) >>> 0)`);
}

/**
 * The block function for `src`, compiled once per distinct source while `cache` (default: the
 * blocks' cache) holds it; the cache is emptied when it passes `cap` entries.
 */
export function functionOf(src: string, cache: Map<string, BlockFn> = compiled, cap = 20_000): BlockFn {
  let fn = cache.get(src);
  if (!fn) {
    fn = new Function("c", "R", "m", "max", src) as BlockFn;
    if (cache.size > cap) cache.clear();
    cache.set(src, fn);
  }
  return fn;
}

/** One block's code as text (emitInsns): what compileBlock and the trace compiler (trace.ts) wrap. */
export interface BlockText {
  /** The statements; they read `p0` (the block's rip), `it` (instructions before this pass) and `max`. */
  text: string;
  /** Compiled instructions (without `exit`). */
  n: number;
  /** Byte offset after the last compiled instruction. */
  off: number;
  exit: X86Insn | null;
  loop: boolean;
  branch: boolean;
  writes: boolean;
  used: X86Insn[];
  offsets: number[];
}

/**
 * The code of the block starting with `insns[0]`, instruction indices counted from `base` (a
 * trace puts several blocks in one pass: `c.done = it + base + i`). Stops after the first branch
 * or before the first instruction without a template; null when the first has none.
 */
export function emitInsns(insns: X86Insn[], mode: X86Mode, base: number): BlockText | null {
  const wrap = pcWrap(mode);
  const parts: string[][] = [];
  const used: X86Insn[] = [];
  const offsets: number[] = [];
  let off = 0;
  let branch = false;
  let writes = false;
  let loop = false;
  // Flags. `known`: the last producer of this pass whose values are in scope, read inline by
  // later instructions. `pending`: flag writes (part, line) nothing has needed yet — a generic
  // read (c.cf()/c.cond()) or a possible fault needs them; a later full write makes them dead.
  let known: FlagsOut | null = null;
  let pending: [number, number][] = [];
  let exit: X86Insn | null = null;
  for (const insn of insns) {
    if (used.length >= MAX_BLOCK_INSNS) break;
    if (insn.spec.sem === "cpuid" && !insn.prefixes.lock) {
      exit = insn;
      break;
    }
    if (!compilable(insn)) break;
    const i = used.length;
    const pc = `(p0 + ${off})`;
    const g = generate(insn, pc, `_${i}_`, true);
    if (!g) break;
    used.push(insn);
    offsets.push(off);
    const next = off + insn.length;
    const code: string[] = [];
    if (g.faults) code.push(`c.done = it + ${base + i}; c.pc = ${pc};`);
    if (g.branches) code.push(`c.npc = ${wrap(`p0 + ${next}`)};`);
    const inline = known && inlineable(known) ? known : null;
    let writeIndex = -1;
    let generic = false;
    g.out.forEach((line, n) => {
      if (n === g.flags?.line || n === g.shiftFlags?.line) writeIndex = code.length;
      else {
        if (inline) line = line.replace(/c\.cf\(\)/g, () => cfExpr(inline)).replace(/c\.cond\((\d+)\)/g, (_m, cc: string) => condExpr(inline, Number(cc)));
        if (/c\.cf\(\)|c\.cond\(/.test(line)) generic = true;
      }
      code.push(line);
    });
    // Reads and faults come before the instruction's own flag write.
    if (generic || g.faults) pending = [];
    if (g.flags || g.shiftFlags?.full) {
      for (const [p, l] of pending) parts[p]![l] = "";
      pending = [[i, writeIndex]];
    } else if (g.shiftFlags) pending.push([i, writeIndex]);
    if (g.flags) known = g.flags;
    else if (g.shiftFlags) known = null;
    const stores = g.writes;
    if (stores) writes = true;
    if (stores && !g.branches) code.push(`if (m.smc) { c.pc = ${wrap(`p0 + ${next}`)}; return it + ${base + i + 1}; }`);
    parts.push(code);
    off = next;
    if (g.branches) {
      branch = true;
      const rel = insn.operands[0];
      loop = mode !== "real" && (insn.spec.sem === "jcc" || insn.spec.sem === "jmp") && rel?.kind === "rel" && Number(rel.disp) === -next;
      break;
    }
  }
  if (used.length === 0 && exit === null) return null;
  const text = parts.map((p) => p.filter((l) => l !== "").join("\n")).join("\n");
  return { text, n: used.length, off, exit, loop, branch, writes, used, offsets };
}

// ---- flags of a producer known at compile time (same pass of the same block) ----
// Kinds: 1 add, 3 sub, 5 logic, 6 inc, 7 dec (ADC/SBB use c.cf()/c.cond()).

function inlineable(f: FlagsOut): boolean {
  return f.kind === 1 || f.kind === 3 || f.kind === 5 || f.kind === 6 || f.kind === 7;
}

/** Unsigned x < y at the producer's size, as a 0/1 expression. */
function ult(f: FlagsOut, x: string, xh: string, y: string, yh: string): string {
  if (f.size !== 8) return `((${x} >>> 0) < (${y} >>> 0) ? 1 : 0)`;
  return `((${xh} >>> 0) < (${yh} >>> 0) || ((${xh} | 0) === (${yh} | 0) && (${x} >>> 0) < (${y} >>> 0)) ? 1 : 0)`;
}

function cfExpr(f: FlagsOut): string {
  switch (f.kind) {
    case 1: return ult(f, f.r, f.rh, f.a!, f.ah);
    case 3: return ult(f, f.a!, f.ah, f.b!, f.bh);
    case 5: return "0";
    default: return String(f.ccf);
  }
}

/** Sign bit of an expression over low halves (size 1/2/4) or high halves (size 8). */
function signOf(v: string, size: number): string {
  return size >= 4 ? `((${v}) < 0)` : `(((${v}) & ${size === 1 ? 0x80 : 0x8000}) !== 0)`;
}

function condExpr(f: FlagsOut, cc: number): string {
  const w = f.size === 8;
  const zf = w ? `((${f.r} | ${f.rh}) === 0)` : `(${f.r} === 0)`;
  const sf = signOf(w ? f.rh : f.r, f.size);
  const cf = `(${cfExpr(f)} !== 0)`;
  const [a, b, r] = w ? [f.ah, f.bh, f.rh] : [f.a, f.b, f.r];
  const of = f.kind === 5 ? "false"
    : f.kind === 1 || f.kind === 6 ? signOf(`(${a} ^ ${r}) & (${b} ^ ${r})`, f.size)
    : signOf(`(${a} ^ ${b}) & (${a} ^ ${r})`, f.size);
  let e: string;
  switch (cc >> 1) {
    case 0: e = of; break;
    case 1: e = cf; break;
    case 2: e = zf; break;
    case 3: e = `(${cf} || ${zf})`; break;
    case 4: e = sf; break;
    case 5: e = `(c.parity(${f.r}) !== 0)`; break;
    case 6: e = `(${sf} !== ${of})`; break;
    default: e = `(${zf} || ${sf} !== ${of})`; break;
  }
  return cc & 1 ? `!${e}` : e;
}
