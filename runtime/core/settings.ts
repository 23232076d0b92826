// The machines' settings as data: name, which arches have it, and the values it takes. Both
// machines check every setting through checkSetting (at construction and in `set`), and the lab's
// `set` converts and checks its values through the same table (grammar/words.ts keeps the lab's
// names and docs, and names its values from here).

import { ExitlabError } from "./errors.js";
import type { Arch } from "./machine.js";
import type { FieldValue } from "./trace.js";

export const ERAS = ["2015", "today"] as const;
export const GRANULES = ["64k", "4k"] as const;
export const ON_OFF = ["on", "off"] as const;
/** arm64 interrupt controllers: GICv2 (2015's default: GIC-400 hosts) or GICv3 (today's default). */
export const GIC_VERSIONS = ["v2", "v3"] as const;
/** arm64 world-switch models: nVHE (host kernel at EL1, 2015's default) or VHE (ARMv8.1, host at EL2: today's default). */
export const HYP_MODELS = ["nvhe", "vhe"] as const;

export interface MachineSettingDef {
  /** The name Machine.set and MachineOptions.settings take. */
  name: string;
  arches: readonly Arch[];
  /** A word from `values`, on/off (a boolean), or a count from 1 to `max`. */
  kind: "choice" | "bool" | "count";
  values?: readonly string[];
  max?: number;
}

const BOTH: readonly Arch[] = ["arm64", "x86_64"];

/** Every machine setting. */
export const MACHINE_SETTINGS: readonly MachineSettingDef[] = [
  { name: "era", arches: BOTH, kind: "choice", values: ERAS },
  // A bound, not a budget: 10^12 instructions is over half an hour at the engine's best speed.
  { name: "stepLimit", arches: BOTH, kind: "count", max: 1_000_000_000_000 },
  { name: "exitCap", arches: BOTH, kind: "count", max: 1_000_000_000 },
  { name: "traceCap", arches: BOTH, kind: "count", max: 1_000_000_000 },
  { name: "jit", arches: BOTH, kind: "bool" },
  { name: "granule", arches: ["arm64"], kind: "choice", values: GRANULES },
  { name: "pair_mmio", arches: ["arm64"], kind: "bool" },
  { name: "gic", arches: ["arm64"], kind: "choice", values: GIC_VERSIONS },
  { name: "model", arches: ["arm64"], kind: "choice", values: HYP_MODELS },
  { name: "apicv", arches: ["x86_64"], kind: "bool" },
  // SMP (core/vcpus.ts): vCPUs a VM is booted with, and the scheduler's quantum in guest instructions.
  { name: "vcpus", arches: ["arm64", "x86_64"], kind: "count", max: 8 },
  { name: "quantum", arches: ["arm64", "x86_64"], kind: "count", max: 1_000_000_000 },
];

/** The setting's definition by machine name or by the lab's lower-case name (`steplimit`). */
export function settingDef(name: string): MachineSettingDef | undefined {
  return MACHINE_SETTINGS.find((d) => d.name === name || d.name.toLowerCase() === name.toLowerCase());
}

/**
 * `value` as setting `name` of an `arch` machine takes it: a choice as its word, on/off as a
 * boolean ("on"/"off"/"true"/"false" accepted), a count as an integer. Throws ExitlabError naming
 * the values allowed.
 */
export function checkSetting(arch: Arch, name: string, value: FieldValue): string | number | boolean {
  const d = MACHINE_SETTINGS.find((x) => x.name === name);
  if (!d || !d.arches.includes(arch)) {
    throw new ExitlabError(`unknown ${arch === "x86_64" ? "x86" : arch} setting ${name}`, `settings: ${MACHINE_SETTINGS.filter((x) => x.arches.includes(arch)).map((x) => x.name).join(", ")}`);
  }
  switch (d.kind) {
    case "choice":
      if (typeof value !== "string" || !d.values!.includes(value)) throw new ExitlabError(`${name} must be ${d.values!.join(" or ")}, not ${String(value)}`);
      return value;
    case "bool": {
      const b = value === true || value === "on" || value === "true" ? true : value === false || value === "off" || value === "false" ? false : undefined;
      if (b === undefined) throw new ExitlabError(`${name} must be on or off`);
      return b;
    }
    case "count": {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > d.max!) throw new ExitlabError(`${name} must be an integer from 1 to ${d.max}`);
      return n;
    }
  }
}
