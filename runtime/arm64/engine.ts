// The arm64 execution engine: runs guest instructions as compiled blocks (isa/block.ts), found
// by the guest-physical address of their first instruction, cached per guest page and dropped
// when the page is written. With `jit` off every block is one instruction (the interpreter),
// which is also what runs whenever a block would not fit the remaining instruction budget, so a
// step limit stops at exactly the instruction asked for.

import { REG, join64 } from "./state.js";
import { GuestException, type A64Cpu } from "./cpu.js";
import type { GuestMemory } from "../core/memory.js";
import { decodeA64 } from "./isa/decode.js";
import { compileBlock, endsBlock, type BlockFn, type BlockInsn } from "./isa/block.js";

/** Longest block compiled (instructions). */
const MAX_BLOCK = 128;

interface Block {
  fn: BlockFn;
  len: number;
  /** Guest-physical extent: start and length in bytes. */
  pa: number;
  bytes: number;
  /** The virtual address it was compiled for (the same page may be mapped at several). */
  lo: number;
  hi: number;
  /**
   * Chaining: the last two successors seen (address, EL, block), valid while `gen` equals the
   * engine's generation (bumped by every TLB flush or invalidation and every code invalidation).
   */
  a: Block | null; aLo: number; aHi: number; aEl: number; aGen: number;
  b: Block | null; bLo: number; bHi: number; bEl: number; bGen: number;
}

export class A64Engine {
  private jitOn = true;
  /** The block that ran last, whose links the next run starts from (kept across exits). */
  private last: Block | null = null;

  /** Compile multi-instruction blocks and loops (off: one instruction at a time). */
  get jit(): boolean {
    return this.jitOn;
  }
  set jit(on: boolean) {
    this.jitOn = on;
    this.gen++; // links made under the other setting are not followed
  }
  private readonly blocks = new Map<number, Block>();
  private readonly singles = new Map<number, Block>();
  /** Guest-physical page → the blocks compiled from it (start address and length in bytes). */
  private readonly byPage = new Map<number, { pa: number; bytes: number }[]>();
  /** Counters for `show stats` and the bench. */
  readonly stats = { compiled: 0, invalidated: 0 };
  /** Generation of the chaining links: any change to translations or code bumps it. */
  private gen = 0;

  /** The CPUs (one per vCPU) whose memory ports must see code pages protected. */
  private readonly cpus: A64Cpu[] = [];

  constructor(
    private cpu: A64Cpu,
    private readonly memory: GuestMemory,
  ) {
    this.attach(cpu);
  }

  /** Another vCPU's CPU shares the compiled code: its port learns which pages hold code. */
  attach(cpu: A64Cpu): void {
    cpu.port.codePage = (ppn) => this.byPage.has(ppn);
    cpu.port.onChange = () => this.gen++;
    this.cpus.push(cpu);
  }

  /**
   * Run `cpu` from now on (an attached vCPU's): compiled blocks take the CPU as an argument, so
   * they serve every vCPU; only the chaining links start afresh.
   */
  use(cpu: A64Cpu): void {
    if (cpu === this.cpu) return;
    this.cpu = cpu;
    this.last = null;
    this.gen++;
  }

  /**
   * Guest memory [pa, pa + size) in page `ppn` was written: drop the code compiled from those
   * bytes (a page holding both code and data keeps its other blocks).
   */
  codeWritten(ppn: number, pa: number, size: number): void {
    const list = this.byPage.get(ppn);
    if (!list) return;
    const keep = list.filter((b) => {
      if (pa >= b.pa + b.bytes || pa + size <= b.pa) return true;
      if (this.blocks.get(b.pa)?.bytes === b.bytes) this.blocks.delete(b.pa);
      if (this.singles.get(b.pa)?.bytes === b.bytes) this.singles.delete(b.pa);
      this.stats.invalidated++;
      return false;
    });
    if (keep.length === list.length) return;
    if (keep.length) this.byPage.set(ppn, keep);
    else this.byPage.delete(ppn);
    this.gen++;
  }

  /**
   * Run up to `budget` (≥ 1) instructions. Returns the number retired, early when a trap to EL2
   * is left in cpu.trap. Exceptions taken to the guest's EL1 are taken here (the faulting
   * instruction counts as retired); anything else the CPU throws (a trap to EL2, a stop)
   * propagates with state.partial = instructions retired.
   */
  /**
   * Instructions the current run() had retired when its running block started (0 between runs):
   * modelled time inside a run, for the counter (cpu.clock), to within one block.
   */
  retired = 0;

  run(budget: number): number {
    const cpu = this.cpu;
    const s = cpu.state;
    const R = s.r;
    const port = cpu.port;
    let done = 0;
    let prev: Block | null = this.last;
    this.last = null;
    while (done < budget) {
      let inBlock = false;
      // Interrupts are looked at here, between blocks: a signalled vIRQ is taken, a stop request
      // (a timer reprogrammed, a physical interrupt) ends the run for the machine.
      if (cpu.attention !== 0 && cpu.serviceAttention()) break;
      try {
        const lo = R[REG.PC]!, hi = R[REG.PC + 1]!, el = s.el, gen = this.gen;
        let left = budget - done;
        // Software step or an enabled breakpoint: check before each instruction, and run them one at a time.
        const stepping = cpu.ssEnabled;
        if (stepping || cpu.bpArmed) {
          if (stepping) cpu.stepBefore();
          if (cpu.bpArmed) cpu.checkBreakpoint();
          left = 1;
        }
        let b: Block | null = null;
        if (prev !== null) {
          if (prev.aLo === lo && prev.aHi === hi && prev.aEl === el && prev.aGen === gen) b = prev.a;
          else if (prev.bLo === lo && prev.bHi === hi && prev.bEl === el && prev.bGen === gen) b = prev.b;
        }
        if (b === null || b.len > left) {
          b = this.lookup(lo, hi, left);
          if (prev !== null && b.len > 1) {
            // Keep the newer link in slot a, the older in b.
            prev.b = prev.a; prev.bLo = prev.aLo; prev.bHi = prev.aHi; prev.bEl = prev.aEl; prev.bGen = prev.aGen;
            prev.a = b; prev.aLo = lo; prev.aHi = hi; prev.aEl = el; prev.aGen = gen;
          }
        }
        inBlock = true;
        this.retired = done;
        done += b.fn(R, s, cpu, port, left);
        if (stepping) cpu.stepAfter();
        prev = b;
        // A trap to EL2 raised without an exception (HVC): the machine takes it.
        if (cpu.trap !== null) {
          this.last = b;
          this.retired = 0;
          return done;
        }
      } catch (e) {
        prev = null;
        const retired = done + (inBlock ? s.partial : 0);
        if (e instanceof GuestException) {
          done = retired + 1;
          continue;
        }
        s.partial = retired;
        this.retired = 0;
        throw e;
      }
    }
    this.last = prev;
    this.retired = 0;
    return done;
  }

  /** The block at pc (fetch translation and permission checked), or one instruction when no block fits `left`. */
  private lookup(lo: number, hi: number, left: number): Block {
    const pa = this.cpu.port.fetchPa(lo, hi);
    let b: Block | undefined;
    if (this.jit) {
      b = this.blocks.get(pa);
      if (b === undefined || b.lo !== lo || b.hi !== hi) b = this.compile(this.blocks, pa, lo, hi, MAX_BLOCK);
    }
    if (b === undefined || b.len > left) {
      b = this.singles.get(pa);
      if (b === undefined || b.lo !== lo || b.hi !== hi) b = this.compile(this.singles, pa, lo, hi, 1);
    }
    return b;
  }

  private compile(cache: Map<number, Block>, pa: number, lo: number, hi: number, max: number): Block {
    const insns: BlockInsn[] = [];
    const ppn = Math.floor(pa / 0x1000);
    let pc = join64(lo, hi);
    for (let p = pa; insns.length < max && Math.floor(p / 0x1000) === ppn; p += 4, pc += 4n) {
      const d = decodeA64(this.memory.read32(p));
      insns.push({ spec: d.spec, fields: d.fields, pc });
      if (endsBlock(d.spec)) break;
    }
    const b: Block = {
      fn: compileBlock(insns, max > 1), len: insns.length, pa, bytes: 4 * insns.length, lo, hi,
      a: null, aLo: 0, aHi: 0, aEl: -1, aGen: -1, b: null, bLo: 0, bHi: 0, bEl: -1, bGen: -1,
    };
    cache.set(pa, b);
    const list = this.byPage.get(ppn);
    if (!list) {
      this.byPage.set(ppn, [{ pa, bytes: b.bytes }]);
      for (const c of this.cpus) c.port.protectPage(ppn);
    } else if (!list.some((e) => e.pa === pa && e.bytes === b.bytes)) list.push({ pa, bytes: b.bytes });
    this.stats.compiled++;
    return b;
  }
}
