// `show` tables of the arm64 machine: registers, the last exit, ESR_EL2 decoded field by field,
// system registers (EL1 / EL2), HCR_EL2 bits, the stage-2 mappings, a translation walk, KVM's counters.

import { ExitlabError } from "../core/errors.js";
import type { Exit, MachineView } from "../core/machine.js";
import { exitView } from "../core/exits.js";
import type { FieldValue } from "../core/trace.js";
import { esrView } from "./decoders.js";
import { HCR_BITS } from "./el2.js";
import { SYSREGS, type SysregDef } from "./sysregs.js";
import { trapBitOf } from "./el2.js";
import { NR_IRQS, MAINT_INTID } from "./gic/dist.js";
import { TIMERS } from "./timer.js";
import { HW_MAPPED_TIMER } from "./kvm/vgic.js";
import { MmuFault } from "./mmu.js";
import type { Arm64Machine } from "./machine.js";
import { costsView, switchView } from "./hyp/views.js";
import { dtbToDts } from "../guests/arm64/dtb.js";

export const ARM64_VIEW_NAMES = ["regs", "vcpus", "exit", "esr", "sysregs", "hcr", "stage2", "translate", "stats", "dtb", "gic", "timer", "switch", "costs"] as const;
import { hex } from "../core/bits.js";

/** The control that traps a register group, as `show sysregs` names it. */
function trappedBy(trap: SysregDef["trap"]): string {
  if (!trap) return "";
  if (trap === "icc") return "";
  const bit = trapBitOf(trap, false);
  return bit.includes(".") ? bit : `HCR_EL2.${trap === "tvm" ? "TVM" : bit}`;
}

/**
 * `show gic`: the vGIC's version, distributor state of every interrupt in use, the list registers,
 * as the selected vCPU (`vcpu N`) sees them: its banked SGIs and PPIs (GICv3 redistributor, GICv2
 * banked registers), its CPU interface and list registers.
 */
function gicView(m: Arm64Machine): MachineView {
  return m.vgic.withVcpu(m.selected, () => gicViewLoaded(m));
}

function gicViewLoaded(m: Arm64Machine): MachineView {
  const v = m.vgic, d = v.dist, c = v.cpuif;
  m.vgic.syncTimers();
  const rows: FieldValue[][] = [];
  for (let i = 0; i < NR_IRQS; i++) {
    if (!d.enabled[i] && !d.isPending(i) && !d.active[i] && !(i >= 16 && i < 32 && d.level[i])) continue;
    if (i < 16 && v.version === "v2" && !d.isPending(i) && !d.active[i]) continue; // v2 SGIs are always enabled: list them when in use
    const kind = i < 16 ? "SGI" : i < 32 ? "PPI" : "SPI";
    const what = TIMERS.find((t) => t.intid === i)?.name ?? (i === MAINT_INTID ? "maintenance" : "");
    rows.push([`distributor`, `${i} ${kind}${what ? ` (${what})` : ""}`, d.enabled[i] ? "enabled" : "disabled", [d.isPending(i) ? "pending" : "", d.active[i] ? "active" : ""].filter(Boolean).join("+") || "inactive", hex(d.priority[i]!), d.edge[i] ? "edge" : "level"]);
  }
  const v3 = v.version === "v3";
  c.lrs.forEach((lr, n) => {
    const name = v3 ? `ICH_LR${n}_EL2` : `GICH_LR${n}`;
    rows.push([name, hex(c.encode(n, v3)), lr.state ? `INTID ${lr.intid}` : "", ["invalid", "pending", "active", "pending+active"][lr.state]!, hex(lr.priority), lr.hw ? "HW (physical deactivated with it)" : lr.eoi ? "EOI (maintenance interrupt)" : ""]);
  });
  rows.push(["cpu interface", v3 ? `ICC_IGRPEN1 ${c.enabled ? 1 : 0}` : `GICV_CTLR ${c.enabled ? 1 : 0}`, `PMR ${hex(c.pmr)}`, `running ${c.runningPriority > 0xff ? "idle" : hex(c.runningPriority)}`, c.virq ? "vIRQ signalled" : "no vIRQ", ""]);
  rows.push(["counts", `maintenance ${v.stats.maintenance}`, `exitless EOIs of HW interrupts ${v.stats.eoiExitless}`, `VMM injections ${v.stats.injected}`, `SGIs ${v.stats.sgis}`, ""]);
  return {
    title: `${v3 ? "GICv3" : "GICv2"}${m.sched.count > 1 ? ` as vCPU ${m.selected} sees it` : ""} (KVM vGIC, ${m.settings.era}: the virtual timer ${HW_MAPPED_TIMER[m.settings.era] ? "HW-mapped, its EOI exits nowhere" : "injected as a plain level interrupt, its EOI raises the maintenance interrupt"})`,
    columns: ["where", "interrupt / value", "enable", "state", "priority", "config"],
    rows,
  };
}

/** `show timer`: the counter and the selected vCPU's (`vcpu N`) two EL1 timers, computed from modelled time now. */
function timerView(m: Arm64Machine): MachineView {
  const g = m.viewVcpu.timer;
  const rows: FieldValue[][] = [
    ["modelled time", `${m.clock.now()} cycles`, `${m.clock.idle - m.clock.skipped} blocked`, `${m.clock.skipped} in skipped polling loops`, "", ""],
    ["CNTPCT_EL0", hex(g.physicalCount()), "", "", "", `CNTFRQ_EL0 ${g.freq()} Hz`],
    ["CNTVOFF_EL2", hex(g.cntvoff), "", "", "", ""],
  ];
  for (const t of g.timers) {
    const at = g.deadline(t);
    rows.push([`${t.def.prefix}_CTL_EL0 (${t.def.name})`, hex(t.readCtl()), `CVAL ${hex(t.cval)}`, `TVAL ${BigInt.asIntN(32, t.readTval())}`, `INTID ${t.def.intid}${t.output() ? " asserted" : ""}`, at === null ? (t.fired ? "fired" : "not armed") : `fires at cycle ${at}`]);
  }
  return { title: `generic timer${m.sched.count > 1 ? ` of vCPU ${m.selected}` : ""} (Arm ARM D11)`, columns: ["register", "value", "compare", "remaining ticks", "interrupt", "deadline"], rows };
}

/** The selected vCPU's last exit: the pending one, else its newest kept (undefined: none). */
function selectedExit(m: Arm64Machine): Exit | null {
  if (m.sched.count === 1) return m.pendingExit;
  if (m.selected === m.sched.current && m.pendingExit) return m.pendingExit;
  for (let k = m.exits.length - 1; k >= 0; k--) {
    const e = m.exits.at(k)!;
    if (e.info.vcpu === m.selected) return e;
  }
  return null;
}

export function machineView(m: Arm64Machine, name: string, arg?: string): MachineView {
  // Per-vCPU views read the selected vCPU (`vcpu N`).
  const cpu = m.viewVcpu.cpu;
  const smp = m.sched.count > 1 ? ` of vCPU ${m.selected}` : "";
  switch (name.toLowerCase()) {
    case "vcpus":
      return {
        title: `vCPUs (${m.sched.count}; quantum ${m.sched.quantum} instructions; \`vcpu N\` selects, selected: ${m.selected})`,
        columns: ["vcpu", "state", "mpidr", "pc", "instructions", "exits"],
        rows: m.vcpuControl.list().map((v) => [v.id, v.state, hex(m.vcpus[v.id]!.cpu.reg("VMPIDR_EL2")), hex(v.pc), v.steps, v.exits]),
      };
    case "switch":
      return switchView(m);
    case "costs":
      return costsView();
    case "gic":
      return gicView(m);
    case "timer":
      return timerView(m);
    case "regs": {
      const s = cpu.state;
      const rows: FieldValue[][] = s.x.map((v, i) => [`x${i}`, hex(v)]);
      rows.push(["sp", hex(s.currentSp)], ["pc", hex(s.pc)], ["pstate", hex(cpu.pstate)], ["el", `EL${s.el}${s.spsel ? "h" : "t"}`], ["nzcv", s.nzcv.toString(2).padStart(4, "0")]);
      return { title: `arm64 registers (guest view${smp})`, columns: ["register", "value"], rows };
    }
    case "exit":
    {
      const e = selectedExit(m);
      const v = exitView(m.exits, e);
      // The selected vCPU's last exit is pending only when it is the machine's pending one.
      return e !== null && e !== m.pendingExit ? { ...v, title: v.title.replace(" (pending)", ` (vCPU ${m.selected}'s last)`) } : v;
    }
    case "dtb": {
      // The tree the loader gave the guest in x0, as it is in guest memory now, as dts text.
      const at = m.dtbAddress;
      const head = m.memory.readBytes(at, 8);
      const total = new DataView(head.buffer, head.byteOffset, 8).getUint32(4);
      let dts: string;
      try {
        dts = dtbToDts(m.memory.readBytes(at, Math.min(total, 1 << 20)));
      } catch (e) {
        throw new ExitlabError(`the device tree at ${hex(at)}: ${(e as Error).message}`, "the guest may have overwritten it");
      }
      return { title: `device tree at ${hex(at)} (dts)`, columns: ["dts"], rows: dts.trimEnd().split("\n").map((l) => [l.replace(/\t/g, "    ")]) };
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
        // Reading an acknowledge register would acknowledge an interrupt: those are not read here.
        rows: regs.map((r) => [r.name.toLowerCase(), /^ICC_IAR/.test(r.name) ? "(read acknowledges)" : r.writeOnly ? "" : hex(cpu.readSysregValue(r.name)), trappedBy(r.trap), r.doc]),
      };
    }
    case "hcr": {
      const v = m.viewVcpu.kvm.hcr();
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
      return { title: `KVM vcpu statistics${smp}`, columns: ["counter", "value"], rows: Object.entries(m.viewVcpu.kvm.stats).map(([k, v]) => [k, v]) };
    default:
      throw new ExitlabError(`unknown arm64 view ${name}`, `views: ${ARM64_VIEW_NAMES.join(", ")}`);
  }
}
