// The x86 register file at the multiboot hand-off, and the signals the interpreter throws: a guest
// exception (#PF, #GP ...) to be delivered through the guest IDT, or a VM exit to the hypervisor.

import type { X86Seg, X86State } from "./env.js";

/** Segment access rights in the VMX "AR bytes" format (SDM Vol. 3 Table 24-2). */
export const AR = {
  type: (ar: number) => ar & 0xf,
  s: (ar: number) => (ar >> 4) & 1,
  dpl: (ar: number) => (ar >> 5) & 3,
  present: (ar: number) => (ar >> 7) & 1,
  l: (ar: number) => (ar >> 13) & 1,
  db: (ar: number) => (ar >> 14) & 1,
  g: (ar: number) => (ar >> 15) & 1,
  unusable: (ar: number) => (ar >> 16) & 1,
};

/** Flat 4 GiB segment attributes: code 0xc09b (exec/read, accessed, S, P, D, G), data 0xc093. */
export const FLAT_CODE32_AR = 0xc09b;
export const FLAT_DATA_AR = 0xc093;

export const CR0 = { PE: 1n, MP: 2n, EM: 4n, TS: 8n, ET: 16n, NE: 32n, WP: 1n << 16n, AM: 1n << 18n, NW: 1n << 29n, CD: 1n << 30n, PG: 1n << 31n };
export const CR4 = { VME: 1n, PVI: 2n, TSD: 4n, DE: 8n, PSE: 16n, PAE: 32n, MCE: 64n, PGE: 128n, PCE: 256n, OSFXSR: 512n, OSXMMEXCPT: 1024n, VMXE: 1n << 13n, SMXE: 1n << 14n, PCIDE: 1n << 17n, OSXSAVE: 1n << 18n, SMEP: 1n << 20n, SMAP: 1n << 21n };
export const EFER = { SCE: 1n, LME: 1n << 8n, LMA: 1n << 10n, NXE: 1n << 11n };
export const MSR_EFER = 0xc000_0080;
export const RFLAGS_IF = 1n << 9n;

/**
 * State as a Multiboot loader leaves it (Multiboot spec 3.2 "Machine state"): 32-bit protected
 * mode, paging off, flat 4 GiB code and data segments, EAX = 0x2BADB002, EBX = info structure.
 */
export function multibootState(entry: bigint): X86State {
  const flat = (selector: number, attributes: number) => ({ selector, base: 0n, limit: 0xffff_ffff, attributes });
  const seg = {} as X86State["seg"];
  for (const s of ["es", "ss", "ds", "fs", "gs"] as X86Seg[]) seg[s] = flat(0x18, FLAT_DATA_AR);
  seg.cs = flat(0x10, FLAT_CODE32_AR);
  const gpr = new Array<bigint>(16).fill(0n);
  gpr[0] = 0x2bad_b002n;
  gpr[3] = 0x9500n;
  return {
    gpr,
    rip: entry,
    nextRip: entry,
    rflags: 0x2n,
    mode: "protected32",
    seg,
    cr0: CR0.PE | CR0.ET,
    cr2: 0n,
    cr3: 0n,
    cr4: 0n,
    cr8: 0n,
    efer: 0n,
    gdtr: { base: 0n, limit: 0 },
    idtr: { base: 0n, limit: 0 },
  };
}

/** Mode from CR0.PE, EFER.LMA and CS.L/D (SDM Vol. 3 2.2, Table 2-1 "IA-32e mode"). */
export function modeOf(s: X86State): X86State["mode"] {
  if ((s.cr0 & CR0.PE) === 0n) return "real";
  if (s.efer & EFER.LMA) return AR.l(s.seg.cs.attributes) ? "long64" : "compat";
  // A 16-bit code segment in protected mode (CS.D = 0): e.g. just after setting CR0.PE in real mode.
  return AR.db(s.seg.cs.attributes) ? "protected32" : "protected16";
}

/** A guest exception raised by an instruction or an access; the CPU delivers it (or it exits). */
export class GuestFault {
  constructor(
    readonly vector: number,
    readonly errorCode?: number,
    /** #PF: the faulting linear address (CR2). */
    readonly address?: bigint,
  ) {}
}

/** Exit information the processor records in the VMCS (SDM 27.2). */
export interface ExitInfo {
  reason: number;
  /** EXIT_QUALIFICATION (a number when below 2^53 is fine). */
  qualification: bigint | number;
  guestPhysical?: number;
  guestLinear?: bigint;
  intrInfo?: number;
  intrError?: number;
  idtVectoring?: number;
  /** VMX_INSTRUCTION_INFO, for the exits that define it (SDM 27.2.5). */
  instrInfo?: number;
}

/** A VM exit raised during an instruction: the instruction has not changed architectural state. */
export class VmExitSignal {
  constructor(readonly info: ExitInfo) {}
}
