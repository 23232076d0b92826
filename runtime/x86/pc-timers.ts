// The VM's timers outside the local APICs — the in-kernel PIT (pit.ts) and QEMU's RTC (rtc.ts) —
// as one source of deadlines for the vCPU's irqchip (kvm/irqchip.ts): a timer's host hrtimer (or
// QEMU's timer) firing while the guest runs is an EXTERNAL_INTERRUPT exit, after which the timer's
// interrupt is raised; a vCPU blocked in HLT sleeps until the first timer whose interrupt can wake
// it (kvm_vcpu_block, the modelled clock jumping to its deadline).

/** One timer: its next deadline in modelled cycles (Infinity: none), what it does then, whether its interrupt could wake a vCPU now. */
export interface VmTimer {
  readonly name: string;
  readonly deadline: number;
  /** Run the expiries due by now (raising the timer's interrupt line). */
  expire(): void;
  /** Whether an expiry now would raise an interrupt a vCPU with RFLAGS.IF set could take. */
  canWake(): boolean;
}

export class VmTimers {
  constructor(readonly timers: readonly VmTimer[]) {}

  /** The earliest deadline, cycles (Infinity: none armed). */
  get deadline(): number {
    let d = Infinity;
    for (const t of this.timers) if (t.deadline < d) d = t.deadline;
    return d;
  }

  /** The earliest deadline of a timer whose interrupt can wake a vCPU (Infinity: none). */
  wakeDeadline(): number {
    let d = Infinity;
    for (const t of this.timers) if (t.deadline < d && t.canWake()) d = t.deadline;
    return d;
  }

  /** Every timer's expiries due by now; returns the names of those that expired. */
  expire(now: number): string[] {
    const out: string[] = [];
    for (const t of this.timers) {
      if (now < t.deadline) continue;
      t.expire();
      out.push(t.name);
    }
    return out;
  }
}
