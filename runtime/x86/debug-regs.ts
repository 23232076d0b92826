// The debug registers DR0-DR7 as data (Intel SDM Vol. 3 17.2, Figure 17-1 "Debug Registers"):
// which bits of DR6/DR7 read as fixed, which software may change, the DR4/DR5 aliases, and the
// breakpoint conditions DR7 enables. Linux KVM keeps the same masks (arch/x86/include/asm/kvm_host.h
// DR6_ACTIVE_LOW, DR6_VOLATILE, DR7_FIXED_1, DR7_VOLATILE; DR6.RTM (bit 16) stays 1 when the guest
// has no RTM, kvm_dr6_fixed: the modelled Haswell advertises none).

/** DR6 bits that read as 1: 31:16 and 11:4 (SDM 17.2.3; bit 16 is RTM's active-low bit). */
export const DR6_FIXED_1 = 0xffff_0ff0n;
/** DR6 bits software and #DB change: B0-B3 (3:0), BD (13), BS (14), BT (15). */
export const DR6_VOLATILE = 0xe00fn;
/** DR6.B0-B3: which DR0-3 condition was met; set or cleared on every #DB (SDM 17.2.3). */
export const DR6_TRAP_BITS = 0xfn;
export const DR6_BD = 1n << 13n;
export const DR6_BS = 1n << 14n;
/** DR7 bit 10 reads as 1; bits 11, 12, 14, 15 and 63:32 are reserved (SDM 17.2.4). */
export const DR7_FIXED_1 = 0x400n;
export const DR7_VOLATILE = 0xffff_2bffn;
/** DR7.GD (bit 13): MOV DR raises #DB (BD) first; the #DB clears it (SDM 17.2.4). */
export const DR7_GD = 1n << 13n;

/** Power-on / reset values (SDM Vol. 3 Table 9-1): DR0-3 0, DR6 FFFF0FF0H, DR7 400H. */
export const DR_RESET: readonly bigint[] = [0n, 0n, 0n, 0n, DR6_FIXED_1, DR7_FIXED_1, DR6_FIXED_1, DR7_FIXED_1];

/**
 * The debug register MOV DR n names: DR4 and DR5 are DR6 and DR7 when CR4.DE is 0, and #UD
 * ("undefined") when CR4.DE is 1 (SDM 17.2.2). Other numbers are themselves.
 */
export function drTarget(n: number, cr4De: boolean): number | "ud" {
  if (n !== 4 && n !== 5) return n;
  return cr4De ? "ud" : n + 2;
}

/**
 * The value a write of `v` to debug register `n` (0-3, 6, 7) stores, or "gp" for a write that
 * sets bits 63:32 of DR6/DR7 (#GP(0), SDM Vol. 2 MOV DR; KVM __kvm_set_dr returns 1 then).
 */
export function drWriteValue(n: number, v: bigint): bigint | "gp" {
  if (n < 4) return v;
  if (v >> 32n !== 0n) return "gp";
  return n === 6 ? (v & DR6_VOLATILE) | DR6_FIXED_1 : (v & DR7_VOLATILE) | DR7_FIXED_1;
}

/**
 * DR6 after a #DB with `payload` (B0-B3, BD, BS): B0-B3 replaced, the others ORed in (SDM 17.2.3:
 * "the processor never clears" BD/BS/BT; KVM's kvm_deliver_exception_payload does the same).
 */
export function dr6AfterDebugException(dr6: bigint, payload: bigint): bigint {
  return ((dr6 & ~DR6_TRAP_BITS) | DR6_FIXED_1 | (payload & DR6_VOLATILE)) & 0xffff_ffffn;
}

/** DR7 R/W field values (SDM 17.2.4): 0 instruction execution, 1 data writes, 2 I/O, 3 data reads or writes. */
export const DR7_RW = { EXECUTE: 0, WRITE: 1, IO: 2, READ_WRITE: 3 } as const;

/** Whether DR7 enables any of the four breakpoints (L0-L3/G0-G3, bits 7:0). */
export function breakpointsEnabled(dr7: bigint): boolean {
  return (dr7 & 0xffn) !== 0n;
}

/** Whether DR7 enables a data breakpoint (R/W 01 or 11), SDM 17.2.4. */
export function dataBreakpointsEnabled(dr7: bigint): boolean {
  for (let i = 0; i < 4; i++) {
    if (((dr7 >> BigInt(2 * i)) & 3n) === 0n) continue;
    const rw = Number((dr7 >> BigInt(16 + 4 * i)) & 3n);
    if (rw === DR7_RW.WRITE || rw === DR7_RW.READ_WRITE) return true;
  }
  return false;
}

/**
 * The B0-B3 bits of the breakpoints DR7 enables whose condition `kind` (DR7_RW: EXECUTE for an
 * instruction fetch at `linear`, WRITE for a data write, READ_WRITE for a read) matches the access
 * of `size` bytes at `linear`; LEN (00 1, 01 2, 11 4, 10 8 bytes) aligns the breakpoint address
 * down (SDM 17.2.5). Instruction breakpoints need LEN 00 and match the first byte only.
 */
export function breakpointMatches(dr: readonly bigint[], kind: number, linear: bigint, size: number): bigint {
  const dr7 = dr[7]!;
  let hits = 0n;
  for (let i = 0; i < 4; i++) {
    if (((dr7 >> BigInt(2 * i)) & 3n) === 0n) continue;
    const rw = Number((dr7 >> BigInt(16 + 4 * i)) & 3n);
    const lenBits = Number((dr7 >> BigInt(18 + 4 * i)) & 3n);
    const addr = dr[i]!;
    if (kind === DR7_RW.EXECUTE) {
      if (rw === DR7_RW.EXECUTE && addr === linear) hits |= 1n << BigInt(i);
      continue;
    }
    if (rw !== DR7_RW.WRITE && rw !== DR7_RW.READ_WRITE) continue;
    if (rw === DR7_RW.WRITE && kind !== DR7_RW.WRITE) continue;
    const len = [1n, 2n, 8n, 4n][lenBits]!;
    const lo = addr & ~(len - 1n);
    if (linear < lo + len && lo < linear + BigInt(size)) hits |= 1n << BigInt(i);
  }
  return hits;
}
