// The guest-state area of the VMCS (SDM Vol. 3 24.4) as the processor saves it on VM exit (27.3)
// and loads it on VM entry (26.3.2). GPRs other than RSP are not in the VMCS: KVM keeps them in
// vcpu->arch.regs, which here is the register file itself.

import type { X86Seg, X86State } from "../env.js";
import { EFER, modeOf } from "../state.js";
import { ctl } from "./controls.js";
import type { Vmcs } from "./fields.js";

const SEGS: X86Seg[] = ["es", "cs", "ss", "ds", "fs", "gs"];
/** Field names per segment, built once (hot path: every exit and entry). */
const SEG_FIELDS = SEGS.map((seg) => {
  const u = seg.toUpperCase();
  return { seg, selector: `GUEST_${u}_SELECTOR`, base: `GUEST_${u}_BASE`, limit: `GUEST_${u}_LIMIT`, ar: `GUEST_${u}_AR_BYTES` };
});

export function saveGuestState(vmcs: Vmcs, s: X86State): void {
  vmcs.write("GUEST_RIP", s.rip);
  vmcs.write("GUEST_RSP", s.gpr[4]!);
  vmcs.write("GUEST_RFLAGS", s.rflags);
  vmcs.write("GUEST_CR0", s.cr0);
  vmcs.write("GUEST_CR3", s.cr3);
  vmcs.write("GUEST_CR4", s.cr4);
  if (vmcs.read32("VM_EXIT_CONTROLS") & ctl("VM_EXIT_SAVE_IA32_EFER")) vmcs.write("GUEST_IA32_EFER", s.efer);
  for (const f of SEG_FIELDS) {
    const sg = s.seg[f.seg];
    vmcs.write(f.selector, sg.selector);
    vmcs.write(f.base, sg.base);
    vmcs.write(f.limit, sg.limit >>> 0);
    vmcs.write(f.ar, sg.attributes);
  }
  vmcs.write("GUEST_GDTR_BASE", s.gdtr.base);
  vmcs.write("GUEST_GDTR_LIMIT", s.gdtr.limit);
  vmcs.write("GUEST_IDTR_BASE", s.idtr.base);
  vmcs.write("GUEST_IDTR_LIMIT", s.idtr.limit);
}

/**
 * VM entry: load the guest state. EFER comes from GUEST_IA32_EFER with "load IA32_EFER"; either
 * way EFER.LMA is the "IA-32e mode guest" entry control (SDM 26.3.2.1). Returns an error text if
 * the entry checks of SDM 26.3.1 that this model makes fail (then the entry fails).
 */
export function loadGuestState(vmcs: Vmcs, s: X86State, liveEfer: bigint): string | null {
  const entry = vmcs.read32("VM_ENTRY_CONTROLS");
  const ia32e = (entry & ctl("VM_ENTRY_IA32E_MODE")) !== 0;
  let efer = entry & ctl("VM_ENTRY_LOAD_IA32_EFER") ? vmcs.read("GUEST_IA32_EFER") : liveEfer;
  const cr0 = vmcs.read("GUEST_CR0");
  const cr4 = vmcs.read("GUEST_CR4");
  if (entry & ctl("VM_ENTRY_LOAD_IA32_EFER")) {
    if (((efer & EFER.LMA) !== 0n) !== ia32e) return "GUEST_IA32_EFER.LMA differs from the IA-32e mode guest control";
    if (cr0 & (1n << 31n) && ((efer & EFER.LME) !== 0n) !== ia32e) return "GUEST_IA32_EFER.LME differs from the IA-32e mode guest control with CR0.PG = 1";
  }
  if (ia32e && !(cr0 & (1n << 31n))) return "IA-32e mode guest requires CR0.PG = 1";
  if (ia32e && !(cr4 & (1n << 5n))) return "IA-32e mode guest requires CR4.PAE = 1";
  efer = ia32e ? efer | EFER.LMA : efer & ~EFER.LMA;
  s.rip = vmcs.read("GUEST_RIP");
  s.gpr[4] = vmcs.read("GUEST_RSP");
  s.rflags = vmcs.read("GUEST_RFLAGS") | 2n;
  s.cr0 = cr0;
  s.cr3 = vmcs.read("GUEST_CR3");
  s.cr4 = cr4;
  s.efer = efer;
  for (const f of SEG_FIELDS) {
    s.seg[f.seg] = {
      selector: Number(vmcs.read(f.selector)),
      base: vmcs.read(f.base),
      limit: Number(vmcs.read(f.limit)),
      attributes: Number(vmcs.read(f.ar)),
    };
  }
  s.gdtr = { base: vmcs.read("GUEST_GDTR_BASE"), limit: Number(vmcs.read("GUEST_GDTR_LIMIT")) };
  s.idtr = { base: vmcs.read("GUEST_IDTR_BASE"), limit: Number(vmcs.read("GUEST_IDTR_LIMIT")) };
  s.mode = modeOf(s);
  return null;
}
