// Modelled time, one clock per VM, shared by both machines: guest instructions and modelled exit
// cycles make it advance (the machine's `busy` count), a blocked vCPU (WFI, HLT) lets it jump to
// the next deadline (`idle`). Counters (CNTVCT/CNTPCT, the TSC), timers and trace timestamps all
// derive from it, so a rerun is byte-identical. Nothing here reads a wall clock.
//
// Timers are deadlines in cycles, kept by name. A machine runs guest code in chunks no longer than
// the cycles to the next deadline (`cyclesToNext`), so a timer fires at the same instruction
// boundary on every run, and interrupts are looked at between chunks and blocks, never per
// instruction.

/** The modelled core's clock: 1 GHz, one cycle per guest instruction as the cost models count. */
export const MODELLED_CPU_HZ = 1_000_000_000;

interface Deadline {
  name: string;
  at: number;
}

export class VirtualClock {
  /** Cycles that passed with the vCPU blocked (WFI/HLT) or in skipped polling iterations: time without counted instructions or exit costs. */
  idle = 0;
  /** Of `idle`, the cycles of counter-polling iterations skipped (the guest spun, see `skip`). */
  skipped = 0;
  private readonly deadlines: Deadline[] = [];
  /** The earliest deadline in cycles (Infinity when none): read on every chunk, so kept, not computed. */
  next = Infinity;

  /**
   * @param machine whose `busyCycles()` counts the cycles of guest work so far (instructions
   *   retired × their cost + exit costs); the clock adds `idle` to it. (A method of the machine,
   *   not a closure per machine: the trace stamps every event with now(), and a call site that
   *   meets a new closure with every VM is deoptimised with every VM.)
   * @param hz modelled core frequency in Hz (cycles per second).
   */
  constructor(
    private readonly machine: { busyCycles(): number },
    readonly hz = MODELLED_CPU_HZ,
  ) {}

  /** Modelled time now, in cycles. */
  now(): number {
    return this.machine.busyCycles() + this.idle;
  }

  /** Modelled time in nanoseconds (trace timestamps, kvm_vcpu_wakeup). */
  nanos(cycles = this.now()): number {
    return Math.floor((cycles * 1e9) / this.hz);
  }

  /**
   * A counter running at `freq` Hz from time 0 (the system counter, CNTFRQ_EL0; the TSC): its
   * value at `cycles` (default now), floor(cycles × freq / hz), exact for any 64-bit count.
   */
  ticks(freq: number, cycles = this.now()): bigint {
    if (this.hz % freq === 0) return BigInt(Math.floor(cycles / (this.hz / freq)));
    return (BigInt(Math.floor(cycles)) * BigInt(freq)) / BigInt(this.hz);
  }

  /** The first cycle at which a `freq` Hz counter reads at least `tick` (a timer's compare value). */
  cycleOfTick(tick: bigint, freq: number): number {
    if (tick <= 0n) return 0;
    if (this.hz % freq === 0) return Number(tick) * (this.hz / freq);
    const h = BigInt(this.hz), f = BigInt(freq);
    return Number((tick * h + f - 1n) / f);
  }

  /** Set (or with `at` null, clear) the deadline `name`, in cycles. */
  schedule(name: string, at: number | null): void {
    const i = this.deadlines.findIndex((d) => d.name === name);
    if (at === null) {
      if (i >= 0) this.deadlines.splice(i, 1);
    } else if (i >= 0) this.deadlines[i]!.at = at;
    else this.deadlines.push({ name, at });
    let next = Infinity;
    for (const d of this.deadlines) if (d.at < next) next = d.at;
    this.next = next;
  }

  /** The deadline `name`, or null. */
  deadline(name: string): number | null {
    return this.deadlines.find((d) => d.name === name)?.at ?? null;
  }

  /** Cycles from now to the next deadline (≤ 0: due; Infinity: none). */
  cyclesToNext(): number {
    return this.next - this.now();
  }

  /** The names of the deadlines due now, earliest first (ties by name: deterministic). */
  due(): string[] {
    const now = this.now();
    return this.deadlines.filter((d) => d.at <= now).sort((a, b) => a.at - b.at || (a.name < b.name ? -1 : 1)).map((d) => d.name);
  }

  /** Guest instructions whose outcome is known ran without being executed (a polling loop): their cycles pass. */
  skip(cycles: number): void {
    this.idle += cycles;
    this.skipped += cycles;
  }

  /**
   * A blocked vCPU sleeps until the next deadline: idle time jumps there. Returns the cycles slept,
   * or -1 when nothing is scheduled (nothing can wake it).
   */
  sleepToNext(): number {
    if (this.next === Infinity) return -1;
    const slept = Math.max(0, this.next - this.now());
    this.idle += slept;
    return slept;
  }
}
