// Registers of an x86 vCPU by the names the lab uses (`rax`, `eax`, `rip`, `rflags`, `cr0`…, the
// segment selectors): what `show regs`, expressions and assignments read and write. CR0/CR4 read as
// the guest sees them (the read shadows where KVM owns bits), CR3 as KVM's copy while MOV from CR3
// exits (the VMCS then holds KVM's value, not the guest's).

import { ExitlabError } from "../core/errors.js";
import { MASK64 } from "../core/bits.js";
import type { X86State } from "./env.js";
import type { ExitRules } from "./vmx/controls.js";
import type { KvmVcpu } from "./kvm/vcpu.js";
import { GPR32_NAMES, GPR64_NAMES, X86_REGISTER_NAMES } from "./registers.js";

/** Register `name` of the vCPU with state `s`, trap rules `rules` and KVM state `kvm`. Throws ExitlabError for an unknown name. */
export function readX86Register(s: X86State, rules: ExitRules, kvm: KvmVcpu, name: string): bigint {
  const n = name.toLowerCase();
  let i = GPR64_NAMES.indexOf(n);
  if (i >= 0) return s.gpr[i]!;
  i = GPR32_NAMES.indexOf(n);
  if (i >= 0) return s.gpr[i]! & 0xffff_ffffn;
  switch (n) {
    case "rip": return s.rip;
    case "rflags": return s.rflags;
    case "cr0": return rules.readCr0or4(0, s.cr0);
    case "cr2": return s.cr2;
    case "cr3": return rules.movFromCr3Exits() ? kvm.arch.cr3 : s.cr3;
    case "cr4": return rules.readCr0or4(4, s.cr4);
    case "cr8": return s.cr8;
    case "efer": return s.efer;
    case "cs": case "ds": case "es": case "fs": case "gs": case "ss": return BigInt(s.seg[n].selector);
  }
  throw new ExitlabError(`unknown x86 register ${name}`, `registers: ${X86_REGISTER_NAMES.join(", ")}`);
}

/**
 * Write register `name` of the vCPU with state `s` (64-bit GPRs, their 32-bit halves zero-extended,
 * rip, rflags with bit 1 forced); other registers are refused with an ExitlabError.
 */
export function writeX86Register(s: X86State, name: string, value: bigint): void {
  const n = name.toLowerCase();
  const v = value & MASK64;
  let i = GPR64_NAMES.indexOf(n);
  if (i >= 0) s.gpr[i] = v;
  else if ((i = GPR32_NAMES.indexOf(n)) >= 0) s.gpr[i] = v & 0xffff_ffffn;
  else if (n === "rip") s.rip = v;
  else if (n === "rflags") s.rflags = v | 2n;
  else throw new ExitlabError(`register ${name} cannot be written directly`, "general registers, rip and rflags can be written");
}
