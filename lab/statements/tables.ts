// Exit summaries: counts and cycles by reason, and exits recovered from loaded tracepoint text.
// (Charts of them: lab/statements/charts.ts.)

import type { Exit } from "../../runtime/core/machine.js";
import type { ExitList } from "../../runtime/core/exits.js";
import type { Arch } from "../../runtime/core/machine.js";

export type ExitLike = Pick<Exit, "reason" | "cycles" | "step" | "pc">;
/** A VM's exit store (counts exact, the newest kept) or exits read from a trace. */
export type Exits = ExitList | readonly ExitLike[];

const isStore = (exits: Exits): exits is ExitList => "byReason" in exits;

/** How many exits there were in all (a store counts those its cap dropped). */
export function exitTotal(exits: Exits): number {
  return isStore(exits) ? exits.total : exits.length;
}

/** Per-reason counts and cycles, in order of first appearance (deterministic); exact for a store. */
export function exitRowsBy(exits: Exits): { reason: string; count: number; cycles: number }[] {
  if (isStore(exits)) return exits.byReason();
  const by = new Map<string, { reason: string; count: number; cycles: number }>();
  for (const e of exits) {
    const r = by.get(e.reason) ?? { reason: e.reason, count: 0, cycles: 0 };
    r.count++;
    r.cycles += e.cycles;
    by.set(e.reason, r);
  }
  return [...by.values()];
}

/**
 * `kvm_exit` lines of a saved trace as exits. Formats: x86 (Linux arch/x86/kvm/trace.h)
 * "kvm_exit: reason CR_ACCESS rip 0x… info …"; arm (arch/arm/kvm/trace.h, later kernels)
 * "kvm_exit: TRAP: HSR_EC: 0x0024 (DABT_LOW), PC: 0x…" (an "IRQ:" exit is an IRQ, whatever stale
 * class it prints); Linux 4.1 arm "kvm_exit: PC: 0x…" names no reason ("kvm_exit").
 */
export function parseTraceExits(lines: readonly string[]): ExitLike[] {
  const out: ExitLike[] = [];
  lines.forEach((l, i) => {
    const at = l.indexOf("kvm_exit:");
    if (at < 0) return;
    const body = l.slice(at + 9);
    const reason = /reason (\w+)/.exec(body)?.[1] ?? (/^ IRQ:/.test(body) ? "IRQ" : undefined) ?? /\((\w+)\)/.exec(body)?.[1] ?? "kvm_exit";
    const pc = /(?:rip|PC:) (0x[0-9a-fA-F]+)/.exec(body)?.[1];
    out.push({ reason, cycles: 0, step: i, pc: pc ? BigInt(pc) : 0n });
  });
  return out;
}

/**
 * The architecture a saved trace comes from, when its kvm_exit lines tell: x86's name a VMX exit
 * `reason`, arm's an `HSR_EC`/`ESR_EC` (Linux arch/x86/kvm/trace.h, arch/arm64/kvm/trace_arm.h).
 * Linux 4.1 arm's "kvm_exit: PC: 0x…" names neither: null.
 */
export function traceArch(lines: readonly string[]): Arch | null {
  for (const l of lines) {
    const at = l.indexOf("kvm_exit:");
    if (at < 0) continue;
    if (/\breason \w+/.test(l.slice(at))) return "x86_64";
    if (/\b(?:HSR|ESR)_EC\b/.test(l.slice(at))) return "arm64";
  }
  return null;
}
