// The i8254 programmable interval timer as KVM emulates it in the kernel (Linux
// arch/x86/kvm/i8254.c, KVM_CREATE_PIT2, which QEMU's pc machine uses with its in-kernel irqchip:
// hw/i386/kvm/i8254.c). Three counters at ports 0x40-0x42 and the control word at 0x43; counter 0
// drives IRQ 0. Facts, Intel 8254 datasheet (231164) and i8254.c:
// - The input clock is KVM_PIT_FREQ, 1193182 Hz; a count of 0 is 0x10000 (pit_load_count).
// - Control word (A1:A0 = 11): SC1:SC0 the counter (11: read-back), RW1:RW0 the access (00: counter
//   latch, 01 LSB, 10 MSB, 11 LSB then MSB), M2:M0 the mode (6 and 7 are 2 and 3), BCD.
// - Read-back (SC = 11): bit 5 clear latches the counts, bit 4 clear the status, of the counters
//   in bits 1-3. The status byte is OUT << 7 | RW << 4 | M << 1 | BCD (pit_latch_status).
// - Counter 0 runs on a host timer (create_pit_timer): modes 2 and 3 periodic, 0, 1 and 4
//   one-shot, expiring count × 1e9 / KVM_PIT_FREQ ns after the count is written, a periodic one
//   no faster than min_timer_period_us (200 µs); other modes have no timer. Its count is read
//   from the timer: the time elapsed in the current period (__kpit_elapsed).
// - Each expiry pulses GSI 0 (pit_do_work: kvm_set_irq high then low). KVM reinjects lost ticks
//   (reinject, QEMU's default lost_tick_policy "delay"): an expiry adds a pending tick, and the
//   next pulse waits until the guest has ended the last (kvm_pit_ack_irq, the PIC's EOI of IRQ 0).
// - After reset (kvm_pit_reset) every counter has mode 0xff (none), count 0x10000, counter 2's
//   gate low, the others' high.
// Not modelled: the gate of counter 2 (QEMU's speaker port 0x61, in user space: without it the
// gate stays as reset leaves it), BCD counting (i8254.c counts in binary whatever BCD says, and so
// does this model), the ack through the I/O APIC (the PIT's IRQ routed as GSI 2 there).

import type { PioDevice } from "../devices/pio.js";

/** The PIT's ports (KVM_PIT_BASE_ADDRESS, 4 of them). */
export const PIT_BASE_PORT = 0x40;
/** The counters' input clock in Hz (i8254.h KVM_PIT_FREQ). */
export const KVM_PIT_FREQ = 1_193_182;
/** The shortest period KVM lets a periodic counter 0 have, ns (i8254.c min_timer_period_us, 200 µs). */
export const MIN_TIMER_PERIOD_NS = 200_000;
/** i8254.c's RW_STATE_* values: what the next data access reads or writes. */
const RW = { LSB: 1, MSB: 2, WORD0: 3, WORD1: 4 } as const;

/** One counter (struct kvm_kpit_channel_state). */
export interface PitChannel {
  /** The count written (1-0x10000). */
  count: number;
  latchedCount: number;
  /** 0, or the RW state of the latched count still to be read. */
  countLatched: number;
  statusLatched: boolean;
  status: number;
  readState: number;
  writeState: number;
  writeLatch: number;
  /** RW1:RW0 of the last control word. */
  rwMode: number;
  /** 0-5, 0xff after reset (no mode). */
  mode: number;
  bcd: number;
  gate: boolean;
  /** Modelled cycles (ns of the 1 GHz clock) when the count was written (counters 1 and 2). */
  loadTime: number;
}

/** What the PIT needs of the VM: modelled time, and the GSI 0 pulse (kvm_set_irq with the PIT's IRQ source). */
export interface PitHost {
  /** Modelled time in cycles of the 1 GHz clock (ns). */
  now(): number;
  /** kvm_set_irq(GSI 0, 1) then (GSI 0, 0). */
  pulseIrq0(): void;
}

/** KVM's in-kernel PIT (struct kvm_pit): the counters, counter 0's host timer and its reinjection. */
export class KvmPit {
  readonly channels: PitChannel[];
  /** Counter 0's timer: the next expiry in cycles (Infinity: not armed). */
  deadline = Infinity;
  /** The timer's expiry time, kept after a one-shot fired or the timer was cancelled (hrtimer_get_remaining reads it). */
  private expires = 0;
  /** The timer's period in ns (ps->period; the interval of a one-shot too). */
  period = 0;
  periodic = false;
  /** Reinjection (KVM_REINJECT_CONTROL; QEMU's default). */
  reinject = true;
  /** Expiries not yet acknowledged by the guest's EOI (ps->pending). */
  pending = 0;
  /** The last pulse was acknowledged (ps->irq_ack): a new one may go. */
  irqAck = true;

  constructor(private readonly host: PitHost) {
    this.channels = [];
    this.reset();
  }

  /** kvm_pit_reset: every counter mode 0xff with count 0 (0x10000), counter 2's gate low; no timer, no pending tick. */
  reset(): void {
    this.channels.splice(0, 3, ...[0, 1, 2].map((i) => ({
      count: 0x10000, latchedCount: 0, countLatched: 0, statusLatched: false, status: 0, readState: 0, writeState: 0,
      writeLatch: 0, rwMode: 0, mode: 0xff, bcd: 0, gate: i !== 2, loadTime: 0,
    })));
    for (let i = 0; i < 3; i++) this.loadCount(i, 0);
    this.pending = 0;
    this.irqAck = true;
  }

  /** kpit_elapsed: ns counter `ch` has counted (counter 0: in its timer's current period). */
  private elapsed(ch: number): number {
    const now = this.host.now();
    if (ch !== 0) return now - this.channels[ch]!.loadTime;
    if (!this.period) return 0;
    return this.period - (this.expires - now);
  }

  /** Input-clock ticks counted (mul_u64_u32_div(elapsed, KVM_PIT_FREQ, NSEC_PER_SEC)). */
  private ticks(ch: number): number {
    const t = Math.max(0, this.elapsed(ch));
    return Number((BigInt(Math.floor(t)) * BigInt(KVM_PIT_FREQ)) / 1_000_000_000n);
  }

  /** pit_get_count: the counter's value now. */
  count(ch: number): number {
    const c = this.channels[ch]!;
    const d = this.ticks(ch);
    switch (c.mode) {
      case 0: case 1: case 4: case 5:
        return (c.count - d) & 0xffff;
      case 3:
        return c.count - ((2 * d) % c.count);
      default:
        return c.count - (d % c.count);
    }
  }

  /** pit_get_out: the counter's OUT pin now. */
  out(ch: number): number {
    const c = this.channels[ch]!;
    const d = this.ticks(ch);
    switch (c.mode) {
      case 1: return d < c.count ? 1 : 0;
      case 2: return d % c.count === 0 && d !== 0 ? 1 : 0;
      case 3: return d % c.count < (c.count + 1) >> 1 ? 1 : 0;
      case 4: case 5: return d === c.count ? 1 : 0;
      default: return d >= c.count ? 1 : 0;
    }
  }

  /** pit_load_count: a count written (0 is 0x10000); counter 0 (re)arms its timer by its mode. */
  private loadCount(ch: number, val: number): void {
    const c = this.channels[ch]!;
    c.count = val === 0 ? 0x10000 : val;
    if (ch !== 0) {
      c.loadTime = this.host.now();
      return;
    }
    if (c.mode === 0 || c.mode === 1 || c.mode === 4) this.startTimer(c.count, false);
    else if (c.mode === 2 || c.mode === 3) this.startTimer(c.count, true);
    else this.deadline = Infinity; // destroy_pit_timer
  }

  /** create_pit_timer: expiry count × 1e9 / KVM_PIT_FREQ ns from now; pending ticks dropped (kvm_pit_reset_reinject). */
  private startTimer(count: number, periodic: boolean): void {
    const interval = Math.floor((count * 1e9) / KVM_PIT_FREQ);
    this.period = periodic ? Math.max(interval, MIN_TIMER_PERIOD_NS) : interval;
    this.periodic = periodic;
    this.pending = 0;
    this.irqAck = true;
    this.deadline = this.expires = this.host.now() + interval;
  }

  /**
   * The timer's expiries up to now (pit_timer_fn, each adding a pending tick with reinjection,
   * a periodic one rearming a period later), then pit_do_work: GSI 0 pulsed unless the last
   * pulse is still unacknowledged. Returns the number of expiries.
   */
  expire(): number {
    const now = this.host.now();
    if (now < this.deadline) return 0;
    let n = 1;
    if (this.periodic) {
      n = Math.floor((now - this.deadline) / this.period) + 1;
      this.deadline = this.expires = this.deadline + n * this.period;
    } else this.deadline = Infinity;
    if (this.reinject) this.pending += n;
    this.doWork();
    return n;
  }

  /** pit_do_work: pulse GSI 0, with reinjection only once the last pulse was acknowledged. */
  private doWork(): void {
    if (this.reinject) {
      if (!this.irqAck) return;
      this.irqAck = false;
    }
    this.host.pulseIrq0();
  }

  /** kvm_pit_ack_irq: the guest ended IRQ 0; a tick still pending is injected now. */
  ack(): void {
    if (!this.reinject) return;
    this.irqAck = true;
    if (this.pending > 0 && --this.pending > 0) this.doWork();
  }

  /** Whether an expiry now would pulse GSI 0 (no unacknowledged pulse holds it back). */
  get canPulse(): boolean {
    return !this.reinject || this.irqAck;
  }

  /** pit_ioport_write: a control word (offset 3) or a count byte (0-2). */
  write(offset: number, val: number): void {
    val &= 0xff;
    if (offset === 3) {
      const sel = val >> 6;
      if (sel === 3) {
        for (let ch = 0; ch < 3; ch++) {
          if (!(val & (2 << ch))) continue;
          if (!(val & 0x20)) this.latchCount(ch);
          if (!(val & 0x10)) this.latchStatus(ch);
        }
        return;
      }
      const c = this.channels[sel]!;
      const access = (val >> 4) & 3;
      if (access === 0) return this.latchCount(sel);
      c.rwMode = c.readState = c.writeState = access;
      c.mode = (val >> 1) & 7;
      if (c.mode > 5) c.mode -= 4;
      c.bcd = val & 1;
      return;
    }
    const c = this.channels[offset]!;
    switch (c.writeState) {
      case RW.MSB:
        return this.loadCount(offset, val << 8);
      case RW.WORD0:
        c.writeLatch = val;
        c.writeState = RW.WORD1;
        return;
      case RW.WORD1:
        this.loadCount(offset, c.writeLatch | (val << 8));
        c.writeState = RW.WORD0;
        return;
      default:
        return this.loadCount(offset, val);
    }
  }

  /** pit_ioport_read: the latched status, else the latched count, else the count now, by the read state. */
  read(offset: number): number {
    if (offset === 3) return 0; // the control word is write-only
    const c = this.channels[offset]!;
    if (c.statusLatched) {
      c.statusLatched = false;
      return c.status;
    }
    if (c.countLatched) {
      const st = c.countLatched;
      c.countLatched = st === RW.WORD0 ? RW.MSB : 0;
      return st === RW.MSB ? (c.latchedCount >> 8) & 0xff : c.latchedCount & 0xff;
    }
    const count = this.count(offset);
    switch (c.readState) {
      case RW.MSB:
        return (count >> 8) & 0xff;
      case RW.WORD0:
        c.readState = RW.WORD1;
        return count & 0xff;
      case RW.WORD1:
        c.readState = RW.WORD0;
        return (count >> 8) & 0xff;
      default:
        return count & 0xff;
    }
  }

  /** pit_latch_count: the count now held for reading, unless one is held already. */
  private latchCount(ch: number): void {
    const c = this.channels[ch]!;
    if (c.countLatched) return;
    c.latchedCount = this.count(ch);
    c.countLatched = c.rwMode;
  }

  /** pit_latch_status. */
  private latchStatus(ch: number): void {
    const c = this.channels[ch]!;
    if (c.statusLatched) return;
    c.status = (this.out(ch) << 7) | (c.rwMode << 4) | (c.mode << 1) | c.bcd;
    c.statusLatched = true;
  }

  /** The port device (0x40-0x43), in the kernel: no KVM_EXIT_IO. Byte accesses; wider ones use their low byte. */
  device(): PioDevice & { inKernel: true } {
    return {
      name: "i8254 PIT (in-kernel)",
      inKernel: true,
      read: (offset) => this.read(offset),
      write: (offset, _size, value) => this.write(offset, value),
    };
  }
}
