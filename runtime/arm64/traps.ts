// `trap` / `untrap` requests turned into the HCR_EL2 changes a hypervisor would make, so the
// hardware model's decisions change. Note that KVM changes HCR_EL2 itself too (kvm_toggle_cache
// clears TVM once the guest's caches are on; kvm_set_way_flush sets it).

import { ExitlabError } from "../core/errors.js";
import type { TrapRequest } from "../core/machine.js";
import { hcr, trapBitOf } from "./el2.js";
import { SYSREGS, sysregByName } from "./sysregs.js";
import type { Arm64Machine } from "./machine.js";

export const ARM64_TRAP_KINDS = ["sysreg", "tvm", "trvm", "wfi", "wfe", "hvc", "smc", "setway", "acr", "id", "tlb"] as const;

const BITS: Record<string, string[]> = {
  tvm: ["TVM"], trvm: ["TRVM"], wfi: ["TWI"], wfe: ["TWE"], smc: ["TSC"], setway: ["TSW"], acr: ["TACR"], id: ["TID1", "TID2", "TID3"], tlb: ["TTLB"],
};

export function applyTrap(m: Arm64Machine, trap: TrapRequest, enabled: boolean): string {
  const kind = trap.kind.toLowerCase();
  const set = (names: string[], on: boolean, extra = "") => {
    const mask = names.reduce((v, n) => v | hcr(n), 0n);
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
    if (!reg.trap) throw new ExitlabError(`no HCR_EL2 control traps ${reg.name}`, `trappable: ${SYSREGS.filter((r) => r.trap).map((r) => r.name.toLowerCase()).join(", ")}`);
    const bits = reg.trap === "tvm" ? ["TVM", "TRVM"] : [trapBitOf(reg.trap, true)];
    const group = SYSREGS.filter((r) => r.trap === reg.trap).map((r) => r.name);
    return set(bits, enabled, `: traps ${reg.name} together with ${group.filter((g) => g !== reg.name).join(", ")} (the architecture traps the group)`);
  }
  const bits = BITS[kind];
  if (!bits) throw new ExitlabError(`unknown arm64 trap kind ${trap.kind}`, `kinds: ${ARM64_TRAP_KINDS.join(", ")}`);
  return set(bits, enabled);
}
