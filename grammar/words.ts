// Vocabulary for "did you mean": Damerau-Levenshtein distance (optimal string alignment) and
// the built-in word lists of the language.

import { KEYWORDS } from "./lexer.js";
import { ERAS, GIC_VERSIONS, HYP_MODELS, GRANULES, ON_OFF } from "../runtime/core/settings.js";

/** Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidates (ties in candidate order), if close enough to be a typo. */
export function didYouMean(word: string, candidates: Iterable<string>, max = 3): string[] {
  const limit = word.length <= 3 ? 1 : word.length <= 6 ? 2 : 3;
  const scored: { c: string; d: number }[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    const k = c.toLowerCase();
    if (seen.has(k) || k === word.toLowerCase()) continue;
    seen.add(k);
    const d = editDistance(word, c);
    if (d <= limit) scored.push({ c, d });
  }
  // Only the closest: a distance-1 match makes distance-2 ones noise.
  const best = Math.min(...scored.map((s) => s.d));
  return scored.filter((s) => s.d === best).slice(0, max).map((s) => s.c);
}

export function suggestion(word: string, candidates: Iterable<string>): string | undefined {
  const m = didYouMean(word, candidates);
  return m.length ? `did you mean ${m.map((x) => "`" + x + "`").join(" or ")}?` : undefined;
}

export const STATEMENT_KEYWORDS = ["vm", "use", "trap", "untrap", "step", "handle", "run", "show", "table", "chart", "compare", "let", "expect", "set", "save", "load", "help", "print", "decode", "irq", "ipi", "vcpu", "stat", "sql"] as const;
export const ALL_KEYWORDS: readonly string[] = KEYWORDS;
export const ARCH_NAMES = ["arm64", "x86_64"] as const;
/** `show` targets the language itself provides; machines add their own view names. */
export const SHOW_TARGETS = ["regs", "exit", "vmcs", "esr", "sysregs", "mem", "disasm", "trace", "console", "exits"] as const;
/**
 * Settings the lab understands (name → what it does): the one list `set`, completion, help and
 * syntax errors read. The values of the machines' settings come from runtime/core/settings.ts.
 */
export const SETTINGS: Record<string, string> = {
  arch: "the architecture `vm boot` boots when it names none: x86_64 (the default) or arm64",
  steplimit: "most guest instructions per `step`/`run` statement (a runaway guest stops there)",
  era: "which KVM VMs booted from now on model: 2015 (Linux 4.1) or today; also `kvm`; `set era today for NAME` changes one booted VM",
  kvm: "same as `era`",
  granule: "arm64 stage-2 granule: 64k or 4k",
  pair_mmio: "arm64: emulate ldp/stp (ISV=0) MMIO accesses: on or off",
  gic: "arm64 interrupt controller KVM emulates: v2 (GICv2, 2015's default) or v3 (GICv3, today's default)",
  model: "arm64 world switch: nvhe (host kernel at EL1, the hyp at EL2 switches EL1 state on every exit; 2015's default) or vhe (ARMv8.1: host kernel at EL2 with HCR_EL2.E2H/TGE; today's default)",
  apicv: "x86: APICv (APIC-register virtualization, virtual-interrupt delivery, posted interrupts): on or off; unset, off with 2015's KVM and on today",
  vcpus: "vCPUs of VMs booted from now on, 1 to 8 (default 1); the secondaries start powered off until the guest's PSCI CPU_ON (arm64) or wait for the BSP's INIT and STARTUP IPIs (x86)",
  quantum: "guest instructions a vCPU runs before the next one takes over (round robin; default 10000): the current VM and VMs booted from now on",
  jit: "run guest code as compiled blocks (on, the default) or one instruction at a time (off): the results are the same",
  exitcap: "most exits a VM keeps (default 1000000); older ones are dropped, counts by reason stay exact",
  tracecap: "most trace events a VM keeps (default 1000000); older ones are dropped",
};
/** The values a setting takes, where they are a fixed list (checked by `set`, offered by completion). */
export const SETTING_VALUES: Readonly<Record<"arch" | "era" | "kvm" | "granule" | "pair_mmio" | "gic" | "model" | "apicv" | "jit", readonly string[]>> = {
  arch: ARCH_NAMES,
  era: ERAS,
  kvm: ERAS,
  granule: GRANULES,
  pair_mmio: ON_OFF,
  gic: GIC_VERSIONS,
  model: HYP_MODELS,
  jit: ON_OFF,
  apicv: ON_OFF,
};
/** Other names of a setting. */
export const SETTING_ALIASES: Readonly<Record<string, string>> = { kvm: "era" };
