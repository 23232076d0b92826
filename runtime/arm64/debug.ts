// Self-hosted debug exceptions of the guest: hardware breakpoints and watchpoints, the two slots
// of each that ID_AA64DFR0_EL1 advertises (BRPs = 5, WRPs = 3, idregs.ts), and the enable rule that
// software step (cpu.ts stepBefore/stepAfter) shares. The CPU asks these rules before an
// instruction runs (breakpoints) and after a data access translated (watchpoints). Linked and
// context-matching breakpoints (BT != 0) never match: CTX_CMPs advertises the minimum. Sources: Arm ARM (DDI 0487) D2 "AArch64 Self-hosted Debug"
// (AArch64.GenerateDebugExceptionsFrom: OS lock, MDSCR_EL1.KDE, PSTATE.D), the pseudocode
// AArch64.BreakpointMatch / AArch64.WatchpointMatch, and the register descriptions DBGBCR<n>_EL1
// (E 0, PMC 2:1, BAS 8:5, BT 23:20), DBGWCR<n>_EL1 (E 0, PAC 2:1, LSC 4:3, BAS 12:5, MASK 28:24),
// MDSCR_EL1 (KDE 13, MDE 15), OSLSR_EL1 (OSLK 1).

import { idField } from "./idregs.js";

/** Breakpoint and watchpoint slots (ID_AA64DFR0_EL1.BRPs/WRPs + 1). */
export const BREAKPOINTS = idField("ID_AA64DFR0_EL1", "BRPs") + 1;
export const WATCHPOINTS = idField("ID_AA64DFR0_EL1", "WRPs") + 1;

/** The debug registers the rules read, by name. */
export type DebugRegs = (name: string) => bigint;

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;
const field = (v: bigint, lsb: number, width: number): number => Number((v >> BigInt(lsb)) & ((1n << BigInt(width)) - 1n));
const VA_BITS = (1n << 49n) - 1n; // DBGBVR/DBGWVR compare VA[48:2] / VA[48:3]

/** MDSCR_EL1.MDE and some enabled breakpoint (`kind` "b") or watchpoint ("w"): the CPU must check. */
export function armed(reg: DebugRegs, kind: "b" | "w"): boolean {
  if (!bit(reg("MDSCR_EL1"), 15)) return false;
  const n = kind === "b" ? BREAKPOINTS : WATCHPOINTS;
  for (let i = 0; i < n; i++) if (bit(reg(kind === "b" ? `DBGBCR${i}_EL1` : `DBGWCR${i}_EL1`), 0)) return true;
  return false;
}

/**
 * AArch64.GenerateDebugExceptionsFrom for a guest at EL0/EL1 with debug exceptions routed to EL1:
 * never with the OS lock set; from EL0 always; from EL1 only with MDSCR_EL1.KDE = 1 and PSTATE.D = 0.
 */
export function debugExceptionsEnabled(reg: DebugRegs, el: number, dMasked: boolean): boolean {
  if (bit(reg("OSLSR_EL1"), 1)) return false;
  if (el === 0) return true;
  return bit(reg("MDSCR_EL1"), 13) && !dMasked;
}

/** Does the privilege-mode control (PMC/PAC, bits 2:1) select `el`? 0b01 EL1, 0b10 EL0, 0b11 both. */
const elMatches = (ctrl: bigint, el: number): boolean => (field(ctrl, 1, 2) & (el === 0 ? 2 : 1)) !== 0;

/** The breakpoint that matches an instruction at `pc` (unlinked address match, BT = 0b0000), or -1. */
export function breakpointAt(reg: DebugRegs, pc: bigint, el: number): number {
  for (let i = 0; i < BREAKPOINTS; i++) {
    const bcr = reg(`DBGBCR${i}_EL1`);
    if (!bit(bcr, 0) || field(bcr, 20, 4) !== 0 || field(bcr, 5, 4) === 0 || !elMatches(bcr, el)) continue;
    if (((reg(`DBGBVR${i}_EL1`) ^ pc) & VA_BITS & ~3n) === 0n) return i;
  }
  return -1;
}

/** The watchpoint that an access of `size` bytes at `va` (a store when `write`) hits, or -1. */
export function watchpointHit(reg: DebugRegs, va: bigint, size: number, write: boolean, el: number): number {
  for (let i = 0; i < WATCHPOINTS; i++) {
    const wcr = reg(`DBGWCR${i}_EL1`);
    if (!bit(wcr, 0) || !elMatches(wcr, el) || (field(wcr, 3, 2) & (write ? 2 : 1)) === 0) continue;
    const wvr = reg(`DBGWVR${i}_EL1`) & VA_BITS;
    const mask = field(wcr, 24, 5);
    const lo = va & VA_BITS, hi = lo + BigInt(size); // the access: [lo, hi)
    if (mask !== 0) {
      // A power-of-two range of 2^MASK bytes (BAS is then all ones).
      const m = ~((1n << BigInt(mask)) - 1n);
      if (((lo & m) <= (wvr & m) && (wvr & m) < hi) || (lo & m) === (wvr & m)) return i;
      continue;
    }
    const base = wvr & ~7n;
    const bas = field(wcr, 5, 8);
    for (let b = 0; b < 8; b++) {
      const a = base + BigInt(b);
      if ((bas >> b) & 1 && a >= lo && a < hi) return i;
    }
  }
  return -1;
}
