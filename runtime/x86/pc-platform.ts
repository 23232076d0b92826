// The pc machine's legacy devices wired into the VM: KVM's in-kernel PIT (pit.ts) at ports
// 0x40-0x43, its IRQ 0 through the PIC and the I/O APIC (GSI 0, I/O APIC pin 2 as QEMU routes
// it), its acknowledgement from the PIC's EOI; QEMU's RTC (rtc.ts) at 0x70-0x71 on IRQ 8. For a
// guest booted as QEMU's -kernel, what the firmware leaves: the ACPI tables (acpi.ts) and the
// PIIX4 PM block they describe, whose sleep requests acpi-sleep.ts carries out; SeaBIOS's IVT,
// PIC and PIT programming (bios-state.ts); LINT0 of the BSP in ExtINT mode (QEMU
// hw/intc/apic_common.c apic_reset_common: "LINT0 delivery mode on CPU #0 is set to ExtInt at
// initialization time typically by BIOS", handed to KVM by KVM_SET_LAPIC; KVM's own
// kvm_lapic_reset does the same with KVM_X86_QUIRK_LINT0_REENABLED).

import type { GuestMemory } from "../core/memory.js";
import { AcpiPm } from "../devices/acpi-pm.js";
import type { PioBus } from "../devices/pio.js";
import { installAcpiTables, PM_IO_BASE } from "./acpi.js";
import { acpiSleep } from "./acpi-sleep.js";
import type { KvmPic } from "./apic/pic.js";
import { biosPortWrites, installBiosIvt } from "./bios-state.js";
import type { X86State } from "./env.js";
import { setIrqLine, type IrqLineMachine } from "./irq-line.js";
import type { KvmIrqChip } from "./kvm/irqchip.js";
import { VmTimers, type VmTimer } from "./pc-timers.js";
import { KvmPit, PIT_BASE_PORT } from "./pit.js";
import { Mc146818Rtc, RTC_IRQ, RTC_PORT } from "./rtc.js";

/** The in-kernel PIT's IRQ source (kvm_request_irq_source_id after KVM_USERSPACE_IRQ_SOURCE_ID 0 and KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID 1). */
export const PIT_IRQ_SOURCE_ID = 2;
/** GSI 0's I/O APIC pin on the pc machine (hw/i386/kvm/ioapic.c kvm_pc_setup_irq_routing; the MADT's IRQ 0 → GSI 2 override). */
export const PIT_IOAPIC_PIN = 2;

/** What the wiring needs of the machine. */
export interface PcPlatformMachine {
  readonly pio: PioBus;
  readonly memory: GuestMemory;
  readonly vcpus: readonly { irq: KvmIrqChip }[];
  readonly pic: KvmPic;
  /** The vCPU count (the MADT's processors). */
  readonly cpus: number;
  /** Modelled cycles now. */
  now(): number;
  /** A counter at `hz` from modelled time (the PM timer). */
  ticks(hz: number): bigint;
  /** Modelled time passing with no vCPU running. */
  idle(cycles: number): void;
  resetVcpu(id: number, state: X86State): void;
  /** The machine as irq-line.ts drives lines. */
  lineView(): IrqLineMachine;
}

/** Whether a GSI below 16 routed to I/O APIC pin `pin` reaches a vCPU now: its PIC pin unmasked with a LINT0 in ExtINT mode, or the pin unmasked. */
export function lineCanWake(m: IrqLineMachine, gsi: number, pin = gsi): boolean {
  const chip = m.pic.pics[gsi >> 3]!;
  const picOpen = !(chip.imr & (1 << (gsi & 7))) && (gsi < 8 || !(m.pic.pics[0].imr & 4)) && m.vcpus.some((v) => v.irq.lapic.acceptsPicIntr());
  return picOpen || !((m.irq.ioapic.redirect[pin]! >> 16n) & 1n);
}

/**
 * Add the PIT and the RTC to the machine and the VM's timers to every vCPU's irqchip; with
 * `firmware` (a -kernel guest) also the firmware's state and the ACPI PM block. Returns the devices.
 */
export function installPcPlatform(m: PcPlatformMachine, firmware: boolean): { pit: KvmPit; rtc: Mc146818Rtc; timers: VmTimers; pm?: AcpiPm } {
  const route = { sourceId: PIT_IRQ_SOURCE_ID, ioapicPin: PIT_IOAPIC_PIN };
  const pit = new KvmPit({
    now: () => m.now(),
    pulseIrq0: () => {
      setIrqLine(m.lineView(), 0, true, route);
      setIrqLine(m.lineView(), 0, false, route);
    },
  });
  m.pio.add(PIT_BASE_PORT, 4, pit.device());
  // kvm_notify_acked_irq of IRQ 0 at the PIC reaches the PIT's ack notifier (kvm_pit_ack_irq).
  const ackBefore = m.pic.onAck;
  m.pic.onAck = (irq) => {
    ackBefore(irq);
    if (irq === 0) pit.ack();
  };
  // QEMU's RTC raises and lowers ISA IRQ 8 (KVM_IRQ_LINE from user space), only on a change.
  let irq8 = false;
  const rtc = new Mc146818Rtc({
    now: () => m.now(),
    setIrq8: (level) => {
      if (level === irq8) return;
      irq8 = level;
      setIrqLine(m.lineView(), RTC_IRQ, level);
    },
  });
  m.pio.add(RTC_PORT, 2, rtc);
  const pitTimer: VmTimer = {
    name: "PIT",
    hostTimer: true,
    get deadline() {
      return pit.deadline;
    },
    expire: () => void pit.expire(),
    canWake: () => pit.canPulse && lineCanWake(m.lineView(), 0, PIT_IOAPIC_PIN),
  };
  const rtcTimer: VmTimer = {
    name: "RTC",
    hostTimer: false,
    get deadline() {
      return rtc.deadline;
    },
    expire: () => void rtc.expire(),
    canWake: () => lineCanWake(m.lineView(), RTC_IRQ),
  };
  const timers = new VmTimers([pitTimer, rtcTimer]);
  for (const v of m.vcpus) v.irq.timers = timers;
  if (!firmware) return { pit, rtc, timers };
  installAcpiTables(m.memory, m.cpus);
  const pm: AcpiPm = new AcpiPm(
    (hz) => m.ticks(hz),
    (slpTyp) => acpiSleep({ ...m, pm, rtc, pit, pioWrite: (port, value) => m.pio.write(port, 1, value) }, slpTyp),
  );
  m.pio.add(PM_IO_BASE, 12, pm);
  installBiosIvt(m.memory);
  for (const [port, value] of biosPortWrites()) m.pio.write(port, 1, value);
  m.vcpus[0]?.irq.lapic.lint0ExtInt();
  return { pit, rtc, timers, pm };
}
