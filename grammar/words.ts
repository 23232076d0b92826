// Vocabulary for "did you mean": Damerau-Levenshtein distance (optimal string alignment) and
// the built-in word lists of the language.

import { KEYWORDS } from "./lexer.js";

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

export const STATEMENT_KEYWORDS = ["vm", "use", "trap", "untrap", "step", "handle", "run", "show", "table", "chart", "compare", "let", "expect", "set", "save", "load", "help", "print"] as const;
export const ALL_KEYWORDS: readonly string[] = KEYWORDS;
export const ARCH_NAMES = ["arm64", "x86_64"] as const;
/** `show` targets the language itself provides; machines add their own view names. */
export const SHOW_TARGETS = ["regs", "exit", "vmcs", "esr", "sysregs", "mem", "disasm", "trace", "console", "exits"] as const;
/** Settings the lab understands (name → what it does): the one list `set`, help, completion and syntax errors read. */
export const SETTINGS: Record<string, string> = {
  arch: "the architecture `vm boot` boots when it names none: x86_64 (the default) or arm64",
  steplimit: "most guest instructions per `step`/`run` statement (a runaway guest stops there)",
  era: "which KVM VMs booted from now on model: 2015 (Linux 4.1) or today; also `kvm`; `set era today for NAME` changes one booted VM",
  kvm: "same as `era`",
  granule: "arm64 stage-2 granule: 64k or 4k",
  pair_mmio: "arm64: emulate ldp/stp (ISV=0) MMIO accesses: on or off",
  jit: "run guest code as compiled blocks (on, the default) or one instruction at a time (off): the results are the same",
  exitcap: "most exits a VM keeps (default 1000000); older ones are dropped, counts by reason stay exact",
  tracecap: "most trace events a VM keeps (default 1000000); older ones are dropped",
};
/** The values a setting takes, where they are a fixed list (checked by `set`, offered by completion). */
export const SETTING_VALUES: Readonly<Record<"arch" | "era" | "kvm" | "granule" | "pair_mmio" | "jit", readonly string[]>> = {
  arch: ARCH_NAMES,
  era: ["2015", "today"],
  kvm: ["2015", "today"],
  granule: ["64k", "4k"],
  pair_mmio: ["on", "off"],
  jit: ["on", "off"],
};
/**
 * The trap kinds that take an argument, and what it is (Intel SDM Vol. 3 25.1.3 for CR, MSR, I/O
 * and exception-bitmap exiting; Arm ARM D13.2.46 HCR_EL2 for the system-register traps); every
 * other kind takes none.
 */
export const TRAP_ARGS: Readonly<Record<string, string>> = {
  cr: "a control register number (0, 3, 4 or 8)",
  msr: "an MSR number or name (`trap msr 0xc0000080`, `trap msr efer`)",
  io: "an I/O port number (`trap io 0x3f8`)",
  exception: "an exception vector, 0 to 31 (`trap exception 14`)",
  sysreg: "a system register name (`trap sysreg sctlr_el1`)",
};
export const TRAP_KINDS_X86 = ["cr0", "cr3", "cr4", "cr8", "cr", "msr", "io", "hlt", "cpuid", "rdtsc", "invlpg", "dr", "wbinvd", "exception"] as const;
export const TRAP_KINDS_ARM64 = ["sysreg", "tvm", "trvm", "wfi", "wfe", "hvc", "smc", "setway", "acr", "id"] as const;
