// `show` tables of the arm64 machine: registers, the last exit, ESR_EL2 decoded field by field,
// system registers (EL1 / EL2), HCR_EL2 bits, the stage-2 mappings, a translation walk, KVM's counters.

import { ExitlabError } from "../core/errors.js";
import type { MachineView } from "../core/machine.js";
import { exitView } from "../core/exits.js";
import type { FieldValue } from "../core/trace.js";
import { esrView } from "./decoders.js";
import { HCR_BITS } from "./el2.js";
import { SYSREGS } from "./sysregs.js";
import { MmuFault } from "./mmu.js";
import type { Arm64Machine } from "./machine.js";
import { ARM64_DTB_BASE } from "../guests/arm64/boot.js";
import { dtbToDts } from "../guests/arm64/dtb.js";

export const ARM64_VIEW_NAMES = ["regs", "exit", "esr", "sysregs", "hcr", "stage2", "translate", "stats", "dtb"] as const;
import { hex } from "../core/bits.js";

export function machineView(m: Arm64Machine, name: string, arg?: string): MachineView {
  const cpu = m.cpu;
  switch (name.toLowerCase()) {
    case "regs": {
      const s = cpu.state;
      const rows: FieldValue[][] = s.x.map((v, i) => [`x${i}`, hex(v)]);
      rows.push(["sp", hex(s.currentSp)], ["pc", hex(s.pc)], ["pstate", hex(cpu.pstate)], ["el", `EL${s.el}${s.spsel ? "h" : "t"}`], ["nzcv", s.nzcv.toString(2).padStart(4, "0")]);
      return { title: "arm64 registers (guest view)", columns: ["register", "value"], rows };
    }
    case "exit":
      return exitView(m.exits, m.pendingExit);
    case "dtb": {
      // The tree the loader gave the guest in x0, as it is in guest memory now, as dts text.
      const head = m.memory.readBytes(ARM64_DTB_BASE, 8);
      const total = new DataView(head.buffer, head.byteOffset, 8).getUint32(4);
      let dts: string;
      try {
        dts = dtbToDts(m.memory.readBytes(ARM64_DTB_BASE, Math.min(total, 1 << 20)));
      } catch (e) {
        throw new ExitlabError(`the device tree at ${hex(ARM64_DTB_BASE)}: ${(e as Error).message}`, "the guest may have overwritten it");
      }
      return { title: `device tree at ${hex(ARM64_DTB_BASE)} (dts)`, columns: ["dts"], rows: dts.trimEnd().split("\n").map((l) => [l.replace(/\t/g, "    ")]) };
    }
    case "esr": {
      const which = (arg ?? "el2").toLowerCase().replace(/^esr_/, "");
      const esr = cpu.reg(which === "el1" ? "ESR_EL1" : "ESR_EL2");
      return esrView(esr, `ESR_${which.toUpperCase()}`);
    }
    case "sysregs": {
      const want = (arg ?? "el1").toLowerCase();
      const regs = SYSREGS.filter((r) => want === "all" || (want === "el2" ? r.minEl === 2 : r.minEl < 2));
      if (!["el1", "el2", "all"].includes(want)) throw new ExitlabError(`show sysregs takes el1, el2 or all, not ${arg}`);
      return {
        title: `system registers (${want})`,
        columns: ["register", "value", "trapped by", "meaning"],
        rows: regs.map((r) => [r.name.toLowerCase(), hex(cpu.readSysregValue(r.name)), r.trap ? `HCR_EL2.${r.trap.toUpperCase()}` : "", r.doc]),
      };
    }
    case "hcr": {
      const v = m.kvm.hcr();
      return { title: `HCR_EL2 = ${hex(v)}`, columns: ["bit", "name", "state", "meaning"], rows: HCR_BITS.map((b) => {
        const f = (v >> BigInt(b.bit)) & ((1n << BigInt(b.width ?? 1)) - 1n);
        return [b.bit, b.name, (b.width ?? 1) > 1 ? hex(f) : f ? "on" : "off", b.doc];
      }) };
    }
    case "stage2": {
      const s2 = m.kvm.stage2;
      return {
        title: `stage 2 (VTTBR_EL2 ${hex(s2.vttbr)}, VTCR_EL2 ${hex(s2.vtcr)}, ${s2.granule} pages)`,
        columns: ["ipa", "size", "descriptor", "attributes"],
        rows: s2.mappings().map((x) => [hex(x.ipa), hex(x.size), hex(x.descriptor), "Normal WB, read/write"]),
      };
    }
    case "translate": {
      if (arg === undefined) throw new ExitlabError("show translate needs a virtual address", "e.g. show translate 0x40080000");
      const va = BigInt(arg);
      const rows: FieldValue[][] = [];
      for (const kind of ["fetch", "read", "write"] as const) {
        try {
          const t = cpu.mmu.walk(va, kind, cpu.state.el);
          rows.push([kind, hex(t.ipa), hex(t.pa), t.s1.text, t.s2.text, t.final.text]);
        } catch (e) {
          if (!(e instanceof MmuFault)) throw e;
          rows.push([kind, e.stage === 2 ? hex(e.ipa) : "", "", `stage ${e.stage} ${e.kind} fault, level ${e.level}${e.s1ptw ? " (on the stage-1 walk)" : ""}`, "", ""]);
        }
      }
      return { title: `translation of ${hex(va)} at EL${cpu.state.el}`, columns: ["access", "ipa", "pa", "stage 1", "stage 2", "combined"], rows };
    }
    case "stats":
      return { title: "KVM vcpu statistics", columns: ["counter", "value"], rows: Object.entries(m.kvm.stats).map(([k, v]) => [k, v]) };
    default:
      throw new ExitlabError(`unknown arm64 view ${name}`, `views: ${ARM64_VIEW_NAMES.join(", ")}`);
  }
}
