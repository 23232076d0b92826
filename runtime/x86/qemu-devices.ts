// The QEMU `-device` models an x86 pc machine may be given (MachineOptions.devices), by QEMU's
// name, and how each joins the machine: its ports on the PIO bus, its memory on the MMIO bus (both
// reached through KVM_EXIT_IO / KVM_EXIT_MMIO, as under real KVM), and what it may do back to the
// VM (KVM_IRQ_LINE; the MMU notifier's EPT zap).

import { ExitlabError } from "../core/errors.js";
import type { MmioBus } from "../core/bus.js";
import type { GuestMemory } from "../core/memory.js";
import type { PioBus } from "../devices/pio.js";
import { PC_TESTDEV, PcTestdev } from "../devices/pc-testdev.js";
import type { Ept } from "./vmx/ept.js";

/** What a device needs of the machine. */
export interface QemuDeviceHost {
  pio: PioBus;
  bus: MmioBus;
  memory: GuestMemory;
  ept: Ept;
  /** KVM_IRQ_LINE from the VMM (irq-line.ts setIrqLine). */
  setIrqLine(gsi: number, level: boolean): void;
}

/** The devices exitlab models, by QEMU's -device name. */
export const QEMU_DEVICES = ["pc-testdev"] as const;

/**
 * Add `names` (QEMU -device names, each at most once) to the machine; returns the devices by
 * name. Throws ExitlabError for a name exitlab does not model or a repeated one.
 */
export function addQemuDevices(m: QemuDeviceHost, names: readonly string[]): { "pc-testdev"?: PcTestdev } {
  const out: { "pc-testdev"?: PcTestdev } = {};
  for (const name of names) {
    if (!(QEMU_DEVICES as readonly string[]).includes(name)) {
      throw new ExitlabError(`no QEMU device "${name}" on the x86 pc machine`, `exitlab models: ${QEMU_DEVICES.join(", ")}`);
    }
    if (out[name as "pc-testdev"]) throw new ExitlabError(`device "${name}" given twice`, "each -device model once");
    const dev = new PcTestdev({
      // ISA IRQ N is GSI N (QEMU pc: gsi_handler, kvm_pc_gsi_handler → KVM_IRQ_LINE).
      setIrq: (line, level) => m.setIrqLine(line, level),
      // QEMU mprotects the page's host mapping; KVM's MMU notifier zaps the page's EPT entry. Not RAM: nothing is mapped.
      flushPage: (gpa) => void (m.memory.isRam(gpa) && m.ept.unmap4k(gpa)),
    });
    for (const [base, size, d] of dev.ports()) m.pio.add(base, size, d);
    m.bus.add(PC_TESTDEV.iomem.base, PC_TESTDEV.iomem.size, dev.iomem);
    out["pc-testdev"] = dev;
  }
  return out;
}
