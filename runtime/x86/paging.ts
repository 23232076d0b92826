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

/**
 * Whether a supervisor-mode access to a user-mode address needs the SMEP/SMAP check under `cr4`:
 * such translations must not be cached for supervisor use (the answer depends on EFLAGS.AC).
 */
export function supervisorChecksUser(cr4: bigint): boolean {
  return (cr4 & (CR4.SMAP | CR4.SMEP)) !== 0n;
}

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

const bits = (hi: number, lo: number) => ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
/**
 * Reserved bits of present paging-structure entries, SDM Vol. 3 4.4.2 (PAE, Tables 4-8..4-10:
 * bits 62:MAXPHYADDR) and 4.5.4 (4-level, Tables 4-15..4-20: bits 51:MAXPHYADDR; PS of a PML4E;
 * bits 29:13 of a PDPTE mapping 1 GiB, 20:13 of a PDE mapping 2 MiB: the page's address is aligned);
 * bit 63 (XD) too while IA32_EFER.NXE = 0 (4.4.2, 4.5.4: "if IA32_EFER.NXE = 0 ... reserved").
 * A set reserved bit ends the walk with #PF, error code P|RSVD (4.7), before any permission check.
 */
const RESERVED = {
  pae: bits(62, PHYSICAL_ADDRESS_BITS),
  "4level": bits(51, PHYSICAL_ADDRESS_BITS),
  pml4Ps: 1n << 7n,
  page1g: bits(29, 13),
  page2m: bits(20, 13),
  xd: 1n << 63n,
} as const;

export function translate(s: X86State, linear: bigint, a: PageAccess, readEntry: EntryReader, writeEntry?: EntryWriter): Translation {
  const mode = pagingMode(s);
  if (mode === "none") return { gpa: Number(linear & 0xffff_ffffn), writable: true, user: true, executable: true, dirty: true, pageSize: 4096, pk: -1 };
  const wp = (s.cr0 & CR0.WP) !== 0n;
  const nxe = (s.efer & EFER.NXE) !== 0n;
  let writable = true;
  let user = true;
  let executable = true;
  let pageSize = 4096;
  // Entries used by the walk: once it succeeds, the processor sets their accessed flags (bit 5)
  // and, for a write, the dirty flag (bit 6) of the entry that maps the page (SDM Vol. 3 4.8).
  const used: { gpa: number; size: 4 | 8; value: bigint }[] = [];
  const read = (gpa: number, size: 4 | 8) => {
    const value = readEntry(gpa, size);
    used.push({ gpa, size, value });
    return value;
  };
  const check = (e: bigint) => {
    writable &&= (e & 2n) !== 0n;
    user &&= (e & 4n) !== 0n;
    if (nxe && (e >> 63n) & 1n) executable = false;
  };
  const finish = (gpa: number): Translation => {
    // The leaf's protection key (SDM Vol. 3 4.6.2), checked for data accesses with the other rights;
    // a #PF it causes carries PK whatever else it reports.
    const pk = protectionKeyTag(s.cr4, mode === "4level", user, used[used.length - 1]!.value);
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
    if (writeEntry) {
      used.forEach((u, i) => {
        const leaf = i === used.length - 1;
        const want = u.value | 0x20n | (leaf && a.write ? 0x40n : 0n);
        if (want !== u.value) writeEntry(u.gpa, u.size, want);
      });
    }
    return { gpa, writable, user, executable, dirty: a.write || (used.length > 0 && (used[used.length - 1]!.value & 0x40n) !== 0n), pageSize, pk };
  };
  if (mode === "32bit") {
    const lin = Number(linear & 0xffff_ffffn);
    const pde = read((Number(s.cr3) & 0xffff_f000) + (lin >>> 22) * 4, 4);
    if (!(pde & 1n)) throw pf(s, linear, false, a);
    check(pde);
    if (pde & 0x80n && s.cr4 & CR4.PSE) return (pageSize = 0x40_0000), finish((Number(pde) & 0xffc0_0000) + (lin & 0x3f_ffff));
    const pte = read((Number(pde) & 0xffff_f000) + ((lin >>> 12) & 0x3ff) * 4, 4);
    if (!(pte & 1n)) throw pf(s, linear, false, a);
    check(pte);
    return finish((Number(pte) & 0xffff_f000) + (lin & 0xfff));
  }
  const addr = (e: bigint) => Number(e & 0x000f_ffff_ffff_f000n);
  let table: number;
  let levels: number;
  if (mode === "pae") {
    const lin = linear & 0xffff_ffffn;
    const pdpte = readEntry((Number(s.cr3) & 0xffff_ffe0) + Number(lin >> 30n) * 8, 8);
    if (!(pdpte & 1n)) throw pf(s, linear, false, a);
    table = addr(pdpte);
    levels = 2;
    linear = lin;
  } else {
    // Canonical check: bits 63:47 must equal bit 47 (SDM 3.3.7.1); a violation is #GP, not #PF.
    const top = linear >> 47n;
    if (top !== 0n && top !== 0x1ffffn) throw new GuestFault(VECTOR.GP, 0);
    table = Number(s.cr3 & 0x000f_ffff_ffff_f000n);
    levels = 4;
  }
  const reserved = RESERVED[mode] | (nxe ? 0n : RESERVED.xd);
  for (let level = levels; level >= 1; level--) {
    const shift = BigInt(12 + 9 * (level - 1));
    const e = read(table + Number((linear >> shift) & 0x1ffn) * 8, 8);
    if (!(e & 1n)) throw pf(s, linear, false, a);
    const isLarge = level > 1 && (e & 0x80n) !== 0n;
    const rsvd = reserved | (level === 4 ? RESERVED.pml4Ps : !isLarge ? 0n : level === 3 ? RESERVED.page1g : RESERVED.page2m);
    if (e & rsvd) throw pf(s, linear, true, a, true);
    check(e);
    if (isLarge) {
      const size = 1n << shift;
      pageSize = Number(size);
      return finish(Number((e & 0x000f_ffff_ffff_f000n & ~(size - 1n)) | (linear & (size - 1n))));
    }
    if (level === 1) return finish(addr(e) + Number(linear & 0xfffn));
    table = addr(e);
  }
  throw new Error("unreachable");
}
