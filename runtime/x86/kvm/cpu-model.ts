// A VMM's CPU model as the CPUID bits it gives KVM: QEMU's `-cpu MODEL,+FLAG,-FLAG,FLAG=on|off` is
// a set of CPUID feature bits on or off (KVM_SET_CPUID2 with the model's flags, of those KVM
// supports). exitlab's table (cpuid.ts) is what its KVM supports, as `-cpu host` / `-cpu max` see
// it; a named model leaves out the features of CPU_MODEL_FLAGS it lacks, and the options after the
// model set or clear them. Every -cpu choice of the machine goes through here (MachineOptions.cpu).
// Sources: QEMU 7.2 target/i386/cpu.c builtin_x86_defs (the models' feature words) and
// feature_word_info (the flag names), as `query-cpu-model-expansion` type "full" of each model of
// `query-cpu-definitions` reports them (qemu-system-x86_64 7.2, -machine none); target/i386/kvm/
// kvm-cpu.c kvm_default_props (features every model gets under KVM); x86_cpu_parse_featurestr
// (option syntax and precedence).

import { ExitlabError } from "../../core/errors.js";
import { CPUID_FEATURES } from "./cpuid.js";

/** QEMU 7.2's x86 CPU models (`query-cpu-definitions`, `-cpu help`), versioned aliases included. */
export const QEMU_CPU_MODELS: readonly string[] = [
  "486", "486-v1", "Broadwell", "Broadwell-IBRS", "Broadwell-noTSX", "Broadwell-noTSX-IBRS", "Broadwell-v1", "Broadwell-v2",
  "Broadwell-v3", "Broadwell-v4", "Cascadelake-Server", "Cascadelake-Server-noTSX", "Cascadelake-Server-v1",
  "Cascadelake-Server-v2", "Cascadelake-Server-v3", "Cascadelake-Server-v4", "Cascadelake-Server-v5", "Conroe", "Conroe-v1",
  "Cooperlake", "Cooperlake-v1", "Cooperlake-v2", "Denverton", "Denverton-v1", "Denverton-v2", "Denverton-v3", "Dhyana",
  "Dhyana-v1", "Dhyana-v2", "EPYC", "EPYC-IBPB", "EPYC-Milan", "EPYC-Milan-v1", "EPYC-Rome", "EPYC-Rome-v1", "EPYC-Rome-v2",
  "EPYC-v1", "EPYC-v2", "EPYC-v3", "Haswell", "Haswell-IBRS", "Haswell-noTSX", "Haswell-noTSX-IBRS", "Haswell-v1", "Haswell-v2",
  "Haswell-v3", "Haswell-v4", "Icelake-Server", "Icelake-Server-noTSX", "Icelake-Server-v1", "Icelake-Server-v2",
  "Icelake-Server-v3", "Icelake-Server-v4", "Icelake-Server-v5", "Icelake-Server-v6", "IvyBridge", "IvyBridge-IBRS",
  "IvyBridge-v1", "IvyBridge-v2", "KnightsMill", "KnightsMill-v1", "Nehalem", "Nehalem-IBRS", "Nehalem-v1", "Nehalem-v2",
  "Opteron_G1", "Opteron_G1-v1", "Opteron_G2", "Opteron_G2-v1", "Opteron_G3", "Opteron_G3-v1", "Opteron_G4", "Opteron_G4-v1",
  "Opteron_G5", "Opteron_G5-v1", "Penryn", "Penryn-v1", "SandyBridge", "SandyBridge-IBRS", "SandyBridge-v1", "SandyBridge-v2",
  "Skylake-Client", "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS", "Skylake-Client-v1", "Skylake-Client-v2",
  "Skylake-Client-v3", "Skylake-Client-v4", "Skylake-Server", "Skylake-Server-IBRS", "Skylake-Server-noTSX-IBRS",
  "Skylake-Server-v1", "Skylake-Server-v2", "Skylake-Server-v3", "Skylake-Server-v4", "Skylake-Server-v5", "Snowridge",
  "Snowridge-v1", "Snowridge-v2", "Snowridge-v3", "Snowridge-v4", "Westmere", "Westmere-IBRS", "Westmere-v1", "Westmere-v2",
  "athlon", "athlon-v1", "base", "core2duo", "core2duo-v1", "coreduo", "coreduo-v1", "host", "kvm32", "kvm32-v1", "kvm64",
  "kvm64-v1", "max", "n270", "n270-v1", "pentium", "pentium-v1", "pentium2", "pentium2-v1", "pentium3", "pentium3-v1", "phenom",
  "phenom-v1", "qemu32", "qemu32-v1", "qemu64", "qemu64-v1",
];

/**
 * Models that carry every feature the accelerator supports: `max` and, under KVM, `host`
 * (QEMU max_x86_cpu_initfn / host: max_features, x86_cpu_expand_features).
 */
export const ALL_FEATURES_MODELS: readonly string[] = ["max", "host"];

/** The default model when a VMM gives no -cpu: exitlab's machine answers with all it supports, as `host`. */
export const DEFAULT_MACHINE_CPU = "host";

/** A CPUID feature QEMU lets -cpu set or clear, and the named models that carry it. */
export interface CpuModelFlag {
  /** QEMU's flag name (feature_word_info). */
  readonly flag: string;
  /** The cpuid.ts CPUID_FEATURES row (Linux X86_FEATURE_ name). */
  readonly feature: string;
  /** Named models with the flag; "every" when QEMU turns it on for every model under KVM (kvm_default_props). */
  readonly models: "every" | readonly string[];
}

/** The SandyBridge-and-later Intel models (and KnightsMill, Denverton, Snowridge) with x2apic and tsc-deadline in their definitions. */
const TSC_DEADLINE_MODELS: readonly string[] = [
  "Broadwell", "Broadwell-IBRS", "Broadwell-noTSX", "Broadwell-noTSX-IBRS", "Broadwell-v1", "Broadwell-v2", "Broadwell-v3",
  "Broadwell-v4", "Cascadelake-Server", "Cascadelake-Server-noTSX", "Cascadelake-Server-v1", "Cascadelake-Server-v2",
  "Cascadelake-Server-v3", "Cascadelake-Server-v4", "Cascadelake-Server-v5", "Cooperlake", "Cooperlake-v1", "Cooperlake-v2",
  "Denverton", "Denverton-v1", "Denverton-v2", "Denverton-v3", "Haswell", "Haswell-IBRS", "Haswell-noTSX", "Haswell-noTSX-IBRS",
  "Haswell-v1", "Haswell-v2", "Haswell-v3", "Haswell-v4", "Icelake-Server", "Icelake-Server-noTSX", "Icelake-Server-v1",
  "Icelake-Server-v2", "Icelake-Server-v3", "Icelake-Server-v4", "Icelake-Server-v5", "Icelake-Server-v6", "IvyBridge",
  "IvyBridge-IBRS", "IvyBridge-v1", "IvyBridge-v2", "KnightsMill", "KnightsMill-v1", "SandyBridge", "SandyBridge-IBRS",
  "SandyBridge-v1", "SandyBridge-v2", "Skylake-Client", "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS", "Skylake-Client-v1",
  "Skylake-Client-v2", "Skylake-Client-v3", "Skylake-Client-v4", "Skylake-Server", "Skylake-Server-IBRS",
  "Skylake-Server-noTSX-IBRS", "Skylake-Server-v1", "Skylake-Server-v2", "Skylake-Server-v3", "Skylake-Server-v4",
  "Skylake-Server-v5", "Snowridge", "Snowridge-v1", "Snowridge-v2", "Snowridge-v3", "Snowridge-v4",
];
/** Models with SMEP (CPUID.7.0:EBX[7]): IvyBridge and later Intel, EPYC and Dhyana. */
const SMEP_MODELS: readonly string[] = [
  "Broadwell", "Broadwell-IBRS", "Broadwell-noTSX", "Broadwell-noTSX-IBRS", "Broadwell-v1", "Broadwell-v2", "Broadwell-v3",
  "Broadwell-v4", "Cascadelake-Server", "Cascadelake-Server-noTSX", "Cascadelake-Server-v1", "Cascadelake-Server-v2",
  "Cascadelake-Server-v3", "Cascadelake-Server-v4", "Cascadelake-Server-v5", "Cooperlake", "Cooperlake-v1", "Cooperlake-v2",
  "Denverton", "Denverton-v1", "Denverton-v2", "Denverton-v3", "Dhyana", "Dhyana-v1", "Dhyana-v2", "EPYC", "EPYC-IBPB",
  "EPYC-Milan", "EPYC-Milan-v1", "EPYC-Rome", "EPYC-Rome-v1", "EPYC-Rome-v2", "EPYC-v1", "EPYC-v2", "EPYC-v3", "Haswell",
  "Haswell-IBRS", "Haswell-noTSX", "Haswell-noTSX-IBRS", "Haswell-v1", "Haswell-v2", "Haswell-v3", "Haswell-v4",
  "Icelake-Server", "Icelake-Server-noTSX", "Icelake-Server-v1", "Icelake-Server-v2", "Icelake-Server-v3", "Icelake-Server-v4",
  "Icelake-Server-v5", "Icelake-Server-v6", "IvyBridge", "IvyBridge-IBRS", "IvyBridge-v1", "IvyBridge-v2", "KnightsMill",
  "KnightsMill-v1", "Skylake-Client", "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS", "Skylake-Client-v1",
  "Skylake-Client-v2", "Skylake-Client-v3", "Skylake-Client-v4", "Skylake-Server", "Skylake-Server-IBRS",
  "Skylake-Server-noTSX-IBRS", "Skylake-Server-v1", "Skylake-Server-v2", "Skylake-Server-v3", "Skylake-Server-v4",
  "Skylake-Server-v5", "Snowridge", "Snowridge-v1", "Snowridge-v2", "Snowridge-v3", "Snowridge-v4",
];
/** Models with SMAP (CPUID.7.0:EBX[20]): Broadwell and later Intel (not KnightsMill), EPYC and Dhyana. */
const SMAP_MODELS: readonly string[] = [
  "Broadwell", "Broadwell-IBRS", "Broadwell-noTSX", "Broadwell-noTSX-IBRS", "Broadwell-v1", "Broadwell-v2", "Broadwell-v3",
  "Broadwell-v4", "Cascadelake-Server", "Cascadelake-Server-noTSX", "Cascadelake-Server-v1", "Cascadelake-Server-v2",
  "Cascadelake-Server-v3", "Cascadelake-Server-v4", "Cascadelake-Server-v5", "Cooperlake", "Cooperlake-v1", "Cooperlake-v2",
  "Denverton", "Denverton-v1", "Denverton-v2", "Denverton-v3", "Dhyana", "Dhyana-v1", "Dhyana-v2", "EPYC", "EPYC-IBPB",
  "EPYC-Milan", "EPYC-Milan-v1", "EPYC-Rome", "EPYC-Rome-v1", "EPYC-Rome-v2", "EPYC-v1", "EPYC-v2", "EPYC-v3", "Icelake-Server",
  "Icelake-Server-noTSX", "Icelake-Server-v1", "Icelake-Server-v2", "Icelake-Server-v3", "Icelake-Server-v4",
  "Icelake-Server-v5", "Icelake-Server-v6", "Skylake-Client", "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS",
  "Skylake-Client-v1", "Skylake-Client-v2", "Skylake-Client-v3", "Skylake-Client-v4", "Skylake-Server", "Skylake-Server-IBRS",
  "Skylake-Server-noTSX-IBRS", "Skylake-Server-v1", "Skylake-Server-v2", "Skylake-Server-v3", "Skylake-Server-v4",
  "Skylake-Server-v5", "Snowridge", "Snowridge-v1", "Snowridge-v2", "Snowridge-v3", "Snowridge-v4",
];
/** Models with PKU (CPUID.7.0:ECX[3]): Skylake-Server and later server parts, EPYC-Milan. */
const PKU_MODELS: readonly string[] = [
  "Cascadelake-Server", "Cascadelake-Server-noTSX", "Cascadelake-Server-v1", "Cascadelake-Server-v2", "Cascadelake-Server-v3",
  "Cascadelake-Server-v4", "Cascadelake-Server-v5", "Cooperlake", "Cooperlake-v1", "Cooperlake-v2", "EPYC-Milan",
  "EPYC-Milan-v1", "Icelake-Server", "Icelake-Server-noTSX", "Icelake-Server-v1", "Icelake-Server-v2", "Icelake-Server-v3",
  "Icelake-Server-v4", "Icelake-Server-v5", "Icelake-Server-v6", "Skylake-Server", "Skylake-Server-IBRS",
  "Skylake-Server-noTSX-IBRS", "Skylake-Server-v1", "Skylake-Server-v2", "Skylake-Server-v3", "Skylake-Server-v4",
  "Skylake-Server-v5",
];

/**
 * The CPUID features a -cpu model decides, by QEMU flag name (QEMU 7.2; see the file comment).
 * x2apic is in every model's definition only from SandyBridge on, but kvm_default_props turns it on
 * for all of them under KVM.
 */
export const CPU_MODEL_FLAGS: readonly CpuModelFlag[] = [
  { flag: "x2apic", feature: "X2APIC", models: "every" },
  { flag: "tsc-deadline", feature: "TSC_DEADLINE_TIMER", models: TSC_DEADLINE_MODELS },
  { flag: "smep", feature: "SMEP", models: SMEP_MODELS },
  { flag: "smap", feature: "SMAP", models: SMAP_MODELS },
  { flag: "pku", feature: "PKU", models: PKU_MODELS },
];

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
