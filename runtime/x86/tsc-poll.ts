// TSC-polling loops, skipped in modelled time (the x86 twin of arm64/spin.ts). kvm-unit-tests
// waits for time to pass with `do { pause(); } while (rdtsc() - start < N);`, compiled as
//   1: pause; rdtsc; shl $32,%rdx; mov %eax,%eax; or %rax,%rdx; sub %rcx,%rdx; cmp $N-1,%rdx; jbe 1b
// Every pass leaves the same state until the count reaches the bound; running a million-cycle
// wait pass by pass (apic.c's test_fixed_ipi waits 1,000,000 cycles before each of its thousands
// of IPIs) would take minutes. Instead, at the RDTSC of a loop of exactly this shape, the passes
// that would read a count below the bound are skipped: modelled time advances by their cycles
// (one per instruction, as they would have run) and the RDTSC reads the count the first exiting
// pass reads. The result is the one running them gives: the shape is checked instruction by
// instruction (only hints before the RDTSC; the EDX:EAX combination into one register; a
// subtraction of a loop-invariant register; an unsigned compare with a loop-invariant register or
// an immediate; a conditional branch back to the head that loops while the count is below the
// bound), and no skip crosses the next event the machine must look at (an APIC timer, a pending
// interrupt) or happens while another vCPU can run (it may be what ends the wait). Skipped
// instructions are not counted as executed (`steps`). Sources: Intel SDM Vol. 2 RDTSC, SHL, MOV,
// OR, SUB, CMP, Jcc (JBE: CF = 1 or ZF = 1; JB: CF = 1), PAUSE.

import { decodeX86 } from "./isa/decode.js";
import type { X86Mode } from "./env.js";
import type { X86Insn, X86Operand } from "./isa/types.js";

const RAX = 0, RDX = 2;
/** Condition codes (SDM Vol. 2 Table B-1): 2 B (below), 6 BE (below or equal). */
const CC_B = 2, CC_BE = 6;

/** A recognised TSC-polling loop around an RDTSC. */
export interface TscPoll {
  /** Register holding the start count subtracted from the TSC, or -1 when the TSC is compared directly. */
  start: number;
  /** The compare's other operand: a loop-invariant register, or an immediate (sign-extended to 64 bits). */
  bound: { reg: number } | { imm: bigint };
  /** The loop ends once TSC − start ≥ bound + plus (unsigned). */
  plus: 0n | 1n;
  /** Instructions per pass (its cycles). */
  length: number;
  /** Offset of the loop's head from the RDTSC (≤ 0), and the loop's bytes from there (checked again before use). */
  head: number;
  bytes: number[];
}

const isReg = (op: X86Operand | undefined, reg: number, size: number): boolean => op?.kind === "reg" && op.reg === reg && op.size === size && !op.high8;
const isHint = (insn: X86Insn): boolean => insn.spec.sem === "nop";

/**
 * The polling loop whose RDTSC is at offset 0 of `fetch` (bytes by offset from the RDTSC; the
 * code before it reachable at negative offsets), in `mode`; null when the code is not that shape.
 */
export function analyseTscPoll(fetch: (offset: number) => number, mode: X86Mode): TscPoll | null {
  if (mode !== "long64") return null;
  const at = (o: number): X86Insn => decodeX86((i) => fetch(o + i), mode);
  const first = at(0);
  if (first.spec.sem !== "rdtsc") return null;
  let off = first.length;
  let insns = 1;
  // EDX:EAX into one 64-bit register: shl $32,%rdx and mov %eax,%eax in either order, then or.
  let shl = false, zext = false, value = -1;
  while (value < 0) {
    const d = at(off);
    const [a, b] = d.operands;
    if (d.spec.mnemonic === "shl" && !shl && isReg(a, RDX, 8) && b?.kind === "imm" && b.value === 32n) shl = true;
    else if (d.spec.sem === "mov" && !zext && isReg(a, RAX, 4) && isReg(b, RAX, 4)) zext = true;
    else if (d.spec.mnemonic === "or" && shl && zext && (isReg(a, RDX, 8) && isReg(b, RAX, 8) || isReg(a, RAX, 8) && isReg(b, RDX, 8))) value = (a as { reg: number }).reg;
    else return null;
    off += d.length;
    insns++;
  }
  let d = at(off);
  let start = -1;
  if (d.spec.mnemonic === "sub" && isReg(d.operands[0], value, 8) && d.operands[1]?.kind === "reg" && d.operands[1].size === 8) {
    start = d.operands[1].reg;
    if (start === RAX || start === RDX) return null;
    off += d.length;
    insns++;
    d = at(off);
  }
  // cmp bound, value (Intel order: value − bound).
  if (d.spec.mnemonic !== "cmp" || !isReg(d.operands[0], value, 8)) return null;
  const src = d.operands[1];
  let bound: TscPoll["bound"];
  if (src?.kind === "imm") bound = { imm: BigInt.asUintN(64, src.value) };
  else if (src?.kind === "reg" && src.size === 8 && src.reg !== RAX && src.reg !== RDX) bound = { reg: src.reg };
  else return null;
  off += d.length;
  insns++;
  d = at(off);
  if (d.spec.sem !== "jcc" || d.operands[0]?.kind !== "rel") return null;
  const cc = d.spec.opcode & 0xf;
  if (cc !== CC_BE && cc !== CC_B) return null;
  const end = off + d.length;
  const head = end + Number(d.operands[0].disp);
  if (head > 0 || head < -16) return null;
  // Only hints between the head and the RDTSC.
  for (let o = head; o < 0; ) {
    const h = at(o);
    if (!isHint(h)) return null;
    o += h.length;
    insns++;
    if (o > 0) return null;
  }
  const bytes: number[] = [];
  for (let o = head; o < end; o++) bytes.push(fetch(o));
  return { start, bound, plus: cc === CC_BE ? 1n : 0n, length: insns + 1, head, bytes };
}

/**
 * Cycles to skip at the RDTSC of `loop` reading guest TSC `tsc` (now + TSC offset), the start
 * and bound registers holding `startValue` and `boundValue`: a multiple of the loop's length that
 * leaves the read at the first pass whose count reaches the bound, and stays below `room` cycles
 * (the next event). 0 when no pass can be skipped.
 */
export function tscCyclesToSkip(loop: TscPoll, tsc: bigint, startValue: bigint, boundValue: bigint, room: number): number {
  const s = loop.start >= 0 ? startValue : 0n;
  const v = BigInt.asUintN(64, tsc - s);
  const target = boundValue + loop.plus;
  if (v >= target || target >= 1n << 64n) return 0;
  const need = target - v;
  // A wait longer than the model can count is left to run.
  if (need > BigInt(Number.MAX_SAFE_INTEGER)) return 0;
  const len = loop.length;
  let k = Math.ceil(Number(need) / len);
  if (Number.isFinite(room)) k = Math.min(k, Math.floor(room / len) - 1);
  return k > 0 ? k * len : 0;
}

/** What skipTscPoll reads and changes of the machine at an RDTSC of its loaded vCPU. */
export interface TscPollHost {
  /** Bytes of the guest's code by offset from the RDTSC (fetched as the CPU fetches them). */
  fetch(offset: number): number;
  mode: X86Mode;
  /** The RDTSC's linear address (the analysis cache's key). */
  rip: number;
  /** The guest's TSC now (modelled cycles + TSC_OFFSET). */
  tsc(): bigint;
  /** A general register. */
  reg(n: number): bigint;
  /** Cycles until the next event the machine must look at (Infinity: none); ≤ 0: one is due. */
  room(): number;
  /** Whether another vCPU can run (no skip then). */
  othersRunnable(): boolean;
  /** Advance modelled time by `cycles` of skipped passes. */
  skip(cycles: number): void;
}

/**
 * At an RDTSC: when it is a recognised polling loop's (analysis cached by `rip` in `loops`,
 * checked against the code bytes), skip the passes that would not end it.
 */
export function skipTscPoll(h: TscPollHost, loops: Map<number, TscPoll | null>): void {
  if (h.othersRunnable()) return;
  const room = h.room();
  if (room <= 0) return;
  let loop: TscPoll | null | undefined;
  try {
    loop = loops.get(h.rip);
    if (loop === undefined || (loop !== null && loop.bytes.some((b, i) => h.fetch(loop!.head + i) !== b))) {
      loop = analyseTscPoll((o) => h.fetch(o), h.mode);
      if (loops.size > 4096) loops.clear();
      loops.set(h.rip, loop);
    }
  } catch {
    return; // code around the RDTSC not fetchable: run it as it is
  }
  if (loop === null) return;
  const bound = "imm" in loop.bound ? loop.bound.imm : h.reg(loop.bound.reg);
  const cycles = tscCyclesToSkip(loop, h.tsc(), loop.start >= 0 ? h.reg(loop.start) : 0n, bound, room);
  if (cycles > 0) h.skip(cycles);
}
