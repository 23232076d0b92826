// The arch-neutral face of a virtual machine: a guest CPU + guest memory + devices + a model of
// KVM. The lab evaluator, the CLI and the kernel drive machines only through this interface.

import type { FieldValue, KvmEra, TraceLog } from "./trace.js";
import type { GuestMemory } from "./memory.js";
import type { MmioBus } from "./bus.js";

export type Arch = "arm64" | "x86_64";
export const ARCHES: readonly Arch[] = ["arm64", "x86_64"];

/** One exit from the guest to the hypervisor, as the hardware reported it. */
export interface Exit {
  /** nth exit of this VM, from 0. */
  index: number;
  arch: Arch;
  /** Guest instructions retired before the exit. */
  step: number;
  /**
   * KVM's name for the exit: x86 the VMX basic exit reason (`EPT_VIOLATION`, `CR_ACCESS`, ...);
   * arm64 the ESR_EL2 exception class name as Linux's esr.h spells it (`DABT_LOW`, `IABT_LOW`,
   * `SYS64`, `HVC64`, `WFx`, ...).
   */
  reason: string;
  /** The number behind `reason`: VMX basic exit reason or ESR_EL2.EC. */
  code: number;
  /** Guest pc/rip of the instruction that caused the exit. */
  pc: bigint;
  /**
   * The exit information, raw and decoded, flat: x86 `exit_qualification`, `guest_physical_address`,
   * `guest_linear_address`, `instruction_length`, `qual.cr`, `qual.access_type`, ...; arm64 `esr`,
   * `far`, `hpfar`, `ipa`, `esr.ec`, `esr.il`, `esr.iss.isv`, `esr.iss.srt`, ... (dotted names, the
   * DSL's field syntax).
   */
  info: Record<string, FieldValue>;
  /** Modelled cost of the round trip guest → host → guest, in host cycles. */
  cycles: number;
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

export interface Machine {
  readonly arch: Arch;
  readonly memory: GuestMemory;
  readonly bus: MmioBus;
  readonly trace: TraceLog;
  /** Every exit so far, in order. */
  readonly exits: readonly Exit[];
  /** Instructions retired so far. */
  readonly steps: number;
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
  /** Change a setting (era, stepLimit, arch-specific ones); throws on unknown names/values. */
  set(name: string, value: FieldValue): void;
}
