// An entry's QEMU `-cpu` and exitlab's CPUID: exitlab's KVM host offers some features that QEMU's
// named CPU models leave out, and under KVM QEMU gives the guest only its model's flags
// (KVM_SET_CPUID2), so exitlab's machine takes those out too (MachineOptions.cpuidOff). `max` and
// `host` carry every feature KVM supports; `+FLAG`, `-FLAG`, `FLAG=on|off` after the model change it.

/**
 * Features of the modelled host (runtime/x86/kvm/cpuid.ts names) that QEMU's named models may lack:
 * QEMU's flag name and the QEMU 7.2 models that carry it (query-cpu-model-expansion "full" of every
 * model `-cpu help` lists; QEMU target/i386/cpu.c builtin_x86_defs: CPUID_7_0_ECX_PKU).
 */
export const MODEL_FEATURES: Readonly<Record<string, { flag: string; models: readonly string[] }>> = {
  PKU: {
    flag: "pku",
    models: [
      "Cascadelake-Server", "Cascadelake-Server-noTSX", "Cascadelake-Server-v1", "Cascadelake-Server-v2", "Cascadelake-Server-v3",
      "Cascadelake-Server-v4", "Cascadelake-Server-v5", "Cooperlake", "Cooperlake-v1", "Cooperlake-v2", "EPYC-Milan", "EPYC-Milan-v1",
      "Icelake-Server", "Icelake-Server-noTSX", "Icelake-Server-v1", "Icelake-Server-v2", "Icelake-Server-v3", "Icelake-Server-v4",
      "Icelake-Server-v5", "Icelake-Server-v6", "Skylake-Server", "Skylake-Server-IBRS", "Skylake-Server-noTSX-IBRS", "Skylake-Server-v1",
      "Skylake-Server-v2", "Skylake-Server-v3", "Skylake-Server-v4", "Skylake-Server-v5",
    ],
  },
};

/** QEMU's x86_64 default model when an entry gives no -cpu (hw/i386/pc.c: TARGET_DEFAULT_CPU_TYPE "qemu64"). */
export const DEFAULT_QEMU_CPU = "qemu64";

/**
 * The MODEL_FEATURES an entry's options leave out of the guest's CPUID: those its -cpu model (else
 * qemu64) lacks and no `+flag` / `flag=on` adds, plus those a `-flag` / `flag=off` removes.
 */
export function cpuidOffOf(qemuParams: string): string[] {
  const spec = /(?:^|\s)-cpu\s+(\S+)/.exec(qemuParams)?.[1] ?? DEFAULT_QEMU_CPU;
  const [model, ...opts] = spec.split(",");
  const all = model === "max" || model === "host";
  const off: string[] = [];
  for (const [name, f] of Object.entries(MODEL_FEATURES)) {
    let on = all || f.models.includes(model!);
    for (const o of opts) {
      if (o === `+${f.flag}` || o === `${f.flag}=on` || o === f.flag) on = true;
      if (o === `-${f.flag}` || o === `${f.flag}=off`) on = false;
    }
    if (!on) off.push(name);
  }
  return off;
}
