// The VM's timers outside the local APICs — the in-kernel PIT (pit.ts) and QEMU's RTC (rtc.ts) —
// as one source of deadlines for the vCPU's irqchip (kvm/irqchip.ts). A kernel timer (KVM's PIT
// hrtimer, armed on the vCPU's CPU) firing while the guest runs is a host interrupt there: an
// EXTERNAL_INTERRUPT exit, after which the timer's interrupt is raised. A VMM timer (QEMU's RTC,
// in its main loop on another CPU) does not stop the guest: its interrupt reaches the vCPU as any
// KVM_IRQ_LINE does (a kick when the PIC's INTR rises). A vCPU blocked in HLT sleeps until the
// first timer whose interrupt can wake it (kvm_vcpu_block, the modelled clock jumping to it).

/** One timer: its next deadline in modelled cycles (Infinity: none), what it does then, whether its interrupt could wake a vCPU now. */
export interface VmTimer {
  readonly name: string;
  readonly deadline: number;
  /** A host timer on the vCPU's CPU (its expiry is an EXTERNAL_INTERRUPT exit), not a VMM timer elsewhere. */
  readonly hostTimer: boolean;
  /** Run the expiries due by now (raising the timer's interrupt line). */
  expire(): void;
  /** Whether an expiry now would raise an interrupt a vCPU with RFLAGS.IF set could take. */
  canWake(): boolean;
}

export class VmTimers {
  constructor(readonly timers: readonly VmTimer[]) {}

  /** The earliest deadline, cycles (Infinity: none armed). */
  get deadline(): number {
    // Indexed loops, one read of each timer's deadline (a getter): the irqchip asks at every block boundary.
    let d = Infinity;
    const ts = this.timers;
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i]!.deadline;
      if (t < d) d = t;
    }
    return d;
  }

  /** The earliest deadline of a host timer (its expiry exits), cycles. */
  get hostDeadline(): number {
    let d = Infinity;
    const ts = this.timers;
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i]!;
      if (!t.hostTimer) continue;
      const td = t.deadline;
      if (td < d) d = td;
    }
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
