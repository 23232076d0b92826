// Counter-polling loops, skipped in modelled time. A guest that waits for time to pass reads the
// counter in a tight loop (kvm-unit-tests' delay(): `yield; isb; mrs x0, cntvct_el0; sub x0, x0,
// x2; cmp x1, x0; b.hi <yield>`): every iteration leaves the same state until the count reaches the
// value the loop waits for. Running hundreds of millions of such iterations one by one would
// take minutes; instead, at the counter read of a loop of exactly this shape, the iterations that
// would read a count below the target are skipped: modelled time advances by their cycles (one
// per instruction, as they would have run) and the read returns the count the first exiting
// iteration reads. The result is the one running them gives, deterministically: the shape is
// checked instruction by instruction (only hints and barriers before the read; a subtraction of
// a loop-invariant register; an unsigned compare with one; a backward conditional branch whose
// condition keeps looping while the count is below a bound), skipped iterations read counts below
// the bound (the compare is monotonic in the count), and no skip crosses the VM's next timer
// deadline or a signalled interrupt. Skipped instructions are not counted as executed (`steps`).
// Sources: Arm ARM C6.2 (SUB (shifted register), CMP, B.cond, condition codes HI/HS/LO/LS).

import { decodeA64 } from "./isa/decode.js";
import type { Arm64Machine } from "./machine.js";

/** Instructions allowed in the loop besides the read, subtraction, compare and branch: no state changes. */
const HINTS = new Set(["YIELD", "NOP", "ISB", "DSB", "DMB", "SEV", "SEVL"]);
/** Condition codes (Arm ARM C1.2.4): 2 HS, 3 LO, 8 HI, 9 LS. */
const HS = 2, LO = 3, HI = 8, LS = 9;

/** A recognised polling loop: how the count's register reaches the compare and when the loop ends. */
export interface PollLoop {
  /** The register the subtraction takes from the count (start value), or -1 when the count is compared directly. */
  start: number;
  /** The loop-invariant register compared with. */
  bound: number;
  /** Loop exits once v ≥ bound + `plus` (v = count − start). */
  plus: 0n | 1n;
  /** Instructions per iteration (its cycles). */
  length: number;
  /** The words the analysis read (checked again before the shape is used: code may change). */
  words: number[];
  first: number;
}

/**
 * The polling loop whose counter read (MRS Xt, CNTxCT_EL0) is at guest-physical `pa`, or null when
 * the code around it is not that shape. `read32` reads guest memory; `rt` is the MRS's register.
 */
export function analysePollLoop(read32: (pa: number) => number, pa: number, rt: number): PollLoop | null {
  let at = pa + 4;
  let d = decodeA64(read32(at));
  let v = rt, start = -1;
  if (d.spec.name === "SUB_reg" && d.fields.sf === 1 && d.fields.imm6 === 0 && d.fields.Rn === rt && d.fields.Rm !== 31 && d.fields.Rd !== 31) {
    start = d.fields.Rm!;
    v = d.fields.Rd!;
    if (start === v) return null;
    at += 4;
    d = decodeA64(read32(at));
  }
  if (d.spec.name !== "CMP_reg" || d.fields.sf !== 1 || d.fields.imm6 !== 0) return null;
  const rn = d.fields.Rn!, rm = d.fields.Rm!;
  const bound = rn === v ? rm : rm === v ? rn : -1;
  if (bound < 0 || bound === 31 || bound === v || bound === rt) return null;
  at += 4;
  d = decodeA64(read32(at));
  if (d.spec.name !== "B_cond") return null;
  const cond = d.fields.cond!;
  // Loop while the count is below a bound: cmp bound, v with HI/HS, or cmp v, bound with LO/LS.
  let plus: 0n | 1n;
  if (rn === bound && cond === HI) plus = 0n;
  else if (rn === bound && cond === HS) plus = 1n;
  else if (rn === v && cond === LO) plus = 0n;
  else if (rn === v && cond === LS) plus = 1n;
  else return null;
  const imm = d.fields.imm19!;
  const offset = (imm >= 1 << 18 ? imm - (1 << 19) : imm) * 4;
  const first = at + offset;
  if (first > pa || pa - first > 64) return null;
  const words: number[] = [];
  for (let p = first; p <= at; p += 4) words.push(read32(p));
  for (let p = first; p < pa; p += 4) if (!HINTS.has(decodeA64(read32(p)).spec.name)) return null;
  return { start, bound, plus, length: words.length, words, first };
}

/**
 * Iterations of `loop` to skip at a read at cycle `now` that would return `count`: the count the
 * loop waits for is start + bound (+1); the first iteration whose read reaches it is the one that
 * exits. `cycleOfTick` maps a count to its first cycle; `limit` is the latest cycle a skip may
 * reach (the next deadline). Returns the cycles to skip (a multiple of the loop's length), 0 when
 * none.
 */
export function cyclesToSkip(loop: PollLoop, count: bigint, startValue: bigint, boundValue: bigint, now: number, limit: number, cycleOfTick: (t: bigint) => number): number {
  const v0 = count - startValue;
  if (loop.start >= 0 && v0 < 0n) return 0;
  const target = (loop.start >= 0 ? startValue : 0n) + boundValue + loop.plus;
  if (target <= count || target >= 1n << 63n) return 0;
  const at = cycleOfTick(target);
  let k = Math.ceil((at - now) / loop.length);
  if (Number.isFinite(limit)) k = Math.min(k, Math.floor((limit - now) / loop.length) - 1);
  return k > 0 ? k * loop.length : 0;
}

/**
 * At a counter read (MRS CNTVCT_EL0 / CNTPCT_EL0 into Xrt, `virtual` for the virtual count) of the
 * loaded vCPU of `m`: skip the iterations of a recognised polling loop that would not end it.
 * `loops` caches the analysis by the guest-physical address of the read (null: not a loop). No
 * skip while another vCPU can run (it may end the loop) or the CPU has work pending (attention).
 */
export function skipPolling(m: Arm64Machine, loops: Map<number, PollLoop | null>, virtual: boolean, rt: number): void {
  const cpu = m.cpu;
  if (cpu.attention !== 0) return;
  if (m.sched.count > 1 && m.sched.othersRunnable()) return;
  let pa: number;
  try {
    pa = cpu.mmu.translate(cpu.state.pc, "fetch", cpu.state.el);
  } catch {
    return;
  }
  const mem = m.memory;
  let loop = loops.get(pa);
  if (loop === undefined || (loop !== null && loop.words.some((w, i) => mem.read32(loop!.first + 4 * i) !== w))) {
    loop = analysePollLoop((p) => mem.read32(p), pa, rt);
    loops.set(pa, loop);
  }
  if (loop === null) return;
  const x = cpu.state.x;
  const freq = Number(cpu.reg("CNTFRQ_EL0"));
  const off = virtual ? m.timer.cntvoff : 0n;
  const clock = m.clock;
  const now = clock.now();
  const count = clock.ticks(freq, now) - off;
  const skip = cyclesToSkip(loop, count, loop.start >= 0 ? x[loop.start]! : 0n, x[loop.bound]!, now, clock.next, (t) => clock.cycleOfTick(t + off, freq));
  if (skip > 0) clock.skip(skip);
}
