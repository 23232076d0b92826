// The arm64 machine's settings: what each one is, their defaults by era, and what changing one on a
// booted VM does (a new stage 2 for another granule, a new vGIC for another GIC, a new switch
// variant for another model or era). The names, ranges and help text are core/settings.ts's table.

import { ExitlabError } from "../core/errors.js";
import { checkSetting } from "../core/settings.js";
import type { FieldValue } from "../core/trace.js";
import type { MachineSettings } from "../core/machine.js";
import { DEFAULT_QUANTUM } from "../core/vcpus.js";
import type { Granule } from "./kvm/stage2.js";
import type { GicVersion } from "./gic/dist.js";
import type { HypModel } from "./hyp/source.js";
import type { Arm64Machine } from "./machine.js";
import { makeVgic } from "./vcpu-setup.js";

export const DEFAULT_STEP_LIMIT = 10_000_000;

export interface Arm64Settings extends MachineSettings {
  /** Stage-2 granule (the host's PAGE_SIZE): 64k as 2015 distribution kernels, or 4k. */
  granule: Granule;
  /** Emulate MMIO accesses without a syndrome (ldp/stp, writeback forms) by decoding the instruction. */
  pair_mmio: boolean;
  /** Compile guest code into blocks (off: run it one instruction at a time, for comparison). */
  jit: boolean;
  /**
   * The interrupt controller KVM emulates: GICv2 (what 2015's hosts had: the talk's X-Gene and
   * Juno boards carry a GIC-400) or GICv3 (today's servers). Default: by era.
   */
  gic: GicVersion;
  /**
   * The world switch (runtime/arm64/hyp/): nVHE, the host kernel at EL1 and a hyp at EL2 that
   * switches the EL1 state on every exit (2015's hosts, ARMv8.0), or VHE, the host kernel at EL2
   * with HCR_EL2.E2H/TGE (ARMv8.1 hosts: today's default). Default: by era.
   */
  model: HypModel;
  /** vCPUs (1..8): fixed at boot, like KVM_CREATE_VCPU before the first run. */
  vcpus: number;
  /** Guest instructions a vCPU runs before the next one takes over (core/vcpus.ts). */
  quantum: number;
}

/** The settings a machine boots with: `given` over the defaults of its era (2015 unless given). */
export function arm64Settings(given: Record<string, unknown> = {}): Arm64Settings {
  const era = (given.era as Arm64Settings["era"] | undefined) ?? "2015";
  return { era: "2015", stepLimit: DEFAULT_STEP_LIMIT, granule: "64k", pair_mmio: false, jit: true, gic: era === "2015" ? "v2" : "v3", model: era === "2015" ? "nvhe" : "vhe", vcpus: 1, quantum: DEFAULT_QUANTUM, ...given } as Arm64Settings;
}

/** `set NAME VALUE` on the booted machine `m` (the value checked by core/settings.ts); throws ExitlabError for what a booted VM cannot change. */
export function applyArm64Setting(m: Arm64Machine, name: string, value: FieldValue): void {
  const v = checkSetting(m.arch, name, value);
  const st = m.settings;
  switch (name) {
    case "era":
      st.era = v as Arm64Settings["era"];
      m.switchChanged();
      return;
    case "model":
      st.model = v as HypModel;
      m.switchChanged();
      return;
    case "stepLimit":
      st.stepLimit = v as number;
      return;
    case "granule":
      if (v !== st.granule) {
        // A different host page size means a new, empty stage 2: every page faults in again.
        st.granule = v as Arm64Settings["granule"];
        m.kvm.rebuildStage2();
      }
      return;
    case "pair_mmio":
      st.pair_mmio = v as boolean;
      return;
    case "jit":
      st.jit = v as boolean;
      m.engine.jit = v as boolean;
      return;
    case "vcpus":
      if (v !== m.sched.count) throw new ExitlabError(`a booted VM keeps its ${m.sched.count} vCPU${m.sched.count === 1 ? "" : "s"} (KVM creates them before the first run)`, "`set vcpus N` before `vm boot` boots VMs with N");
      return;
    case "quantum":
      st.quantum = v as number;
      m.sched.quantum = v as number;
      return;
    case "gic":
      if (v !== st.gic) {
        // A new vGIC (KVM_CREATE_DEVICE of the other kind): its state starts afresh.
        st.gic = v as GicVersion;
        m.vgic.sync();
        m.vgic = makeVgic(m, v as GicVersion);
        m.switchChanged();
      }
      return;
  }
}
