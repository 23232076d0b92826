// The PIIX4 ACPI power-management I/O block of QEMU's pc machine at PM_IO_BASE (0x600): PM1a
// event (status, enable), PM1a control, and the PM timer (hw/acpi/core.c acpi_pm1_evt_*,
// acpi_pm1_cnt_*, acpi_pm_tmr_get). It is the VMM's device: KVM has no in-kernel PM timer, so
// every access is a KVM_EXIT_IO to user space (as on a host where QEMU emulates it).
// ACPI Specification 6.4: 4.8.3.1 PM1 event registers (PM1_STS write-1-to-clear, PM1_EN), 4.8.3.2
// PM1 control (SCI_EN bit 0; SLP_TYPx bits 12:10, SLP_EN bit 13), 4.8.3.3 the power-management
// timer: a free-running counter at 3.579545 MHz, 24 bits unless FADT TMR_VAL_EXT (ours: 24 bits).

import type { PioDevice } from "./pio.js";

/** The PM timer's frequency (ACPI 6.4 4.8.3.3; QEMU PM_TIMER_FREQUENCY). */
export const PM_TIMER_HZ = 3_579_545;

/** PM1 event bits (ACPI 6.4 Table 4-16, 4-17): RTC_STS/RTC_EN (bit 10), WAK_STS (bit 15). */
export const PM1_RTC = 1 << 10;
export const PM1_WAK_STS = 1 << 15;

/** What the VMM does with a sleep request (QEMU's acpi_pm1_cnt_write): stop, or resume the vCPU elsewhere. */
export type SleepAction = { action: "halt" | "resume"; message: string };

export class AcpiPm implements PioDevice {
  readonly name = "ACPI PM (PIIX4)";
  private sts = 0;
  private en = 0;
  private cnt = 0;
  private action: SleepAction | undefined;
  /**
   * @param ticks the PM timer's count at `hz` now (the machine's modelled clock: QEMU reads
   *   QEMU_CLOCK_VIRTUAL, muldiv64(ns, PM_TIMER_FREQUENCY, 1e9))
   * @param sleep called with SLP_TYPx when the guest sets SLP_EN (a sleep request), if modelled:
   *   what the VMM then does (takeAction hands it to the exit's handler)
   */
  constructor(
    private readonly ticks: (hz: number) => bigint,
    private readonly sleep?: (slpTyp: number) => SleepAction | undefined,
  ) {}

  /** PM1_EN: the events that may wake the machine (RTC_EN) or raise an SCI. */
  get enable(): number {
    return this.en;
  }

  /** A wake-up (QEMU's acpi_notify_wakeup after the system reset): WAK_STS and the cause's status bit. */
  wake(status: number): void {
    this.sts |= PM1_WAK_STS | status;
  }

  /** The system reset's acpi_pm1_evt_reset / acpi_pm1_cnt_reset: status, enables and control cleared. */
  reset(): void {
    this.sts = this.en = this.cnt = 0;
  }

  takeAction(): SleepAction | undefined {
    const a = this.action;
    this.action = undefined;
    return a;
  }

  /** Offsets: 0-1 PM1_STS, 2-3 PM1_EN, 4-5 PM1_CNT, 8-11 PM_TMR. */
  read(offset: number, size: number): number {
    let v: number;
    if (offset >= 8) v = Number(this.ticks(PM_TIMER_HZ) & 0xff_ffffn) >>> (8 * (offset - 8));
    else if (offset >= 4) v = this.cnt >>> (8 * (offset - 4));
    else v = (this.sts | (this.en << 16)) >>> (8 * offset);
    return size === 4 ? v >>> 0 : v & ((1 << (8 * size)) - 1);
  }

  write(offset: number, size: number, value: number): void {
    const put = (reg: number, at: number) => {
      const mask = (size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1) << (8 * at);
      return ((reg & ~mask) | ((value << (8 * at)) & mask)) & 0xffff;
    };
    if (offset === 0 && size === 4) {
      this.sts &= ~(value & 0xffff); // write 1 to clear
      this.en = (value >>> 16) & 0xffff;
    } else if (offset < 2) this.sts &= ~put(0, offset);
    else if (offset < 4) this.en = put(this.en, offset - 2);
    else if (offset < 6) {
      const v = put(this.cnt, offset - 4);
      // SLP_EN is write-only (reads 0): it triggers the sleep of type SLP_TYPx.
      this.cnt = v & ~(1 << 13);
      if (v & (1 << 13)) this.action = this.sleep?.((v >> 10) & 7);
    }
    // The timer is read-only.
  }
}
