// Runs the world switch (source.ts) on the modelled A64 CPU at EL2 and counts what it executes.
// The hyp lives in its own host-physical memory (HostMemory at 0x1_0000_0000, which no stage-2
// table maps: the guest cannot reach it), with the GICv2 GICH block on its bus. One run is: the
// host enters the guest (nVHE: the host's `hvc #0` to `__kvm_vcpu_run`, which restores the guest
// and `eret`s into it; VHE: a call at EL2), then the guest traps (exception entry to EL2 through
// VBAR_EL2 + 0x400, or + 0x480 for an IRQ) and the exit path saves the guest and returns to the
// host. Every instruction is executed by the CPU's own semantics (A64Engine, one at a time), and
// counted by kind and phase; costs.ts weighs the counts.
//
// The switch does not depend on the guest's register values, only on the variant and the exit
// kind, so the machine runs it once per (variant, kind) and reuses the counted cost for every
// exit (`switchProfile`); `show switch` runs it again with the last exit's actual guest state.

import { A64Cpu } from "../cpu.js";
import { A64Engine } from "../engine.js";
import { HostMemory } from "../../core/host-memory.js";
import { MmioBus, type MmioDevice } from "../../core/bus.js";
import { assembleA64, disassembleA64 } from "../isa/index.js";
import { hcr } from "../el2.js";
import { EC } from "../esr.js";
import { CTL, CTX, EL1_SYSREGS, GICH, LIST_REGISTERS, VCPU, hypSource, type HypVariant } from "./source.js";
import { OP_CYCLES, type SwitchOpKind } from "./costs.js";
import type { CostComponent } from "../../core/cost.js";

/** One executed instruction of the switch. */
export interface SwitchOp {
  pc: bigint;
  text: string;
  phase: string;
  kind: SwitchOpKind;
  /** The system register an MRS/MSR named. */
  sysreg?: string;
}

/** One phase (a label of source.ts) of a switch run, with what it executed. */
export interface SwitchPhase {
  phase: string;
  /** "exit" (guest → host) or "entry" (host → guest). */
  half: "exit" | "entry";
  instructions: number;
  counts: Partial<Record<SwitchOpKind, number>>;
  /** System registers read (MRS) and written (MSR), in order. */
  reads: string[];
  writes: string[];
  cycles: number;
}

export interface SwitchRun {
  variant: HypVariant;
  kind: "trap" | "irq";
  ops: SwitchOp[];
  phases: SwitchPhase[];
  instructions: number;
  sysregAccesses: number;
  cycles: number;
}

/** Guest state the switch moves, when known (show switch): GPRs, pc, PSTATE and EL1 registers by name. */
export interface GuestState {
  x: readonly bigint[];
  pc: bigint;
  pstate: bigint;
  sysregs: ReadonlyMap<string, bigint>;
  hcr: bigint;
  vttbr: bigint;
  usedLrs: number;
}

/** A register file standing for the GICv2 virtual interface control block (GICH), with access counts. */
class GichBlock implements MmioDevice {
  readonly name = "GICH";
  readonly regs = new Map<number, bigint>();
  reads = 0;
  writes = 0;
  read(offset: number): bigint {
    this.reads++;
    if (offset === GICH.ELRSR0) return this.regs.get(offset) ?? 0xfn;
    return this.regs.get(offset) ?? 0n;
  }
  write(offset: number, _size: number, value: bigint): void {
    this.writes++;
    this.regs.set(offset, value & 0xffff_ffffn);
  }
}

const HYP_CODE = 0x1_0000_0000;
const HOST_PC = 0x1_0008_0000n;

const PROGRAMS = new Map<string, ReturnType<typeof assembleA64>>();
const variantKey = (v: HypVariant) => `${v.model}/${v.deferred ? "deferred" : "switched"}/${v.gic}`;

/** The hyp program of a variant, assembled once. */
export function hypProgram(v: HypVariant): ReturnType<typeof assembleA64> {
  const k = variantKey(v);
  let p = PROGRAMS.get(k);
  if (!p) PROGRAMS.set(k, (p = assembleA64(hypSource(v), { base: BigInt(HYP_CODE), fileName: "hyp.S" })));
  return p;
}

/** The default guest state of a profile run: the values do not change what executes. */
const DEFAULT_GUEST: GuestState = {
  x: Array.from({ length: 31 }, (_, n) => BigInt(n)),
  pc: 0x4008_0000n,
  pstate: 0x3c5n,
  sysregs: new Map(),
  hcr: hcr("VM") | hcr("SWIO") | hcr("FMO") | hcr("IMO") | hcr("AMO") | hcr("TSC") | hcr("TWI") | hcr("TVM") | hcr("RW"),
  vttbr: (1n << 48n) | 0x1_0010_0000n,
  usedLrs: 0,
};

/**
 * Run one round trip of the switch for `variant`: the host enters the guest, the guest takes an
 * exit of `kind` (a trap with `esr`, or an IRQ), the exit path returns to the host. Returns every
 * executed instruction, counted by phase and weighed by OP_CYCLES. Throws an Error if the hyp
 * does not reach the guest or the host (a bug in source.ts).
 */
export function runSwitch(variant: HypVariant, kind: "trap" | "irq", guest: GuestState = DEFAULT_GUEST, esr = ((EC.HVC64 << 26) | (1 << 25)) >>> 0): SwitchRun {
  const vhe = variant.model === "vhe";
  const host = new HostMemory(HYP_CODE, 1024 * 1024);
  const bus = new MmioBus();
  const gich = new GichBlock();
  bus.add(GICH.base, 0x1000, gich);
  const cpu = new A64Cpu(host.memory, bus, host.memory);
  cpu.gicSysregs = true;
  const engine = new A64Engine(cpu, host.memory);
  engine.jit = false;
  const program = hypProgram(variant);
  host.alloc(Math.ceil(program.bytes.length / 4096) * 4096, 4096);
  host.memory.writeBytes(HYP_CODE, program.bytes);
  const vcpu = host.alloc(0x1000, 4096);
  const stack = host.alloc(0x1000, 4096) + 0x1000;
  const sym = (n: string) => program.symbols.get(n)!;
  // Phases: the labels of source.ts by address.
  const labels = [...program.symbols].filter(([n]) => n.startsWith("__")).sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const phaseOf = (pc: bigint) => {
    let name = "";
    for (const [n, a] of labels) if (a <= pc) name = n; else break;
    return name.replace(/^__/, "");
  };
  // The vcpu: the guest's context, controls, vGIC state.
  const w64 = (pa: number, v: bigint) => host.memory.write(pa, 8, v);
  guest.x.forEach((v, n) => w64(vcpu + VCPU.guest + CTX.gprs + 8 * n, v));
  w64(vcpu + VCPU.guest + CTX.pc, guest.pc);
  w64(vcpu + VCPU.guest + CTX.pstate, guest.pstate);
  EL1_SYSREGS.forEach((n, i) => w64(vcpu + VCPU.guest + CTX.sys + 8 * i, guest.sysregs.get(n) ?? 0n));
  const hostHcr = vhe ? hcr("E2H") | hcr("TGE") | hcr("RW") : hcr("RW");
  w64(vcpu + VCPU.ctl + CTL.hcr, guest.hcr | (vhe ? hcr("E2H") : 0n));
  w64(vcpu + VCPU.ctl + CTL.vttbr, guest.vttbr);
  w64(vcpu + VCPU.ctl + CTL.hostHcr, hostHcr);
  w64(vcpu + VCPU.ctl + CTL.usedLrs, BigInt(Math.min(guest.usedLrs, LIST_REGISTERS)));
  // The host as it calls in: EL2 controls, its stack, and (nVHE) its EL1 context.
  cpu.setReg("HCR_EL2", hostHcr);
  cpu.setReg("VBAR_EL2", sym("__hyp_vectors"));
  cpu.setReg("SCTLR_EL2", 0x30c5_0838n);
  const s = cpu.state;
  s.sp[2] = BigInt(stack);
  const ops: SwitchOp[] = [];
  const run = (half: "exit" | "entry", until: () => boolean): void => {
    for (let n = 0; !until(); n++) {
      if (n > 10_000) throw new Error(`hyp ${variantKey(variant)}: the ${half} path did not finish`);
      const pc = s.pc;
      const word = host.memory.read32(Number(pc));
      const text = disassembleA64(word, pc);
      const r0 = gich.reads, w0 = gich.writes;
      engine.run(1);
      const mn = text.split(/\s+/)[0]!;
      let k: SwitchOpKind = "other";
      let sysreg: string | undefined;
      if (gich.reads > r0) k = "mmio_read";
      else if (gich.writes > w0) k = "mmio_write";
      else if (mn === "mrs") { k = "mrs"; sysreg = text.split(/,\s*/)[1]!.trim().toUpperCase(); }
      else if (mn === "msr") { k = "msr"; sysreg = text.replace(/^msr\s+/, "").split(",")[0]!.trim().toUpperCase(); }
      else if (mn === "ldp" || mn === "stp") k = "mem_pair";
      else if (/^(ldr|str)/.test(mn)) k = "mem";
      else if (mn === "eret") k = "eret";
      ops.push({ pc, text, phase: `${half}:${phaseOf(pc)}`, kind: k, sysreg });
    }
  };
  const takeToEl2 = (half: "exit" | "entry", esrValue: number, elr: bigint, offset: bigint) => {
    // Exception entry to EL2 (Arm ARM D1.10): ESR/ELR/SPSR_EL2, PSTATE.EL = 2 with SP_EL2, DAIF masked.
    cpu.setReg("ESR_EL2", BigInt(esrValue));
    cpu.setReg("ELR_EL2", elr);
    cpu.setReg("SPSR_EL2", cpu.pstate);
    s.el = 2;
    s.spsel = 1;
    s.daif = 0xf;
    s.pc = (cpu.reg("VBAR_EL2") & ~0x7ffn) + offset;
    ops.push({ pc: s.pc, text: "(exception entry to EL2)", phase: `${half}:exception_entry`, kind: "entry" });
  };
  // Host → guest.
  if (vhe) {
    s.el = 2; s.spsel = 1; s.daif = 0xf;
    s.x[0] = BigInt(vcpu);
    s.x[30] = sym("__host_return");
    s.pc = sym("__kvm_vcpu_run");
  } else {
    // The host kernel at EL1: kvm_call_hyp(__kvm_vcpu_run, vcpu) is `hvc #0` (ELR_EL2 = past it).
    s.el = 1; s.spsel = 1;
    s.x[0] = sym("__kvm_vcpu_run");
    s.x[1] = BigInt(vcpu);
    takeToEl2("entry", ((EC.HVC64 << 26) | (1 << 25)) >>> 0, HOST_PC + 4n, 0x400n);
  }
  run("entry", () => s.el < 2);
  // The guest runs, then traps (or takes an IRQ) to EL2.
  takeToEl2("exit", kind === "irq" ? 0 : esr, s.pc, kind === "irq" ? 0x480n : 0x400n);
  if (vhe) run("exit", () => s.pc === sym("__host_return"));
  else run("exit", () => s.el < 2);
  if (!vhe && s.pc !== HOST_PC + 4n) throw new Error(`hyp ${variantKey(variant)}: returned to 0x${s.pc.toString(16)}, not to the host`);
  // Exit half first, as a round trip reads (guest → host → guest).
  const ordered = [...ops.filter((o) => o.phase.startsWith("exit:")), ...ops.filter((o) => o.phase.startsWith("entry:"))];
  const phases: SwitchPhase[] = [];
  for (const o of ordered) {
    let p = phases.at(-1);
    if (!p || `${p.half}:${p.phase}` !== o.phase) {
      const [half, phase] = o.phase.split(":") as ["exit" | "entry", string];
      phases.push((p = { phase, half, instructions: 0, counts: {}, reads: [], writes: [], cycles: 0 }));
    }
    if (o.kind !== "entry") p.instructions++;
    p.counts[o.kind] = (p.counts[o.kind] ?? 0) + 1;
    if (o.kind === "mrs") p.reads.push(o.sysreg!);
    if (o.kind === "msr") p.writes.push(o.sysreg!);
    p.cycles += OP_CYCLES[o.kind].cycles;
  }
  return {
    variant,
    kind,
    ops: ordered,
    phases,
    instructions: ordered.filter((o) => o.kind !== "entry").length,
    sysregAccesses: ordered.filter((o) => o.kind === "mrs" || o.kind === "msr").length,
    cycles: phases.reduce((a, p) => a + p.cycles, 0),
  };
}

const PROFILES = new Map<string, SwitchRun>();

/** The switch of `variant` for an exit of `kind`, run once and kept (the counts do not depend on register values). */
export function switchProfile(variant: HypVariant, kind: "trap" | "irq"): SwitchRun {
  const k = `${variantKey(variant)}/${kind}`;
  let r = PROFILES.get(k);
  if (!r) PROFILES.set(k, (r = runSwitch(variant, kind)));
  return r;
}

/** Phase groups as cost components (`cost.<key>` of an exit). */
const GROUPS: { key: string; name: string; match: RegExp }[] = [
  { key: "trap", name: "exception entry to EL2 and eret (hardware)", match: /^(exception_entry|enter_guest)$/ },
  { key: "switch_gprs", name: "save/restore the GPRs (guest and host)", match: /gprs$|^vector|^kvm_vcpu_run$|^save_fault$|^guest_(trap|exit)$/ },
  { key: "switch_sysregs", name: "save/restore the EL1 system registers", match: /sysregs$/ },
  { key: "switch_vgic_timer", name: "save/restore the vGIC and the virtual timer", match: /vgic|timer/ },
  { key: "switch_traps", name: "HCR_EL2, CPTR/HSTR/MDCR_EL2 and VTTBR_EL2 (activate/deactivate traps and stage 2)", match: /traps$|^activate_vm$/ },
];

/** An executed switch as cost components: cycles per group of phases, with what each executed. */
export function switchComponents(run: SwitchRun): CostComponent[] {
  const out: CostComponent[] = [];
  for (const g of GROUPS) {
    const ps = run.phases.filter((p) => g.match.test(p.phase));
    const cycles = ps.reduce((a, p) => a + p.cycles, 0);
    if (!ps.length) continue;
    const insns = ps.reduce((a, p) => a + p.instructions, 0);
    const sys = ps.reduce((a, p) => a + p.reads.length + p.writes.length, 0);
    out.push({ key: g.key, name: `${g.name}: ${insns} instructions, ${sys} system-register accesses at EL2`, cycles, source: "executed at EL2 (runtime/arm64/hyp), weighted by hyp/costs.ts OP_CYCLES" });
  }
  const known = new Set(run.phases.filter((p) => GROUPS.some((g) => g.match.test(p.phase))));
  const rest = run.phases.filter((p) => !known.has(p));
  if (rest.length) out.push({ key: "switch_other", name: `other hyp code (${rest.map((p) => p.phase).join(", ")})`, cycles: rest.reduce((a, p) => a + p.cycles, 0), source: "executed at EL2 (runtime/arm64/hyp)" });
  return out;
}
