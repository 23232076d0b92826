// ARMv8.1 Virtualization Host Extensions (FEAT_VHE) as data: with HCR_EL2.E2H = 1, an MRS/MSR at
// EL2 that names an EL1 register reaches its EL2 counterpart (so an unmodified kernel runs at EL2),
// and the *_EL12 / *_EL02 encodings reach the real EL1/EL0 registers (the guest's, for KVM). With
// E2H = 0 the aliases are UNDEFINED. The CPU (cpu.ts), the world switch (hyp/) and `show switch`
// read this one table.
// Source: Arm ARM (DDI 0487) D5.6 "Virtualization Host Extensions" (register redirection at EL2
// when HCR_EL2.E2H is 1) and the *_EL12 register descriptions in D13/D17 ("accessible at EL2 with
// E2H = 1, else UNDEFINED"); Linux arch/arm64/include/asm/sysreg.h SYS_*_EL12.

/** EL1 register → the EL2 register an access from EL2 reaches when E2H = 1. */
export const E2H_REDIRECT: ReadonlyMap<string, string> = new Map([
  ["SCTLR_EL1", "SCTLR_EL2"],
  ["CPACR_EL1", "CPTR_EL2"],
  ["TTBR0_EL1", "TTBR0_EL2"],
  ["TTBR1_EL1", "TTBR1_EL2"],
  ["TCR_EL1", "TCR_EL2"],
  ["SPSR_EL1", "SPSR_EL2"],
  ["ELR_EL1", "ELR_EL2"],
  ["AFSR0_EL1", "AFSR0_EL2"],
  ["AFSR1_EL1", "AFSR1_EL2"],
  ["ESR_EL1", "ESR_EL2"],
  ["FAR_EL1", "FAR_EL2"],
  ["MAIR_EL1", "MAIR_EL2"],
  ["AMAIR_EL1", "AMAIR_EL2"],
  ["VBAR_EL1", "VBAR_EL2"],
  ["CONTEXTIDR_EL1", "CONTEXTIDR_EL2"],
  ["CNTKCTL_EL1", "CNTHCTL_EL2"],
]);

/** *_EL12 / *_EL02 alias → the EL1/EL0 register it reaches from EL2 when E2H = 1. */
export const E2H_ALIASES: ReadonlyMap<string, string> = new Map([
  ...[...E2H_REDIRECT.keys()].filter((n) => n !== "CNTKCTL_EL1").map((n): [string, string] => [n.replace(/_EL1$/, "_EL12"), n]),
  ["CNTKCTL_EL12", "CNTKCTL_EL1"],
  ["CNTV_CTL_EL02", "CNTV_CTL_EL0"],
  ["CNTV_CVAL_EL02", "CNTV_CVAL_EL0"],
]);

/**
 * The register an MRS/MSR of `name` executed at `el` reaches: at EL2 with E2H = 1 an EL1 name is
 * redirected to EL2 and an alias reaches EL1/EL0; anywhere else the name itself. Returns undefined
 * for an alias without E2H (the access is UNDEFINED).
 */
export function sysregTarget(name: string, el: number, e2h: boolean): string | undefined {
  if (el !== 2) return name;
  const alias = E2H_ALIASES.get(name);
  if (alias !== undefined) return e2h ? alias : undefined;
  return e2h ? E2H_REDIRECT.get(name) ?? name : name;
}
