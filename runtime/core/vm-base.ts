// The run loop both machines share: step, run until an exit, handle, run to the end — with the
// step limit, the caller's condition, interrupts and the pending-exit / halted states. Each
// architecture supplies how one instruction executes (execOne) and how KVM handles an exit.

import { ExitlabError, VmStoppedError } from "./errors.js";
import type { Exit, HandleResult, MachineSettings, RunOptions, RunResult } from "./machine.js";
import type { FieldValue, TraceLog } from "./trace.js";
import type { GuestMemory } from "./memory.js";

/** Most instructions run between two looks at the caller's interrupt flag. */
const INTERRUPT_CHUNK = 1 << 16;

export abstract class VmBase {
  readonly exits: Exit[] = [];
  steps = 0;
  cycles = 0;
  pendingExit: Exit | null = null;
  halted: { message: string } | null = null;
  abstract readonly settings: MachineSettings;
  abstract readonly trace: TraceLog;
  abstract readonly memory: GuestMemory;

  /** Record a trace event stamped with the current step and modelled cycles. */
  protected emit(name: string, fields: Record<string, FieldValue>): void {
    this.trace.emit(name, this.steps, this.cycles, fields);
  }

  /** Guest-physical memory, bytes (RAM only). */
  readPhysical(pa: number, length: number): Uint8Array {
    if (!Number.isInteger(pa) || pa < 0 || !Number.isInteger(length) || length < 0 || length > 1 << 20) {
      throw new ExitlabError(`bad physical read ${pa} length ${length}`);
    }
    return this.memory.readBytes(pa, length);
  }

  /** Execute one guest instruction; sets pendingExit or halted when that happens. */
  protected abstract execOne(): void;

  /**
   * Execute up to `max` (≥ 1) guest instructions, stopping early at an exit or a stop; returns
   * how many retired. Machines with a block engine override this; the default steps execOne.
   */
  protected execMany(max: number): number {
    const before = this.steps;
    for (let i = 0; i < max; i++) {
      this.execOne();
      if (this.halted || this.pendingExit) break;
    }
    return this.steps - before;
  }
  /** KVM handles `exit` (already taken off pendingExit) and re-enters the guest unless it stops. */
  protected abstract handlePending(exit: Exit): HandleResult;

  step(): RunResult {
    if (this.halted) return { stop: "halted", steps: 0, message: this.halted.message };
    if (this.pendingExit) return { stop: "exit", steps: 0, exit: this.pendingExit, message: "an exit is pending: handle it first" };
    const before = this.steps;
    this.execOne();
    return this.result(before);
  }

  protected result(before: number, fallback: RunResult["stop"] = "limit", message?: string): RunResult {
    const steps = this.steps - before;
    if (this.halted) return { stop: "halted", steps, message: this.halted.message, exit: this.exits[this.exits.length - 1] };
    if (this.pendingExit) return { stop: "exit", steps, exit: this.pendingExit };
    return { stop: fallback, steps, message };
  }

  runUntilExit(options: RunOptions = {}): RunResult {
    const max = options.maxSteps ?? this.settings.stepLimit;
    const before = this.steps;
    if (this.halted || this.pendingExit) return this.step();
    if (options.until) {
      // The caller's condition is checked after every instruction.
      for (let i = 0; i < max; i++) {
        this.execOne();
        if (this.halted || this.pendingExit) return this.result(before);
        if (options.until()) return this.result(before, "until");
        if ((i & 4095) === 4095 && options.interrupted?.()) return this.result(before, "interrupted", "interrupted");
      }
      return this.result(before, "limit", `step limit of ${max} instructions reached`);
    }
    // Interrupts are looked at between chunks: within INTERRUPT_CHUNK instructions of a request.
    let left = max;
    while (left > 0) {
      const n = this.execMany(Math.min(left, INTERRUPT_CHUNK));
      if (this.halted || this.pendingExit) return this.result(before);
      left -= Math.max(1, n);
      if (left > 0 && options.interrupted?.()) return this.result(before, "interrupted", "interrupted");
    }
    return this.result(before, "limit", `step limit of ${max} instructions reached`);
  }

  handle(): HandleResult {
    if (this.halted) throw new VmStoppedError(`the VM is stopped: ${this.halted.message}`);
    const exit = this.pendingExit;
    if (!exit) return { action: "resume", message: "no exit is pending" };
    this.pendingExit = null;
    return this.handlePending(exit);
  }

  run(options: RunOptions = {}): RunResult {
    const max = options.maxSteps ?? this.settings.stepLimit;
    const before = this.steps;
    let last: Exit | undefined;
    let budget = max;
    for (;;) {
      if (this.halted) return { stop: "halted", steps: this.steps - before, message: this.halted.message, exit: last };
      if (this.pendingExit) {
        if (options.stopOnExit?.(this.pendingExit)) return { stop: "exit", steps: this.steps - before, exit: this.pendingExit };
        last = this.pendingExit;
        this.handle();
        // Each handled exit counts against the budget: a guest that exits forever (e.g. a fault KVM
        // keeps re-injecting) stops at the limit like one that loops in guest mode.
        budget--;
        if (budget <= 0 && !this.halted) return { stop: "limit", steps: this.steps - before, exit: last, message: `step limit of ${max} reached (instructions and exits)` };
        continue;
      }
      if (budget <= 0) return { stop: "limit", steps: this.steps - before, exit: last, message: `step limit of ${max} instructions reached` };
      const r = this.runUntilExit({ ...options, maxSteps: budget });
      budget -= Math.max(1, r.steps);
      if (r.stop === "until" || r.stop === "interrupted") return { ...r, steps: this.steps - before, exit: r.exit ?? last };
      if (r.stop === "limit") return { stop: "limit", steps: this.steps - before, exit: last, message: `step limit of ${max} instructions reached` };
    }
  }
}
