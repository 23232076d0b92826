// `trap` / `untrap` requests turned into the VMCS control changes a hypervisor would make, so the
// hardware model's decisions change: CR0/CR4 guest/host masks, CR3/CR8 exiting, MSR and I/O
// bitmaps, HLT/RDTSC/INVLPG/MOV-DR/WBINVD exiting and the exception bitmap. X86_TRAPS is the one
// list of trap kinds: `trap` dispatches on it, completion offers it, `help trap` documents it.

import { ExitlabError } from "../core/errors.js";
import type { TrapKind, TrapRequest } from "../core/machine.js";
import { ctl } from "./vmx/controls.js";
import type { X86Machine } from "./machine.js";
import { msrInfo } from "./kvm/msrs.js";

import { MASK64 } from "../core/bits.js";
const EXITS = "Intel SDM Vol. 3 25.1.3 (instructions that cause VM exits conditionally)";

/** Every x86 trap kind (Intel SDM Vol. 3 25.1 and 24.6: the controls that make each exit). */
export const X86_TRAPS: readonly TrapKind[] = [
  { name: "cr", arg: "N", argDoc: "a control register number (0, 3, 4 or 8)", forms: ["cr0", "cr3", "cr4", "cr8"], doc: "MOV to/from CR0, CR3, CR4, CR8: CR0/CR4 through their guest/host masks, CR3/CR8 through the load/store exiting controls", example: "trap cr0", source: EXITS },
  { name: "msr", arg: "N", argDoc: "an MSR number or name (`trap msr 0xc0000080`, `trap msr efer`)", doc: "RDMSR/WRMSR of one MSR (number or name) through the MSR bitmaps", example: "trap msr 0xc0000080", source: "Intel SDM Vol. 3 24.6.9 (MSR bitmaps)" },
  { name: "io", arg: "PORT", argDoc: "an I/O port number (`trap io 0x3f8`)", doc: "IN/OUT of one port through the I/O bitmaps", example: "trap io 0x80", source: "Intel SDM Vol. 3 24.6.4 (I/O bitmaps)" },
  { name: "hlt", doc: "HLT (HLT exiting)", example: "trap hlt", source: EXITS },
  { name: "cpuid", doc: "CPUID: always exits (cannot be untrapped)", example: "trap cpuid", source: "Intel SDM Vol. 3 25.1.2 (unconditional exits)" },
  { name: "rdtsc", doc: "RDTSC (RDTSC exiting)", example: "trap rdtsc", source: EXITS },
  { name: "invlpg", doc: "INVLPG (INVLPG exiting)", example: "trap invlpg", source: EXITS },
  { name: "dr", doc: "MOV to/from debug registers (MOV-DR exiting)", example: "trap dr", source: EXITS },
  { name: "wbinvd", doc: "WBINVD (WBINVD exiting, a secondary control)", example: "trap wbinvd", source: EXITS },
  { name: "desc", doc: "LGDT/LIDT/SGDT/SIDT and LLDT/LTR/SLDT/STR (descriptor-table exiting, a secondary control)", example: "trap desc", source: EXITS },
  { name: "exception", arg: "N", argDoc: "an exception vector, 0 to 31 (`trap exception 14`)", doc: "one exception vector (0-31) through the exception bitmap", example: "trap exception 14", source: "Intel SDM Vol. 3 24.6.3 (exception bitmap)" },
];

function num(trap: TrapRequest, what: string, max: number): number {
  let a = trap.arg;
  if (typeof a === "string") {
    a = a.trim().toLowerCase();
    if (trap.kind === "cr") a = a.replace(/^cr/, "");
    if (trap.kind === "msr" && msrInfo(a)) a = msrInfo(a)!.code;
  }
  const n = typeof a === "number" ? a : typeof a === "string" && a !== "" ? Number(a) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) throw new ExitlabError(`trap ${trap.kind} needs ${what} (0..0x${max.toString(16)})`);
  return n;
}

export function applyTrap(m: X86Machine, trap: TrapRequest, enabled: boolean): string {
  const v = m.vmcs;
  const onOff = enabled ? "set" : "cleared";
  const primary = (names: string[]) => {
    v.setBits("CPU_BASED_VM_EXEC_CONTROL", names.reduce((a, n) => (a | ctl(n)) >>> 0, 0), enabled);
    return `${names.join(" and ")} ${onOff} in CPU_BASED_VM_EXEC_CONTROL`;
  };
  switch (trap.kind.toLowerCase()) {
    case "cr": {
      const cr = num(trap, "a control register number (0, 3, 4 or 8)", 8);
      if (cr === 0 || cr === 4) {
        const field = cr === 0 ? "CR0_GUEST_HOST_MASK" : "CR4_GUEST_HOST_MASK";
        const mask = enabled ? MASK64 : 0n;
        v.write(field, mask);
        if (cr === 0) m.kvm.arch.cr0GuestOwned = ~mask & MASK64;
        else m.kvm.arch.cr4GuestOwned = ~mask & MASK64;
        return `${field} = 0x${mask.toString(16)}: MOV to CR${cr} ${enabled ? "exits whenever it changes a bit from CR" + cr + "_READ_SHADOW" : "never exits (the guest owns every bit)"}`;
      }
      if (cr === 3) return primary(["CPU_BASED_CR3_LOAD_EXITING", "CPU_BASED_CR3_STORE_EXITING"]);
      if (cr === 8) return primary(["CPU_BASED_CR8_LOAD_EXITING", "CPU_BASED_CR8_STORE_EXITING"]);
      throw new ExitlabError(`CR${cr} accesses cannot be trapped: VMX traps CR0, CR3, CR4 and CR8`);
    }
    case "msr": {
      const msr = num(trap, "an MSR number", 0xffff_ffff);
      const ok = m.kvm.setMsrIntercept(msr, false, enabled) && m.kvm.setMsrIntercept(msr, true, enabled);
      if (!ok) {
        if (enabled) return `MSR 0x${msr.toString(16)} is outside the MSR bitmap: RDMSR/WRMSR of it always exit`;
        throw new ExitlabError(`MSR 0x${msr.toString(16)} is outside the MSR bitmap ranges: it always exits`);
      }
      return `MSR 0x${msr.toString(16)} ${enabled ? "intercepted" : "passed through"} in the MSR bitmap (read and write)`;
    }
    case "io": {
      const port = num(trap, "a port number", 0xffff);
      m.kvm.setIoIntercept(port, enabled);
      return `port 0x${port.toString(16)} bit ${onOff} in I/O bitmap ${port < 0x8000 ? "A" : "B"}`;
    }
    case "hlt":
      return primary(["CPU_BASED_HLT_EXITING"]);
    case "rdtsc":
      return primary(["CPU_BASED_RDTSC_EXITING"]);
    case "invlpg":
      return primary(["CPU_BASED_INVLPG_EXITING"]);
    case "dr":
      return primary(["CPU_BASED_MOV_DR_EXITING"]);
    case "wbinvd":
      v.setBits("SECONDARY_VM_EXEC_CONTROL", ctl("SECONDARY_EXEC_WBINVD_EXITING"), enabled);
      return `SECONDARY_EXEC_WBINVD_EXITING ${onOff}`;
    case "desc":
      v.setBits("SECONDARY_VM_EXEC_CONTROL", ctl("SECONDARY_EXEC_DESC"), enabled);
      return `SECONDARY_EXEC_DESC ${onOff}`;
    case "cpuid":
      if (!enabled) throw new ExitlabError("CPUID exits unconditionally in VMX non-root operation (SDM 25.1.2): it cannot be untrapped");
      return "CPUID always exits (SDM 25.1.2): nothing to change";
    case "exception": {
      const vector = num(trap, "an exception vector", 31);
      v.setBits("EXCEPTION_BITMAP", (1 << vector) >>> 0, enabled);
      return `bit ${vector} ${onOff} in EXCEPTION_BITMAP`;
    }
    default:
      throw new ExitlabError(`unknown x86 trap kind ${trap.kind}`, `kinds: ${X86_TRAPS.map((t) => t.name).join(", ")}`);
  }
}
