// The x86-64 machine's run loop (X86Machine's second layer, over machine-entry-exit.ts): one
// instruction at a time on the interpreter (execOne), or compiled blocks, traces and their chains
// (execMany), the irqchip's look between blocks, and a fault's way: a VM exit, delivery through the
// guest IDT, or an emulation error.
import { executeX86 } from "./isa/index.js";
import { compilable, fastFunction } from "./isa/semantics/fast.js";
import type { Block } from "./jit.js";
import { hotPath } from "./trace.js";
import { CPUID_EXIT } from "./cpu.js";
import { GuestFault, VmExitSignal } from "./state.js";
import { takeTrapExit } from "./trap-exit.js";
import { VECTOR } from "./vectors.js";
import type { Ept } from "./vmx/ept.js";
import { INTR_TYPE } from "./vmx/qualification.js";
import { GUEST_INSTRUCTION_CYCLES } from "./cost.js";
import type { X86Vcpu } from "./vcpu-state.js";
import { pollMayYield } from "./smp.js";
import { leftSystemState } from "./fast-events.js";
import { DEBUG_RFLAGS, afterDebugStep, instructionBreakpoint, takeHeldDebug } from "./debug-step.js";
import { X86MachineEntryExit } from "./machine-entry-exit.js";

/** X86Machine's run-loop layer (machine.ts). */
export abstract class X86MachineRun extends X86MachineEntryExit {
  abstract readonly ept: Ept;
  abstract readonly vcpus: readonly X86Vcpu[];
  abstract get time(): number;
  /** With several vCPUs, execMany/execOne run the one whose turn it is (smp.ts schedule), for at most the rest of its quantum. */
  protected inVcpu = false;
  /** Run the vCPU whose turn it is (smp.ts schedule) for at most `max` instructions (`one`: one), in execOne/execMany (machine.ts). */
  protected abstract runVcpus(max: number, one: boolean): number;

  /**
   * EPT version seen by the fetch and data caches: KVM changing the EPT tables (a new mapping, an
   * MMIO spte) drops them. Guest-state changes at VM entry drop them in enter().
   */
  protected seenEpt = -1;
  /** seenEpt of the vCPUs not loaded, by id (loadVcpu swaps them). */
  protected readonly seenEptBy: number[] = [];

  private syncFetch(): void {
    if (this.ept.version !== this.seenEpt) {
      this.seenEpt = this.ept.version;
      this.cpu.invalidateFetch();
    }
  }

  /**
   * The irqchip's look at the guest between blocks (KvmIrqChip.poll): an exit it raises is taken
   * here, an interrupt APICv delivers goes through the guest's IDT. True if the guest stops.
   */
  private pollIrq(): boolean {
    this.cpu.insn = null;
    try {
      const e = this.irq.poll();
      if (e) this.vmExit(e);
    } catch (e) {
      this.fault(e);
    }
    return this.halted !== null || this.pendingIndex >= 0;
  }

  /** One guest instruction, or the exit/exception it raises. */
  protected execOne(): void {
    if (this.sched.count > 1 && !this.inVcpu) return void this.runVcpus(1, true);
    if (this.time >= this.irq.nextEvent && this.pollIrq()) return;
    const cpu = this.cpu;
    const s = cpu.state;
    cpu.insn = null;
    this.syncFetch();
    try {
      const insn = cpu.fetchInsn();
      cpu.insn = insn;
      s.npc = s.mode === "long64" ? s.pc + insn.length : (s.pc + insn.length) >>> 0;
      // Single-stepping (TF), RF or DR7 breakpoints: checked only while one of them is on (debug-step.ts).
      const debugFlags = s.fl & DEBUG_RFLAGS;
      const debugging = debugFlags !== 0 || cpu.drArmed;
      if (debugging) instructionBreakpoint(cpu);
      // CPUID exits unconditionally (SDM Vol. 3 25.1.2): the hot exit, taken without an exception.
      if (insn.spec.sem === "cpuid") return this.vmExit(CPUID_EXIT);
      if ((insn.spec.sem === "in" || insn.spec.sem === "out") && !insn.prefixes.lock) {
        const io = cpu.plainIoExit(insn);
        if (io !== null) return this.vmExit(io);
      }
      // MOV CR and RDMSR/WRMSR exits, decided before the instruction runs (plain-exit.ts).
      const sem = insn.spec.sem;
      if (sem === "movtocr" || sem === "movfromcr" || sem === "rdmsr" || sem === "wrmsr" || sem === "hlt") {
        const e = sem === "hlt" ? cpu.plainHltExit() : sem === "rdmsr" || sem === "wrmsr" ? cpu.plainMsrExit(insn) : cpu.plainCrExit(insn);
        if (e !== null) return this.vmExit(e);
      }
      const fn = !compilable(insn) ? null : insn.fast !== undefined ? insn.fast : fastFunction(insn);
      let n = 1;
      cpu.extraCycles = 0;
      if (fn) fn(s, s.r, cpu);
      else {
        cpu.repDone = 0;
        executeX86(cpu, insn);
        if (!leftSystemState(sem, s.r)) cpu.segmentsChanged();
        // A REP string instruction: each iteration it ran is a step (0 iterations: the instruction is one).
        if (cpu.repDone > 1) n = cpu.repDone;
        cpu.repDone = 0;
      }
      s.pc = s.npc;
      this.steps += n;
      this.cycles += n * GUEST_INSTRUCTION_CYCLES;
      // An instruction that costs more than a cycle (cost.ts movToCr4ExtraCycles).
      if (cpu.extraCycles !== 0) (this.cycles += cpu.extraCycles), (cpu.extraCycles = 0);
      if (cpu.sleeping) this.halted = { message: "the guest executed HLT with HLT exiting off: it sleeps until an interrupt, and no interrupt source exists" };
      // TF set by this instruction traps only after SYSCALL/SYSRET (single-step.ts): look then too.
      if (debugging || (s.fl & 0x100) !== 0) afterDebugStep(cpu, insn, debugFlags);
    } catch (e) {
      // Iterations of a REP string instruction that completed before the faulting one retired.
      if (cpu.repDone > 0) (this.steps += cpu.repDone), (this.cycles += cpu.repDone * GUEST_INSTRUCTION_CYCLES), (cpu.repDone = 0);
      this.fault(e);
    }
  }

  /**
   * Run a compiled block (at most `budget` instructions, whole loop iterations). Returns the
   * budget used, counted as the interpreter's loop counts: one per instruction, and one for an
   * instruction that faulted.
   */
  private runBlock(block: Block, budget: number): number {
    const cpu = this.cpu;
    const s = cpu.state;
    cpu.insn = null;
    cpu.smc = false;
    s.done = 0;
    // A flag-polling loop while others can run: one pass, then the quantum ends if it still loops (smp.ts).
    const poll = block.poll && pollMayYield(this.sched);
    const start = s.pc;
    try {
      // A store's trap-like exit comes back as -1 instead of an exception (trap-exit.ts).
      cpu.deferTraps = true;
      const n = block.fn(s, s.r, cpu, poll ? block.count : budget);
      cpu.deferTraps = false;
      if (n < 0) {
        // As fault() takes a thrown exit, but without its systemVersion bump: the exit came from a
        // template's store, and no template changes the state the guest-state save compares
        // (execOne runs templates without segmentsChanged), so the save may keep its fast path.
        const done = this.blockStopped(block);
        this.vmExit(takeTrapExit(cpu));
        return done + 1;
      }
      this.steps += n;
      this.cycles += n * GUEST_INSTRUCTION_CYCLES;
      if (poll && s.pc === start) return this.sched.pollWait(), Math.max(n, budget);
      if (s.exit !== 0) {
        // The block stopped at CPUID (Block.exit): the exit, as execOne takes it.
        s.exit = 0;
        cpu.insn = block.exit;
        this.vmExit(CPUID_EXIT);
        return n + 1;
      }
      return n;
    } catch (e) {
      cpu.deferTraps = false;
      const done = this.blockStopped(block);
      this.fault(e);
      return done + 1;
    }
  }

  /**
   * A block stopped at an instruction that faulted or exited (thrown, or a deferred trap-like exit):
   * c.pc and c.done describe it; the instructions before it are counted. Returns their number.
   */
  private blockStopped(block: Block): number {
    const s = this.cpu.state;
    const done = s.done;
    const insn = block.insns[done % block.count]!;
    this.cpu.insn = insn;
    s.npc = s.mode === "long64" ? s.pc + insn.length : (s.pc + insn.length) >>> 0;
    this.steps += done;
    this.cycles += done * GUEST_INSTRUCTION_CYCLES;
    return done;
  }

  /** Exits are handled inside execMany (VmBase.takeInline) on the compiled path with one vCPU. */
  protected override canInline(): boolean {
    return this.sched.count === 1 && this.settings.jit === true;
  }

  protected override beforeRun(): void {
    // Traps, settings or registers may have changed since the last run, of any vCPU.
    for (const v of this.vcpus) v.cpu.invalidateFetch();
  }

  /**
   * Up to `max` instructions with compiled blocks (setting jit, default on): a block runs when it
   * fits in the remaining budget, else the interpreter runs one instruction; the budget counts as
   * VmBase's interpreter loop does (one per instruction, one for a faulting one). Blocks are
   * chained: each keeps its last two successors (valid while cpu.epoch is unchanged: no TLB
   * flush, code write or exit since). Returns the instructions retired.
   */
  protected override execMany(max: number): number {
    if (this.sched.count > 1 && !this.inVcpu) return this.runVcpus(max, false);
    if (!this.settings.jit) return super.execMany(max);
    const cpu = this.cpu;
    const s = cpu.state;
    const before = this.steps;
    let used = 0;
    // Exits handled here, without returning to run() (VmBase.takeInline).
    const inline = this.inlineExits;
    // The chain goes on from the block that ended in the last exit (valid while the epoch is).
    let prev: Block | null = this.chainFrom;
    this.chainFrom = null;
    while (used < max) {
      // Interrupts are looked at between blocks, and a block's budget ends at the next timer deadline.
      let room = max - used;
      const toEvent = this.irq.nextEvent - this.time;
      if (toEvent <= 0) {
        if (this.pollIrq()) break;
        prev = null;
        // An interrupt waiting out STI's one-instruction shadow: one instruction, then look again
        // (a compiled loop would otherwise run its whole budget before the next look).
        if (this.irq.inStiShadow()) room = 1;
      } else if (toEvent < room) room = Math.ceil(toEvent);
      this.syncFetch();
      let block: Block | null = null;
      // Single-stepping, RF or DR7 breakpoints: the interpreter, which checks them per instruction.
      const debugOn = (s.fl & DEBUG_RFLAGS) !== 0 || cpu.drArmed;
      if (debugOn) prev = null;
      else if (prev !== null && prev.epoch === cpu.epoch) {
        if (s.pc === prev.s0pc) block = prev.s0;
        else if (s.pc === prev.s1pc) block = prev.s1;
      }
      if (block === null && !debugOn) {
        try {
          block = cpu.blockAt();
        } catch {
          block = null; // a fetch fault: the interpreter raises it
        }
        if (prev !== null && block !== null) {
          if (prev.epoch !== cpu.epoch) (prev.epoch = cpu.epoch), (prev.s0pc = prev.s1pc = NaN);
          (prev.s1pc = prev.s0pc), (prev.s1 = prev.s0), (prev.s0pc = s.pc), (prev.s0 = block);
        }
      }
      // With RFLAGS.TF set every instruction traps: one at a time (blocks never change TF themselves).
      if (block === null || block.count > room || (s.fl & 0x100) !== 0) {
        // A REP string instruction may run up to the rest of the budget, an iteration per step.
        cpu.repBudget = room;
        const at = this.steps;
        this.execOne();
        cpu.repBudget = 1;
        used += Math.max(1, this.steps - at);
        prev = null;
      } else {
        // A trace formed at the block (trace.ts) when one is and fits the budget.
        const hot = hotPath(block, s.pc, s.mode, cpu);
        let last: Block = hot.count <= room ? hot : block;
        used += this.runBlock(last, room);
        // Then its chained successors back to back, while nothing the loop's looks watch can have
        // changed: no exit or halt, no code write or flush (epoch), no new interrupt event, no
        // pending look at the irqchip (toEvent > 0 above), the budget and the next event not reached.
        if (toEvent > 0) {
          const event = this.irq.nextEvent;
          // (A flag-polling block that gave up the quantum, sched.pollWait, ends the chain too.)
          while (used < max && this.pendingIndex < 0 && this.halted === null && last.epoch === cpu.epoch && !cpu.smc && this.irq.nextEvent === event && (this.sched.count === 1 || this.sched.left > 0)) {
            const pc = s.pc;
            const next: Block | null = pc === last.s0pc ? last.s0 : pc === last.s1pc ? last.s1 : null;
            if (next === null) break;
            const left = Math.min(max - used, Math.ceil(event - this.time));
            const hotNext = hotPath(next, pc, s.mode, cpu);
            const run = hotNext.count <= left ? hotNext : next;
            if (run.count > left) break;
            used += this.runBlock(run, left);
            last = run;
          }
        }
        prev = last;
      }
      if (this.halted || this.pendingIndex >= 0) {
        if (inline && this.halted === null && this.takeInline()) continue;
        this.chainFrom = prev;
        break;
      }
    }
    return this.steps - before;
  }

  /**
   * The block whose run ended in the pending exit: the next execMany looks its successor up in
   * that block's chain instead of translating rip again (a CPUID loop re-enters the same block
   * after every exit). Checked against cpu.epoch like any chain link.
   */
  protected chainFrom: Block | null = null;



  /** A guest fault (delivered through the guest IDT, or an exit), a VM exit, or an emulator error. */
  private fault(e: unknown): void {
    const cpu = this.cpu;
    const s = cpu.state;
    if (e instanceof VmExitSignal) {
      // An instruction may have changed system state before it exited: the save compares everything.
      cpu.systemVersion++;
      this.vmExit(e.info);
    } else if (e instanceof GuestFault) {
      try {
        // INT n / INT3 / INTO are traps: the frame returns to the next instruction.
        const sem = cpu.insn?.spec.sem;
        // INT1/ICEBP is a privileged software exception (SDM Vol. 3 Table 24-17), a trap like them.
        const type = sem === "int" ? INTR_TYPE.SW_INTERRUPT : sem === "int3" || sem === "into" ? INTR_TYPE.SW_EXCEPTION : sem === "icebp" ? INTR_TYPE.PRIV_SW_EXCEPTION : INTR_TYPE.HW_EXCEPTION;
        // A data breakpoint MOV SS held back (debug-step.ts) goes with a #DB (not INT 1), else it is a #DB
        // at the handler's first instruction.
        const held = takeHeldDebug(cpu);
        const merge = e.vector === VECTOR.DB && type !== INTR_TYPE.SW_INTERRUPT;
        cpu.deliver(e.vector, e.errorCode, false, merge ? (e.address ?? 0n) | held : e.address, type, type === INTR_TYPE.HW_EXCEPTION ? undefined : s.nextRip);
        if (held !== 0n && !merge) cpu.deliver(VECTOR.DB, undefined, false, held);
      } catch (e2) {
        if (e2 instanceof VmExitSignal) this.vmExit(e2.info);
        else this.internalError(e2);
      }
    } else this.internalError(e);
  }

  private internalError(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    this.halted = { message: `emulation error at rip 0x${this.cpu.state.rip.toString(16)}: ${msg}` };
  }
}
