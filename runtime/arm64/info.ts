// Static facts of the arm64 machine for completion, did-you-mean and inspect: registers, the
// exception classes (the exit reasons), system registers, HCR_EL2 bits, PSCI functions,
// tracepoints, trap kinds, views, built-in guests.

import { EXIT_IRQ } from "./exit-schema.js";
import { trapBitOf } from "./el2.js";
import type { ArchInfo, Documented } from "../core/machine.js";
import { EXCEPTION_CLASSES } from "./esr.js";
import { SYSREGS } from "./sysregs.js";
import { HCR_BITS } from "./el2.js";
import { PSCI_FUNCTIONS } from "./kvm/psci.js";
import { ARM64_TRACEPOINTS } from "./tracepoints.js";
import { ARM64_REGISTER_NAMES } from "./registers.js";
import { ARM64_TRAPS } from "./traps.js";
import { ARM64_VIEW_NAMES } from "./views.js";
import { BUILTIN_GUESTS } from "./loader.js";
import { ARM64_DECODERS } from "./decoders.js";

const sysregs: Documented[] = SYSREGS.map((r) => ({
  name: r.name,
  code: (r.op0 << 14) | (r.op1 << 11) | (r.crn << 7) | (r.crm << 3) | r.op2,
  doc: `${r.doc} (op0 ${r.op0}, op1 ${r.op1}, CRn ${r.crn}, CRm ${r.crm}, op2 ${r.op2}${r.trap ? `; ${r.trap === "icc" ? "GICv3 only" : `trapped by ${trapBitOf(r.trap, false).includes(".") ? "" : "HCR_EL2."}${trapBitOf(r.trap, false)}`}` : ""})`,
  source: "Arm ARM D13.2",
}));

export const arm64Info: ArchInfo = {
  arch: "arm64",
  registerNames: ARM64_REGISTER_NAMES,
  // The exception classes, and the IRQ exit (ARM_EXCEPTION_IRQ: a physical interrupt while the guest ran).
  exitReasons: [...EXCEPTION_CLASSES, { code: EXIT_IRQ, name: "IRQ", doc: "A physical interrupt reached the host while the guest ran (timer, vGIC maintenance, a kick): KVM's ARM_EXCEPTION_IRQ", source: "Linux arch/arm64/include/asm/kvm_asm.h" }],
  vocabulary: {
    sysreg: sysregs,
    esr_class: EXCEPTION_CLASSES,
    hcr_bit: HCR_BITS.map((b) => ({ name: b.name, code: b.bit, doc: `HCR_EL2 bit ${b.bit}: ${b.doc}`, source: "Arm ARM D13.2.46" })),
    psci: PSCI_FUNCTIONS.map((f) => ({ name: f.name, code: f.id, doc: f.doc, source: "Arm DEN 0022 (PSCI)" })),
    tracepoint: ARM64_TRACEPOINTS.map((t) => ({ name: t.name, doc: t.doc, source: t.source })),
  },
  traps: ARM64_TRAPS,
  decoders: ARM64_DECODERS,
  viewNames: ARM64_VIEW_NAMES,
  viewArgs: { esr: ["el1", "el2"], sysregs: ["el1", "el2", "all"] },
  builtinGuests: Object.entries(BUILTIN_GUESTS).map(([name, g]) => ({ name, doc: g.doc })),
};
