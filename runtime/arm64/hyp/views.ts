// `show switch` and `show costs` of the arm64 machine: the world switch of the last exit, executed
// again at EL2 with that exit's guest state (switch.ts), phase by phase; and the modelled hypercall
// round trips next to the published figures (costs.ts PAPER_HYPERCALL).

import type { MachineView } from "../../core/machine.js";
import type { FieldValue } from "../../core/trace.js";
import type { Arm64Machine } from "../machine.js";
import { EXIT_IRQ } from "../exit-schema.js";
import { runSwitch, switchProfile, type GuestState } from "./switch.js";
import { EL1_SYSREGS } from "./source.js";
import { OP_CYCLES, PAPER_HYPERCALL } from "./costs.js";
import { exitCost } from "../cost.js";
import { exitCost as x86ExitCost } from "../../x86/cost.js";

/** The guest state the switch moves at this exit: GPRs, pc, PSTATE, EL1 registers, HCR_EL2/VTTBR_EL2. */
function guestState(m: Arm64Machine): GuestState {
  const cpu = m.cpu;
  const sysregs = new Map<string, bigint>();
  for (const n of EL1_SYSREGS) sysregs.set(n, cpu.readSysregValue(n));
  return {
    x: Array.from({ length: 31 }, (_, n) => cpu.state.x[n]!),
    pc: cpu.state.pc,
    pstate: cpu.pstate,
    sysregs,
    hcr: cpu.reg("HCR_EL2"),
    vttbr: cpu.reg("VTTBR_EL2") || 1n << 48n,
    usedLrs: 0,
  };
}

/**
 * `show switch`: the world switch of the last (or pending) exit, as the hyp executes it at EL2 for
 * this VM's model: per phase (exit half, then entry half), the instructions, the system registers
 * read and written, memory and GICH accesses, and cycles (OP_CYCLES). Before any exit: the switch of
 * a trap.
 */
export function switchView(m: Arm64Machine): MachineView {
  const last = m.exits.total ? m.exits.at(-1) : undefined;
  const kind = last?.code === EXIT_IRQ ? "irq" : "trap";
  const v = m.switchVariant;
  const r = runSwitch(v, kind, guestState(m), last ? Number(last.info.esr ?? 0) >>> 0 : undefined);
  const rows: FieldValue[][] = r.phases.map((p) => [
    p.half, p.phase, p.instructions, p.reads.length, p.writes.length, (p.counts.mem_pair ?? 0) + (p.counts.mem ?? 0),
    (p.counts.mmio_read ?? 0) + (p.counts.mmio_write ?? 0), p.cycles,
    [...p.reads.map((n) => `${n}→`), ...p.writes.map((n) => `→${n}`)].join(" "),
  ]);
  rows.push(["", "total", r.instructions, r.phases.reduce((a, p) => a + p.reads.length, 0), r.phases.reduce((a, p) => a + p.writes.length, 0), r.ops.filter((o) => o.kind === "mem" || o.kind === "mem_pair").length, r.ops.filter((o) => o.kind.startsWith("mmio")).length, r.cycles, ""]);
  const what = v.model === "vhe" ? `VHE (host at EL2)${v.deferred ? ", EL1 state deferred to vcpu load/put" : ", EL1 state switched through *_EL12"}` : "nVHE (host at EL1, hyp at EL2)";
  return {
    title: `world switch of ${last ? `exit ${last.index} (${last.reason})` : "a trap"}: ${what}, GIC${v.gic}; executed at EL2, ${r.instructions} instructions, ${r.sysregAccesses} system-register accesses, ${r.cycles} cycles (reg→ saved, →reg restored/written)`,
    columns: ["half", "phase", "instructions", "mrs", "msr", "memory", "gich", "cycles", "system registers"],
    rows,
  };
}

/** `show costs`: modelled hypercall round trips against the papers, and the per-operation weights. */
export function costsView(): MachineView {
  const rows: FieldValue[][] = PAPER_HYPERCALL.map((f) => {
    const c = f.config;
    const variant = { model: c.model ?? "nvhe", deferred: c.model === "vhe" && c.era === "today", gic: c.gic ?? "v2" } as const;
    const gic = f.exit === "gic_trap";
    const model = c.arch === "x86_64" ? x86ExitCost("VMCALL").cycles : exitCost(gic ? "DABT_LOW" : "HVC64", { kernelMmio: gic }, variant).cycles;
    const cfg = c.arch === "x86_64" ? "x86_64" : `arm64 model ${c.model}, era ${c.era}, gic ${c.gic}`;
    return [f.what, cfg, f.cycles, model, `${Math.round(((model - f.cycles) / f.cycles) * 100)}%`, f.note ? `${f.source}; ${f.note}` : f.source];
  });
  for (const o of Object.values(OP_CYCLES)) rows.push([`per operation: ${o.doc}`, "arm64 hyp", "", o.cycles, "", o.source]);
  return { title: "exit round trips: model vs paper (cycles; paper figures second-hand or recalled, as each source says: see runtime/arm64/hyp/costs.ts)", columns: ["what", "configuration", "paper", "model", "difference", "source"], rows };
}

/**
 * The per-exit world switch of two arm64 VMs side by side (`compare` adds it when their switch
 * variants differ, e.g. the same guest under `set model nvhe` and `set model vhe`): per exit kind,
 * each VM's executed instructions, system-register accesses and switch cycles, and the difference.
 * Returns null when both VMs switch the same way.
 */
export function switchCompareView(a: { name: string; m: Arm64Machine }, b: { name: string; m: Arm64Machine }): MachineView | null {
  const va = a.m.switchVariant, vb = b.m.switchVariant;
  if (va.model === vb.model && va.deferred === vb.deferred && va.gic === vb.gic) return null;
  const label = (v: typeof va) => `${v.model}${v.model === "vhe" ? (v.deferred ? ", EL1 deferred" : ", EL1 via *_EL12") : ""}, GIC${v.gic}`;
  const rows: FieldValue[][] = [];
  for (const kind of ["trap", "irq"] as const) {
    const ra = switchProfile(va, kind), rb = switchProfile(vb, kind);
    rows.push([kind, ra.instructions, ra.sysregAccesses, ra.cycles, rb.instructions, rb.sysregAccesses, rb.cycles, rb.instructions - ra.instructions, rb.sysregAccesses - ra.sysregAccesses, rb.cycles - ra.cycles]);
  }
  return {
    title: `world switch per exit, executed at EL2: ${a.name} (${label(va)}) vs ${b.name} (${label(vb)})`,
    columns: ["exit", `${a.name} instructions`, `${a.name} sysreg accesses`, `${a.name} cycles`, `${b.name} instructions`, `${b.name} sysreg accesses`, `${b.name} cycles`, "Δ instructions", "Δ sysreg accesses", "Δ cycles"],
    rows,
  };
}
