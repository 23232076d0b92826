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
/** Exits execMany handles inline before it returns, so run()'s caller is asked about interrupts as often as run() asks. */
const INLINE_EXITS_PER_CHUNK = 16;

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
   * A tracepoint's kind in this VM's trace (trace.kindId), for emitKind: hot handlers (KVM's
   * per-exit events) resolve it once and emit with no lookup by name.
   */
  kindOf(name: TP): number {
    return this.trace.kindId(name);
  }

  /**
   * emit() of a tracepoint resolved once by kindOf. KVM's handlers reach it through their
   * context's `tracer` (the machine itself: one method for every VM, where a closure per VM would
   * send each new VM's first exits through deoptimised code).
   */
  emitKind(kind: number, fields: Record<string, FieldValue>): void {
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

  // ---- Exits handled inside execMany (KVM's vcpu_run loop) ----
  //
  // Under run() with nothing to look at an exit before KVM handles it (no stopOnExit, no `until`),
  // a machine whose execMany supports it (canInline: x86's compiled path, where it saves about a
  // tenth of an exit's time; arm64's engine returns at every exit anyway and measured no gain)
  // handles exits itself and goes on with the guest, as KVM handles in-kernel exits without
  // returning to user space. The budget is charged exactly as run() charges a handled exit — the
  // instructions since the last one (at least one) plus one for the exit — so a run stops at the
  // same instruction either way; within one chunk of the limit, exits go back to run().

  /** Whether run() may let execMany handle exits (runInline). */
  protected inlineExits = false;
  /** Budget units charged by inline exits beyond the instructions (runInline's accounting). */
  private inlineExtra = 0;
  /** run()'s budget and step count when runInline began, and the step count after the last inline exit. */
  private inlineBudget = 0;
  private inlineAt = 0;
  private segStart = 0;
  /** Exits handled inline in the current execMany chunk, and the last one's index. */
  private inlineInChunk = 0;
  private inlineLast = -1;

  /** Whether execMany handles exits inline (the machine's override: its fast paths, one vCPU). */
  protected canInline(): boolean {
    return false;
  }

  /**
   * For an execMany running with inlineExits: handles the pending exit as run() would and says
   * whether the guest goes on; false: execMany returns. Within a chunk of the budget's end the exit
   * is not handled (it stays pending for run()); after INLINE_EXITS_PER_CHUNK exits in one chunk
   * (run()'s caller is then asked about interrupts), or when handling stopped the VM or left
   * another exit pending, it is.
   */
  protected takeInline(): boolean {
    const seg = this.steps - this.segStart;
    const extra = seg === 0 ? 2 : 1;
    if (this.inlineBudget - (this.steps - this.inlineAt) - this.inlineExtra - extra <= INTERRUPT_CHUNK) return false;
    const index = this.pendingIndex;
    this.pendingIndex = -1;
    this.pendingObject = null;
    this.inlineLast = index;
    this.inlineInChunk++;
    const before = this.steps;
    this.handlePending(index);
    // Instructions KVM retires while handling are not charged (run() counts from after handle()).
    this.inlineExtra += extra - (this.steps - before);
    this.segStart = this.steps;
    return this.halted === null && this.pendingIndex < 0 && this.inlineInChunk < INLINE_EXITS_PER_CHUNK;
  }

  /**
   * runGuest for run() with exits handled in execMany: the same stops, the budget charged as
   * run() charges (see takeInline). Returns the stop and the units charged, the last segment's
   * at-least-one included.
   */
  private runInline(budget: number, options: RunOptions): { stop: "exit" | "interrupted" | "limit"; used: number; last: number } {
    const at = this.steps;
    this.inlineBudget = budget;
    this.inlineAt = this.segStart = at;
    this.inlineExtra = 0;
    this.inlineLast = -1;
    this.inlineExits = true;
    let stop: "exit" | "interrupted" | "limit" = "limit";
    try {
      for (;;) {
        const left = budget - (this.steps - at) - this.inlineExtra;
        if (left <= 0) break;
        const s0 = this.steps;
        this.inlineInChunk = 0;
        this.execMany(Math.min(left, INTERRUPT_CHUNK));
        if (this.halted || this.pendingIndex >= 0) {
          stop = "exit";
          break;
        }
        // A chunk that retired nothing and handled nothing still costs one unit (runGuest's rule).
        if (this.steps === s0 && this.inlineInChunk === 0) this.inlineExtra++;
        if (options.interrupted?.()) {
          stop = "interrupted";
          break;
        }
      }
    } finally {
      this.inlineExits = false;
    }
    const used = this.steps - at + this.inlineExtra + (this.steps === this.segStart ? 1 : 0);
    return { stop, used, last: this.inlineLast };
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
    const inline = options.stopOnExit === undefined && options.until === undefined;
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
      let stop: "exit" | "until" | "interrupted" | "limit";
      if (inline && this.canInline()) {
        const r = this.runInline(budget, options);
        stop = r.stop;
        budget -= r.used;
        if (r.last >= 0) lastIndex = r.last;
      } else {
        stop = this.runGuest(budget, options);
        budget -= Math.max(1, this.steps - at);
      }
      if (stop === "until" || stop === "interrupted") {
        const r = this.result(at, stop, stop === "interrupted" ? "interrupted" : undefined);
        return { ...r, steps: this.steps - before, exit: r.exit ?? last() };
      }
      if (stop === "limit") return { stop: "limit", steps: this.steps - before, exit: last(), message: `step limit of ${max} instructions reached` };
    }
  }
}
