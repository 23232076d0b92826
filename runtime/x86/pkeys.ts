// Protection keys (Intel SDM Vol. 3 4.6.2 "Protection Keys"): with 4-level paging, bits 62:59 of the
// entry that maps a page (the leaf) are its protection key. CR4.PKE (bit 22) applies keys to
// user-mode addresses, their rights in PKRU; CR4.PKS (bit 24) to supervisor-mode addresses, their
// rights in IA32_PKRS (MSR 0x6E1). For key i, bit 2i is AD (access disable: no data access) and bit
// 2i+1 WD (write disable: no write by a user-mode access, nor by a supervisor-mode one while
// CR0.WP = 1). Keys never restrict instruction fetches. A #PF a key caused sets error-code bit 5
// (PK, SDM Vol. 3 4.7), whatever else it reports (Linux arch/x86/kvm/mmu.h permission_fault ORs
// PFERR_PK_MASK into the other causes; kvm-unit-tests x86/access.c expects the same).
//
// A TLB entry caches the key as a tag (protectionKeyTag), never the rights: WRPKRU and WRMSR to
// IA32_PKRS change rights without a TLB flush, so each access checks the register (pkDenies).

import type { X86State } from "./env.js";
import { CR0 } from "./state.js";

/** CR4.PKE, bit 22, and CR4.PKS, bit 24 (SDM Vol. 3 2.5 "Control Registers"). */
export const CR4_PKE = 1n << 22n;
export const CR4_PKS = 1n << 24n;
/** IA32_PKRS (SDM Vol. 4 Table 2-2: MSR 0x6E1), the supervisor keys' rights. */
export const MSR_IA32_PKRS = 0x6e1;
/** Page-fault error code bit 5, PK (SDM Vol. 3 4.7). */
export const PFERR_PK = 1 << 5;
/** The key's bits in a paging-structure entry: 62:59 (SDM Vol. 3 Tables 4-19/4-20, "Protection key"), bits 30:27 of its high 32 bits. */
const PKEY_SHIFT_HI = 27;

/** The PKS tags are the key plus this: the rights are IA32_PKRS's, not PKRU's. */
const SUPERVISOR_TAG = 16;

/**
 * The tag a translation's TLB entry keeps: -1 when no key applies (paging other than 4-level, or the
 * address's CR4 bit clear: PKE for a user-mode address, PKS for a supervisor-mode one); the key
 * (0-15) for a user-mode address under CR4.PKE; 16 + the key under CR4.PKS. `fourLevel`: IA-32e
 * paging; `user`: every level allowed user mode (U/S = 1); `leafHigh`: bits 63:32 of the entry that
 * maps the page (the walk reads entries as 32-bit halves, paging.ts).
 */
export function protectionKeyTag(cr4: bigint, fourLevel: boolean, user: boolean, leafHigh: number): number {
  if (!fourLevel || !(cr4 & (user ? CR4_PKE : CR4_PKS))) return -1;
  const key = (leafHigh >>> PKEY_SHIFT_HI) & 0xf;
  return user ? key : SUPERVISOR_TAG + key;
}

/**
 * Whether the rights of tag `tag` (protectionKeyTag, not -1) deny a data access: `write`,
 * `userAccess` (a user-mode access). The rights are PKRU's (s.pkru) or IA32_PKRS's (s.pkrs), read
 * at the access. Supervisor-mode keys restrict supervisor-mode accesses only (a user-mode access to
 * a supervisor-mode address faults anyway). Instruction fetches are never denied (pass fetch = false
 * only for data accesses).
 */
export function pkDenies(s: X86State, tag: number, write: boolean, userAccess: boolean): boolean {
  const supervisorKey = tag >= SUPERVISOR_TAG;
  if (supervisorKey && userAccess) return false;
  const rights = ((supervisorKey ? (s.pkrs ?? 0) : (s.pkru ?? 0)) >>> (2 * (tag & 15))) & 3;
  if (rights & 1) return true;
  return write && (rights & 2) !== 0 && (userAccess || (s.cr0 & CR0.WP) !== 0n);
}
