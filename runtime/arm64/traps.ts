// `trap` / `untrap` requests turned into the HCR_EL2 changes a hypervisor would make, so the
// hardware model's decisions change. Note that KVM changes HCR_EL2 itself too (kvm_toggle_cache
// clears TVM once the guest's caches are on; kvm_set_way_flush sets it). ARM64_TRAPS is the one
// list of trap kinds: `trap` dispatches on it, completion offers it, `help trap` documents it.

import { ExitlabError } from "../core/errors.js";
import type { TrapKind, TrapRequest } from "../core/machine.js";
import { hcrByName, trapBitOf } from "./el2.js";
import { TIMER_TRAPS } from "./timer.js";
import { SYSREGS, sysregByName } from "./sysregs.js";
import type { Arm64Machine } from "./machine.js";

const HCR = "Arm ARM HCR_EL2 field descriptions (D13.2.46)";

/** The HCR_EL2 bits each simple trap kind sets. */
const BITS: Record<string, string[]> = {
  tvm: ["TVM"], trvm: ["TRVM"], wfi: ["TWI"], wfe: ["TWE"], smc: ["TSC"], setway: ["TSW"], acr: ["TACR"], id: ["TID1", "TID2", "TID3"], tlb: ["TTLB"],
};
const bitsDoc = (kind: string, what: string) => `${what} (HCR_EL2.${BITS[kind]!.join(", HCR_EL2.")})`;

/** Every arm64 trap kind: the HCR_EL2 controls a hypervisor sets. */
export const ARM64_TRAPS: readonly TrapKind[] = [
  { name: "sysreg", arg: "NAME", argDoc: "a system register name (`trap sysreg sctlr_el1`)", doc: "MSR/MRS of one system register, through the HCR_EL2 bit that traps its group (TVM/TRVM, TACR, TIDn)", example: "trap sysreg sctlr_el1", source: HCR },
  { name: "tvm", doc: bitsDoc("tvm", "writes of the virtual-memory controls SCTLR_EL1, TTBR0/1_EL1, TCR_EL1, MAIR_EL1, ..."), example: "trap tvm", source: HCR },
  { name: "trvm", doc: bitsDoc("trvm", "reads of the virtual-memory controls"), example: "trap trvm", source: HCR },
  { name: "wfi", doc: bitsDoc("wfi", "WFI"), example: "trap wfi", source: HCR },
  { name: "wfe", doc: bitsDoc("wfe", "WFE"), example: "trap wfe", source: HCR },
  { name: "hvc", doc: "HVC to EL2 (untrap sets HCR_EL2.HCD: HVC becomes UNDEFINED)", example: "trap hvc", source: HCR },
  { name: "smc", doc: bitsDoc("smc", "SMC"), example: "trap smc", source: HCR },
  { name: "setway", doc: bitsDoc("setway", "data cache maintenance by set/way (DC ISW, CSW, CISW)"), example: "trap setway", source: HCR },
  { name: "acr", doc: bitsDoc("acr", "ACTLR_EL1 accesses"), example: "trap acr", source: HCR },
  { name: "id", doc: bitsDoc("id", "ID register reads"), example: "trap id", source: HCR },
  { name: "tlb", doc: bitsDoc("tlb", "TLB maintenance instructions (TLBI)"), example: "trap tlb", source: HCR },
];

export function applyTrap(m: Arm64Machine, trap: TrapRequest, enabled: boolean): string {
  const kind = trap.kind.toLowerCase();
  const set = (names: string[], on: boolean, extra = "") => {
    const mask = names.reduce((v, n) => v | hcrByName(n), 0n);
    const old = m.kvm.hcr();
    m.kvm.setHcr(on ? old | mask : old & ~mask);
    return `HCR_EL2.${names.join(", HCR_EL2.")} ${on ? "set" : "cleared"}${extra}`;
  };
  if (kind === "hvc") {
    // HVC always goes to EL2 while HCR_EL2.HCD is clear; "untrap" makes it UNDEFINED instead.
    return set(["HCD"], !enabled, enabled ? ": HVC traps to EL2 (EC 0x16)" : ": HVC is now UNDEFINED at EL1");
  }
  if (kind === "sysreg") {
    const name = String(trap.arg ?? "");
    const reg = sysregByName(name);
    if (!reg) throw new ExitlabError(`no system register ${name}`, "e.g. trap sysreg sctlr_el1");
    if (!reg.trap || reg.trap === "icc") throw new ExitlabError(`no EL2 control traps ${reg.name}`, `trappable: ${SYSREGS.filter((r) => r.trap && r.trap !== "icc").map((r) => r.name.toLowerCase()).join(", ")}`);
    if (reg.trap === "el1pcen" || reg.trap === "el1pcten") {
      // The generic timer's rule (timer.ts TIMER_TRAPS): a clear CNTHCTL_EL2 bit traps the group.
      const bit = 1n << BigInt(TIMER_TRAPS.find((t) => t.group === reg.trap)!.bit);
      const old = BigInt(m.cpu.cnthctl);
      m.cpu.writeSysregValue("CNTHCTL_EL2", enabled ? old & ~bit : old | bit);
      const group = SYSREGS.filter((r) => r.trap === reg.trap).map((r) => r.name);
      return `CNTHCTL_EL2.${reg.trap.toUpperCase()} ${enabled ? "cleared" : "set"}: ${group.join(", ")} ${enabled ? "trap to EL2" : "no longer trap"}`;
    }
    const bits = reg.trap === "tvm" ? ["TVM", "TRVM"] : [trapBitOf(reg.trap, true)];
    const group = SYSREGS.filter((r) => r.trap === reg.trap).map((r) => r.name);
    return set(bits, enabled, `: traps ${reg.name} together with ${group.filter((g) => g !== reg.name).join(", ")} (the architecture traps the group)`);
  }
  const bits = BITS[kind];
  if (!bits) throw new ExitlabError(`unknown arm64 trap kind ${trap.kind}`, `kinds: ${ARM64_TRAPS.map((t) => t.name).join(", ")}`);
  return set(bits, enabled);
}
