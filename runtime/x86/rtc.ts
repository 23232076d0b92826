// The MC146818 real-time clock and CMOS of QEMU's pc machine (hw/rtc/mc146818rtc.c), a device in
// user space: every access to its index port 0x70 and data port 0x71 is a KVM_EXIT_IO. Facts from
// the Motorola MC146818A datasheet and mc146818rtc.c:
// - Index port: bits 6:0 select one of 128 CMOS bytes (bit 7 is the NMI mask, not kept). Bytes 0-9
//   are the time: seconds, seconds alarm, minutes, minutes alarm, hours, hours alarm, day of week
//   (1 = Sunday), day of month, month, year; 0x32 the century (QEMU's RTC_CENTURY, as the FADT says).
// - Register A (0x0a): UIP (bit 7) is set during the last 244 µs of each second, before the update
//   (UIP_HOLD_LENGTH = 8 / 32768 s); the divider and rate bits as written (reset 0x26).
// - Register B (0x0b): SET (7), PIE (6), AIE (5), UIE (4), SQWE (3), DM (2: binary, else BCD),
//   24/12 (1: 24-hour), DSE (0). Reset 0x02, as SeaBIOS leaves it (src/clock.c init_rtc).
// - Register C (0x0c): IRQF (7), PF (6), AF (5), UF (4); reading it clears it and lowers IRQ 8.
// - Register D (0x0d): VRT (7), always set.
// - Each second the time advances; UF is set, and AF when the alarm bytes match the time (an alarm
//   byte with its two top bits set, 0xc0-0xff, matches anything). A flag whose enable is set in B
//   sets IRQF and raises IRQ 8 (a level held until C is read); AF with AIE also wakes a suspended
//   machine (qemu_system_wakeup_request(QEMU_WAKEUP_REASON_RTC)).
// Time is modelled time: the clock starts at RTC_EPOCH (a fixed date, so runs are deterministic)
// and advances one second per 1e9 cycles of the 1 GHz clock. Not modelled: the periodic interrupt
// (PIE, PF), the square wave, daylight saving, the SET bit stopping the clock, and the CMOS bytes
// QEMU fills beyond the clock (memory sizes, boot order): they read 0.

import type { PioDevice } from "../devices/pio.js";

/** The RTC's ports (QEMU RTC_ISA_BASE, 2 of them). */
export const RTC_PORT = 0x70;
/** The RTC's ISA IRQ (QEMU RTC_ISA_IRQ). */
export const RTC_IRQ = 8;
/** Where the modelled clock starts: 2026-01-01 00:00:00 UTC, a Thursday (seconds since 1970). */
export const RTC_EPOCH = Date.UTC(2026, 0, 1) / 1000;
/** UIP's length before each update, ns (mc146818rtc.c UIP_HOLD_LENGTH: 8 × 1e9 / 32768). */
export const UIP_HOLD_NS = Math.floor((8 * 1e9) / 32768);
const NS_PER_S = 1_000_000_000;

/** CMOS byte offsets (mc146818rtc.h RTC_*). */
export const RTC_REG = {
  SECONDS: 0x00, SECONDS_ALARM: 0x01, MINUTES: 0x02, MINUTES_ALARM: 0x03, HOURS: 0x04, HOURS_ALARM: 0x05,
  DAY_OF_WEEK: 0x06, DAY_OF_MONTH: 0x07, MONTH: 0x08, YEAR: 0x09, A: 0x0a, B: 0x0b, C: 0x0c, D: 0x0d, CENTURY: 0x32,
} as const;
/** Register bits (mc146818rtc_regs.h). */
export const REG_A_UIP = 0x80;
export const REG_B = { SET: 0x80, PIE: 0x40, AIE: 0x20, UIE: 0x10, SQWE: 0x08, DM: 0x04, H24: 0x02, DSE: 0x01 } as const;
export const REG_C = { IRQF: 0x80, PF: 0x40, AF: 0x20, UF: 0x10 } as const;

/** What the RTC needs of the VM: modelled time (ns), its IRQ line, the wake-up of a suspended machine. */
export interface RtcHost {
  now(): number;
  setIrq8(level: boolean): void;
  /** The alarm fired with AIE set (QEMU_WAKEUP_REASON_RTC). */
  wakeup?(): void;
}

export class Mc146818Rtc implements PioDevice {
  readonly name = "MC146818 RTC (QEMU)";
  readonly cmos = new Uint8Array(128);
  private index = 0;
  /** Seconds since 1970 the clock reads at modelled time 0 (moved by writes to the time bytes). */
  private base = RTC_EPOCH;
  /** The last whole second whose update has run (modelled seconds since time 0). */
  private updated = 0;

  constructor(private readonly host: RtcHost) {
    this.cmos[RTC_REG.A] = 0x26;
    this.cmos[RTC_REG.B] = REG_B.H24;
    this.cmos[RTC_REG.D] = 0x80;
  }

  /** The clock's time now, whole seconds since 1970. */
  seconds(at = this.host.now()): number {
    return this.base + Math.floor(at / NS_PER_S);
  }

  /** A byte in the format register B chooses: binary (DM) or BCD. */
  private enc(v: number): number {
    return this.cmos[RTC_REG.B]! & REG_B.DM ? v : ((Math.floor(v / 10) % 10) << 4) | v % 10;
  }
  private dec(v: number): number {
    return this.cmos[RTC_REG.B]! & REG_B.DM ? v : (v >> 4) * 10 + (v & 0xf);
  }

  /** The hours byte: 24-hour, or 12-hour with bit 7 for PM (register B bit 1 clear). */
  private hours(h: number): number {
    if (this.cmos[RTC_REG.B]! & REG_B.H24) return this.enc(h);
    return this.enc(h % 12 || 12) | (h >= 12 ? 0x80 : 0);
  }

  /** The time bytes 0-9 and the century for `secs` since 1970. */
  private timeBytes(secs: number): Map<number, number> {
    const d = new Date(secs * 1000);
    return new Map([
      [RTC_REG.SECONDS, this.enc(d.getUTCSeconds())], [RTC_REG.MINUTES, this.enc(d.getUTCMinutes())], [RTC_REG.HOURS, this.hours(d.getUTCHours())],
      [RTC_REG.DAY_OF_WEEK, this.enc(d.getUTCDay() + 1)], [RTC_REG.DAY_OF_MONTH, this.enc(d.getUTCDate())], [RTC_REG.MONTH, this.enc(d.getUTCMonth() + 1)],
      [RTC_REG.YEAR, this.enc(d.getUTCFullYear() % 100)], [RTC_REG.CENTURY, this.enc(Math.floor(d.getUTCFullYear() / 100))],
    ]);
  }

  /** UIP: the last UIP_HOLD_NS of a second (update_in_progress). */
  updateInProgress(at = this.host.now()): boolean {
    return at % NS_PER_S >= NS_PER_S - UIP_HOLD_NS;
  }

  /** Whether the alarm bytes match `secs` (check_alarm: a byte of 0xc0 or above matches anything). */
  private alarmMatches(secs: number): boolean {
    const t = this.timeBytes(secs);
    const hit = (alarm: number, now: number) => (alarm & 0xc0) === 0xc0 || alarm === now;
    return hit(this.cmos[RTC_REG.SECONDS_ALARM]!, t.get(RTC_REG.SECONDS)!) && hit(this.cmos[RTC_REG.MINUTES_ALARM]!, t.get(RTC_REG.MINUTES)!) && hit(this.cmos[RTC_REG.HOURS_ALARM]!, t.get(RTC_REG.HOURS)!);
  }

  /** The next update whose flags would raise IRQ 8 or wake the machine (AIE or UIE set), cycles; Infinity when none. */
  get deadline(): number {
    const b = this.cmos[RTC_REG.B]!;
    if (!(b & (REG_B.AIE | REG_B.UIE))) return Infinity;
    return (this.updated + 1) * NS_PER_S;
  }

  /**
   * The updates due by now (rtc_update_timer): UF each second, AF when the alarm matches; a flag
   * enabled in B sets IRQF and raises IRQ 8; AF with AIE wakes a suspended machine. Returns
   * whether any update raised the line.
   */
  expire(): boolean {
    const nowS = Math.floor(this.host.now() / NS_PER_S);
    let raised = false;
    // Only the last update before now can matter for UF; the alarm is looked for in each second
    // up to a day back (it repeats at most daily).
    const from = Math.max(this.updated + 1, nowS - 86_400);
    for (let s = from; s <= nowS; s++) {
      let irqs = REG_C.UF;
      if (this.alarmMatches(this.base + s)) {
        irqs |= REG_C.AF;
        if (this.cmos[RTC_REG.B]! & REG_B.AIE) this.host.wakeup?.();
      }
      const fresh = irqs & ~this.cmos[RTC_REG.C]!;
      this.cmos[RTC_REG.C]! |= irqs;
      if (fresh & this.cmos[RTC_REG.B]!) {
        this.cmos[RTC_REG.C]! |= REG_C.IRQF;
        this.host.setIrq8(true);
        raised = true;
      }
    }
    this.updated = Math.max(this.updated, nowS);
    return raised;
  }

  /** The seconds until the alarm next matches after `secs` (at most a day), or Infinity when it cannot. */
  nextAlarm(afterNs: number): number {
    const start = Math.floor(afterNs / NS_PER_S) + 1;
    for (let s = start; s <= start + 86_400; s++) if (this.alarmMatches(this.base + s)) return s * NS_PER_S;
    return Infinity;
  }

  /** cmos_ioport_read: the index port reads 0xff; data: the selected byte (the time now, UIP, C cleared on read). */
  read(offset: number): number {
    if (offset === 0) return 0xff;
    this.expire();
    const i = this.index;
    const time = this.timeBytes(this.seconds()).get(i);
    if (time !== undefined) return time;
    if (i === RTC_REG.A) return (this.cmos[i]! & ~REG_A_UIP) | (this.updateInProgress() ? REG_A_UIP : 0);
    if (i === RTC_REG.C) {
      const v = this.cmos[i]!;
      this.cmos[i] = 0;
      this.host.setIrq8(false);
      return v;
    }
    return this.cmos[i]!;
  }

  /** cmos_ioport_write: the index (NMI bit dropped), or the selected byte; A keeps UIP, C and D are read-only; a time byte sets the clock. */
  write(offset: number, _size: number, value: number): void {
    value &= 0xff;
    if (offset === 0) {
      this.index = value & 0x7f;
      return;
    }
    const i = this.index;
    if (i === RTC_REG.C || i === RTC_REG.D) return;
    if (i === RTC_REG.A) {
      this.cmos[i] = value & ~REG_A_UIP;
      return;
    }
    if (this.timeBytes(0).has(i) && i !== RTC_REG.DAY_OF_WEEK) return this.setTimeByte(i, value);
    this.cmos[i] = value;
  }

  /** A write to a time byte: the clock moves so that the byte reads `value` now (rtc_set_time). */
  private setTimeByte(i: number, value: number): void {
    const d = new Date(this.seconds() * 1000);
    const v = i === RTC_REG.HOURS && !(this.cmos[RTC_REG.B]! & REG_B.H24) ? (this.dec(value & 0x7f) % 12) + (value & 0x80 ? 12 : 0) : this.dec(value);
    if (i === RTC_REG.SECONDS) d.setUTCSeconds(v);
    else if (i === RTC_REG.MINUTES) d.setUTCMinutes(v);
    else if (i === RTC_REG.HOURS) d.setUTCHours(v);
    else if (i === RTC_REG.DAY_OF_MONTH) d.setUTCDate(v);
    else if (i === RTC_REG.MONTH) d.setUTCMonth(v - 1);
    else if (i === RTC_REG.YEAR) d.setUTCFullYear(Math.floor(d.getUTCFullYear() / 100) * 100 + v);
    else if (i === RTC_REG.CENTURY) d.setUTCFullYear(v * 100 + (d.getUTCFullYear() % 100));
    this.base += Math.floor(d.getTime() / 1000) - this.seconds();
  }

  /** rtc_reset (a system reset, S3 resume included): PIE, AIE, SQWE off, the flags and IRQ 8 cleared; the time runs on. */
  reset(): void {
    this.cmos[RTC_REG.B]! &= ~(REG_B.PIE | REG_B.AIE | REG_B.SQWE);
    this.cmos[RTC_REG.C] = 0;
    this.host.setIrq8(false);
  }
}
