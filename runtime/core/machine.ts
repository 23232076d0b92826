// The arch-neutral face of a virtual machine: a guest CPU + guest memory + devices + a model of
// KVM. The lab evaluator, the CLI and the kernel drive machines only through this interface.

import { ExitlabError } from "./errors.js";
import type { FieldValue, KvmEra, TraceLog } from "./trace.js";
import type { GuestMemory } from "./memory.js";
import type { MmioBus } from "./bus.js";
import type { ExitList } from "./exits.js";
import type { RegisterDecoder } from "./decode.js";
import type { VcpuControl } from "./vcpus.js";

export type Arch = "arm64" | "x86_64";
export const ARCHES: readonly Arch[] = ["arm64", "x86_64"];

/** One exit from the guest to the hypervisor, as the hardware reported it. */
export interface Exit {
  /** nth exit of this VM, from 0 (counting exits the cap dropped). */
  readonly index: number;
  readonly arch: Arch;
  /** Guest instructions retired before the exit. */
  readonly step: number;
  /**
   * KVM's name for the exit: x86 the VMX basic exit reason (`EPT_VIOLATION`, `CR_ACCESS`, ...);
   * arm64 the ESR_EL2 exception class name as Linux's esr.h spells it (`DABT_LOW`, `IABT_LOW`,
   * `SYS64`, `HVC64`, `WFx`, ...).
   */
  readonly reason: string;
  /** The number behind `reason`: VMX basic exit reason or ESR_EL2.EC. */
  readonly code: number;
  /** Guest pc/rip of the instruction that caused the exit. */
  readonly pc: bigint;
  /**
   * The exit information, raw and decoded, flat: x86 `exit_qualification`, `guest_physical_address`,
   * `guest_linear_address`, `instruction_length`, `qual.cr`, `qual.access_type`, ...; arm64 `esr`,
   * `far`, `hpfar`, `ipa`, `esr.ec`, `esr.il`, `esr.iss.isv`, `esr.iss.srt`, ... (dotted names, the
   * DSL's field syntax), from the arch's exit schema (core/exits.ts), built on first read.
   */
  readonly info: Record<string, FieldValue>;
  /** Modelled cost of the round trip guest → host → guest, in host cycles. */
  readonly cycles: number;
}

export type StopReason =
  | "exit" // a trap rule fired; the exit is pending until handle()
  | "halted" // the guest powered off / the VM was stopped
  | "limit" // the step limit was reached
  | "until" // the caller's condition became true
  | "interrupted"; // the caller asked to stop (kernel interrupt, Ctrl-C)

export interface RunOptions {
  /** Most guest instructions to execute in this call (default: the machine's stepLimit). */
  maxSteps?: number;
  /** Checked after every instruction; stop when it returns true. */
  until?: () => boolean;
  /** Polled every few thousand instructions; stop when it returns true (interrupts). */
  interrupted?: () => boolean;
  /** run(): stop when an exit with one of these reasons happens (before handling it). */
  stopOnExit?: (exit: Exit) => boolean;
}

export interface RunResult {
  stop: StopReason;
  /** Instructions executed by this call. */
  steps: number;
  /** The exit that stopped it (stop = "exit"), or the last exit handled. */
  exit?: Exit;
  /** Why the machine halted or was stopped, in words. */
  message?: string;
}

export type HandleAction = "resume" | "halt";

export interface HandleResult {
  action: HandleAction;
  /** What KVM did, in words (shown by `handle`). */
  message: string;
}

export interface MachineSettings {
  era: KvmEra;
  /** Default most instructions per run/step call. */
  stepLimit: number;
  [key: string]: FieldValue;
}

export interface DisasmLine {
  address: bigint;
  bytes: Uint8Array;
  text: string;
}

export interface Machine extends MachineControls {
  readonly arch: Arch;
  readonly memory: GuestMemory;
  readonly bus: MmioBus;
  readonly trace: TraceLog;
  /**
   * The exits kept so far, oldest first: the newest `exits.cap` (`set exitcap N`); `exits.dropped`
   * says how many older ones were dropped, `exits.byReason()` counts all. Read with length,
   * at(k), byIndex(n), iteration, filter/map/find/some/slice; exits are built when read.
   */
  readonly exits: ExitList;
  /** Instructions retired so far. */
  readonly steps: number;
  /**
   * Guest instructions the modelled KVM completed on the guest's behalf while handling exits
   * (emulated, e.g. an MMIO access or a MOV to CR0, or skipped once handled, e.g. CPUID or HVC);
   * they are not in `steps`.
   */
  readonly emulated: number;
  /** Modelled host cycles so far (guest instructions + exits). */
  readonly cycles: number;
  /** The exit reported by the last step/run and not yet handled. */
  readonly pendingExit: Exit | null;
  /** Set once the guest powered off or KVM stopped the VM. */
  readonly halted: { message: string } | null;
  /** Text the guest wrote to its console (UART / serial port). */
  readonly console: string;
  readonly settings: MachineSettings;

  /** Execute one guest instruction (or nothing if an exit is pending or the VM halted). */
  step(): RunResult;
  /** Execute until the next exit (left pending), a halt, the limit or the condition. */
  runUntilExit(options?: RunOptions): RunResult;
  /** Let KVM handle the pending exit; the guest resumes unless KVM stops it. */
  handle(): HandleResult;
  /** step + handle until the guest halts, the limit, the condition or an interrupt. */
  run(options?: RunOptions): RunResult;

  get pc(): bigint;
  registerNames(): readonly string[];
  readRegister(name: string): bigint;
  writeRegister(name: string, value: bigint): void;
  /** Guest-physical memory, bytes (RAM only). */
  readPhysical(pa: number, length: number): Uint8Array;
  disassemble(address: bigint, count: number): DisasmLine[];
  /**
   * `irq N`: the VMM injects interrupt N (x86: a vector 16-255 into the local APIC) through the
   * in-kernel interrupt controller; returns what happened. Machines without one do not have it.
   */
  injectIrq?(n: number): string;
  /** The vCPUs (`vcpu N`, `show vcpus`, `ipi`): machines with SMP have them. */
  readonly vcpuControl?: VcpuControl;
  /** Change a setting (era, stepLimit, arch-specific ones); throws on unknown names/values. */
  set(name: string, value: FieldValue): void;
}

/** A trap the user asks for (`trap cr0`, `trap msr 0xc0000080`, `trap sysreg sctlr_el1`, `trap tvm`). */
export interface TrapRequest {
  /** A name of the arch's trap table (ArchInfo.traps): x86 "cr" (arg 0/3/4/8), "msr", "io", ...; arm64 "sysreg", "tvm", ... */
  kind: string;
  arg?: number | string;
}

/** A table of machine state for `show` (regs, exit, vmcs, esr, sysregs, ...). */
export interface MachineView {
  title: string;
  columns: string[];
  rows: FieldValue[][];
}

/** One named thing with a number and its documentation (exit reasons, ESR classes, VMCS fields...). */
export interface Documented {
  name: string;
  code?: number;
  doc: string;
  /** Where the fact comes from (manual section / Linux file). */
  source?: string;
}

/** One kind of `trap KIND [ARG]`: each arch's trap table (x86/traps.ts, arm64/traps.ts) lists them. */
export interface TrapKind {
  /** The word after `trap`: `msr`, `sysreg`, `cr`. */
  name: string;
  /** What follows it, if anything, in words: `N` (an MSR number), `PORT`, `NAME`. */
  arg?: string;
  /** The argument in a sentence, for errors (`an I/O port number (\`trap io 0x3f8\`)`). */
  argDoc?: string;
  /** Words that stand for the kind with its argument (`cr0` for `cr 0`); completion offers these instead of the name. */
  forms?: readonly string[];
  /** What trapping it sets, in the manual's terms. */
  doc: string;
  /** A statement that traps it (checked by the tests). */
  example: string;
  source: string;
}

/** Static facts about an architecture, for completion, did-you-mean and inspect. */
export interface ArchInfo {
  arch: Arch;
  registerNames: readonly string[];
  exitReasons: readonly Documented[];
  /** Other documented vocabulary by kind: "sysreg", "esr_class", "vmcs_field", "msr", ... */
  vocabulary: Record<string, readonly Documented[]>;
  /** Every trap kind `trap`/`untrap` take: the machine's own table. */
  traps: readonly TrapKind[];
  /** Every register `decode` reads: the machine's decoders. */
  decoders: readonly RegisterDecoder[];
  viewNames: readonly string[];
  /** The fixed arguments a view takes (`show vmcs guest`, `show sysregs el2`), for completion. */
  viewArgs: Readonly<Record<string, readonly string[]>>;
  builtinGuests: readonly Documented[];
}

/**
 * x86: the processor mode assembly source starts in: 16 (real mode, loaded at 0x7c00 as a boot
 * sector), 32 (protected mode, paging off: the Multiboot hand-off, the default) or 64 (long mode
 * with the loader's identity-mapping page tables, as a 64-bit kernel entry finds it). See
 * runtime/x86/entry.ts. arm64 sources always start at EL1 with the MMU off.
 */
export type GuestMode = 16 | 32 | 64;
export const GUEST_MODES: readonly GuestMode[] = [16, 32, 64];

/** A binary guest: the file's bytes, its name for messages, and the kernel command line. */
export interface GuestImage {
  image: Uint8Array;
  /**
   * How the file loads (the DSL's word): arm64 "image" (ELF, Linux Image or raw; its default);
   * x86 "multiboot" (a multiboot ELF kernel; its default) or "bzimage" (a Linux bzImage, entered
   * by Linux's 64- or 32-bit boot protocol with struct boot_params in RSI/ESI).
   */
  format?: "image" | "multiboot" | "bzimage";
  fileName?: string;
  /** The command line (QEMU's -append). */
  append?: string;
  /**
   * An initial ramdisk (QEMU's -initrd): arm64 places it in RAM and names it in the device tree's
   * /chosen (linux,initrd-start/end); x86 hands it to the multiboot kernel as its one module, or
   * to a bzImage at the top of RAM below initrd_addr_max (boot_params ramdisk_image/size).
   */
  initrd?: Uint8Array;
  /** The initrd's file name, for errors and (x86) the module's string. */
  initrdName?: string;
}

/** Options common to both machine factories. */
export interface MachineOptions {
  /**
   * Built-in guest by name ("boot" is the talk's MMU-enable guest), assembly source, or a binary
   * file's bytes loaded as QEMU's -kernel does (arm64: ELF, Linux Image or raw image, with
   * `append` as the device tree's /chosen/bootargs).
   */
  guest?: { builtin: string } | { source: string; fileName?: string; mode?: GuestMode } | GuestImage;
  memoryCapBytes?: number;
  /**
   * Guest RAM in MiB (QEMU's -m; default 128): the RAM region, the device tree's /memory (arm64),
   * fw_cfg's RAM size and the Multiboot memory fields (x86). Limits in guestRamBytes.
   */
  memoryMiB?: number;
  traceCapEvents?: number;
  /** Most exits kept (default 1,000,000); older ones are dropped, their counts kept. */
  exitCap?: number;
  settings?: Partial<MachineSettings>;
  /**
   * x86: the CPUID vendor string the VMM gives the guest (QEMU's `-cpu ...,vendor=`, through
   * KVM_SET_CPUID2): 12 characters; default the host's, GenuineIntel. KVM's emulator reads it
   * (em_syscall_is_enabled).
   */
  cpuVendor?: string;
  /**
   * x86: QEMU `-device` models added to the pc machine, by QEMU's name: "pc-testdev" (QEMU
   * hw/misc/pc-testdev.c; upstream kvm-unit-tests' x86/run passes it). Another name, or any on
   * arm64, is an ExitlabError.
   */
  devices?: readonly string[];
  /**
   * x86: the VMM's CPU model, as QEMU's `-cpu` argument: `MODEL,+FLAG,-FLAG,FLAG=on|off`
   * (runtime/x86/kvm/cpu-model.ts: QEMU 7.2's models and its names of the CPUID flags exitlab's
   * table has — x2apic, tsc-deadline, smep, xsave, ...). The guest's CPUID lacks the features the
   * model lacks or a flag turns off, and KVM refuses what they enable (CR4.SMEP/SMAP/PKE/OSXSAVE/
   * FSGSBASE, IA32_APIC_BASE.EXTD); a flag
   * turned on adds nothing the KVM modelled lacks. Default `host`: all that KVM offers. An unknown
   * model or flag is an ExitlabError.
   */
  cpu?: string;
}

/** Machine members that let the lab drive traps and views without knowing the arch. */
export interface MachineControls {
  /** Set/clear the controls a hypervisor would set so that this trap does (not) happen; says what changed. */
  setTrap(trap: TrapRequest, enabled: boolean): string;
  view(name: string, arg?: string): MachineView;
  /** x86: a VMCS field's value by name (case-insensitive; `vmcs.FIELD` in expressions), undefined for no such field. */
  readVmcs?(field: string): bigint | undefined;
}

/** Default guest RAM (MiB), as the runners of kvm-unit-tests give QEMU (-m 128). */
export const DEFAULT_RAM_MIB = 128;
/**
 * Largest RAM per architecture (MiB): arm64 mach-virt RAM from 0x4000_0000 (4 GiB kept here);
 * x86 RAM from 0 must end below the 32-bit device window (I/O APIC at 0xfec0_0000, local APIC at
 * 0xfee0_0000): 3 GiB, QEMU pc's below-4G split.
 */
export const MAX_RAM_MIB: Readonly<Record<Arch, number>> = { arm64: 4096, x86_64: 3072 };

/** Guest RAM in bytes for `options.memoryMiB`; throws ExitlabError for a size that is not a whole number from 16 MiB to the arch's maximum. */
export function guestRamBytes(arch: Arch, options: MachineOptions): number {
  const mib = options.memoryMiB ?? DEFAULT_RAM_MIB;
  if (!Number.isInteger(mib) || mib < 16 || mib > MAX_RAM_MIB[arch]) {
    throw new ExitlabError(`guest memory of ${String(mib)} MiB: ${arch} takes 16 to ${MAX_RAM_MIB[arch]} MiB`, "as QEMU's -m: `mem 256` for 256 MiB");
  }
  return mib * 1024 * 1024;
}
