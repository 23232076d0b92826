// Guest paging: linear → guest-physical, for 32-bit (CR4.PSE 4 MiB pages), PAE and 4-level
// (IA-32e) paging. Intel SDM Vol. 3 4.3 (32-bit, Table 4-4..4-6), 4.4 (PAE), 4.5 (4-level,
// Tables 4-14..4-19); page-fault error code: 4.7 (bit 0 P, 1 W/R, 2 U/S, 3 RSVD, 4 I/D);
// access rights 4.6.1: SMEP (CR4.SMEP: no supervisor fetch from a user-mode address), protection
// keys 4.6.2 (CR4.PKE/PKS, leaf bits 62:59, PKRU/IA32_PKRS: pkeys.ts; error-code bit 5 PK), and SMAP
// (CR4.SMAP: no supervisor data access to a user-mode address unless it is explicit and EFLAGS.AC = 1;
// implicit supervisor accesses — GDT, LDT, IDT, TSS — never get the AC exemption).
// Each paging-structure entry is read through `readEntry`, which takes the entry's guest-physical
// address — under EPT that access is itself translated and may cause an EPT violation.

import type { X86State } from "./env.js";
import { CR0, CR4, EFER, GuestFault } from "./state.js";
import { VECTOR } from "./vectors.js";
import { CR4_PKE, CR4_PKS, PFERR_PK, pkDenies, protectionKeyTag } from "./pkeys.js";

export interface PageAccess {
  write: boolean;
  fetch: boolean;
  /** A user-mode access (CPL 3 and not implicit). */
  user: boolean;
  /** An implicit supervisor-mode access (descriptor tables, TSS: SDM Vol. 3 4.6): SMAP ignores EFLAGS.AC for it. */
  implicit?: boolean;
}

/** EFLAGS.AC (bit 18), SMAP's override for explicit supervisor accesses (SDM Vol. 3 4.6.1). */
const RFLAGS_AC = 1n << 18n;

export interface Translation {
  gpa: number;
  writable: boolean;
  user: boolean;
  executable: boolean;
  /** The mapping's dirty flag is set (a later write need not walk again). */
  dirty: boolean;
  /** Bytes of the page that maps it: 4096, or 2 MiB / 4 MiB / 1 GiB for a large page. */
  pageSize: number;
  /** The protection-key tag a TLB entry keeps (pkeys.ts protectionKeyTag): -1 when no key applies. */
  pk: number;
}

export type EntryReader = (gpa: number, size: 4 | 8) => bigint;
/** Writes back an entry whose accessed/dirty flag the walk set (SDM Vol. 3 4.8). */
export type EntryWriter = (gpa: number, size: 4 | 8, value: bigint) => void;

/**
 * The control-register bits translations depend on (a change of one invalidates the TLBs, SDM Vol. 3
 * 4.10.4.1): CR0.PG and PE (the mode); CR4.PSE, PAE, PGE, PCIDE, SMEP, SMAP, LA57 (bit 12), and
 * PKE and PKS (a TLB entry's protection-key tag depends on them: pkeys.ts) —
 * KVM's X86_CR4_TLBFLUSH_BITS (PGE | PCIDE | PAE | SMEP, arch/x86/kvm/kvm_cache_regs.h) and the
 * bits that change how a walk reads the tables. CR0.WP is not one: it is applied at each access.
 */
export const CR0_TRANSLATION_BITS = CR0.PG | CR0.PE;
export const CR4_TRANSLATION_BITS = CR4.PSE | CR4.PAE | CR4.PGE | CR4.PCIDE | CR4.SMEP | CR4.SMAP | (1n << 12n) | CR4_PKE | CR4_PKS;

export function pagingMode(s: X86State): "none" | "32bit" | "pae" | "4level" {
  if ((s.cr0 & CR0.PG) === 0n) return "none";
  if ((s.cr4 & CR4.PAE) === 0n) return "32bit";
  return s.efer & EFER.LMA ? "4level" : "pae";
}

/**
 * The page-fault exception (SDM Vol. 3 4.7): error code P (a present entry: a protection or
 * reserved-bit fault), W/R, U/S, RSVD, and I/D only when execute-disable or SMEP is on ("set if
 * ... an instruction fetch and either CR4.SMEP = 1 or IA32_EFER.NXE = 1"); CR2 = the linear address.
 */
function pf(s: X86State, linear: bigint, present: boolean, a: PageAccess, rsvd = false, pk = false): GuestFault {
  const fetchBit = a.fetch && (s.efer & EFER.NXE || s.cr4 & CR4.SMEP) ? 16 : 0;
  const code = (present ? 1 : 0) | (a.write ? 2 : 0) | (a.user ? 4 : 0) | (rsvd ? 8 : 0) | fetchBit | (pk ? PFERR_PK : 0);
  return new GuestFault(VECTOR.PF, code, linear);
}


/** The modelled CPU's physical-address width, MAXPHYADDR: CPUID 0x80000008 EAX[7:0] = 39 (kvm/cpuid.ts). */
export const PHYSICAL_ADDRESS_BITS = 39;

/**
 * Reads and writes paging-structure entries by guest-physical address (the CPU does it through
 * EPT, where a read may itself exit). Entries are handled as two 32-bit halves, Numbers, so a walk
 * allocates no BigInt (DESIGN: no BigInt in the hot path).
 */
export interface EntryPort {
  /** Bits 31:0 of the 4- or 8-byte entry at `gpa`, unsigned; bits 63:32 (0 for a 4-byte entry) are left in `hi`. */
  readEntry(gpa: number, size: 4 | 8): number;
  hi: number;
  /** Writes bits 31:0 of the entry at `gpa`, where the accessed (5) and dirty (6) flags live (SDM Vol. 3 4.8). */
  writeEntryLow?(gpa: number, lo: number): void;
}

// Reserved bits of present paging-structure entries as masks of the entry's high and low halves,
// SDM Vol. 3 4.4.2 (PAE, Tables 4-8..4-10: bits 62:MAXPHYADDR) and 4.5.4 (4-level, Tables
// 4-15..4-20: bits 51:MAXPHYADDR; PS of a PML4E; bits 29:13 of a PDPTE mapping 1 GiB, 20:13 of a
// PDE mapping 2 MiB: the page's address is aligned); bit 63 (XD) too while IA32_EFER.NXE = 0
// (4.4.2, 4.5.4: "if IA32_EFER.NXE = 0 ... reserved"). A set reserved bit ends the walk with #PF,
// error code P|RSVD (4.7), before any permission check.
/** Bits hi:lo (32 <= lo <= hi <= 62) of an entry as a mask of its high half. */
const hiMask = (hi: number, lo: number) => 2 ** (hi - 31) - 2 ** (lo - 32);
const RESERVED_HI = {
  pae: hiMask(62, PHYSICAL_ADDRESS_BITS),
  "4level": hiMask(51, PHYSICAL_ADDRESS_BITS),
  xd: 0x8000_0000,
} as const;
const RESERVED_LO = {
  pml4Ps: 1 << 7,
  page1g: 0x3fff_e000, // bits 29:13
  page2m: 0x001f_e000, // bits 20:13
} as const;

/** Bytes one entry of each level maps (level 1 = PT ... 4 = PML4): 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
const LEVEL_SPAN = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39] as const;

// The entries a walk used (guest-physical address and low half): once it succeeds, the processor
// sets their accessed flags and, for a write, the leaf's dirty flag (SDM Vol. 3 4.8). Walks do not
// nest (an entry read never walks guest tables), so one scratch list serves them all.
const usedGpa = new Float64Array(5);
const usedLo = new Int32Array(5);

/**
 * Translate `linear` for access `a` under the paging mode of `s` (SDM Vol. 3 4.3-4.6), reading
 * entries through `port`: the guest-physical address (a Number below 2^52) and the rights of the
 * whole walk. Throws GuestFault #PF (CR2 = linear, error code per 4.7) or #GP (a non-canonical
 * address in 4-level paging); an exception the port throws (an EPT exit) goes through unchanged.
 */
export function walk(s: X86State, linear: bigint, a: PageAccess, port: EntryPort): Translation {
  const mode = pagingMode(s);
  if (mode === "none") return { gpa: Number(linear & 0xffff_ffffn), writable: true, user: true, executable: true, dirty: true, pageSize: 4096, pk: -1 };
  const wp = (s.cr0 & CR0.WP) !== 0n;
  const nxe = (s.efer & EFER.NXE) !== 0n;
  let writable = true;
  let user = true;
  let executable = true;
  let used = 0;
  let lo = 0;
  let hi = 0;
  const read = (gpa: number, size: 4 | 8) => {
    lo = port.readEntry(gpa, size);
    hi = size === 8 ? port.hi : 0;
    usedGpa[used] = gpa;
    usedLo[used++] = lo;
    writable &&= (lo & 2) !== 0;
    user &&= (lo & 4) !== 0;
    if (nxe && hi & 0x8000_0000) executable = false;
  };
  const finish = (gpa: number, pageSize: number): Translation => {
    // The leaf's protection key (SDM Vol. 3 4.6.2, bits 62:59: bits 30:27 of its high half),
    // checked for data accesses with the other rights; a #PF it causes carries PK whatever else it reports.
    const pk = protectionKeyTag(s.cr4, mode === "4level", user, hi);
    const pkDenied = pk >= 0 && !a.fetch && pkDenies(s, pk, a.write, a.user);
    if (a.write && !writable && (a.user || wp)) throw pf(s, linear, true, a, false, pkDenied);
    if (a.user && !user) throw pf(s, linear, true, a, false, pkDenied);
    if (a.fetch && !executable) throw pf(s, linear, true, a);
    if (!a.user && user) {
      // A supervisor-mode access to a user-mode address (SDM Vol. 3 4.6.1).
      if (a.fetch) {
        if (s.cr4 & CR4.SMEP) throw pf(s, linear, true, a);
      } else if (s.cr4 & CR4.SMAP && (a.implicit || !(s.rflags & RFLAGS_AC))) throw pf(s, linear, true, a, false, pkDenied);
    }
    if (pkDenied) throw pf(s, linear, true, a, false, true);
    if (port.writeEntryLow) {
      for (let i = 0; i < used; i++) {
        const want = usedLo[i]! | 0x20 | (i === used - 1 && a.write ? 0x40 : 0);
        if (want !== usedLo[i]) port.writeEntryLow(usedGpa[i]!, want >>> 0);
      }
    }
    return { gpa, writable, user, executable, dirty: a.write || (used > 0 && (usedLo[used - 1]! & 0x40) !== 0), pageSize, pk };
  };
  if (mode === "32bit") {
    const lin = Number(linear & 0xffff_ffffn);
    read(((Number(s.cr3) & 0xffff_f000) >>> 0) + (lin >>> 22) * 4, 4);
    if (!(lo & 1)) throw pf(s, linear, false, a);
    if (lo & 0x80 && s.cr4 & CR4.PSE) return finish(((lo & 0xffc0_0000) >>> 0) + (lin & 0x3f_ffff), 0x40_0000);
    read(((lo & 0xffff_f000) >>> 0) + ((lin >>> 12) & 0x3ff) * 4, 4);
    if (!(lo & 1)) throw pf(s, linear, false, a);
    return finish(((lo & 0xffff_f000) >>> 0) + (lin & 0xfff), 4096);
  }
  // Bits 51:12 of the entry just read: the next table or the page.
  const address = () => (hi & 0xf_ffff) * 4294967296 + ((lo & 0xffff_f000) >>> 0);
  let table: number;
  let levels: number;
  let lin: number;
  if (mode === "pae") {
    lin = Number(linear & 0xffff_ffffn);
    // PDPTEs have no accessed flag (SDM Vol. 3 4.4.1: loaded with CR3): read outside `used`.
    const pdLo = port.readEntry(((Number(s.cr3) & 0xffff_ffe0) >>> 0) + Math.floor(lin / 2 ** 30) * 8, 8);
    if (!(pdLo & 1)) throw pf(s, linear, false, a);
    table = (port.hi & 0xf_ffff) * 4294967296 + ((pdLo & 0xffff_f000) >>> 0);
    levels = 2;
    linear &= 0xffff_ffffn;
  } else {
    // Canonical check: bits 63:47 must equal bit 47 (SDM 3.3.7.1); a violation is #GP, not #PF.
    const top = linear >> 47n;
    if (top !== 0n && top !== 0x1ffffn) throw new GuestFault(VECTOR.GP, 0);
    lin = Number(linear & 0xffff_ffff_ffffn);
    table = Number(s.cr3 & 0x000f_ffff_ffff_f000n);
    levels = 4;
  }
  const reservedHi = RESERVED_HI[mode] + (nxe ? 0 : RESERVED_HI.xd);
  for (let level = levels; level >= 1; level--) {
    const span = LEVEL_SPAN[level]!;
    read(table + (Math.floor(lin / span) & 511) * 8, 8); // & on a double < 2^53 keeps its low bits
    if (!(lo & 1)) throw pf(s, linear, false, a);
    const isLarge = level > 1 && (lo & 0x80) !== 0;
    const reservedLo = level === 4 ? RESERVED_LO.pml4Ps : !isLarge ? 0 : level === 3 ? RESERVED_LO.page1g : RESERVED_LO.page2m;
    if ((hi & reservedHi) !== 0 || (lo & reservedLo) !== 0) throw pf(s, linear, true, a, true);
    if (isLarge) {
      const base = address();
      return finish(base - (base % span) + (lin - Math.floor(lin / span) * span), span);
    }
    if (level === 1) return finish(address() + (lin & 0xfff), 4096);
    table = address();
  }
  throw new Error("unreachable");
}

/**
 * `walk` with entries read (and A/D flags written back) as BigInts: for callers outside the CPU's
 * hot path (tests, views). Same results and faults.
 */
export function translate(s: X86State, linear: bigint, a: PageAccess, readEntry: EntryReader, writeEntry?: EntryWriter): Translation {
  const port: EntryPort = {
    hi: 0,
    readEntry(gpa, size) {
      const v = readEntry(gpa, size);
      this.hi = Number((v >> 32n) & 0xffff_ffffn);
      return Number(v & 0xffff_ffffn);
    },
  };
  if (writeEntry) {
    // Writes the whole entry as the caller's writer expects: the high half as last read.
    port.writeEntryLow = (gpa, lo) => {
      const size = pagingMode(s) === "32bit" ? 4 : 8;
      const v = readEntry(gpa, size);
      writeEntry(gpa, size, (v & ~0xffff_ffffn) | BigInt(lo));
    };
  }
  return walk(s, linear, a, port);
}
