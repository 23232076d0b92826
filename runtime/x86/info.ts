// Static facts of the x86-64 machine for completion, did-you-mean and inspect: registers, the exit
// reason table, VMCS fields, control bits, MSRs, tracepoints, trap kinds, views, built-in guests.

import type { ArchInfo, Documented } from "../core/machine.js";
import { EXIT_REASONS } from "./vmx/reasons.js";
import { VMCS_FIELDS, VMCS_GROUPS } from "./vmx/fields.js";
import { CONTROL_FIELDS } from "./vmx/controls.js";
import { MSRS } from "./kvm/msrs.js";
import { X86_TRACEPOINTS } from "./tracepoints.js";
import { X86_REGISTER_NAMES } from "./registers.js";
import { X86_TRAPS } from "./traps.js";
import { X86_VIEW_NAMES } from "./views.js";
import { BUILTIN_GUESTS } from "./loader.js";
import { X86_DECODERS } from "./decoders.js";

const vmcsFields: Documented[] = VMCS_FIELDS.map((f) => ({
  name: f.name,
  code: f.encoding,
  doc: `${VMCS_GROUPS.find((g) => g.group === f.group)!.title}, ${f.width === "natural" ? "natural-width" : f.width + "-bit"} field`,
  source: "Intel SDM Vol. 3 Appendix B; Linux arch/x86/include/asm/vmx.h",
}));

const controls: Documented[] = CONTROL_FIELDS.flatMap(({ field, bits }) =>
  bits.map((b) => ({ name: b.name, code: b.bit, doc: `${field} bit ${b.bit}: ${b.doc}`, source: "Intel SDM Vol. 3 Tables 24-5..24-15" })),
);

export const x86Info: ArchInfo = {
  arch: "x86_64",
  registerNames: X86_REGISTER_NAMES,
  exitReasons: EXIT_REASONS,
  vocabulary: {
    vmcs_field: vmcsFields,
    vmx_control: controls,
    msr: MSRS,
    tracepoint: X86_TRACEPOINTS.map((t) => ({ name: t.name, doc: t.doc, source: t.source })),
  },
  traps: X86_TRAPS,
  decoders: X86_DECODERS,
  viewNames: X86_VIEW_NAMES,
  viewArgs: { vmcs: VMCS_GROUPS.map((g) => g.group.replace(/-/g, "_")) },
  builtinGuests: Object.entries(BUILTIN_GUESTS).map(([name, g]) => ({ name, doc: g.doc })),
};
