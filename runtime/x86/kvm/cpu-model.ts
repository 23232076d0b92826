// A VMM's CPU model as the CPUID bits it gives KVM: QEMU's `-cpu MODEL,+FLAG,-FLAG,FLAG=on|off` is
// a set of CPUID feature bits on or off (KVM_SET_CPUID2 with the model's flags, of those KVM
// supports). exitlab's table (cpuid.ts) is what its KVM supports, as `-cpu host` / `-cpu max` see
// it; a named model leaves out the features of CPU_MODEL_FLAGS it lacks, and the options after the
// model set or clear them. Every -cpu choice of the machine goes through here (MachineOptions.cpu).
// Sources: QEMU 7.2 target/i386/cpu.c builtin_x86_defs (the models' feature words, in
// qemu-cpu-models.ts as `query-cpu-model-expansion` reports them) and feature_word_info (the flag
// names); target/i386/kvm/kvm-cpu.c kvm_default_props (features every model gets under KVM);
// x86_cpu_parse_featurestr (option syntax and precedence).

import { ExitlabError } from "../../core/errors.js";
import { CPUID_FEATURES } from "./cpuid.js";
import { QEMU_MODEL_FLAGS } from "./qemu-cpu-models.js";

/**
 * The QEMU flag of each CPUID_FEATURES row a -cpu model decides (QEMU 7.2 target/i386/cpu.c
 * feature_word_info names; kvm-unit-tests' unittests.cfg spells them so). KVM's paravirtual leaf
 * (0x4000_0001) is not here: QEMU turns its features on for every model under KVM.
 */
export const FEATURE_FLAGS: Readonly<Record<string, string>> = {
  FPU: "fpu", VME: "vme", DE: "de", PSE: "pse", TSC: "tsc", MSR: "msr", PAE: "pae", MCE: "mce", CX8: "cx8", APIC: "apic", SEP: "sep",
  MTRR: "mtrr", PGE: "pge", MCA: "mca", CMOV: "cmov", PAT: "pat", PSE36: "pse36", CLFLUSH: "clflush", MMX: "mmx", FXSR: "fxsr",
  XMM: "sse", XMM2: "sse2", SELFSNOOP: "ss", XMM3: "pni", PCLMULQDQ: "pclmulqdq", VMX: "vmx", SSSE3: "ssse3", FMA: "fma", CX16: "cx16",
  PCID: "pcid", XMM4_1: "sse4.1", XMM4_2: "sse4.2", X2APIC: "x2apic", MOVBE: "movbe", POPCNT: "popcnt", TSC_DEADLINE_TIMER: "tsc-deadline",
  AES: "aes", XSAVE: "xsave", AVX: "avx", F16C: "f16c", RDRAND: "rdrand", HYPERVISOR: "hypervisor", FSGSBASE: "fsgsbase", SMEP: "smep",
  SMAP: "smap", PCOMMIT: "pcommit", CLFLUSHOPT: "clflushopt", CLWB: "clwb", PKU: "pku", PKS: "pks", LAHF_LM: "lahf-lm", ABM: "abm",
  SYSCALL: "syscall", NX: "nx", GBPAGES: "pdpe1gb", RDTSCP: "rdtscp", LM: "lm",
};

/**
 * Models that carry every feature the accelerator supports: `max` and, under KVM, `host`
 * (QEMU max_x86_cpu_initfn / host: max_features, x86_cpu_expand_features).
 */
export const ALL_FEATURES_MODELS: readonly string[] = ["max", "host"];

/** QEMU 7.2's x86 CPU models (`query-cpu-definitions`, `-cpu help`), versioned aliases included. */
export const QEMU_CPU_MODELS: readonly string[] = [...Object.keys(QEMU_MODEL_FLAGS), ...ALL_FEATURES_MODELS].sort();

/** Flags QEMU turns on for every model under KVM (target/i386/kvm/kvm-cpu.c kvm_default_props), whatever its definition. */
const KVM_DEFAULT_ON: readonly string[] = ["x2apic"];

/** The default model when a VMM gives no -cpu: exitlab's machine answers with all it supports, as `host`. */
export const DEFAULT_MACHINE_CPU = "host";

/** A CPUID feature QEMU lets -cpu set or clear, and the named models that carry it. */
export interface CpuModelFlag {
  /** QEMU's flag name (feature_word_info). */
  readonly flag: string;
  /** The cpuid.ts CPUID_FEATURES row (Linux X86_FEATURE_ name). */
  readonly feature: string;
  /** Named models with the flag (qemu-cpu-models.ts); "every" when QEMU turns it on for every model under KVM (kvm_default_props). */
  readonly models: "every" | readonly string[];
}

/** The CPUID features a -cpu model decides, by QEMU flag name: FEATURE_FLAGS with the models that carry each (QEMU_MODEL_FLAGS). */
export const CPU_MODEL_FLAGS: readonly CpuModelFlag[] = Object.entries(FEATURE_FLAGS).map(([feature, flag]) => ({
  flag,
  feature,
  models: KVM_DEFAULT_ON.includes(flag) ? "every" : Object.keys(QEMU_MODEL_FLAGS).filter((m) => QEMU_MODEL_FLAGS[m]!.split(" ").includes(flag)),
}));

/** A -cpu argument split: the model and its comma-separated options, as QEMU reads them. */
export interface CpuSpec {
  readonly model: string;
  readonly options: readonly string[];
}

/** `MODEL,OPT,...` split at commas (QEMU's -cpu argument); throws ExitlabError for an empty model. */
export function splitCpuSpec(spec: string): CpuSpec {
  const [model = "", ...options] = spec.split(",");
  if (!model) throw new ExitlabError(`-cpu ${JSON.stringify(spec)} names no CPU model`, "e.g. qemu64, max, host, Skylake-Server,-pku");
  return { model, options: options.filter(Boolean) };
}

/**
 * An option's flag name and value (x86_cpu_parse_featurestr): `+f` on and `-f` off (legacy
 * syntax), `f=on|off|true|false`, a bare `f` on; undefined for another property (`vendor=`,
 * `phys-bits=36`, ...), with its name.
 */
function parseOption(opt: string): { name: string; kind: "plus" | "minus" | "prop"; on?: boolean } {
  if (opt[0] === "+" || opt[0] === "-") return { name: opt.slice(1), kind: opt[0] === "+" ? "plus" : "minus", on: opt[0] === "+" };
  const eq = opt.indexOf("=");
  if (eq < 0) return { name: opt, kind: "prop", on: true };
  const v = opt.slice(eq + 1).toLowerCase();
  return { name: opt.slice(0, eq), kind: "prop", on: v === "on" || v === "true" ? true : v === "off" || v === "false" ? false : undefined };
}

const FLAG_BY_NAME: ReadonlyMap<string, CpuModelFlag> = new Map(CPU_MODEL_FLAGS.map((f) => [f.flag, f]));

/**
 * The CPU_MODEL_FLAGS features (cpuid.ts names) a -cpu argument leaves out of the guest's CPUID:
 * those its model lacks (all present for `max`/`host`) and no option turns on, and those an option
 * turns off. Precedence as QEMU's x86_cpu_parse_featurestr registers them: `f=on|off` in order,
 * then every `+f`, then every `-f` (so `-f` wins). Throws ExitlabError for a model QEMU 7.2 does
 * not have, or an option that is neither a CPU_MODEL_FLAGS flag nor exitlab-neutral.
 */
export function cpuModelCleared(spec: string): string[] {
  const { model, options } = splitCpuSpec(spec);
  if (!QEMU_CPU_MODELS.includes(model)) throw new ExitlabError(`unknown CPU model ${JSON.stringify(model)}`, "QEMU 7.2's x86 models (qemu-system-x86_64 -cpu help), e.g. qemu64, max, host");
  const all = ALL_FEATURES_MODELS.includes(model);
  const on = new Map<string, boolean>(CPU_MODEL_FLAGS.map((f) => [f.flag, all || f.models === "every" || f.models.includes(model)]));
  const parsed = options.map(parseOption);
  for (const o of parsed) {
    if (!FLAG_BY_NAME.has(o.name) || o.on === undefined) {
      throw new ExitlabError(`CPU option ${JSON.stringify(o.name)} is not modelled`, `flags exitlab models: ${[...FLAG_BY_NAME.keys()].join(", ")} (QEMU's -cpu MODEL,+FLAG,-FLAG,FLAG=on|off)`);
    }
  }
  for (const kind of ["prop", "plus", "minus"] as const) for (const o of parsed) if (o.kind === kind) on.set(o.name, o.on!);
  return CPU_MODEL_FLAGS.filter((f) => !on.get(f.flag)).map((f) => f.feature);
}

/**
 * A QEMU -cpu argument cut to what cpuModelCleared models: the model and the options that set or
 * clear a CPU_MODEL_FLAGS flag, in order (other flags and properties — `+vmx`, `vendor=`,
 * `host-phys-bits` — dropped: exitlab's CPUID is otherwise its own). For a kvm-unit-tests entry's
 * `-cpu`, which names real QEMU flags exitlab may not model.
 */
export function modelledCpuSpec(spec: string): string {
  const { model, options } = splitCpuSpec(spec);
  return [model, ...options.filter((o) => { const p = parseOption(o); return FLAG_BY_NAME.has(p.name) && p.on !== undefined; })].join(",");
}

// Every CPU_MODEL_FLAGS row names a CPUID_FEATURES row (checked once at load).
for (const f of CPU_MODEL_FLAGS) if (!CPUID_FEATURES.some((c) => c.name === f.feature)) throw new Error(`CPU_MODEL_FLAGS ${f.flag}: no CPUID feature ${f.feature}`);
