// The arm64 register decoders: ESR_ELx (class, IL, the ISS by the class's layout) and HCR_EL2 (every
// bit). `decode esr VALUE`, `decode hcr VALUE` and `show esr` / `show hcr` read these, over the
// same tables the machine uses (esr.ts, el2.ts).

import { bitsLayout, decodeView, fieldValue, layoutRows, reservedRows, type RegisterDecoder } from "../core/decode.js";
import type { MachineView } from "../core/machine.js";
import { decodeEsr, describeFsc, ESR } from "./esr.js";
import { HCR_BITS } from "./el2.js";
import { GICH_LR, ICH_LR } from "./gic/cpuif.js";
import { CNT_CTL, CNTHCTL_EL2 } from "./timer.js";
import type { BitLayout } from "../core/bitfields.js";

/** A register decoded field by field by its bit layout (the GIC list registers, the timer controls). */
function layoutView(layout: BitLayout, value: bigint, bits: number): MachineView {
  checkWidth(layout.name, value, bits);
  return decodeView(`${layout.name} = ${hex(value)} (${layout.source})`, layoutRows(layout, value, {}));
}

import { hex } from "../core/bits.js";
import { MASK64 as MAX64 } from "../core/bits.js";

function checkWidth(what: string, value: bigint, bits: number): void {
  if (value < 0n || value > (bits >= 64 ? MAX64 : (1n << BigInt(bits)) - 1n)) throw new RangeError(`${what} is a ${bits}-bit register: ${hex(value)} does not fit`);
}

/**
 * ESR_ELx decoded: EC (with the class name), IL, ISS, then the ISS fields of the class's layout
 * (fault status codes and transfer registers spelled out). Sources: Arm ARM D17.2.37 (ESR_EL2)
 * and the ISS encodings it links; bits 63:32 are RES0 here (ISS2 is not modelled).
 */
export function esrView(esr: bigint, register = "ESR_EL2"): MachineView {
  checkWidth(register, esr, 64);
  const d = decodeEsr(esr & 0xffff_ffffn);
  const rows: string[][] = [
    ["ec", "31:26", hex(d.ec), `${d.cls.name}: ${d.cls.doc}`],
    ["il", "25", hex(d.il), `${ESR.fields[1]!.values![d.il]}: ${ESR.fields[1]!.doc}`],
    ["iss", "24:0", hex(d.iss), d.cls.iss ? `${d.cls.iss.name} (${d.cls.iss.source})` : "not decoded for this class"],
  ];
  if (d.cls.iss) {
    rows.push(...layoutRows(d.cls.iss, BigInt(d.iss), {
      prefix: "iss.",
      width: 25,
      meaning: (f, v) => (/fsc$/.test(f.name) ? describeFsc(Number(v)) : f.name === "srt" || f.name === "rt" ? `x${v}` : undefined),
    }));
  }
  rows.push(...reservedRows(esr, 0xffff_ffffn, 32, ESR.source));
  return decodeView(`${register} = ${hex(esr)}: ${d.cls.name} (${d.cls.source ?? ESR.source})`, rows);
}

export const HCR_LAYOUT = bitsLayout("HCR_EL2", "Arm ARM HCR_EL2 (D13.2.46 / D19.2 / D23.2 by edition)", HCR_BITS);

/** HCR_EL2 decoded: every bit of the HCR_EL2 table (el2.ts), on or off, with what it does. */
export function hcrView(value: bigint): MachineView {
  checkWidth("HCR_EL2", value, 64);
  const rows = layoutRows(HCR_LAYOUT, value, { meaning: (f, v) => (f.width === 1 ? (v ? "on" : "off") : undefined) });
  const on = HCR_BITS.filter((b) => fieldValue({ lsb: b.bit, width: b.width ?? 1 }, value) !== 0n).map((b) => b.name);
  return decodeView(`HCR_EL2 = ${hex(value)}${on.length ? `: ${on.join(" ")}` : ""}`, rows);
}

export const ARM64_DECODERS: readonly RegisterDecoder[] = [
  { name: "esr", doc: "ESR_ELx, the exception syndrome: class, instruction length and the class's ISS fields", source: ESR.source, decode: (v) => esrView(v) },
  { name: "hcr", doc: "HCR_EL2, the hypervisor configuration register: the trap and routing controls", source: HCR_LAYOUT.source, decode: (v) => hcrView(v) },
  { name: "gich_lr", doc: "GICH_LR<n>, a GICv2 list register: virtual INTID, physical INTID or EOI, priority, state, HW", source: GICH_LR.source, decode: (v) => layoutView(GICH_LR, v, 32) },
  { name: "ich_lr", doc: "ICH_LR<n>_EL2, a GICv3 list register: vINTID, pINTID or EOI, priority, group, HW, state", source: ICH_LR.source, decode: (v) => layoutView(ICH_LR, v, 64) },
  { name: "cnt_ctl", doc: "CNTV_CTL_EL0 / CNTP_CTL_EL0, a timer's control: ENABLE, IMASK, ISTATUS", source: CNT_CTL.source, decode: (v) => layoutView(CNT_CTL, v, 64) },
  { name: "cnthctl", doc: "CNTHCTL_EL2: which counter and timer accesses trap to EL2", source: CNTHCTL_EL2.source, decode: (v) => layoutView(CNTHCTL_EL2, v, 64) },
];
