// The world switch as A64 assembly: a small hypervisor that exitlab assembles and runs at EL2 on
// the modelled CPU (hyp/switch.ts), after Linux's arm64 KVM: v4.1 arch/arm64/kvm/hyp.S for the
// non-VHE switch of 2015 (host kernel at EL1, `kvm_call_hyp` → `hvc` → `__kvm_vcpu_run` → `eret`
// into the guest; on a trap, the EL2 vectors save the guest and restore the host, `eret` back to the
// host), and v4.6+/v4.17 arch/arm64/kvm/hyp/switch.c + sysreg-sr.c for VHE (host kernel at EL2 with
// HCR_EL2.E2H/TGE: no hvc; the guest's EL1 registers reached through the *_EL12 aliases; since
// v4.17 "Defer saving/restoring 64-bit sysregs to vcpu load/put on VHE" they stay loaded across
// exits, and the vGIC/timer state is touched only when in use).
//
// The text is generated like hyp.S is by the C preprocessor: the register lists below are the
// macros' arguments, and `model` / `deferred` / `gic` select the variant. Labels name the phases
// that `show switch` lists and the cost model weighs (switch.ts PHASES).

/** The vcpu context's layout in host memory (struct kvm_cpu_context): GPRs, then system registers. */
export const CTX = { gprs: 0, pc: 31 * 8, pstate: 32 * 8, sys: 33 * 8 } as const;
/** Offsets from the vcpu pointer (TPIDR_EL2): the guest's context, the host's, the vGIC and timer state, controls. */
export const VCPU = { guest: 0x000, host: 0x400, vgic: 0x800, timer: 0x900, ctl: 0xa00, fault: 0xa80 } as const;
/** Controls: the guest's HCR_EL2 and VTTBR_EL2, the host's HCR_EL2, the count of list registers in use. */
export const CTL = { hcr: 0, vttbr: 8, hostHcr: 16, usedLrs: 24 } as const;

/**
 * The EL1 system registers KVM switches (v4.1 hyp.S save_sysregs/restore_sysregs, in its order;
 * SP_EL1, ELR_EL1, SPSR_EL1 are the guest's kvm_regs).
 */
export const EL1_SYSREGS = [
  "CSSELR_EL1", "SCTLR_EL1", "ACTLR_EL1", "CPACR_EL1", "TTBR0_EL1", "TTBR1_EL1", "TCR_EL1", "ESR_EL1",
  "AFSR0_EL1", "AFSR1_EL1", "FAR_EL1", "MAIR_EL1", "VBAR_EL1", "CONTEXTIDR_EL1", "TPIDR_EL0", "TPIDRRO_EL0",
  "TPIDR_EL1", "AMAIR_EL1", "CNTKCTL_EL1", "PAR_EL1", "MDSCR_EL1", "SP_EL0", "SP_EL1", "ELR_EL1", "SPSR_EL1",
] as const;

/** The same registers as an EL2 host with E2H reaches the guest's copies: the *_EL12 alias where one exists (vhe.ts). */
const VHE_NAME: Record<string, string> = Object.fromEntries(
  ["SCTLR", "CPACR", "TTBR0", "TTBR1", "TCR", "ESR", "AFSR0", "AFSR1", "FAR", "MAIR", "VBAR", "CONTEXTIDR", "AMAIR", "CNTKCTL", "ELR", "SPSR"].map((n) => [`${n}_EL1`, `${n}_EL12`]),
);

/** The GICv2 virtual interface control block (GICH, Arm IHI 0048B 5.3): offsets the switch reads and writes. */
export const GICH = { base: 0x0803_0000, HCR: 0x00, VMCR: 0x08, MISR: 0x10, EISR0: 0x20, ELRSR0: 0x30, APR: 0xf0, LR0: 0x100 } as const;
export const LIST_REGISTERS = 4;

export type HypModel = "nvhe" | "vhe";

export interface HypVariant {
  model: HypModel;
  /** VHE with the EL1 state left loaded across exits (Linux ≥ 4.17); nVHE always switches it. */
  deferred: boolean;
  gic: "v2" | "v3";
}

/** Save (mrs + stp) or restore (ldp + msr) the registers `names` at `base + off` through x3/x4. */
function sysregBlock(dir: "save" | "restore", names: readonly string[], base: string, off: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < names.length; i += 2) {
    const a = names[i]!.toLowerCase(), b = names[i + 1]?.toLowerCase();
    const at = `[${base}, #${off + 8 * i}]`;
    if (dir === "save") {
      out.push(`\tmrs x3, ${a}`);
      if (b) out.push(`\tmrs x4, ${b}`, `\tstp x3, x4, ${at}`);
      else out.push(`\tstr x3, ${at}`);
    } else {
      if (b) out.push(`\tldp x3, x4, ${at}`, `\tmsr ${a}, x3`, `\tmsr ${b}, x4`);
      else out.push(`\tldr x3, ${at}`, `\tmsr ${a}, x3`);
    }
  }
  return out;
}

/** The vGIC's save (after the guest) or restore (before it). */
function vgicBlock(dir: "save" | "restore", v: HypVariant): string[] {
  const o = VCPU.vgic;
  const out: string[] = [];
  if (v.gic === "v2") {
    // v4.1 vgic-v2-switch.S save_vgic_state / restore_vgic_state: MMIO to GICH.
    out.push(`\tldr x2, =0x${GICH.base.toString(16)}`);
    const regs: [string, number][] = dir === "save"
      ? [["HCR", GICH.HCR], ["VMCR", GICH.VMCR], ["MISR", GICH.MISR], ["EISR0", GICH.EISR0], ["ELRSR0", GICH.ELRSR0], ["APR", GICH.APR]]
      : [["HCR", GICH.HCR], ["VMCR", GICH.VMCR], ["APR", GICH.APR]];
    regs.forEach(([, off], i) => out.push(dir === "save" ? `\tldr w3, [x2, #${off}]` : `\tldr w3, [x1, #${o + 4 * i}]`, dir === "save" ? `\tstr w3, [x1, #${o + 4 * i}]` : `\tstr w3, [x2, #${off}]`));
    // The list registers in use (vgic_cpu.used_lrs), then GICH_HCR cleared on the way out.
    out.push(`\tldr x5, [x1, #${VCPU.ctl + CTL.usedLrs}]`, `\tadd x6, x2, #${GICH.LR0}`, `\tadd x7, x1, #${o + 0x40}`);
    out.push(`${dir}_lrs_loop:`, `\tcbz x5, ${dir}_lrs_done`);
    out.push(dir === "save" ? "\tldr w3, [x6], #4" : "\tldr w3, [x7], #4", dir === "save" ? "\tstr w3, [x7], #4" : "\tstr w3, [x6], #4");
    out.push("\tsub x5, x5, #1", `\tb ${dir}_lrs_loop`, `${dir}_lrs_done:`);
    if (dir === "save") out.push(`\tstr wzr, [x2, #${GICH.HCR}]`);
    return out;
  }
  // v4.1 vgic-v3-switch.S: ICH_* system registers.
  const regs = dir === "save" ? ["ICH_HCR_EL2", "ICH_VMCR_EL2", "ICH_MISR_EL2", "ICH_ELRSR_EL2", "ICH_AP0R0_EL2", "ICH_AP1R0_EL2"] : ["ICH_HCR_EL2", "ICH_VMCR_EL2", "ICH_AP0R0_EL2", "ICH_AP1R0_EL2"];
  regs.forEach((r, i) => out.push(dir === "save" ? `\tmrs x3, ${r.toLowerCase()}` : `\tldr x3, [x1, #${o + 8 * i}]`, dir === "save" ? `\tstr x3, [x1, #${o + 8 * i}]` : `\tmsr ${r.toLowerCase()}, x3`));
  // ICH_LR<n>_EL2 are separate encodings: one mrs/msr each for the registers in use (a computed branch in KVM).
  out.push(`\tldr x5, [x1, #${VCPU.ctl + CTL.usedLrs}]`);
  for (let n = 0; n < LIST_REGISTERS; n++) {
    out.push(`\tcmp x5, #${n}`, `\tb.eq ${dir}_ich_lrs_done`);
    out.push(dir === "save" ? `\tmrs x3, ich_lr${n}_el2` : `\tldr x3, [x1, #${o + 0x40 + 8 * n}]`, dir === "save" ? `\tstr x3, [x1, #${o + 0x40 + 8 * n}]` : `\tmsr ich_lr${n}_el2, x3`);
  }
  out.push(`${dir}_ich_lrs_done:`);
  if (dir === "save") out.push("\tmsr ich_hcr_el2, xzr");
  return out;
}

/** The virtual timer's save (v4.1 timer_save_state: read CTL/CVAL, disable) or restore (CNTVOFF, CVAL, CTL). */
function timerBlock(dir: "save" | "restore", v: HypVariant): string[] {
  const o = VCPU.timer;
  const ctl = v.model === "vhe" ? "cntv_ctl_el02" : "cntv_ctl_el0", cval = v.model === "vhe" ? "cntv_cval_el02" : "cntv_cval_el0";
  if (dir === "save") return [`\tmrs x3, ${ctl}`, `\tmrs x4, ${cval}`, `\tstr x3, [x1, #${o}]`, `\tstr x4, [x1, #${o + 8}]`, `\tmsr ${ctl}, xzr`, "\tmrs x3, cnthctl_el2", "\torr x3, x3, #3", "\tmsr cnthctl_el2, x3"];
  return ["\tmrs x3, cnthctl_el2", "\tand x3, x3, #0xfffffffffffffffe", "\torr x3, x3, #2", "\tmsr cnthctl_el2, x3", `\tldr x3, [x1, #${o + 16}]`, "\tmsr cntvoff_el2, x3", `\tldr x3, [x1, #${o}]`, `\tldr x4, [x1, #${o + 8}]`, `\tmsr ${cval}, x4`, "\tisb", `\tmsr ${ctl}, x3`];
}

/** GPRs x2..x30 of the context at `base` (x0/x1 are moved separately: they carry the pointers). */
function gprBlock(dir: "save" | "restore", base: string, from = 2): string[] {
  const out: string[] = [];
  for (let n = from; n < 30; n += 2) out.push(`\t${dir === "save" ? "stp" : "ldp"} x${n}, x${n + 1}, [${base}, #${8 * n}]`);
  out.push(`\t${dir === "save" ? "str" : "ldr"} x30, [${base}, #${8 * 30}]`);
  return out;
}

/**
 * The hypervisor's source for one variant. Symbols: `__hyp_vectors` (VBAR_EL2), `__kvm_vcpu_run`
 * (x0 = the vcpu pointer), `__host_return` (nVHE: where the host's `hvc` returns; VHE: the host's
 * call site), and one label per phase.
 */
export function hypSource(v: HypVariant): string {
  const vhe = v.model === "vhe";
  const guestSys = vhe ? EL1_SYSREGS.map((n) => VHE_NAME[n] ?? n) : [...EL1_SYSREGS];
  const switchSysregs = !(vhe && v.deferred);
  const L: string[] = [
    "// exitlab hyp: the KVM world switch at EL2 (generated; see runtime/arm64/hyp/source.ts)",
    "\t.balign 2048",
    "__hyp_vectors:",
    // Current EL (SP_EL0, SP_ELx): the hyp never takes exceptions itself.
    ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [`\t.balign 128`, `__vector_cur_${i}:`, "\tb __hyp_panic"]),
    "\t.balign 128",
    "__vector_el1_sync:",
    "\tstp x0, x1, [sp, #-16]!",
    ...(vhe
      ? []
      : [
          // A host hvc (VTTBR_EL2 = 0: no guest loaded) is kvm_call_hyp: x0 = the function, x1.. its arguments.
          "\tmrs x1, vttbr_el2",
          "\tcbnz x1, __guest_trap",
          "\tldp x0, x1, [sp], #16",
          "\tstp x30, xzr, [sp, #-16]!",
          "\tmov x30, x0",
          "\tmov x0, x1",
          "\tblr x30",
          "\tldp x30, xzr, [sp], #16",
          "\teret",
        ]),
    "\tb __guest_trap",
    "\t.balign 128",
    "__vector_el1_irq:",
    "\tstp x0, x1, [sp, #-16]!",
    "\tmov x0, #0", // ARM_EXCEPTION_IRQ
    "\tb __guest_exit",
    "\t.balign 128",
    "__vector_el1_other:",
    "\tb __hyp_panic",
    "\t.balign 128",
    "__hyp_panic:",
    "\tb __hyp_panic",
    "",
    "__guest_trap:",
    "\tmov x0, #2", // ARM_EXCEPTION_TRAP
    "__guest_exit:",
    // x0 = the exit type; the guest's x0/x1 are on the stack.
    "__save_guest_gprs:",
    "\tmrs x1, tpidr_el2",
    ...gprBlock("save", "x1"),
    "\tldp x2, x3, [sp], #16",
    "\tstp x2, x3, [x1, #0]",
    "\tmrs x2, elr_el2",
    "\tmrs x3, spsr_el2",
    `\tstp x2, x3, [x1, #${CTX.pc}]`,
    "__save_fault:",
    "\tmrs x2, esr_el2",
    "\tmrs x3, far_el2",
    "\tmrs x4, hpfar_el2",
    `\tstr x2, [x1, #${VCPU.fault}]`,
    `\tstr x3, [x1, #${VCPU.fault + 8}]`,
    `\tstr x4, [x1, #${VCPU.fault + 16}]`,
    ...(switchSysregs ? ["__save_guest_sysregs:", ...sysregBlock("save", guestSys, "x1", CTX.sys)] : []),
    "__save_timer:",
    ...timerBlock("save", v),
    "__save_vgic:",
    ...(vhe && v.deferred ? [`\tldr x5, [x1, #${VCPU.ctl + CTL.usedLrs}]`, "\tcbz x5, __save_vgic_done"] : []),
    ...vgicBlock("save", v),
    "__save_vgic_done:",
    "__deactivate_traps:",
    `\tldr x2, [x1, #${VCPU.ctl + CTL.hostHcr}]`,
    "\tmsr hcr_el2, x2",
    "\tmsr cptr_el2, xzr",
    "\tmsr hstr_el2, xzr",
    "\tmsr mdcr_el2, xzr",
    "\tmsr vttbr_el2, xzr",
    ...(vhe
      ? []
      : [
          "__restore_host_sysregs:",
          `\tadd x2, x1, #${VCPU.host}`,
          ...sysregBlock("restore", EL1_SYSREGS, "x2", CTX.sys),
        ]),
    "__restore_host_gprs:",
    `\tadd x2, x1, #${VCPU.host}`,
    ...Array.from({ length: 6 }, (_, k) => `\tldp x${19 + 2 * k}, x${20 + 2 * k}, [x2, #${8 * (19 + 2 * k)}]`),
    `\tldr x30, [x2, #${8 * 30}]`,
    `\tldp x3, x4, [x2, #${CTX.pc}]`,
    "\tmsr elr_el2, x3",
    "\tmsr spsr_el2, x4",
    "\tret",
    "",
    "__kvm_vcpu_run:",
    // x0 = the vcpu: remember it, save the host's callee-saved registers.
    "\tmsr tpidr_el2, x0",
    "\tmov x1, x0",
    "__save_host_gprs:",
    `\tadd x2, x1, #${VCPU.host}`,
    ...Array.from({ length: 6 }, (_, k) => `\tstp x${19 + 2 * k}, x${20 + 2 * k}, [x2, #${8 * (19 + 2 * k)}]`),
    `\tstr x30, [x2, #${8 * 30}]`,
    // save_common_regs: the host's ELR_EL2/SPSR_EL2 (where its hvc returns) with its registers.
    "\tmrs x3, elr_el2",
    "\tmrs x4, spsr_el2",
    `\tstp x3, x4, [x2, #${CTX.pc}]`,
    ...(vhe ? [] : ["__save_host_sysregs:", `\tadd x2, x1, #${VCPU.host}`, ...sysregBlock("save", EL1_SYSREGS, "x2", CTX.sys)]),
    "__activate_traps:",
    `\tldr x2, [x1, #${VCPU.ctl + CTL.hcr}]`,
    `\tldr x3, [x1, #${VCPU.ctl + CTL.vttbr}]`,
    "\tmsr hcr_el2, x2",
    "\tmov x4, #0x33ff",
    "\tmsr cptr_el2, x4",
    "\tmov x4, #0x8000", // HSTR_EL2.T15 (AArch32 CP15 c15)
    "\tmsr hstr_el2, x4",
    "\tmov x4, #0x6", // MDCR_EL2.HPMN
    "\tmsr mdcr_el2, x4",
    "__activate_vm:",
    "\tmsr vttbr_el2, x3",
    "__restore_vgic:",
    ...(vhe && v.deferred ? [`\tldr x5, [x1, #${VCPU.ctl + CTL.usedLrs}]`, "\tcbz x5, __restore_vgic_done"] : []),
    ...vgicBlock("restore", v),
    "__restore_vgic_done:",
    "__restore_timer:",
    ...timerBlock("restore", v),
    ...(switchSysregs ? ["__restore_guest_sysregs:", ...sysregBlock("restore", guestSys, "x1", CTX.sys)] : []),
    "__restore_guest_gprs:",
    `\tldp x2, x3, [x1, #${CTX.pc}]`,
    "\tmsr elr_el2, x2",
    "\tmsr spsr_el2, x3",
    ...gprBlock("restore", "x1"),
    "\tldp x0, x1, [x1, #0]",
    "__enter_guest:",
    "\teret",
    "",
    "__host_return:",
    "\tnop",
    "\t.ltorg",
  ];
  return L.join("\n") + "\n";
}
