// The run loop both machines share: step, run until an exit, handle, run to the end — with the
// step limit, the caller's condition, interrupts and the pending-exit / halted states. Each
// architecture supplies how one instruction executes (execOne) and how KVM handles an exit.

import { checkSetting } from "./settings.js";
import { ExitlabError, VmStoppedError } from "./errors.js";
import type { Arch, Exit, HandleResult, MachineSettings, RunOptions, RunResult } from "./machine.js";
import type { FieldValue, TraceLog } from "./trace.js";
import type { GuestMemory } from "./memory.js";
import type { ExitStore } from "./exits.js";
import type { VirtualClock } from "./clock.js";

/** Most instructions run between two looks at the caller's interrupt flag. */
const INTERRUPT_CHUNK = 1 << 16;

/** `TP`: the names of the machine's tracepoints (its table's keys), so an emit of a misspelt one is a compile error. */
export abstract class VmBase<TP extends string = string> {
  abstract readonly arch: Arch;
  abstract readonly exits: ExitStore;
  steps = 0;
  cycles = 0;
  /** `index` of the exit reported and not yet handled, or -1. */
  protected pendingIndex = -1;
  private pendingObject: Exit | null = null;
  halted: { message: string } | null = null;

  /** The exit reported by the last step/run and not yet handled (the same object until handled). */
  get pendingExit(): Exit | null {
    if (this.pendingIndex < 0) return null;
    if (this.pendingObject?.index !== this.pendingIndex) this.pendingObject = this.exits.byIndex(this.pendingIndex) ?? null;
    return this.pendingObject;
  }

  abstract readonly settings: MachineSettings;
  abstract readonly trace: TraceLog;
  /** The VM's one modelled clock (clock.ts): busy cycles plus the time vCPUs spent blocked (WFI, HLT). */
  abstract readonly clock: VirtualClock;
  abstract readonly memory: GuestMemory;

  /**
   * The storage caps as settings: `exitCap` (exits kept) and `traceCap` (trace events kept).
   * Returns false for other names (the machine's own settings).
   */
  /** Check every setting of `settings` (the constructor's), normalizing on/off words to booleans. */
  protected checkSettings(): void {
    const s = this.settings as Record<string, FieldValue>;
    for (const [k, v] of Object.entries(s)) if (v !== undefined) s[k] = checkSetting(this.arch, k, v);
  }

  protected setCap(name: string, value: FieldValue): boolean {
    if (name !== "exitCap" && name !== "traceCap") return false;
    const n = checkSetting(this.arch, name, value) as number;
    if (name === "exitCap") this.exits.setCap(n);
    else this.trace.setCap(n);
    return true;
  }

  /**
   * A trace event's time stamp, in cycles of the modelled clock: `clock.now()`, busy cycles plus
   * idle ones, so a kvm_exit of a vCPU that blocked in WFI/HLT is followed by its kvm_entry after
   * the blocked span, as a real host's trace shows it.
   */
  protected stamp(): number {
    return this.clock.now();
  }

  /** Record a trace event stamped with the current step and the modelled clock (stamp()). */
  protected emit(name: TP, fields: Record<string, FieldValue>): void {
    this.trace.emit(name, this.steps, this.stamp(), fields);
  }

  /**
   * emit() of one tracepoint, resolved once: hot handlers keep it (KVM's per-exit events), so
   * the call reaches that tracepoint's emitter with no lookup by name.
   */
  emitterFor(name: TP): (fields: Record<string, FieldValue>) => void {
    const e = this.trace.emitterOf(this.trace.kindId(name));
    return (fields) => e(this.steps, this.stamp(), fields);
  }

  /** emit() with a tracepoint resolved once by trace.kindId (the exit path's own events). */
  protected emitKind(kind: number, fields: Record<string, FieldValue>): void {
    this.trace.emitKind(kind, this.steps, this.stamp(), fields);
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
      if (this.halted || this.pendingIndex >= 0) break;
    }
    return this.steps - before;
  }
  /** KVM handles exit `index` (already taken off pendingExit) and re-enters the guest unless it stops. */
  protected abstract handlePending(index: number): HandleResult;

  /**
   * Called at the start of step, runUntilExit and run: the machine may have been changed from
   * outside (registers, traps, settings) since it last ran guest code.
   */
  protected beforeRun(): void {}

  step(): RunResult {
    this.beforeRun();
    if (this.halted) return { stop: "halted", steps: 0, message: this.halted.message };
    if (this.pendingIndex >= 0) return { stop: "exit", steps: 0, exit: this.pendingExit!, message: "an exit is pending: handle it first" };
    const before = this.steps;
    this.execOne();
    return this.result(before);
  }

  protected result(before: number, fallback: RunResult["stop"] = "limit", message?: string): RunResult {
    const steps = this.steps - before;
    if (this.halted) return { stop: "halted", steps, message: this.halted.message, exit: this.exits.at(-1) };
    if (this.pendingIndex >= 0) return { stop: "exit", steps, exit: this.pendingExit! };
    return { stop: fallback, steps, message };
  }

  runUntilExit(options: RunOptions = {}): RunResult {
    const max = options.maxSteps ?? this.settings.stepLimit;
    const before = this.steps;
    if (this.halted || this.pendingIndex >= 0) return this.step();
    this.beforeRun();
    const stop = this.runGuest(max, options);
    if (stop === "exit") return this.result(before);
    return this.result(before, stop, stop === "interrupted" ? "interrupted" : `step limit of ${max} instructions reached`);
  }

  /**
   * Guest instructions until an exit, a stop, the caller's condition, an interrupt or `max`
   * instructions, without building a result (the exit stays a row in the columns): "exit"
   * covers exits and stops.
   */
  private runGuest(max: number, options: RunOptions): "exit" | "until" | "interrupted" | "limit" {
    if (options.until) {
      // The caller's condition is checked after every instruction.
      for (let i = 0; i < max; i++) {
        this.execOne();
        if (this.halted || this.pendingIndex >= 0) return "exit";
        if (options.until()) return "until";
        if ((i & 4095) === 4095 && options.interrupted?.()) return "interrupted";
      }
      return "limit";
    }
    // Interrupts are looked at between chunks: within INTERRUPT_CHUNK instructions of a request.
    let left = max;
    while (left > 0) {
      const n = this.execMany(Math.min(left, INTERRUPT_CHUNK));
      if (this.halted || this.pendingIndex >= 0) return "exit";
      left -= Math.max(1, n);
      if (left > 0 && options.interrupted?.()) return "interrupted";
    }
    return "limit";
  }

  handle(): HandleResult {
    if (this.halted) throw new VmStoppedError(`the VM is stopped: ${this.halted.message}`);
    const index = this.pendingIndex;
    if (index < 0) return { action: "resume", message: "no exit is pending" };
    this.pendingIndex = -1;
    this.pendingObject = null;
    return this.handlePending(index);
  }

  run(options: RunOptions = {}): RunResult {
    this.beforeRun();
    const max = options.maxSteps ?? this.settings.stepLimit;
    const before = this.steps;
    // The last exit handled, by index: Exit objects are built only for the caller's condition and the result.
    let lastIndex = -1;
    const last = (): Exit | undefined => (lastIndex < 0 ? undefined : this.exits.byIndex(lastIndex));
    let budget = max;
    let handled = 0;
    for (;;) {
      if (this.halted) return { stop: "halted", steps: this.steps - before, message: this.halted.message, exit: last() };
      if (this.pendingIndex >= 0) {
        if (options.stopOnExit?.(this.pendingExit!)) return { stop: "exit", steps: this.steps - before, exit: this.pendingExit! };
        lastIndex = this.pendingIndex;
        this.handle();
        // Each handled exit counts against the budget: a guest that exits forever (e.g. a fault KVM
        // keeps re-injecting) stops at the limit like one that loops in guest mode.
        budget--;
        if (budget <= 0 && !this.halted) return { stop: "limit", steps: this.steps - before, exit: last(), message: `step limit of ${max} reached (instructions and exits)` };
        // A guest that exits more often than runGuest polls (e.g. a REP STOS faulting in a page at a
        // time) is interruptible too: the caller is asked every 16 handled exits.
        if ((++handled & 15) === 0 && !this.halted && options.interrupted?.()) {
          return { stop: "interrupted", steps: this.steps - before, exit: last(), message: "interrupted" };
        }
        continue;
      }
      if (budget <= 0) return { stop: "limit", steps: this.steps - before, exit: last(), message: `step limit of ${max} instructions reached` };
      const at = this.steps;
      const stop = this.runGuest(budget, options);
      budget -= Math.max(1, this.steps - at);
      if (stop === "until" || stop === "interrupted") {
        const r = this.result(at, stop, stop === "interrupted" ? "interrupted" : undefined);
        return { ...r, steps: this.steps - before, exit: r.exit ?? last() };
      }
      if (stop === "limit") return { stop: "limit", steps: this.steps - before, exit: last(), message: `step limit of ${max} instructions reached` };
    }
  }
}
