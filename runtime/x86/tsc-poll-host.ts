// The x86 machine as tsc-poll.ts sees it at an RDTSC of its loaded vCPU: the code around it, the
// guest TSC, and how far modelled time may jump — to the loaded vCPU's next event (its APIC
// timer, an interrupt or window it waits for: KvmIrqChip.nextEvent), a sleeping vCPU's APIC timer
// (it would wake and run: smp.ts wakeBlocked) or the clock's next deadline, whichever is first.

import type { VirtualClock } from "../core/clock.js";
import type { VcpuScheduler } from "../core/vcpus.js";
import type { TscPollHost } from "./tsc-poll.js";
import type { X86Vcpu } from "./vcpu-state.js";

/** What of the machine the host reads. */
export interface TscPollMachine {
  readonly clock: VirtualClock;
  readonly sched: VcpuScheduler;
  readonly vcpus: readonly X86Vcpu[];
}

/**
 * tsc-poll.ts's view of machine `m` at an RDTSC of its vCPU `v` (made once per vCPU: every field
 * reads the vCPU's state when asked).
 */
export function tscPollHost(m: TscPollMachine, v: X86Vcpu): TscPollHost {
  const cpu = v.cpu;
  const s = cpu.state;
  return {
    fetch: (o) => cpu.fetchByte(o),
    get mode() {
      return s.mode;
    },
    // rip's low 48 bits (the sign-extended Number of a canonical rip, made unsigned).
    get rip() {
      return s.pc >= 0 ? s.pc : s.pc + 2 ** 48;
    },
    tsc: () => cpu.rdtscHost(),
    reg: (n) => s.gpr[n]!,
    room() {
      const now = m.clock.now();
      let until = Math.min(v.irq.nextEvent, m.clock.cyclesToNext() + now);
      for (const id of m.sched.ids("blocked")) until = Math.min(until, m.vcpus[id]!.irq.lapic.timerDeadline);
      return until - now;
    },
    othersRunnable: () => m.sched.count > 1 && m.sched.othersRunnable(),
    skip: (cycles) => m.clock.skip(cycles),
  };
}
