// ACPI sleep requests on the pc machine: what QEMU does when the guest writes SLP_EN to the PIIX4's
// PM1a control block (hw/acpi/core.c acpi_pm1_cnt_write): SLP_TYP 0 shuts the machine down, 1
// suspends it to RAM (qemu_system_suspend_request; QEMU's DSDT names S3 as {1, 1}), 2 (the PIIX4's
// s4_val) is S4, a shutdown too. Under KVM the request is a KVM_EXIT_IO: QEMU handles it in the
// vCPU thread and does not enter the guest again (cpu_stop_current), so the guest runs nothing
// after its OUT. A suspended machine wakes on an enabled event: here the RTC alarm, with PM1_EN's
// RTC_EN set and the alarm interrupt enabled in the RTC's register B (mc146818rtc.c
// rtc_update_timer: qemu_system_wakeup_request(QEMU_WAKEUP_REASON_RTC)). qemu_system_wakeup then
// resets the machine (qemu_system_reset) and reports the wake-up to ACPI (WAK_STS, RTC_STS);
// before, the RTC's suspend notifier wrote 0xfe to CMOS byte 0x0f (rtc_notify_suspend).
// SeaBIOS then runs from the reset vector, sees the shutdown status 0xfe (src/resume.c
// handle_resume → s3_resume) and, after pic_setup, far-calls the FACS's Firmware Waking Vector in
// real mode: CS:IP = vector >> 4 : vector & 0xf (FLATPTR_TO_SEGOFF), the other segments 0 and
// interrupts off (a zeroed struct bregs). exitlab runs no firmware: the vCPU is reset straight into
// that state, the devices as the reset leaves them (the PIT and the PIC reset, then the PIC
// programmed as pic_setup does, every IRQ but the cascade masked; the local APIC reset with LINT0
// in ExtINT; the RTC's alarm interrupt disabled). Not reset here: the I/O APIC. A zero waking vector stops the VM (SeaBIOS would boot again).

import type { AcpiPm, SleepAction } from "../devices/acpi-pm.js";
import { PM1_RTC } from "../devices/acpi-pm.js";
import type { GuestMemory } from "../core/memory.js";
import { FACS_ADDRESS, FACS_WAKING_VECTOR_OFFSET } from "./acpi.js";
import type { KvmPic } from "./apic/pic.js";
import { PIC_IRQMASK_DEFAULT, picResetWrites } from "./bios-state.js";
import type { KvmIrqChip } from "./kvm/irqchip.js";
import type { KvmPit } from "./pit.js";
import { type Mc146818Rtc, REG_B, RTC_REG } from "./rtc.js";
import type { X86State } from "./env.js";
import { initState } from "./vcpu-state.js";

/** CMOS byte 0x0f, the shutdown status, and the value that means "resume from S3" (SeaBIOS src/resume.c). */
export const CMOS_SHUTDOWN_STATUS = 0x0f;
export const SHUTDOWN_S3_RESUME = 0xfe;
/** SLP_TYP values of QEMU's pc machine: S5 (soft off), S3, and the PIIX4's S4 (s4_val). */
export const SLP_TYP = { S5: 0, S3: 1, S4: 2 } as const;

/** What a sleep needs of the machine. */
export interface SleepMachine {
  readonly memory: GuestMemory;
  readonly pm: AcpiPm;
  readonly rtc: Mc146818Rtc;
  readonly pit: KvmPit;
  readonly pic: KvmPic;
  readonly vcpus: readonly { irq: KvmIrqChip }[];
  now(): number;
  /** Modelled time passing with every vCPU stopped (the suspended machine). */
  idle(cycles: number): void;
  /** kvm_vcpu_reset of vCPU `id` into `state` (KVM_SET_REGS/SREGS from QEMU's reset). */
  resetVcpu(id: number, state: X86State): void;
  /** A port write as the firmware makes it (the in-kernel PIC). */
  pioWrite(port: number, value: number): void;
}

/** The real-mode state SeaBIOS's s3_resume enters the waking vector with. */
export function wakingState(vector: number): X86State {
  const s = initState();
  s.seg.cs = { ...s.seg.cs, selector: (vector >>> 4) & 0xffff, base: BigInt((vector >>> 4) << 4) };
  s.rip = s.nextRip = BigInt(vector & 0xf);
  return s;
}

/** acpi_pm1_cnt_write's sleep of type `slpTyp`; the action the exit's handler takes. */
export function acpiSleep(m: SleepMachine, slpTyp: number): SleepAction | undefined {
  if (slpTyp === SLP_TYP.S5 || slpTyp === SLP_TYP.S4) {
    return { action: "halt", message: `ACPI S${slpTyp === SLP_TYP.S5 ? 5 : 4} request (SLP_TYP ${slpTyp}): QEMU shuts the machine down` };
  }
  if (slpTyp !== SLP_TYP.S3) return undefined; // no such sleep state: the write does nothing
  m.rtc.cmos[CMOS_SHUTDOWN_STATUS] = SHUTDOWN_S3_RESUME;
  const rtcWake = (m.pm.enable & PM1_RTC) !== 0 && (m.rtc.cmos[RTC_REG.B]! & REG_B.AIE) !== 0;
  const at = rtcWake ? m.rtc.nextAlarm(m.now()) : Infinity;
  if (at === Infinity) {
    return { action: "halt", message: "ACPI S3 (SLP_TYP 1): suspended to RAM, and no wake-up is enabled (PM1_EN.RTC_EN with the RTC's alarm interrupt): the VM stays suspended" };
  }
  const slept = at - m.now();
  m.idle(slept);
  m.rtc.expire();
  // qemu_system_wakeup: the system reset, then ACPI hears the cause.
  m.rtc.reset();
  m.pm.reset();
  m.pm.wake(PM1_RTC);
  m.pit.reset();
  for (const chip of m.pic.pics) chip.reset();
  m.pic.updateIrq();
  // s3_resume's pic_setup: the PIC initialized, every IRQ but the cascade masked.
  for (const [port, value] of picResetWrites(PIC_IRQMASK_DEFAULT)) m.pioWrite(port, value);
  const waking = m.memory.read32(FACS_ADDRESS + FACS_WAKING_VECTOR_OFFSET) >>> 0;
  m.vcpus.forEach((v, id) => {
    v.irq.lapic.reset();
    if (id === 0) v.irq.lapic.lint0ExtInt();
  });
  if (!waking) return { action: "halt", message: `ACPI S3: woken by the RTC alarm after ${slept} cycles, but the FACS has no waking vector (SeaBIOS boots again; not modelled)` };
  m.resetVcpu(0, wakingState(waking));
  for (const v of m.vcpus) v.irq.refresh();
  const segoff = `${((waking >>> 4) & 0xffff).toString(16).padStart(4, "0")}:${(waking & 0xf).toString(16).padStart(4, "0")}`;
  return { action: "resume", message: `ACPI S3 (SLP_TYP 1): suspended ${slept} cycles until the RTC alarm; after the reset the firmware enters the FACS waking vector 0x${waking.toString(16)} (${segoff}) in real mode` };
}
