// The vCPUs of a VM, scheduled deterministically: machine-independent (both machines use it).
// The vCPUs of a real VM run in parallel on the host's CPUs; a model on one thread interleaves
// them instead, as QEMU's single-threaded TCG does: round robin, each vCPU runs a fixed quantum of
// guest instructions (or less, when it blocks or its exit leaves it waiting) before the next one
// runnable takes over. The interleaving is invisible to the guest's trace (no exit marks it), and
// it depends only on instruction counts, so reruns stay byte-identical. A vCPU is "running"
// (runnable), "blocked" (WFI/HLT: kvm_vcpu_block until an interrupt or its timer wakes it) or
// "off" (powered down: not yet started by PSCI CPU_ON / INIT-SIPI, or CPU_OFF).

import { ExitlabError } from "./errors.js";
import type { VirtualClock } from "./clock.js";

/** Most vCPUs a VM has here (`set vcpus N`: 1..MAX_VCPUS). */
export const MAX_VCPUS = 8;
/** Guest instructions a vCPU runs before the next one takes over (`set quantum N`). */
export const DEFAULT_QUANTUM = 10_000;
/**
 * Guest instructions the other vCPUs run, at most, while one waits in a flag-polling loop (x86
 * flag-poll.ts) before it looks at its flag again: the waiter sees another's store within this
 * many instructions, as a vCPU running in parallel would see it at once. Small against the
 * quantum, large against a scheduling switch (a few hundred host instructions).
 */
export const POLL_QUANTUM = 500;

export type VcpuRunState = "running" | "blocked" | "off";

/** What `show vcpus` lists of one vCPU. */
export interface VcpuSummary {
  id: number;
  state: VcpuRunState;
  pc: bigint;
  exits: number;
  /** Guest instructions it retired. */
  steps: number;
}

/**
 * The vCPUs a machine exposes to the lab: how many, which one `show regs`, `show exit` and `step`
 * address (`vcpu N`), their states, and `ipi` from the VMM.
 */
export interface VcpuControl {
  readonly count: number;
  /** The vCPU the lab addresses (default 0). */
  readonly selected: number;
  /** Select vCPU `n`; throws ExitlabError when there is no such vCPU. */
  select(n: number): void;
  list(): VcpuSummary[];
  /** Run `fn` with the scheduler held on the selected vCPU (`step`): the others wait. */
  pinned<T>(fn: () => T): T;
  /** The VMM sends SGI/IPI `intid` to vCPU `cpu` (arm64: an SGI in its redistributor); returns what happened. */
  ipi?(cpu: number, intid?: number): string;
}

/** An out-of-range vCPU number as an error with the hint every caller gives. */
export function vcpuRangeError(n: number, count: number): ExitlabError {
  return new ExitlabError(`no vCPU ${n}: this VM has ${count} vCPU${count === 1 ? "" : "s"} (0..${count - 1})`, count === 1 ? "boot with more: `set vcpus 2` before `vm boot`" : `vcpu 0..${count - 1}`);
}

/** What a machine's VcpuControl reads of it: the scheduler, the vCPU the lab selected, the VM's instructions. */
export interface VcpuOwner {
  readonly sched: VcpuScheduler;
  selected: number;
  readonly steps: number;
}

/** The architecture's part of a VcpuControl: its vCPUs, their pc, why one cannot step, its IPI. */
export interface VcpuArch {
  vcpus(): readonly { readonly id: number; readonly exits: number; readonly steps: number }[];
  pc(id: number): bigint;
  /** Why the selected vCPU, powered off or blocked, has nothing to step (the error's message). */
  notRunning(state: "off" | "blocked"): string;
  /** The VMM's IPI to `cpu` (already checked to exist), with the arch's number (SGI, vector). */
  ipi(cpu: number, n: number | undefined): string;
}

/** The vCPUs as the lab sees them (`vcpu N`, `show vcpus`, `step`, `ipi`), for machine `m`. */
export function vcpuControl(m: VcpuOwner, a: VcpuArch): VcpuControl {
  const check = (n: number): void => {
    if (!Number.isInteger(n) || n < 0 || n >= m.sched.count) throw vcpuRangeError(n, m.sched.count);
  };
  return {
    get count() {
      return m.sched.count;
    },
    get selected() {
      return m.selected;
    },
    select(n) {
      check(n);
      m.selected = n;
    },
    list() {
      return a.vcpus().map((v) => ({ id: v.id, state: m.sched.states[v.id]!, pc: a.pc(v.id), exits: v.exits, steps: m.sched.count === 1 ? m.steps : v.steps }));
    },
    pinned(fn) {
      if (m.sched.count === 1) return fn();
      const id = m.selected, st = m.sched.states[id]!;
      if (st !== "running") throw new ExitlabError(`vCPU ${id} is ${a.notRunning(st)}: there is nothing to step`, "`run` runs every vCPU; `vcpu N` selects another");
      m.sched.pin = id;
      try {
        return fn();
      } finally {
        m.sched.pin = null;
      }
    },
    ipi(cpu, n) {
      check(cpu);
      return a.ipi(cpu, n);
    },
  };
}

/**
 * Round-robin scheduling of `count` vCPUs by a quantum of guest instructions. Holds no vCPU state
 * but the run state: the machine loads the vCPU `pick()` names and charges what it ran.
 */
export class VcpuScheduler {
  readonly states: VcpuRunState[];
  /** The vCPU loaded now. */
  current = 0;
  /** Instructions left of the current vCPU's quantum. */
  left: number;
  /** When not null, only this vCPU runs (`step` on a selected vCPU). */
  pin: number | null = null;
  /** vCPUs that gave up their quantum in a flag-polling loop (pollWait) and have not run since. */
  readonly polling: boolean[];

  constructor(
    readonly count: number,
    public quantum = DEFAULT_QUANTUM,
  ) {
    if (!Number.isInteger(count) || count < 1 || count > MAX_VCPUS) throw new ExitlabError(`vcpus must be an integer from 1 to ${MAX_VCPUS}, not ${count}`);
    // vCPU 0 is the boot CPU; the others start powered off (KVM_ARM_VCPU_POWER_OFF, as QEMU's
    // mach-virt creates secondaries with PSCI; x86 APs wait for INIT-SIPI).
    this.states = Array.from({ length: count }, (_, i) => (i === 0 ? "running" : "off"));
    this.polling = Array.from({ length: count }, () => false);
    this.left = quantum;
  }

  /**
   * The vCPU to run next: the current one while it is runnable and has quantum left, else the
   * next runnable one after it in id order, with a fresh quantum; -1 when none is runnable (or
   * the pinned one is not).
   */
  /** Whether a vCPU other than the current one can run (a polling loop must not skip ahead then). */
  othersRunnable(): boolean {
    const st = this.states;
    for (let i = 0; i < st.length; i++) if (i !== this.current && st[i] === "running") return true;
    return false;
  }

  pick(): number {
    const pin = this.pin;
    if (pin !== null) {
      if (this.states[pin] !== "running") return -1;
      if (pin !== this.current) (this.current = pin), (this.left = this.quantum);
      if (this.left <= 0) this.left = this.quantum;
      return pin;
    }
    if (this.states[this.current] === "running" && this.left > 0) return this.current;
    for (let k = 1; k <= this.count; k++) {
      const i = (this.current + k) % this.count;
      if (this.states[i] === "running") {
        this.current = i;
        this.polling[i] = false;
        // While another vCPU waits for a store, this one runs a short quantum (POLL_QUANTUM).
        this.left = this.polling.includes(true) ? Math.min(this.quantum, POLL_QUANTUM) : this.quantum;
        return i;
      }
    }
    return -1;
  }

  /** The current vCPU waits in a flag-polling loop: its quantum ends, and the others run POLL_QUANTUM at a time until it runs again. */
  pollWait(): void {
    this.polling[this.current] = true;
    this.left = 0;
  }

  /** The current vCPU ran `n` instructions (or handled an exit: 0). */
  charge(n: number): void {
    this.left -= n;
  }

  set(i: number, state: VcpuRunState): void {
    this.states[i] = state;
    if (state !== "running") this.polling[i] = false;
    // A vCPU that stops running gives up the rest of its quantum.
    if (i === this.current && state !== "running") this.left = 0;
  }

  /** The vCPUs in `state`. */
  ids(state: VcpuRunState): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (this.states[i] === state) out.push(i);
    return out;
  }
}

/** What the scheduling loop reads and writes of a vCPU: when it blocked, how it resumes when next loaded. */
export interface SchedVcpu {
  /** Modelled cycles when it blocked (kvm_vcpu_block). */
  blockedAt: number;
  /** "wake": it slept and an event woke it (traced kvm_vcpu_wakeup); "enter": it enters the guest afresh; "": it runs on. */
  resume: "" | "wake" | "enter";
}

/** What the scheduling loop needs of a machine: its vCPUs and scheduler, and how to load and enter one. */
export interface SchedulingMachine<V extends SchedVcpu> {
  readonly vcpus: readonly V[];
  readonly sched: VcpuScheduler;
  readonly clock: VirtualClock;
  halted: { message: string } | null;
  /** Make vCPU `id` the loaded one. */
  loadVcpu(id: number): void;
  /** Guest entry of the loaded vCPU (kvm_entry / VM entry). */
  enterGuest(): void;
  /** kvm_vcpu_wakeup of the loaded vCPU after `ns` asleep. */
  traceWakeup(ns: number): void;
}

/** The architecture's steps in the scheduling loop (scheduleVcpus). */
export interface SchedulingSteps<M extends SchedulingMachine<SchedVcpu>> {
  /** Blocked vCPUs that an event can wake become runnable (state "running", resume "wake"). */
  wakeBlocked(m: M): void;
  /** The loaded vCPU `v` resumes from sleep: the architecture's work before its kvm_vcpu_wakeup is traced. */
  woke(m: M, v: M["vcpus"][number]): void;
  /**
   * No vCPU can run: advance modelled time to the next event that can wake one and return null,
   * or return why the VM stops (nothing can wake any vCPU).
   */
  idle(m: M): string | null;
}

/**
 * Load the vCPU that runs next (the scheduler's round robin by quantum) and enter it when it
 * resumes. When none can run, the architecture's `idle` moves modelled time to the next wake-up
 * (every vCPU sleeps) or says why the VM stops. Returns the vCPU, or -1 (`halted` set, or the
 * pinned vCPU cannot run). Source: Linux virt/kvm/kvm_main.c (kvm_vcpu_block, kvm_vcpu_wake_up).
 */
export function scheduleVcpus<M extends SchedulingMachine<SchedVcpu>>(m: M, steps: SchedulingSteps<M>): number {
  for (;;) {
    if (m.sched.ids("blocked").length) steps.wakeBlocked(m);
    const id = m.sched.pick();
    if (id >= 0) {
      m.loadVcpu(id);
      const v = m.vcpus[id]!;
      if (v.resume !== "") {
        const how = v.resume;
        v.resume = "";
        if (how === "wake") {
          steps.woke(m, v);
          m.traceWakeup(m.clock.nanos(m.clock.now() - v.blockedAt));
        }
        m.enterGuest();
      }
      return id;
    }
    if (m.sched.pin !== null) return -1;
    const stop = steps.idle(m);
    if (stop !== null) {
      m.halted = { message: stop };
      return -1;
    }
  }
}
