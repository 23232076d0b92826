// The x86 register decoders: exit qualifications by layout (`decode qual cr|io|ept VALUE`), the
// VM-exit interruption information (`decode intr VALUE`) and the VMX control fields
// (`decode vmcs PIN_BASED_VM_EXEC_CONTROL VALUE`), over the tables the machine uses: the exit
// schema's qualification layouts (exit-schema.ts, vmx/qualification.ts) and the control bits
// (vmx/controls.ts).

import { bitsLayout, decodeView, layoutRows, type RegisterDecoder } from "../core/decode.js";
import type { BitLayout } from "../core/bitfields.js";
import type { MachineView } from "../core/machine.js";
import { QUAL_KINDS } from "./exit-schema.js";
import { EXCEPTION_NAMES, INTR_INFO } from "./vmx/qualification.js";
import { CONTROL_FIELDS } from "./vmx/controls.js";
import { GPR64_NAMES } from "./registers.js";

import { hex } from "../core/bits.js";

function checkWidth(what: string, value: bigint, bits: number): void {
  if (value < 0n || value >= 1n << BigInt(bits)) throw new RangeError(`${what} is ${bits} bits wide: ${hex(value)} does not fit`);
}

/** Register numbers spelled out: the GPR of a MOV CR, the vector of an interruption. */
function meaningOf(layout: BitLayout) {
  return (f: { name: string }, v: bigint): string | undefined => {
    if (layout.name === "CR access" && f.name === "gpr") return GPR64_NAMES[Number(v)];
    if (layout.name === "CR access" && f.name === "cr") return `cr${v}`;
    if (layout.name === "I/O instruction" && f.name === "size") return `${Number(v) + 1} byte${v ? "s" : ""}`;
    if (layout === INTR_INFO && f.name === "vector") return EXCEPTION_NAMES[Number(v)];
    return undefined;
  };
}

/** An exit qualification (64 bits) read through the layout of `kind` (cr, io, ept). */
export function qualView(kind: string, value: bigint): MachineView {
  const q = QUAL_KINDS.find((k) => k.kind === kind.toLowerCase() || k.reason.toLowerCase() === kind.toLowerCase());
  if (!q) throw new RangeError(`no exit qualification layout ${kind}`);
  checkWidth("EXIT_QUALIFICATION", value, 64);
  return decodeView(`EXIT_QUALIFICATION = ${hex(value)} of ${q.reason} (${q.layout.source})`, layoutRows(q.layout, value, { meaning: meaningOf(q.layout) }));
}

/** VM_EXIT_INTR_INFO / IDT_VECTORING_INFO_FIELD (32 bits). */
export function intrView(value: bigint): MachineView {
  checkWidth("VM_EXIT_INTR_INFO", value, 32);
  return decodeView(`interruption information = ${hex(value)} (${INTR_INFO.source})`, layoutRows(INTR_INFO, value, { width: 32, meaning: meaningOf(INTR_INFO) }));
}

/** A VMX control field (32 bits): every control bit of its table, and set reserved bits (default-1 ones marked). */
export function controlView(field: string, value: bigint): MachineView {
  const c = CONTROL_FIELDS.find((x) => x.field.toLowerCase() === field.toLowerCase());
  if (!c) throw new RangeError(`${field} is not a VMX control field`);
  checkWidth(c.field, value, 32);
  const layout = bitsLayout(c.field, c.source, c.bits);
  const rows = layoutRows(layout, value, {
    width: 32,
    meaning: (_f, v) => (v ? "on" : "off"),
    reservedNote: (bit) => ((c.default1 >>> bit) & 1 ? "default 1 (SDM Vol. 3 Appendix A)" : undefined),
  });
  return decodeView(`${c.field} = ${hex(value)} (${c.source})`, rows);
}

export const X86_DECODERS: readonly RegisterDecoder[] = [
  {
    name: "qual",
    doc: "EXIT_QUALIFICATION, by the layout of its exit reason",
    source: "Intel SDM Vol. 3 27.2.1 (28.2.1 / 29.2.1 in later editions)",
    kinds: QUAL_KINDS.map((q) => ({ name: q.kind, doc: `${q.layout.name} (${q.reason}), ${q.layout.source}` })),
    decode: (v, kind) => qualView(kind ?? "", v),
  },
  {
    name: "intr",
    doc: "VM_EXIT_INTR_INFO / IDT_VECTORING_INFO_FIELD: vector, type, error-code valid, valid",
    source: INTR_INFO.source,
    decode: (v) => intrView(v),
  },
  {
    name: "vmcs",
    doc: "a VMX control field of the VMCS, bit by bit",
    source: "Intel SDM Vol. 3 24.6-24.8",
    kinds: CONTROL_FIELDS.map((c) => ({ name: c.field, doc: `${c.bits.length} control bits, ${c.source}` })),
    decode: (v, kind) => controlView(kind ?? "", v),
  },
];
