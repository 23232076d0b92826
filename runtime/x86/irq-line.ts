// KVM_IRQ_LINE on x86: the VMM drives a GSI, which KVM's default routing (Linux
// arch/x86/kvm/irq_comm.c kvm_setup_default_irq_routing) sends to the legacy PIC's pin (GSIs 0-15)
// and to the I/O APIC's (0-23): kvm_set_irq (virt/kvm/irqchip.c) traces the line, then each route
// in turn — the PIC (i8259.c kvm_pic_set_irq, then pic_unlock's kick of the vCPU whose LINT0 takes
// INTR) and the I/O APIC (ioapic.c ioapic_set_irq, traced kvm_ioapic_set_irq). `irq gsi N
// [high|low]` (lab/statements/vm.ts) is the DSL's face of it.

import { ExitlabError } from "../core/errors.js";
import type { FieldValue } from "../core/trace.js";
import { IOAPIC_PINS, type IoApic } from "./apic/ioapic.js";
import { PIC_NUM_PINS, type KvmPic } from "./apic/pic.js";
import type { KvmIrqChip } from "./kvm/irqchip.js";
import type { X86TracepointName } from "./tracepoints.js";

/** What the line needs of the machine: its PIC, its vCPUs' irqchips and scheduling states, the loaded vCPU's I/O APIC, the tracer. */
export interface IrqLineMachine {
  readonly pic: KvmPic;
  readonly vcpus: readonly { id: number; irq: KvmIrqChip }[];
  readonly sched: { readonly states: readonly string[] };
  readonly irq: { ioapic: IoApic };
  emit(name: X86TracepointName, fields: Record<string, FieldValue>): void;
}

/**
 * Who drives a line and where its I/O APIC route goes: `sourceId` KVM's IRQ source (0, user
 * space: KVM_USERSPACE_IRQ_SOURCE_ID; the in-kernel PIT requests the next free one, 2, after
 * KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID), `ioapicPin` the I/O APIC pin of the GSI (default the GSI;
 * QEMU's pc machine routes GSI 0 to pin 2, hw/i386/kvm/ioapic.c kvm_pc_setup_irq_routing, as the
 * MADT's interrupt source override says).
 */
export interface IrqRoute {
  sourceId?: number;
  ioapicPin?: number;
}

/**
 * KVM_IRQ_LINE of GSI `gsi` (0-23) at `level`: traced kvm_set_irq (source 0, user space), the PIC's
 * pin for GSIs below 16 (kvm_pic_set_irq), the I/O APIC's pin (kvm_ioapic_set_irq). INTR rising
 * kicks the first vCPU whose LINT0 takes it (pic_unlock: KVM_REQ_EVENT and kvm_vcpu_kick; a
 * blocked one wakes by the scheduler instead). Throws ExitlabError for another GSI.
 */
export function setIrqLine(m: IrqLineMachine, gsi: number, level: boolean, route: IrqRoute = {}): void {
  if (!Number.isInteger(gsi) || gsi < 0 || gsi >= IOAPIC_PINS) throw new ExitlabError(`GSI ${gsi} out of range`, `the I/O APIC has pins 0-${IOAPIC_PINS - 1}; the PIC, 0-${PIC_NUM_PINS - 1}`);
  const before = m.pic.output;
  m.emit("kvm_set_irq", { gsi, level: level ? 1 : 0, irq_source_id: route.sourceId ?? 0 });
  if (gsi < PIC_NUM_PINS) m.pic.setIrq(gsi, level);
  const pin = route.ioapicPin ?? gsi;
  const coalesced = m.irq.ioapic.setIrq(pin, level);
  m.emit("kvm_ioapic_set_irq", { e: m.irq.ioapic.redirect[pin]!, pin, coalesced });
  if (!before && m.pic.output) {
    const t = m.vcpus.find((v) => v.irq.lapic.acceptsPicIntr());
    if (t && m.sched.states[t.id] !== "blocked") t.irq.kick();
  }
  for (const v of m.vcpus) v.irq.refresh();
}

/**
 * `irq gsi N [high|low]`: the line pulsed (high, then low: an edge, as QEMU's qemu_irq_pulse)
 * unless a level is given. Returns what the PIC and the I/O APIC did with it; throws ExitlabError
 * for a GSI outside 0-23.
 */
export function irqLine(m: IrqLineMachine, gsi: number, level?: boolean): string {
  for (const l of level === undefined ? [true, false] : [level]) setIrqLine(m, gsi, l);
  const what = level === undefined ? "pulsed (high, then low)" : level ? "high" : "low";
  const parts = [`GSI ${gsi} ${what} (KVM_IRQ_LINE)`];
  if (gsi < PIC_NUM_PINS) {
    const chip = m.pic.pics[gsi >> 3]!, bit = 1 << (gsi & 7);
    const pin = chip.imr & bit ? "masked (OCW1)" : chip.irr & bit ? "requested" : chip.isr & bit ? "in service" : "idle";
    const taker = m.vcpus.find((v) => v.irq.lapic.acceptsPicIntr());
    const intr = !m.pic.output ? "INTR low" : taker ? `INTR high: vCPU ${taker.id}'s LINT0 (ExtINT) takes it` : "INTR high: no vCPU's LINT0 takes it (LVT0 masked or not ExtINT)";
    parts.push(`PIC ${gsi < 8 ? "master" : "slave"} IR${gsi & 7}: ${pin}, ${intr}`);
  }
  const e = m.irq.ioapic.redirect[gsi]!;
  parts.push(`I/O APIC pin ${gsi}: ${(e >> 16n) & 1n ? "masked" : `vector ${Number(e & 0xffn)}, ${(e >> 15n) & 1n ? "level" : "edge"}`}`);
  return parts.join("; ");
}
