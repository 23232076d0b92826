// The guest-state area of the VMCS (SDM Vol. 3 24.4) as the processor saves it on VM exit (27.3)
// and loads it on VM entry (26.3.2). GPRs other than RSP are not in the VMCS: KVM keeps them in
// vcpu->arch.regs, which here is the register file itself.

import type { X86Seg, X86State } from "../env.js";
import { EFER, modeOf } from "../state.js";
import { ctl } from "./controls.js";
import { lookupField, type Vmcs, type VmcsField } from "./fields.js";

const SEGS: X86Seg[] = ["es", "cs", "ss", "ds", "fs", "gs"];
const F = (name: string): VmcsField => lookupField(name).field;
/** Fields per segment, resolved once (hot path: every exit and entry). */
const SEG_FIELDS = SEGS.map((seg) => {
  const u = seg.toUpperCase();
  return { seg, selector: F(`GUEST_${u}_SELECTOR`), base: F(`GUEST_${u}_BASE`), limit: F(`GUEST_${u}_LIMIT`), ar: F(`GUEST_${u}_AR_BYTES`) };
});
const RIP = F("GUEST_RIP"), RSP = F("GUEST_RSP"), RFLAGS = F("GUEST_RFLAGS"), CR0F = F("GUEST_CR0"), CR3F = F("GUEST_CR3"), CR4F = F("GUEST_CR4");
const EFERF = F("GUEST_IA32_EFER"), GDTR_BASE = F("GUEST_GDTR_BASE"), GDTR_LIMIT = F("GUEST_GDTR_LIMIT"), IDTR_BASE = F("GUEST_IDTR_BASE"), IDTR_LIMIT = F("GUEST_IDTR_LIMIT");

/**
 * The register file's own numbers (X86Regs: rip as a Number, GPR halves, RFLAGS from the lazy
 * flags), when the state has them: the per-exit comparisons below then make no BigInt.
 */
interface NumericRegs {
  /** rip, sign-extended. */
  pc: number;
  r: Int32Array;
  flags(): number;
}
const numeric = (s: X86State): NumericRegs | undefined => ("pc" in s && "r" in s && "flags" in s ? (s as unknown as NumericRegs) : undefined);

/** RSP for its VMCS field: a Number when below 2^53 (as the field stores it), else the BigInt. */
function rspValue(n: NumericRegs, s: X86State): number | bigint {
  const hi = n.r[20]!;
  return hi >= 0 && hi < 0x20_0000 ? hi * 4294967296 + (n.r[4]! >>> 0) : s.gpr[4]!;
}

/** rip, rsp and rflags as numbers (the saved record's mirrors of rip/rsp/rflags). */
interface Mirrors { ripN: number; rspLo: number; rspHi: number; rflagsN: number }
function mirrorsOf(n: NumericRegs): Mirrors {
  return { ripN: n.pc, rspLo: n.r[4]!, rspHi: n.r[20]!, rflagsN: n.flags() };
}

/** What saveGuestState stored, to tell at VM entry whether loading the VMCS would change anything. */
interface Saved {
  s: X86State;
  saveEfer: boolean;
  /** Facts of the saved values the entry checks need (recomputed when those values change). */
  rflagsBit1: boolean; lma: boolean; lme: boolean; pg: boolean; pae: boolean; mode: X86State["mode"];
  rip: bigint; rsp: bigint; rflags: bigint; cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint;
  /** Numeric mirrors of rip, rsp, rflags (when the state has numbers; else undefined). */
  m?: Mirrors;
  /** `s` as numeric registers, when it has them (numeric(s), found once). */
  n?: NumericRegs;
  seg: { selector: number; base: bigint | number; limit: number; attributes: number }[];
  gdtrBase: bigint | number; gdtrLimit: number; idtrBase: bigint | number; idtrLimit: number;
  /** The CPU's system version when every saved field but RIP/RSP/RFLAGS was last found equal (NaN: never). */
  version: number;
  /** The CPU's system version and Vmcs.entryWrites when a VM entry last passed its checks with this record. */
  okVersion: number; okEntryWrites: number;
}
/** The record a Vmcs holds in its guestRecord slot (owned by this module). */
const saved = {
  get: (v: Vmcs): Saved | undefined => (v.guestRecord as Saved | null) ?? undefined,
  set: (v: Vmcs, r: Saved): void => void (v.guestRecord = r),
  delete: (v: Vmcs): void => void (v.guestRecord = null),
};

function noteFacts(v: Saved, s: X86State): void {
  v.rflagsBit1 = (s.rflags & 2n) !== 0n;
  v.lma = (s.efer & EFER.LMA) !== 0n;
  v.lme = (s.efer & EFER.LME) !== 0n;
  v.pg = (s.cr0 & PG) !== 0n;
  v.pae = (s.cr4 & PAE) !== 0n;
  v.mode = modeOf(s);
}
const PG = 1n << 31n, PAE = 1n << 5n;
const SAVE_EFER = ctl("VM_EXIT_SAVE_IA32_EFER"), LOAD_EFER = ctl("VM_ENTRY_LOAD_IA32_EFER"), IA32E = ctl("VM_ENTRY_IA32E_MODE");
const EXIT_CONTROLS = F("VM_EXIT_CONTROLS"), ENTRY_CONTROLS = F("VM_ENTRY_CONTROLS");

/**
 * VM exit: the guest state into the VMCS guest-state area (SDM 27.3). `version` is the CPU's
 * system version (X86Cpu.systemVersion: bumped by anything that may change CR0/CR3/CR4, EFER,
 * segments, descriptor tables or the mode); when it is what the last save saw, only RIP, RSP and
 * RFLAGS are compared. Callers without one pass nothing (every field is compared).
 */
export function saveGuestState(vmcs: Vmcs, s: X86State, version = NaN): void {
  const saveEfer = (vmcs.readNum(EXIT_CONTROLS) & SAVE_EFER) !== 0;
  const v = saved.get(vmcs);
  // The VMCS still holds what the last save (or a VM entry that changed nothing) left there:
  // write only what the guest changed since. Else write every field.
  if (v && v.s === s && vmcs.guestWrites === 0 && v.saveEfer === saveEfer) {
    const n = v.n, m = v.m;
    if (n && m && version === v.version) {
      // Nothing but RIP, RSP and RFLAGS can have changed (the facts but RFLAGS bit 1 stand).
      // (The record's BigInt copies of them serve only states without numbers.)
      if (n.pc !== m.ripN) (m.ripN = n.pc), vmcs.writeField(RIP, n.pc >= 0 ? n.pc : s.rip);
      if (n.r[4] !== m.rspLo || n.r[20] !== m.rspHi) (m.rspLo = n.r[4]!), (m.rspHi = n.r[20]!), vmcs.writeField(RSP, rspValue(n, s));
      const f = n.flags();
      if (f !== m.rflagsN) (m.rflagsN = f), vmcs.writeField(RFLAGS, f >>> 0), (v.rflagsBit1 = (f & 2) !== 0);
      vmcs.guestWrites = 0;
      return;
    }
    let rflagsChanged: boolean;
    if (n && m) {
      // Compare the numbers; make the BigInt field values only for what changed.
      if (n.pc !== m.ripN) (m.ripN = n.pc), vmcs.writeField(RIP, (v.rip = s.rip));
      if (n.r[4] !== m.rspLo || n.r[20] !== m.rspHi) (m.rspLo = n.r[4]!), (m.rspHi = n.r[20]!), vmcs.writeField(RSP, (v.rsp = s.gpr[4]!));
      const f = n.flags();
      rflagsChanged = f !== m.rflagsN;
      if (rflagsChanged) (m.rflagsN = f), vmcs.writeField(RFLAGS, (v.rflags = s.rflags));
    } else {
      if (s.rip !== v.rip) vmcs.writeField(RIP, (v.rip = s.rip));
      if (s.gpr[4] !== v.rsp) vmcs.writeField(RSP, (v.rsp = s.gpr[4]!));
      rflagsChanged = s.rflags !== v.rflags;
      if (rflagsChanged) vmcs.writeField(RFLAGS, (v.rflags = s.rflags));
    }
    const refacts = rflagsChanged || s.cr0 !== v.cr0 || s.cr4 !== v.cr4 || s.efer !== v.efer || s.seg.cs.attributes !== v.seg[1]!.attributes;
    if (s.cr0 !== v.cr0) vmcs.writeField(CR0F, (v.cr0 = s.cr0));
    if (s.cr3 !== v.cr3) vmcs.writeField(CR3F, (v.cr3 = s.cr3));
    if (s.cr4 !== v.cr4) vmcs.writeField(CR4F, (v.cr4 = s.cr4));
    if (s.efer !== v.efer) {
      v.efer = s.efer;
      if (saveEfer) vmcs.writeField(EFERF, s.efer);
    }
    for (let i = 0; i < SEG_FIELDS.length; i++) {
      const f = SEG_FIELDS[i]!;
      const a = s.seg[f.seg];
      const b = v.seg[i]!;
      if (a.selector !== b.selector) vmcs.writeField(f.selector, (b.selector = a.selector));
      if (a.base !== b.base) vmcs.writeField(f.base, (b.base = a.base));
      if (a.limit !== b.limit) vmcs.writeField(f.limit, (b.limit = a.limit) >>> 0);
      if (a.attributes !== b.attributes) vmcs.writeField(f.ar, (b.attributes = a.attributes));
    }
    if (s.gdtr.base !== v.gdtrBase) vmcs.writeField(GDTR_BASE, (v.gdtrBase = s.gdtr.base));
    if (s.gdtr.limit !== v.gdtrLimit) vmcs.writeField(GDTR_LIMIT, (v.gdtrLimit = s.gdtr.limit));
    if (s.idtr.base !== v.idtrBase) vmcs.writeField(IDTR_BASE, (v.idtrBase = s.idtr.base));
    if (s.idtr.limit !== v.idtrLimit) vmcs.writeField(IDTR_LIMIT, (v.idtrLimit = s.idtr.limit));
    if (refacts) noteFacts(v, s);
    v.version = version;
    vmcs.guestWrites = 0;
    return;
  }
  vmcs.writeField(RIP, s.rip);
  vmcs.writeField(RSP, s.gpr[4]!);
  vmcs.writeField(RFLAGS, s.rflags);
  vmcs.writeField(CR0F, s.cr0);
  vmcs.writeField(CR3F, s.cr3);
  vmcs.writeField(CR4F, s.cr4);
  if (saveEfer) vmcs.writeField(EFERF, s.efer);
  for (const f of SEG_FIELDS) {
    const sg = s.seg[f.seg];
    vmcs.writeField(f.selector, sg.selector);
    vmcs.writeField(f.base, sg.base);
    vmcs.writeField(f.limit, sg.limit >>> 0);
    vmcs.writeField(f.ar, sg.attributes);
  }
  vmcs.writeField(GDTR_BASE, s.gdtr.base);
  vmcs.writeField(GDTR_LIMIT, s.gdtr.limit);
  vmcs.writeField(IDTR_BASE, s.idtr.base);
  vmcs.writeField(IDTR_LIMIT, s.idtr.limit);
  const v2: Saved = {
    s, saveEfer, rflagsBit1: false, lma: false, lme: false, pg: false, pae: false, mode: s.mode, rip: s.rip, rsp: s.gpr[4]!, rflags: s.rflags, cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer,
    // Copies of one shape whatever the state's segment objects look like (a shape per VM would deoptimise the checks per VM).
    seg: SEG_FIELDS.map((f) => { const g = s.seg[f.seg]; return { selector: g.selector, base: g.base, limit: g.limit, attributes: g.attributes }; }),
    gdtrBase: s.gdtr.base, gdtrLimit: s.gdtr.limit, idtrBase: s.idtr.base, idtrLimit: s.idtr.limit,
    version, okVersion: NaN, okEntryWrites: NaN,
  };
  const n = numeric(s);
  if (n) (v2.m = mirrorsOf(n)), (v2.n = n);
  noteFacts(v2, s);
  saved.set(vmcs, v2);
  vmcs.guestWrites = 0;
}

/**
 * VM entry when loading the guest state would change nothing but RIP: neither KVM (through the
 * VMCS) nor anything else (on the CPU) changed the state saved at the exit, and the entry controls
 * are as they were. Then RIP is all there is to load; returns false when the full load is needed.
 */
export function enterUnchanged(vmcs: Vmcs, s: X86State, version = NaN): boolean {
  if (vmcs.guestWrites === 2) return false;
  const v = saved.get(vmcs);
  if (!v || v.s !== s) return false;
  const n = v.n, m = v.m;
  if (n && m && version === v.okVersion && vmcs.entryWrites === v.okEntryWrites && version === v.version) {
    // The checks below passed for this record, and since then neither the CPU's system state nor
    // a field they read changed: RIP, RSP and RFLAGS are all that can differ.
    if (n.pc !== m.ripN || n.r[4] !== m.rspLo || n.r[20] !== m.rspHi || n.flags() !== m.rflagsN) return false;
    if (vmcs.guestWrites === 1) {
      const rip = vmcs.readNum(RIP);
      if (rip <= Number.MAX_SAFE_INTEGER) n.pc = rip;
      else s.rip = vmcs.readField(RIP);
      m.ripN = n.pc;
    }
    vmcs.guestWrites = 0;
    return true;
  }
  if (n && m) {
    if (n.pc !== m.ripN || n.r[4] !== m.rspLo || n.r[20] !== m.rspHi || n.flags() !== m.rflagsN) return false;
  } else if (s.rip !== v.rip || s.gpr[4] !== v.rsp || s.rflags !== v.rflags) return false;
  if (s.cr0 !== v.cr0 || s.cr3 !== v.cr3 || s.cr4 !== v.cr4 || s.efer !== v.efer) return false;
  if (s.gdtr.base !== v.gdtrBase || s.gdtr.limit !== v.gdtrLimit || s.idtr.base !== v.idtrBase || s.idtr.limit !== v.idtrLimit) return false;
  for (let i = 0; i < SEG_FIELDS.length; i++) {
    const a = s.seg[SEG_FIELDS[i]!.seg];
    const b = v.seg[i]!;
    if (a.selector !== b.selector || a.base !== b.base || a.limit !== b.limit || a.attributes !== b.attributes) return false;
  }
  // The load would recompute RFLAGS bit 1 and EFER.LMA from the entry controls: they must already agree.
  // So must the entry checks loadGuestState makes (else it takes the full load, which reports them).
  // (Facts of the saved values, which the comparisons above showed are the CPU's.)
  if (!v.rflagsBit1) return false;
  const entry = vmcs.readNum(ENTRY_CONTROLS);
  const ia32e = (entry & IA32E) !== 0;
  if (entry & LOAD_EFER) {
    if (vmcs.readField(EFERF) !== s.efer) return false;
    if (v.pg && v.lme !== ia32e) return false;
  }
  if (v.lma !== ia32e) return false;
  if (ia32e && (!v.pg || !v.pae)) return false;
  if (s.mode !== v.mode) return false;
  if (vmcs.guestWrites === 1) {
    s.rip = vmcs.readField(RIP);
    v.rip = s.rip;
    if (n && m) m.ripN = n.pc;
  }
  vmcs.guestWrites = 0;
  v.okVersion = v.version = version;
  v.okEntryWrites = vmcs.entryWrites;
  return true;
}

/** What enterControlRegisters did: not applicable (the full load is needed), or loaded CR0/CR3/CR4 and RIP. */
export const CRS_NOT_LOADED = 0, CRS_LOADED = 1, CRS_LOADED_TRANSLATIONS_CHANGED = 2;

/**
 * VM entry after KVM wrote only GUEST_CR0/CR3/CR4 (and GUEST_RIP) since the exit saved the state
 * (Vmcs.crsOnly: its MOV-to-CR handlers), the CPU unchanged since: the load (SDM 26.3.2.1) then
 * changes just those registers and RIP, so only they are loaded, after the same entry checks
 * loadGuestState makes (any failing one, or an EFER the load would change, leaves it to the full
 * load, which reports it). Returns CRS_NOT_LOADED, CRS_LOADED, or CRS_LOADED_TRANSLATIONS_CHANGED
 * when CR3 or a bit of `cr0Bits`/`cr4Bits` changed (the caller's translation bits: paging.ts).
 */
export function enterControlRegisters(vmcs: Vmcs, s: X86State, version: number, cr0Bits: bigint, cr4Bits: bigint): number {
  if (vmcs.guestWrites !== 2 || !vmcs.crsOnly) return CRS_NOT_LOADED;
  const v = saved.get(vmcs);
  if (!v || v.s !== s || !v.rflagsBit1) return CRS_NOT_LOADED;
  const n = v.n, m = v.m;
  if (!n || !m) return CRS_NOT_LOADED;
  // The CPU still holds what the exit saved (as enterUnchanged compares it).
  if (n.pc !== m.ripN || n.r[4] !== m.rspLo || n.r[20] !== m.rspHi || n.flags() !== m.rflagsN) return CRS_NOT_LOADED;
  if (version !== v.version) {
    if (s.cr0 !== v.cr0 || s.cr3 !== v.cr3 || s.cr4 !== v.cr4 || s.efer !== v.efer) return CRS_NOT_LOADED;
    if (s.gdtr.base !== v.gdtrBase || s.gdtr.limit !== v.gdtrLimit || s.idtr.base !== v.idtrBase || s.idtr.limit !== v.idtrLimit) return CRS_NOT_LOADED;
    for (let i = 0; i < SEG_FIELDS.length; i++) {
      const a = s.seg[SEG_FIELDS[i]!.seg];
      const b = v.seg[i]!;
      if (a.selector !== b.selector || a.base !== b.base || a.limit !== b.limit || a.attributes !== b.attributes) return CRS_NOT_LOADED;
    }
  }
  // loadGuestState's checks and EFER, on the new CR0/CR4.
  const entry = vmcs.readNum(ENTRY_CONTROLS);
  const ia32e = (entry & IA32E) !== 0;
  const cr0 = vmcs.readField(CR0F), cr3 = vmcs.readField(CR3F), cr4 = vmcs.readField(CR4F);
  let efer = s.efer;
  if (entry & LOAD_EFER) {
    efer = vmcs.readField(EFERF);
    if (((efer & EFER.LMA) !== 0n) !== ia32e) return CRS_NOT_LOADED;
    if (cr0 & PG && ((efer & EFER.LME) !== 0n) !== ia32e) return CRS_NOT_LOADED;
  }
  if (ia32e && (!(cr0 & PG) || !(cr4 & PAE))) return CRS_NOT_LOADED;
  efer = ia32e ? efer | EFER.LMA : efer & ~EFER.LMA;
  if (efer !== s.efer) return CRS_NOT_LOADED;
  const changed = ((cr0 ^ s.cr0) & cr0Bits) !== 0n || cr3 !== s.cr3 || ((cr4 ^ s.cr4) & cr4Bits) !== 0n;
  const rip = vmcs.readNum(RIP);
  if (rip <= Number.MAX_SAFE_INTEGER) n.pc = rip;
  else s.rip = vmcs.readField(RIP);
  s.cr0 = v.cr0 = cr0;
  s.cr3 = v.cr3 = cr3;
  s.cr4 = v.cr4 = cr4;
  s.mode = modeOf(s);
  m.ripN = n.pc;
  v.rip = s.rip;
  // Of the facts, only those of CR0 and CR4 can have changed (RFLAGS and EFER are as saved).
  v.pg = (cr0 & PG) !== 0n;
  v.pae = (cr4 & PAE) !== 0n;
  v.mode = s.mode;
  // The record is the CPU's again; the entry-check memo of enterUnchanged starts over.
  v.okVersion = NaN;
  vmcs.guestWrites = 0;
  return changed ? CRS_LOADED_TRANSLATIONS_CHANGED : CRS_LOADED;
}

/**
 * The CPU's system version moved on (`version`: its caches were dropped after enterControlRegisters
 * loaded CR0/CR3/CR4) with nothing else changed: the saved record still holds the CPU's state, so
 * the next exit's save compares RIP, RSP and RFLAGS only.
 */
export function guestStateInStep(vmcs: Vmcs, version: number): void {
  const v = saved.get(vmcs);
  if (v) v.version = version;
}

/**
 * The guest-state fields saveGuestState stores on VM exit and loadGuestState loads on VM entry
 * (SDM 27.3.1-27.3.3, 26.3.2): RIP, RSP, RFLAGS, CR0/3/4, the six segments' selector, base, limit
 * and access rights, GDTR/IDTR, and GUEST_IA32_EFER when `efer` (the "save IA32_EFER" exit control
 * or the "load IA32_EFER" entry control is set). The list `show switch` (x86) reads.
 */
export function guestStateFields(efer: boolean): string[] {
  return [RIP, RSP, RFLAGS, CR0F, CR3F, CR4F, ...(efer ? [EFERF] : []), ...SEG_FIELDS.flatMap((f) => [f.selector, f.base, f.limit, f.ar]), GDTR_BASE, GDTR_LIMIT, IDTR_BASE, IDTR_LIMIT].map((f) => f.name);
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
  s.rip = vmcs.readField(RIP);
  s.gpr[4] = vmcs.readField(RSP);
  s.rflags = vmcs.readField(RFLAGS) | 2n;
  s.cr0 = cr0;
  s.cr3 = vmcs.readField(CR3F);
  s.cr4 = cr4;
  s.efer = efer;
  for (const f of SEG_FIELDS) {
    s.seg[f.seg] = {
      selector: Number(vmcs.readField(f.selector)),
      base: vmcs.readField(f.base),
      limit: Number(vmcs.readField(f.limit)),
      attributes: Number(vmcs.readField(f.ar)),
    };
  }
  s.gdtr = { base: vmcs.readField(GDTR_BASE), limit: Number(vmcs.readField(GDTR_LIMIT)) };
  s.idtr = { base: vmcs.readField(IDTR_BASE), limit: Number(vmcs.readField(IDTR_LIMIT)) };
  s.mode = modeOf(s);
  // The CPU now holds the VMCS's values: the next exit saves every field again.
  saved.delete(vmcs);
  vmcs.guestWrites = 2;
  vmcs.crsOnly = false;
  return null;
}
