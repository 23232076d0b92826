// `show` tables of the x86 machine: registers, the last exit, the VMCS by group (the talk's six
// boxes), EPT mappings, KVM's counters.

import { vmxSwitchView } from "./vmx/switch.js";
import { ExitlabError } from "../core/errors.js";
import type { Exit, MachineView } from "../core/machine.js";
import { exitView } from "../core/exits.js";
import type { FieldValue } from "../core/trace.js";
import { VMCS_GROUPS, type VmcsGroup } from "./vmx/fields.js";
import { CONTROL_FIELDS, controlNames } from "./vmx/controls.js";
import type { X86Machine } from "./machine.js";
import { GPR32_NAMES } from "./registers.js";
import { cpuidView } from "./kvm/cpuid-view.js";
import { APIC_REGISTERS } from "./apic/registers.js";

/** `show apic`: the local APIC's registers from the register table (SDM Vol. 3 Table 11-1), its timer and APICv. */
function apicView(m: X86Machine): MachineView {
  const l = m.irq.lapic;
  const rows: FieldValue[][] = [];
  for (const r of APIC_REGISTERS) {
    if (r.access === "w" || (r.x2apicOnly && !l.x2apic) || (r.xapicOnly && l.x2apic)) continue;
    rows.push([`APIC_${r.name}`, hex(r.offset), hex(l.readReg(r.offset)), r.doc]);
  }
  const deadline = l.timerDeadline === Infinity ? "disarmed" : `fires at cycle ${l.timerDeadline} (now ${m.time})`;
  rows.push(["timer", "", ["one-shot", "periodic", "tsc-deadline", "reserved"][l.timerMode()]!, deadline]);
  rows.push(["IA32_APIC_BASE", "0x1b", hex(l.baseMsr), l.x2apic ? "x2APIC mode (MSRs 0x800-0x8ff)" : l.hwEnabled ? `xAPIC mode (MMIO at ${hex(l.baseAddress)})` : "disabled"]);
  rows.push(["APICv", "", m.irq.apicv ? "on" : "off", "APIC-register virtualization, virtual-interrupt delivery, posted interrupts (`set apicv on|off`)"]);
  rows.push(["counts", "", `${l.counts.accepted} accepted, ${l.counts.eoi} EOIs, ${l.counts.ipi} IPIs, ${l.counts.timer} timer expiries`, ""]);
  return { title: `local APIC (KVM's in-kernel APIC, vCPU ${m.vcpu.id})`, columns: ["register", "offset", "value", "meaning"], rows };
}

/** The selected vCPU's last exit: the pending one (the loaded vCPU's), else its newest kept; null: none. */
function selectedExit(m: X86Machine): Exit | null {
  if (m.sched.count === 1 || (m.selected === m.sched.current && m.pendingExit)) return m.pendingExit;
  for (let k = m.exits.length - 1; k >= 0; k--) {
    const e = m.exits.at(k)!;
    if (e.info.vcpu === m.selected) return e;
  }
  return null;
}

/** `show vcpus`: each vCPU's run state, KVM mp_state, APIC ID, rip, instructions and exits. */
function vcpusView(m: X86Machine): MachineView {
  return {
    title: `vCPUs (${m.sched.count}; quantum ${m.sched.quantum} instructions; \`vcpu N\` selects, selected: ${m.selected})`,
    columns: ["vcpu", "state", "mp_state", "apic id", "rip", "instructions", "exits"],
    rows: m.vcpuControl.list().map((v) => [v.id, v.state, m.vcpus[v.id]!.mp, m.vcpus[v.id]!.irq.lapic.id, hex(v.pc), v.steps, v.exits]),
  };
}

export const X86_VIEW_NAMES = ["regs", "vcpus", "exit", "vmcs", "controls", "ept", "cpuid", "stats", "switch", "apic"] as const;
import { hex } from "../core/bits.js";

export function machineView(m: X86Machine, name: string, arg?: string): MachineView {
  switch (name.toLowerCase()) {
    case "regs": {
      const rows: FieldValue[][] = [];
      const names = m.registerNames().filter((r) => !GPR32_NAMES.includes(r));
      for (const r of names) rows.push([r, hex(m.readRegister(r))]);
      rows.push(["mode", m.cpu.state.mode]);
      return { title: `x86-64 registers (guest view${m.sched.count > 1 ? ` of vCPU ${m.vcpu.id}` : ""})`, columns: ["register", "value"], rows };
    }
    case "vcpus":
      return vcpusView(m);
    case "exit": {
      const e = selectedExit(m);
      const v = exitView(m.exits, e);
      // The selected vCPU's last exit is pending only when it is the machine's pending one.
      return e !== null && e !== m.pendingExit ? { ...v, title: v.title.replace(" (pending)", ` (vCPU ${m.selected}'s last)`) } : v;
    }
    case "switch":
      return vmxSwitchView(m.vmcs);
    case "apic":
      return apicView(m);
    case "vmcs": {
      let groups = VMCS_GROUPS;
      if (arg) {
        const want = arg.toLowerCase().replace(/_/g, "-");
        groups = VMCS_GROUPS.filter((g) => g.group === want || g.title.toLowerCase().startsWith(want));
        if (!groups.length) throw new ExitlabError(`no VMCS group ${arg}`, `groups: ${VMCS_GROUPS.map((g) => g.group).join(", ")}`);
      }
      const rows: FieldValue[][] = [];
      for (const g of groups) {
        for (const { field, value } of m.vmcs.group(g.group as VmcsGroup)) {
          const ctlTable = CONTROL_FIELDS.find((c) => c.field === field.name);
          const decoded = ctlTable ? controlNames(field.name, Number(value)).join(" ") : "";
          rows.push([g.title, field.name, hex(field.encoding), String(field.width), hex(value), decoded]);
        }
      }
      return { title: "VMCS", columns: ["group", "field", "encoding", "width", "value", "decoded"], rows };
    }
    case "controls": {
      // Every control bit of the five control fields, on or off, with what it makes exit.
      const rows: FieldValue[][] = [];
      for (const { field, bits } of CONTROL_FIELDS) {
        const value = m.vmcs.read32(field);
        for (const b of bits) rows.push([field, b.name, b.bit, (value >>> b.bit) & 1 ? "on" : "off", b.doc]);
      }
      return { title: "VMX controls", columns: ["field", "control", "bit", "state", "meaning"], rows };
    }
    case "ept": {
      const rows: FieldValue[][] = m.ept.mappings().map(([gpa, e]) => {
        const p = Number(e & 7n);
        const perms = (p & 1 ? "r" : "-") + (p & 2 ? "w" : "-") + (p & 4 ? "x" : "-");
        return [hex(gpa), hex(e), perms, (p & 3) === 2 ? "MMIO (misconfigured on purpose)" : "RAM"];
      });
      return { title: `EPT (EPTP ${hex(m.ept.eptp)})`, columns: ["guest-physical", "entry", "perms", "kind"], rows };
    }
    case "cpuid":
      // The VM's CPUID: its -cpu model and vCPU count applied (kvm/cpuid-view.ts).
      return cpuidView(m.vmCpuid, m.settings.era);
    case "stats":
      return { title: "KVM vcpu statistics", columns: ["counter", "value"], rows: Object.entries(m.kvm.stats).map(([k, v]) => [k, v]) };
    default:
      throw new ExitlabError(`unknown x86 view ${name}`, `views: ${X86_VIEW_NAMES.join(", ")}`);
  }
}
