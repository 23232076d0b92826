// The x86-64 machine: guest CPU in VMX non-root operation + guest RAM + devices + the KVM model.
// step/run execute guest instructions until a trap rule raises an exit; the exit is recorded in
// the VMCS, traced (kvm_exit) and left pending; handle() runs KVM's handler and re-enters the guest.

import { GuestMemory } from "../core/memory.js";
import { MmioBus } from "../core/bus.js";
import { TraceLog, type FieldValue, type TraceEmitter } from "../core/trace.js";
import { ExitlabError } from "../core/errors.js";
import { checkCpuVendor } from "./kvm/cpuid.js";
import { VmBase } from "../core/vm-base.js";
import {
  DEFAULT_RAM_MIB, guestRamBytes, type DisasmLine, type HandleResult, type Machine, type MachineOptions, type MachineSettings, type MachineView, type TrapRequest,
} from "../core/machine.js";
import { decodeX86, disassembleX86, executeX86 } from "./isa/index.js";
import { compilable, fastFunction } from "./isa/semantics/fast.js";
import { CR0_TRANSLATION_BITS, CR4_TRANSLATION_BITS } from "./paging.js";
import type { Block } from "./jit.js";
import { hotPath } from "./trace.js";
import { CPUID_EXIT, type X86Cpu } from "./cpu.js";
import { GuestFault, VmExitSignal, type ExitInfo } from "./state.js";
import { takeTrapExit } from "./trap-exit.js";
import { VECTOR } from "./vectors.js";
import { entryState } from "./entry.js";
import { checkSetting } from "../core/settings.js";
import type { X86State } from "./env.js";
import { lookupField, type Vmcs, VmcsError } from "./vmx/fields.js";
import type { ExitRules } from "./vmx/controls.js";
import { Ept, HostMemory } from "./vmx/ept.js";
import { EXIT, exitReason } from "./vmx/reasons.js";
import { INTR_INFO, encodeQual, INTR_TYPE, ERROR_CODE_VECTORS } from "./vmx/qualification.js";
import { CRS_LOADED_TRANSLATIONS_CHANGED, CRS_NOT_LOADED, enterControlRegisters, enterUnchanged, guestStateInStep, loadGuestState, saveGuestState } from "./vmx/guest-state.js";
import type { KvmVcpu } from "./kvm/vcpu.js";
import { apicvOn, type KvmIrqChip } from "./kvm/irqchip.js";
import { VirtualClock } from "../core/clock.js";
import { ctl } from "./vmx/controls.js";
import { handleExit } from "./kvm/handlers.js";
import { exitCost, GUEST_INSTRUCTION_CYCLES } from "./cost.js";
import { ExitStore } from "../core/exits.js";
import { CHUNK_MASK, putU64, setU64, type ColumnArray } from "../core/columns.js";
import { X86_EXIT_SCHEMA, F_GLA, F_GPA, F_INSN, F_SMP } from "./exit-schema.js";
import { PioBus } from "../devices/pio.js";
import { COM1_PORT, COM1_SIZE, Serial16550 } from "../devices/serial.js";
import { DEBUG_EXIT_PORT, DebugExit } from "../devices/debug-exit.js";
import { FwCfg, FW_CFG_PORT } from "../devices/fw-cfg.js";
import { loadGuest } from "./loader.js";
import { applyTrap } from "./traps.js";
import { machineView } from "./views.js";
import { X86_TRACEPOINT_TABLE, type X86TracepointName } from "./tracepoints.js";
import { KVM_EXIT } from "../core/kvm-events.js";
import { X86_REGISTER_NAMES } from "./registers.js";
import { readX86Register, writeX86Register } from "./register-access.js";
import { DEFAULT_QUANTUM, VcpuScheduler, type VcpuControl } from "../core/vcpus.js";
import { createX86Vcpu, initState, type VcpuHost, type X86Vcpu } from "./vcpu-state.js";
import { addQemuDevices } from "./qemu-devices.js";
import { irqLine, setIrqLine, type IrqLineMachine } from "./irq-line.js";
import { blockOnHlt, deliverFromIoApic, deliverIpi, pollMayYield, schedule, vcpuControl, type X86SmpMachine } from "./smp.js";
import { IoApic, IOAPIC_BASE } from "./apic/ioapic.js";
import { KvmPic } from "./apic/pic.js";
import { installPcPlatform, type PcPlatformMachine } from "./pc-platform.js";
import type { KvmPit } from "./pit.js";
import type { Mc146818Rtc } from "./rtc.js";
import { LapicWindows } from "./apic/lapic-window.js";
import { skipTscPoll, type TscPoll } from "./tsc-poll.js";
import { leftSystemState } from "./fast-events.js";
import { tscPollHost } from "./tsc-poll-host.js";
import { vmCpuid, type VmCpuid } from "./kvm/cpuid-vm.js";
import { DEBUG_RFLAGS, afterDebugStep, instructionBreakpoint, takeHeldDebug } from "./debug-step.js";

export const GUEST_RAM_BASE = 0;
/** Guest RAM by default (MiB → bytes); MachineOptions.memoryMiB sets another size. */
export const GUEST_RAM_SIZE = DEFAULT_RAM_MIB * 1024 * 1024;
export const DEFAULT_STEP_LIMIT = 10_000_000;

/** The VM-exit information fields (SDM 24.9), resolved once. */
const EXIT_INFO = {
  reason: lookupField("VM_EXIT_REASON").field,
  qualification: lookupField("EXIT_QUALIFICATION").field,
  gpa: lookupField("GUEST_PHYSICAL_ADDRESS").field,
  gla: lookupField("GUEST_LINEAR_ADDRESS").field,
  length: lookupField("VM_EXIT_INSTRUCTION_LEN").field,
  intrInfo: lookupField("VM_EXIT_INTR_INFO").field,
  intrError: lookupField("VM_EXIT_INTR_ERROR_CODE").field,
  idtVectoring: lookupField("IDT_VECTORING_INFO_FIELD").field,
  entryIntrInfo: lookupField("VM_ENTRY_INTR_INFO_FIELD").field,
};

const SECONDARY = lookupField("SECONDARY_VM_EXEC_CONTROL").field;
const APIC_ACCESS = lookupField("APIC_ACCESS_ADDR").field;
const VIRT_APIC_ACCESSES = ctl("SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES");

/** The cost of an exit by basic exit reason (x86 KVM adds nothing while handling). */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** rip for a trace field: the register file's number when exact (X86Regs.pc), else the BigInt. */
function ripValue(s: X86State): number | bigint {
  const pc = (s as { pc?: number }).pc;
  return pc !== undefined && pc >= 0 ? pc : s.rip;
}

/** Cycles of each basic exit reason's cost (exitCost), looked up once: NaN until then (the SDM's reasons are below 128). */
const BASE_CYCLES = new Float64Array(128).fill(NaN);
function baseCycles(code: number): number {
  const c = BASE_CYCLES[code];
  if (c !== undefined && c === c) return c;
  const cycles = exitCost(exitReason(code).name).cycles;
  if (c !== undefined) BASE_CYCLES[code] = cycles;
  return cycles;
}

export { X86_REGISTER_NAMES };

export class X86Machine extends VmBase<X86TracepointName> implements Machine, X86SmpMachine {
  readonly arch = "x86_64" as const;
  readonly memory: GuestMemory;
  readonly bus = new MmioBus();
  readonly pio = new PioBus();
  readonly trace: TraceLog;
  readonly exits: ExitStore;
  /** Where each arch column of the exit store is. */
  /** Column numbers of the arch's exit columns (X86_EXIT_SCHEMA.columns) by name. */
  private readonly exitCols: Record<"qual" | "gpa" | "gla" | "len" | "intr" | "idtv" | "msr" | "msrval" | "insn" | "vcpu", number>;
  readonly settings: MachineSettings;
  readonly host = new HostMemory();
  readonly ept: Ept;
  /** The loaded vCPU's VMCS, exit rules, CPU and KVM state (vcpus[sched.current]; vcpu-state.ts). */
  vmcs!: Vmcs;
  rules!: ExitRules;
  cpu!: X86Cpu;
  kvm!: KvmVcpu;
  /** The loaded vCPU's in-kernel irqchip: its local APIC (0xfee00000), the VM's I/O APIC (0xfec00000), interrupt injection. */
  irq!: KvmIrqChip;
  /** The loaded vCPU. */
  vcpu!: X86Vcpu;
  /** The VM's vCPUs (`set vcpus N`): vCPU 0 the BSP, the APs waiting for INIT/SIPI. */
  readonly vcpus: readonly X86Vcpu[];
  readonly sched: VcpuScheduler;
  /** The vCPU `show regs`, `show exit` and `step` address (`vcpu N`). */
  selected = 0;
  readonly serial = new Serial16550();
  readonly debugExit = new DebugExit();
  /** The QEMU -device models the machine was given (MachineOptions.devices), by name. */
  readonly qemuDevices: ReturnType<typeof addQemuDevices>;
  /** Symbols of the loaded guest (labels of its assembly source). */
  readonly symbols: Map<string, bigint>;

  constructor(options: MachineOptions = {}) {
    super();
    this.settings = { era: "2015", stepLimit: DEFAULT_STEP_LIMIT, jit: true, ...(options.settings ?? {}) } as MachineSettings;
    this.checkSettings();
    this.cpuVendor = checkCpuVendor(options.cpuVendor);
    this.vmCpuid = vmCpuid((this.settings.vcpus as number | undefined) ?? 1, options.cpu);
    this.memory = new GuestMemory({ capBytes: options.memoryCapBytes });
    const ramSize = guestRamBytes("x86_64", options);
    this.memory.addRegion({ name: "ram", base: GUEST_RAM_BASE, size: ramSize });
    this.trace = new TraceLog(X86_TRACEPOINT_TABLE, { capEvents: options.traceCapEvents ?? (this.settings.traceCap as number | undefined) });
    this.emitExit = this.trace.emitterOf(this.trace.kindId("kvm_exit"));
    this.emitEntry = this.trace.emitterOf(this.trace.kindId("kvm_entry"));
    this.exits = new ExitStore(X86_EXIT_SCHEMA, options.exitCap ?? (this.settings.exitCap as number | undefined));
    this.exitCols = Object.fromEntries([...this.exits.colIndex]) as X86Machine["exitCols"];
    this.ept = Ept.create(this.host);
    const count = (this.settings.vcpus as number | undefined) ?? 1;
    this.sched = new VcpuScheduler(count, (this.settings.quantum as number | undefined) ?? DEFAULT_QUANTUM);
    this.pio.add(COM1_PORT, COM1_SIZE, this.serial);
    this.pio.add(DEBUG_EXIT_PORT, 1, this.debugExit);
    // QEMU's fw_cfg (pc machine): the RAM size and the vCPU count (FW_CFG_NB_CPUS), as kvm-unit-tests read them.
    this.pio.add(FW_CFG_PORT, 2, new FwCfg(ramSize, count));
    // KVM_CREATE_IRQCHIP's 8259A pair, in the kernel (i8259.c).
    this.pic = new KvmPic((e) => this.emit("kvm_pic_set_irq", { ...e }));
    for (const d of this.pic.devices()) this.pio.add(d.base, d.size, d.device);
    const ramTop = GUEST_RAM_BASE + ramSize;
    const guest = loadGuest(this.memory, options.guest ?? { builtin: "boot" }, ramTop);
    // QEMU -device models (MachineOptions.devices): pc-testdev for kvm-unit-tests (qemu-devices.ts).
    this.qemuDevices = addQemuDevices({ pio: this.pio, bus: this.bus, memory: this.memory, ept: this.ept, setIrqLine: (gsi, level) => this.setIrqLine(gsi, level) }, options.devices ?? []);
    this.symbols = guest.symbols;
    const state = entryState(guest.mode, guest.entry, this.memory, ramTop, guest.bootParams);
    this.vcpus = Array.from({ length: count }, (_, id) => createX86Vcpu(this.vcpuHost(count), id, id === 0 ? state : initState(), count > 1 ? this.sharedIoApic() : undefined));
    for (const v of this.vcpus) (v.irq.maxApicId = count - 1), (v.irq.pic = this.pic), (v.cpu.onRdtsc = ((h) => () => skipTscPoll(h, this.tscPolls))(tscPollHost(this, v)));
    this.bindVcpu(this.vcpus[0]!);
    // Code written by any vCPU drops every vCPU's decoded copies of it.
    if (count === 1) this.memory.onWrite = this.cpu.writeHook;
    else {
      const hook = (pn: number): void => {
        for (const v of this.vcpus) v.cpu.codeWritten(pn);
      };
      const cpus = this.vcpus.map((v) => v.cpu);
      for (const c of cpus) (c.peers = cpus), (c.peerHook = hook);
      this.memory.onWrite = hook;
    }
    for (const v of this.vcpus) {
      v.kvm.setup();
      v.irq.setup(apicvOn(this.settings));
      v.kvm.setSregs(v.cpu.state);
    }
    // KVM's PIT, QEMU's RTC; for a -kernel guest the firmware's ACPI tables, PM block and IVT, PIC and PIT programming (pc-platform.ts).
    const platform: PcPlatformMachine = { pio: this.pio, memory: this.memory, vcpus: this.vcpus, pic: this.pic, cpus: count, now: () => this.time, ticks: (hz) => this.clock.ticks(hz), idle: (c) => void (this.clock.idle += c), resetVcpu: (id, s) => this.resetVcpu(id, s), lineView: () => this.lineView };
    ({ pit: this.pit, rtc: this.rtc } = installPcPlatform(platform, !!(options.guest && "image" in options.guest)));
    this.enter();
  }

  /** The VM's modelled clock (runtime/core/clock.ts): busy = `cycles` (instructions and exits), idle = HLT's blocked time. */
  readonly clock = new VirtualClock(this);
  /** The clock's busy time: guest instructions and exit costs, in cycles. */
  busyCycles(): number {
    return this.cycles;
  }

  /** Cycles the vCPU spent blocked in HLT (kvm_vcpu_block): modelled time with no work, not in `cycles`. */
  get idleCycles(): number {
    return this.clock.idle;
  }

  /** Modelled time in cycles of the 1 GHz clock: what the TSC (+ TSC_OFFSET) and the APIC timer count. */
  get time(): number {
    return this.clock.now();
  }

  get console(): string {
    return this.serial.output;
  }

  /** Guest instructions KVM emulated or skipped while handling exits (not counted in `steps`). */
  get emulated(): number {
    return this.kvm.emulated;
  }

  get pc(): bigint {
    return this.cpu.state.rip;
  }

  // ---- vCPUs (vcpu-state.ts, smp.ts) ----

  /** What every vCPU shares with the VM; with several, HLT blocks and the ICR reaches the others. */
  private vcpuHost(count: number): VcpuHost {
    return {
      memory: this.memory, bus: this.bus, pio: this.pio, ept: this.ept, host: this.host, cpuVendor: this.cpuVendor, cpuid: this.vmCpuid,
      settings: this.settings, now: () => this.time, idle: (cycles) => void (this.clock.idle += cycles),
      emit: (name, fields) => this.emit(name, fields), tracer: this,
      ...(count > 1 ? { block: () => blockOnHlt(this), onIpi: (low: number, dest: number) => deliverIpi(this, low, dest), apicBaseMoved: () => this.apicWindows!.sync(), retired: (id: number) => this.retired(id) } : {}),
    };
  }

  /** The VM's one I/O APIC with several vCPUs, routing by destination; the APIC page reaches the running vCPU's APIC. */
  private sharedIoApic(): IoApic {
    if (this.ioapic) return this.ioapic;
    this.ioapic = new IoApic({ deliver: (vector, level, mode, dest, logical) => void deliverFromIoApic(this, vector, level, mode, dest, logical) });
    this.apicWindows = new LapicWindows(this.bus, { loaded: () => this.irq.lapic, all: () => this.vcpus.map((v) => v.irq.lapic) });
    this.bus.add(IOAPIC_BASE, 0x20, this.ioapic);
    return this.ioapic;
  }
  private ioapic: IoApic | undefined;
  /** TSC-polling loops analysed, by the RDTSC's linear address (tsc-poll.ts). */
  private readonly tscPolls = new Map<number, TscPoll | null>();
  private apicWindows: LapicWindows | undefined;
  /** MachineOptions.cpuVendor: the guest's CPUID vendor, when not the host's. */
  private readonly cpuVendor: string | undefined;
  /** The VM's CPUID beyond the era's table: leaves 1 and 0xB for its vCPUs, MachineOptions.cpu (kvm/cpuid-vm.ts, kvm/cpu-model.ts); `show cpuid` reads it. */
  readonly vmCpuid: VmCpuid;

  /** Make `v` the machine's cpu/vmcs/kvm/irq (what views and KVM's handlers read); the trace's vcpu_id. */
  private bindVcpu(v: X86Vcpu): void {
    (this.vcpu = v), (this.cpu = v.cpu), (this.vmcs = v.vmcs), (this.rules = v.rules), (this.kvm = v.kvm), (this.irq = v.irq);
    this.exitFields.vcpu_id = this.entryFields.vcpu_id = v.id;
  }

  loadVcpu(id: number): void {
    if (this.vcpu.id === id) return;
    // Each vCPU's caches keep the EPT version they saw (a switch alone invalidates nothing).
    this.seenEptBy[this.vcpu.id] = this.seenEpt;
    this.bindVcpu(this.vcpus[id]!);
    this.sched.current = id;
    (this.seenEpt = this.seenEptBy[id] ?? -1), (this.chainFrom = null);
  }

  enterGuest(): void {
    this.enter();
  }

  traceWakeup(ns: number): void {
    this.emit("kvm_vcpu_wakeup", { ns, waited: true, valid: true });
  }

  resetVcpu(id: number, state: X86State): void {
    const v = this.vcpus[id]!;
    v.cpu.state.load(state);
    v.cpu.flushTlb();
    v.kvm.setSregs(state);
  }

  /** `vcpu N`, `show vcpus`, `ipi` (smp.ts vcpuControl). */
  readonly vcpuControl: VcpuControl = vcpuControl(this);

  /** Run `fn` with the selected vCPU bound (views, registers); the loaded one again after. */
  private onSelected<T>(fn: () => T): T {
    if (this.selected === this.vcpu.id) return fn();
    const loaded = this.vcpu;
    this.bindVcpu(this.vcpus[this.selected]!);
    try {
      return fn();
    } finally {
      this.bindVcpu(loaded);
    }
  }

  /** Run `fn` on every vCPU in turn (settings and traps apply to all); returns the last result. */
  private onEach<T>(fn: () => T): T {
    const loaded = this.vcpu;
    let r!: T;
    try {
      for (const v of this.vcpus) this.bindVcpu(v), (r = fn());
    } finally {
      this.bindVcpu(loaded);
    }
    return r;
  }

  /** With several vCPUs, execMany/execOne run the one whose turn it is (smp.ts schedule), for at most the rest of its quantum. */
  private inVcpu = false;
  /** `steps` when the running vCPU's chunk began (runVcpus). */
  private chunkStart = 0;
  /** Instructions vCPU `id` retired, live: its own, those of the chunk it runs now, and those KVM completed for it. */
  private retired(id: number): number {
    const v = this.vcpus[id]!;
    return v.steps + v.kvm.emulated + (this.inVcpu && v === this.vcpu ? this.steps - this.chunkStart : 0);
  }
  private runVcpus(max: number, one: boolean): number {
    if (schedule(this) < 0) return 0;
    const sched = this.sched;
    const before = this.steps;
    this.chunkStart = before;
    this.inVcpu = true;
    try {
      if (one) this.execOne();
      else this.execMany(sched.left < max ? Math.max(1, sched.left) : max);
    } finally {
      this.inVcpu = false;
    }
    const n = this.steps - before;
    sched.charge(Math.max(1, n));
    this.vcpu.steps += n;
    return n;
  }

  // ---- VM entry / exit ----

  /** VM entry: load guest state from the VMCS, then deliver an injected event (which may exit again). */
  private enter(): void {
    const s = this.cpu.state;
    const q = this.kvm.queued;
    this.kvm.queued = null;
    if (q) {
      // kvm_multiple_exception (v4.1 and today): no error code in real mode (!is_protmode).
      const hasCode = ERROR_CODE_VECTORS.has(q.vector) && (this.kvm.arch.cr0 & 1n) !== 0n;
      this.vmcs.write("VM_ENTRY_INTR_INFO_FIELD", encodeQual(INTR_INFO, { vector: q.vector, type: INTR_TYPE.HW_EXCEPTION, error_code_valid: hasCode ? 1 : 0, valid: 1 }));
      this.vmcs.write("VM_ENTRY_EXCEPTION_ERROR_CODE", q.errorCode ?? 0);
      this.emit("kvm_inj_exception", { exception: q.vector, has_error: hasCode, error_code: q.errorCode ?? 0, reinjected: false });
    }
    // Load the guest state — unless it is what the exit saved (KVM at most moved RIP past the
    // instruction): then the load would change nothing else, and translations stay valid. When KVM
    // changed only CR0/CR3/CR4 (its MOV-to-CR handlers), just they are loaded.
    if (!enterUnchanged(this.vmcs, s, this.cpu.systemVersion)) {
      const crs = enterControlRegisters(this.vmcs, s, this.cpu.systemVersion, CR0_TRANSLATION_BITS, CR4_TRANSLATION_BITS);
      if (crs !== CRS_NOT_LOADED) {
        // A translation bit or CR3 changed: the TLB goes. Else the caches stand (no fast data entry
        // depends on CR0.WP: X86Cpu.translateLinear), as after the guest's own MOV to CR0/CR4 of such bits.
        if (crs === CRS_LOADED_TRANSLATIONS_CHANGED) this.cpu.flushTlb();
        else this.cpu.systemVersion++;
        guestStateInStep(this.vmcs, this.cpu.systemVersion);
      } else {
        const before = translationKey(s);
        const err = loadGuestState(this.vmcs, s, s.efer);
        if (err) {
          this.failedEntry();
          this.halted = { message: `VM entry failed (invalid guest state): ${err}; KVM_RUN returns KVM_EXIT_FAIL_ENTRY` };
          return;
        }
        // Translations depend on CR0/CR3/CR4/EFER and CS; keep the TLB and decoded code if KVM left them alone.
        if (translationKey(s) !== before) this.cpu.flushTlb();
        else this.cpu.invalidateFetch(); // segment bases the caches hold may have changed
      }
    }
    // inject_pending_event: an NMI or the APIC's interrupt, unless an exception is injected already.
    if (!q) this.irq.beforeEntry();
    this.cpu.apicAccessPage = this.vmcs.readNum(SECONDARY) & VIRT_APIC_ACCESSES ? this.vmcs.readNum(APIC_ACCESS) : -1;
    this.entryFields.rip = ripValue(s);
    this.emitEntry(this.steps, this.stamp(), this.entryFields);
    const inj = this.vmcs.readNum(EXIT_INFO.entryIntrInfo);
    if (inj >>> 31) {
      this.vmcs.write("VM_ENTRY_INTR_INFO_FIELD", 0);
      const vector = inj & 0xff;
      const type = (inj >> 8) & 7;
      // Software interrupts/exceptions return past the instruction: RIP + VM_ENTRY_INSTRUCTION_LEN (SDM 26.6.1).
      const soft = type === INTR_TYPE.SW_INTERRUPT || type === INTR_TYPE.PRIV_SW_EXCEPTION || type === INTR_TYPE.SW_EXCEPTION;
      const returnRip = soft ? s.rip + this.vmcs.read("VM_ENTRY_INSTRUCTION_LEN") : undefined;
      try {
        this.cpu.deliver(vector, (inj >> 11) & 1 ? Number(this.vmcs.read("VM_ENTRY_EXCEPTION_ERROR_CODE")) : undefined, true, q?.address, type, returnRip);
      } catch (e) {
        if (e instanceof VmExitSignal) this.vmExit(e.info);
        else throw e;
      }
    }
  }

  /**
   * A VM entry that fails its guest-state checks (SDM 26.3.1) ends like a VM exit with basic
   * reason 33 (INVALID_STATE) and bit 31 set, exit qualification 0, the other exit-information
   * fields unchanged (SDM 26.8). KVM traces the exit and returns KVM_EXIT_FAIL_ENTRY (9) from
   * KVM_RUN (v4.1 and today's vmx_handle_exit); kvm_vcpu_ioctl traces kvm_userspace_exit.
   */
  private failedEntry(): void {
    const reason = 0x8000_0000 | EXIT.INVALID_STATE!;
    this.vmcs.writeField(EXIT_INFO.reason, reason);
    this.vmcs.writeField(EXIT_INFO.qualification, 0);
    const rip = this.vmcs.read("GUEST_RIP");
    this.entryFields.rip = rip <= MAX_SAFE ? Number(rip) : rip;
    this.emitEntry(this.steps, this.stamp(), this.entryFields);
    const f = this.exitFields;
    f.exit_reason = reason;
    f.guest_rip = this.entryFields.rip;
    f.info1 = 0;
    f.intr_info = this.vmcs.readNum(EXIT_INFO.intrInfo);
    f.idt_vectoring_info = this.vmcs.readNum(EXIT_INFO.idtVectoring);
    f.intr_error_code = this.vmcs.readNum(EXIT_INFO.intrError);
    this.emitExit(this.steps, this.stamp(), f);
    this.emit("kvm_userspace_exit", { reason: KVM_EXIT.FAIL_ENTRY!, errno: 0 });
  }

  /** The processor's side of a VM exit: exit information and guest state into the VMCS (SDM 27.2, 27.3). */
  private vmExit(info: ExitInfo): void {
    const s = this.cpu.state;
    const v = this.vmcs;
    const code = info.reason;
    const insn = this.cpu.insn;
    const len = insn?.length ?? 0;
    const q = info.qualification;
    const intrInfo = info.intrInfo ?? 0;
    v.writeExitInfo(code, q, info.guestPhysical ?? 0, info.guestLinear ?? 0, len, intrInfo, info.intrError ?? 0, info.idtVectoring ?? 0);
    if (info.instrInfo !== undefined) v.write("VMX_INSTRUCTION_INFO", info.instrInfo);
    saveGuestState(v, s, this.cpu.systemVersion);
    // The exit's columns: the VM-exit information as numbers; decoded and formatted when shown.
    let flags = this.sched.count > 1 ? F_SMP : 0;
    if (info.guestPhysical !== undefined) flags |= F_GPA;
    if (info.guestLinear !== undefined) flags |= F_GLA;
    if (insn) flags |= F_INSN;
    const cycles = baseCycles(code);
    const store = this.exits;
    // rip from the register file's sign-extended number: its two's-complement halves.
    const pc = s.pc;
    const index = store.record(this.steps, pc >>> 0, Math.floor(pc / 4294967296) >>> 0, code, cycles, flags);
    const slot = index & CHUNK_MASK;
    const k = this.col;
    const c = store.chunk(index);
    if (k.chunk !== c) this.bindColumns(c);
    putU64(k.qual, slot, q);
    k.gpa[slot] = info.guestPhysical ?? 0;
    putU64(k.gla, slot, info.guestLinear ?? 0);
    k.len[slot] = len;
    k.intr[slot] = intrInfo;
    k.idtv[slot] = info.idtVectoring ?? 0;
    if (code === EXIT.MSR_READ || code === EXIT.MSR_WRITE) {
      // ECX, and EDX:EAX for WRMSR, from the register halves (no BigInt per exit).
      k.msr[slot] = s.r[1]! >>> 0;
      if (code === EXIT.MSR_WRITE) setU64(k.msrval, slot, s.r[0]! >>> 0, s.r[2]! >>> 0);
      else setU64(k.msrval, slot, 0, 0);
    } else {
      k.msr[slot] = 0;
      setU64(k.msrval, slot, 0, 0);
    }
    k.insn[slot] = store.refId(insn);
    k.vcpu[slot] = this.vcpu.id;
    this.vcpu.exits++;
    // kvm_exit's fields, written into one reused record (the trace copies them into its columns).
    const f = this.exitFields;
    f.exit_reason = code;
    f.guest_rip = pc >= 0 ? pc : s.rip;
    f.info1 = typeof q === "number" || q > MAX_SAFE ? q : Number(q);
    // What vmx_get_exit_info reads; the era's format picks info2 from them (tracepoints.ts).
    f.intr_info = intrInfo;
    f.idt_vectoring_info = info.idtVectoring ?? 0;
    f.intr_error_code = info.intrError ?? 0;
    this.emitExit(this.steps, this.stamp(), f);
    this.cycles += cycles;
    this.pendingIndex = index;
  }

  /** The exit columns of the chunk vmExit last wrote (X86_EXIT_SCHEMA.columns), typed once per chunk. */
  private readonly col = {
    chunk: null as unknown,
    qual: new Uint32Array(0), gpa: new Float64Array(0), gla: new Uint32Array(0), len: new Uint8Array(0),
    intr: new Uint32Array(0), idtv: new Uint32Array(0), msr: new Uint32Array(0), msrval: new Uint32Array(0), insn: new Uint32Array(0), vcpu: new Uint32Array(0),
  };

  private bindColumns(c: ColumnArray[]): void {
    const k = this.col, j = this.exitCols;
    k.chunk = c;
    k.qual = c[j.qual] as Uint32Array;
    k.gpa = c[j.gpa] as Float64Array;
    k.gla = c[j.gla] as Uint32Array;
    k.len = c[j.len] as Uint8Array;
    k.intr = c[j.intr] as Uint32Array;
    k.idtv = c[j.idtv] as Uint32Array;
    k.msr = c[j.msr] as Uint32Array;
    k.msrval = c[j.msrval] as Uint32Array;
    k.insn = c[j.insn] as Uint32Array;
    k.vcpu = c[j.vcpu] as Uint32Array;
  }

  /** The kvm_exit and kvm_entry emitters (trace.emitterOf): every exit emits both. */
  private readonly emitExit: TraceEmitter;
  private readonly emitEntry: TraceEmitter;
  /** kvm_exit's and kvm_entry's field records, reused by every exit and entry. */
  private readonly exitFields: Record<string, FieldValue> = { exit_reason: 0, guest_rip: 0, isa: 1, info1: 0, intr_info: 0, idt_vectoring_info: 0, intr_error_code: 0, vcpu_id: 0 };
  private readonly entryFields: Record<string, FieldValue> = { vcpu_id: 0, rip: 0 };

  /**
   * EPT version seen by the fetch and data caches: KVM changing the EPT tables (a new mapping, an
   * MMIO spte) drops them. Guest-state changes at VM entry drop them in enter().
   */
  private seenEpt = -1;
  /** seenEpt of the vCPUs not loaded, by id (loadVcpu swaps them). */
  private readonly seenEptBy: number[] = [];

  private syncFetch(): void {
    if (this.ept.version !== this.seenEpt) {
      this.seenEpt = this.ept.version;
      this.cpu.invalidateFetch();
    }
  }

  /**
   * The irqchip's look at the guest between blocks (KvmIrqChip.poll): an exit it raises is taken
   * here, an interrupt APICv delivers goes through the guest's IDT. True if the guest stops.
   */
  private pollIrq(): boolean {
    this.cpu.insn = null;
    try {
      const e = this.irq.poll();
      if (e) this.vmExit(e);
    } catch (e) {
      this.fault(e);
    }
    return this.halted !== null || this.pendingIndex >= 0;
  }

  /** One guest instruction, or the exit/exception it raises. */
  protected execOne(): void {
    if (this.sched.count > 1 && !this.inVcpu) return void this.runVcpus(1, true);
    if (this.time >= this.irq.nextEvent && this.pollIrq()) return;
    const cpu = this.cpu;
    const s = cpu.state;
    cpu.insn = null;
    this.syncFetch();
    try {
      const insn = cpu.fetchInsn();
      cpu.insn = insn;
      s.npc = s.mode === "long64" ? s.pc + insn.length : (s.pc + insn.length) >>> 0;
      // Single-stepping (TF), RF or DR7 breakpoints: checked only while one of them is on (debug-step.ts).
      const debugFlags = s.fl & DEBUG_RFLAGS;
      const debugging = debugFlags !== 0 || cpu.drArmed;
      if (debugging) instructionBreakpoint(cpu);
      // CPUID exits unconditionally (SDM Vol. 3 25.1.2): the hot exit, taken without an exception.
      if (insn.spec.sem === "cpuid") return this.vmExit(CPUID_EXIT);
      if ((insn.spec.sem === "in" || insn.spec.sem === "out") && !insn.prefixes.lock) {
        const io = cpu.plainIoExit(insn);
        if (io !== null) return this.vmExit(io);
      }
      // MOV CR and RDMSR/WRMSR exits, decided before the instruction runs (plain-exit.ts).
      const sem = insn.spec.sem;
      if (sem === "movtocr" || sem === "movfromcr" || sem === "rdmsr" || sem === "wrmsr" || sem === "hlt") {
        const e = sem === "hlt" ? cpu.plainHltExit() : sem === "rdmsr" || sem === "wrmsr" ? cpu.plainMsrExit(insn) : cpu.plainCrExit(insn);
        if (e !== null) return this.vmExit(e);
      }
      const fn = !compilable(insn) ? null : insn.fast !== undefined ? insn.fast : fastFunction(insn);
      let n = 1;
      cpu.extraCycles = 0;
      if (fn) fn(s, s.r, cpu);
      else {
        cpu.repDone = 0;
        executeX86(cpu, insn);
        if (!leftSystemState(sem, s.r)) cpu.segmentsChanged();
        // A REP string instruction: each iteration it ran is a step (0 iterations: the instruction is one).
        if (cpu.repDone > 1) n = cpu.repDone;
        cpu.repDone = 0;
      }
      s.pc = s.npc;
      this.steps += n;
      this.cycles += n * GUEST_INSTRUCTION_CYCLES;
      // An instruction that costs more than a cycle (cost.ts movToCr4ExtraCycles).
      if (cpu.extraCycles !== 0) (this.cycles += cpu.extraCycles), (cpu.extraCycles = 0);
      if (cpu.sleeping) this.halted = { message: "the guest executed HLT with HLT exiting off: it sleeps until an interrupt, and no interrupt source exists" };
      // TF set by this instruction traps only after SYSCALL/SYSRET (single-step.ts): look then too.
      if (debugging || (s.fl & 0x100) !== 0) afterDebugStep(cpu, insn, debugFlags);
    } catch (e) {
      // Iterations of a REP string instruction that completed before the faulting one retired.
      if (cpu.repDone > 0) (this.steps += cpu.repDone), (this.cycles += cpu.repDone * GUEST_INSTRUCTION_CYCLES), (cpu.repDone = 0);
      this.fault(e);
    }
  }

  /**
   * Run a compiled block (at most `budget` instructions, whole loop iterations). Returns the
   * budget used, counted as the interpreter's loop counts: one per instruction, and one for an
   * instruction that faulted.
   */
  private runBlock(block: Block, budget: number): number {
    const cpu = this.cpu;
    const s = cpu.state;
    cpu.insn = null;
    cpu.smc = false;
    s.done = 0;
    // A flag-polling loop while others can run: one pass, then the quantum ends if it still loops (smp.ts).
    const poll = block.poll && pollMayYield(this.sched);
    const start = s.pc;
    try {
      // A store's trap-like exit comes back as -1 instead of an exception (trap-exit.ts).
      cpu.deferTraps = true;
      const n = block.fn(s, s.r, cpu, poll ? block.count : budget);
      cpu.deferTraps = false;
      if (n < 0) {
        // As fault() takes a thrown exit, but without its systemVersion bump: the exit came from a
        // template's store, and no template changes the state the guest-state save compares
        // (execOne runs templates without segmentsChanged), so the save may keep its fast path.
        const done = this.blockStopped(block);
        this.vmExit(takeTrapExit(cpu));
        return done + 1;
      }
      this.steps += n;
      this.cycles += n * GUEST_INSTRUCTION_CYCLES;
      if (poll && s.pc === start) return this.sched.pollWait(), Math.max(n, budget);
      if (s.exit !== 0) {
        // The block stopped at CPUID (Block.exit): the exit, as execOne takes it.
        s.exit = 0;
        cpu.insn = block.exit;
        this.vmExit(CPUID_EXIT);
        return n + 1;
      }
      return n;
    } catch (e) {
      cpu.deferTraps = false;
      const done = this.blockStopped(block);
      this.fault(e);
      return done + 1;
    }
  }

  /**
   * A block stopped at an instruction that faulted or exited (thrown, or a deferred trap-like exit):
   * c.pc and c.done describe it; the instructions before it are counted. Returns their number.
   */
  private blockStopped(block: Block): number {
    const s = this.cpu.state;
    const done = s.done;
    const insn = block.insns[done % block.count]!;
    this.cpu.insn = insn;
    s.npc = s.mode === "long64" ? s.pc + insn.length : (s.pc + insn.length) >>> 0;
    this.steps += done;
    this.cycles += done * GUEST_INSTRUCTION_CYCLES;
    return done;
  }

  /** Exits are handled inside execMany (VmBase.takeInline) on the compiled path with one vCPU. */
  protected override canInline(): boolean {
    return this.sched.count === 1 && this.settings.jit === true;
  }

  protected override beforeRun(): void {
    // Traps, settings or registers may have changed since the last run, of any vCPU.
    for (const v of this.vcpus) v.cpu.invalidateFetch();
  }

  /**
   * Up to `max` instructions with compiled blocks (setting jit, default on): a block runs when it
   * fits in the remaining budget, else the interpreter runs one instruction; the budget counts as
   * VmBase's interpreter loop does (one per instruction, one for a faulting one). Blocks are
   * chained: each keeps its last two successors (valid while cpu.epoch is unchanged: no TLB
   * flush, code write or exit since). Returns the instructions retired.
   */
  protected override execMany(max: number): number {
    if (this.sched.count > 1 && !this.inVcpu) return this.runVcpus(max, false);
    if (!this.settings.jit) return super.execMany(max);
    const cpu = this.cpu;
    const s = cpu.state;
    const before = this.steps;
    let used = 0;
    // Exits handled here, without returning to run() (VmBase.takeInline).
    const inline = this.inlineExits;
    // The chain goes on from the block that ended in the last exit (valid while the epoch is).
    let prev: Block | null = this.chainFrom;
    this.chainFrom = null;
    while (used < max) {
      // Interrupts are looked at between blocks, and a block's budget ends at the next timer deadline.
      let room = max - used;
      const toEvent = this.irq.nextEvent - this.time;
      if (toEvent <= 0) {
        if (this.pollIrq()) break;
        prev = null;
        // An interrupt waiting out STI's one-instruction shadow: one instruction, then look again
        // (a compiled loop would otherwise run its whole budget before the next look).
        if (this.irq.inStiShadow()) room = 1;
      } else if (toEvent < room) room = Math.ceil(toEvent);
      this.syncFetch();
      let block: Block | null = null;
      // Single-stepping, RF or DR7 breakpoints: the interpreter, which checks them per instruction.
      const debugOn = (s.fl & DEBUG_RFLAGS) !== 0 || cpu.drArmed;
      if (debugOn) prev = null;
      else if (prev !== null && prev.epoch === cpu.epoch) {
        if (s.pc === prev.s0pc) block = prev.s0;
        else if (s.pc === prev.s1pc) block = prev.s1;
      }
      if (block === null && !debugOn) {
        try {
          block = cpu.blockAt();
        } catch {
          block = null; // a fetch fault: the interpreter raises it
        }
        if (prev !== null && block !== null) {
          if (prev.epoch !== cpu.epoch) (prev.epoch = cpu.epoch), (prev.s0pc = prev.s1pc = NaN);
          (prev.s1pc = prev.s0pc), (prev.s1 = prev.s0), (prev.s0pc = s.pc), (prev.s0 = block);
        }
      }
      // With RFLAGS.TF set every instruction traps: one at a time (blocks never change TF themselves).
      if (block === null || block.count > room || (s.fl & 0x100) !== 0) {
        // A REP string instruction may run up to the rest of the budget, an iteration per step.
        cpu.repBudget = room;
        const at = this.steps;
        this.execOne();
        cpu.repBudget = 1;
        used += Math.max(1, this.steps - at);
        prev = null;
      } else {
        // A trace formed at the block (trace.ts) when one is and fits the budget.
        const hot = hotPath(block, s.pc, s.mode, cpu);
        let last: Block = hot.count <= room ? hot : block;
        used += this.runBlock(last, room);
        // Then its chained successors back to back, while nothing the loop's looks watch can have
        // changed: no exit or halt, no code write or flush (epoch), no new interrupt event, no
        // pending look at the irqchip (toEvent > 0 above), the budget and the next event not reached.
        if (toEvent > 0) {
          const event = this.irq.nextEvent;
          // (A flag-polling block that gave up the quantum, sched.pollWait, ends the chain too.)
          while (used < max && this.pendingIndex < 0 && this.halted === null && last.epoch === cpu.epoch && !cpu.smc && this.irq.nextEvent === event && (this.sched.count === 1 || this.sched.left > 0)) {
            const pc = s.pc;
            const next: Block | null = pc === last.s0pc ? last.s0 : pc === last.s1pc ? last.s1 : null;
            if (next === null) break;
            const left = Math.min(max - used, Math.ceil(event - this.time));
            const hotNext = hotPath(next, pc, s.mode, cpu);
            const run = hotNext.count <= left ? hotNext : next;
            if (run.count > left) break;
            used += this.runBlock(run, left);
            last = run;
          }
        }
        prev = last;
      }
      if (this.halted || this.pendingIndex >= 0) {
        if (inline && this.halted === null && this.takeInline()) continue;
        this.chainFrom = prev;
        break;
      }
    }
    return this.steps - before;
  }

  /**
   * The block whose run ended in the pending exit: the next execMany looks its successor up in
   * that block's chain instead of translating rip again (a CPUID loop re-enters the same block
   * after every exit). Checked against cpu.epoch like any chain link.
   */
  private chainFrom: Block | null = null;



  /** A guest fault (delivered through the guest IDT, or an exit), a VM exit, or an emulator error. */
  private fault(e: unknown): void {
    const cpu = this.cpu;
    const s = cpu.state;
    if (e instanceof VmExitSignal) {
      // An instruction may have changed system state before it exited: the save compares everything.
      cpu.systemVersion++;
      this.vmExit(e.info);
    } else if (e instanceof GuestFault) {
      try {
        // INT n / INT3 / INTO are traps: the frame returns to the next instruction.
        const sem = cpu.insn?.spec.sem;
        // INT1/ICEBP is a privileged software exception (SDM Vol. 3 Table 24-17), a trap like them.
        const type = sem === "int" ? INTR_TYPE.SW_INTERRUPT : sem === "int3" || sem === "into" ? INTR_TYPE.SW_EXCEPTION : sem === "icebp" ? INTR_TYPE.PRIV_SW_EXCEPTION : INTR_TYPE.HW_EXCEPTION;
        // A data breakpoint MOV SS held back (debug-step.ts) goes with a #DB (not INT 1), else it is a #DB
        // at the handler's first instruction.
        const held = takeHeldDebug(cpu);
        const merge = e.vector === VECTOR.DB && type !== INTR_TYPE.SW_INTERRUPT;
        cpu.deliver(e.vector, e.errorCode, false, merge ? (e.address ?? 0n) | held : e.address, type, type === INTR_TYPE.HW_EXCEPTION ? undefined : s.nextRip);
        if (held !== 0n && !merge) cpu.deliver(VECTOR.DB, undefined, false, held);
      } catch (e2) {
        if (e2 instanceof VmExitSignal) this.vmExit(e2.info);
        else this.internalError(e2);
      }
    } else this.internalError(e);
  }

  private internalError(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    this.halted = { message: `emulation error at rip 0x${this.cpu.state.rip.toString(16)}: ${msg}` };
  }

  // ---- Machine ----

  protected handlePending(index: number): HandleResult {
    const idtv = this.vmcs.readNum(EXIT_INFO.idtVectoring);
    const r = handleExit(this.kvm, this.exits.codeOf(index));
    if (r.action === "halt") {
      this.halted = { message: r.message };
      return r;
    }
    // vmx_complete_interrupts: an event whose delivery the exit interrupted is injected again.
    if (idtv >>> 31 && !this.kvm.queued) {
      this.vmcs.write("VM_ENTRY_INTR_INFO_FIELD", idtv);
      this.vmcs.write("VM_ENTRY_EXCEPTION_ERROR_CODE", this.vmcs.read("VM_EXIT_INTR_ERROR_CODE"));
      this.vmcs.write("VM_ENTRY_INSTRUCTION_LEN", this.vmcs.read("VM_EXIT_INSTRUCTION_LEN"));
      if (((idtv >> 8) & 7) === INTR_TYPE.HW_EXCEPTION) {
        const hasCode = ((idtv >> 11) & 1) === 1;
        this.emit("kvm_inj_exception", { exception: idtv & 0xff, has_error: hasCode, error_code: Number(this.vmcs.read("VM_EXIT_INTR_ERROR_CODE")), reinjected: true });
      }
    }
    // A vCPU that blocked in HLT (or was sent INIT) enters again when it is woken (or started by SIPI).
    if (this.sched.states[this.vcpu.id] !== "running") return r;
    this.enter();
    return this.halted ? { action: "halt", message: (this.halted as { message: string }).message } : r;
  }

  registerNames(): readonly string[] {
    return X86_REGISTER_NAMES;
  }

  readRegister(name: string): bigint {
    return this.onSelected(() => this.readSelected(name));
  }

  private readSelected(name: string): bigint {
    return readX86Register(this.cpu.state, this.rules, this.kvm, name);
  }

  writeRegister(name: string, value: bigint): void {
    this.onSelected(() => this.writeSelected(name, value));
  }

  private writeSelected(name: string, value: bigint): void {
    const s = this.cpu.state;
    writeX86Register(s, name, value);
    this.cpu.flushTlb();
    // In an exit (the pending one, or blocked in HLT), the VMCS holds the guest state entry loads.
    if (this.pendingExit || this.sched.states[this.vcpu.id] === "blocked") saveGuestState(this.vmcs, s);
  }

  disassemble(address: bigint, count: number): DisasmLine[] {
    const out: DisasmLine[] = [];
    let a = address;
    const mode = this.cpu.state.mode;
    for (let i = 0; i < count; i++) {
      try {
        const pa = Number(a);
        const insn = decodeX86((o) => this.memory.readByte(pa + o), mode);
        out.push({ address: a, bytes: insn.bytes, text: disassembleX86(insn, a) });
        a += BigInt(insn.length);
      } catch (e) {
        out.push({ address: a, bytes: new Uint8Array(0), text: `(${e instanceof Error ? e.message : String(e)})` });
        break;
      }
    }
    return out;
  }

  set(name: string, value: FieldValue): void {
    if (this.setCap(name, value)) return;
    const v = checkSetting(this.arch, name, value);
    if (name === "quantum") return void (this.sched.quantum = v as number);
    if (name === "vcpus") throw new ExitlabError("the vCPU count is fixed when the VM is booted", "`set vcpus N` before `vm boot`");
    this.onEach(() => this.setOn(name, v));
  }

  private setOn(name: string, v: FieldValue): void {
    if (name === "era") {
      this.settings.era = v as MachineSettings["era"];
      // KVM's CR3-exiting policy differs by era: re-apply it to the current CR0 (vmx_set_cr0).
      this.kvm.vmxSetCr0(this.kvm.arch.cr0);
      this.kvm.vmxSetCr3();
      this.kvm.updateExceptionBitmap();
      if (!this.pendingExit) loadGuestState(this.vmcs, this.cpu.state, this.cpu.state.efer);
      this.cpu.flushTlb();
    } else if (name === "stepLimit") this.settings.stepLimit = v as number;
    // Compiled basic blocks (on) or the interpreter only (off), e.g. to compare the two.
    else if (name === "jit") this.settings.jit = v;
    else if (name === "apicv") {
      this.settings.apicv = v;
      this.irq.setup(v as boolean);
    }
    if (name === "era" && this.settings.apicv === undefined) this.irq.setup(apicvOn(this.settings));
  }

  /** KVM's in-kernel legacy PIC, the 8259A pair (apic/pic.ts). */
  readonly pic: KvmPic;
  /** KVM's in-kernel i8254 PIT (pit.ts). */
  readonly pit: KvmPit;
  /** QEMU's MC146818 RTC (rtc.ts). */
  readonly rtc: Mc146818Rtc;

  /**
   * KVM_IRQ_LINE of GSI `gsi` (0-23) at `level` (irq-line.ts setIrqLine). Throws ExitlabError for
   * another GSI.
   */
  setIrqLine(gsi: number, level: boolean): void {
    setIrqLine(this.lineView, gsi, level);
  }

  /** `irq gsi N [high|low]`: the line pulsed, or set to a level; what the PIC and the I/O APIC did (irq-line.ts irqLine). */
  irqLine(gsi: number, level?: boolean): string {
    return irqLine(this.lineView, gsi, level);
  }

  /** The machine as irq-line.ts sees it (its tracer is protected here). */
  private get lineView(): IrqLineMachine {
    return { pic: this.pic, vcpus: this.vcpus, sched: this.sched, irq: this.irq, emit: (name, fields) => this.emit(name, fields) };
  }

  /** `irq N`: the VMM injects vector N into the local APIC (KvmIrqChip.injectIrq). */
  injectIrq(vector: number): string {
    return this.onSelected(() => this.irq.injectIrq(vector));
  }

  readVmcs(field: string): bigint | undefined {
    try {
      return this.onSelected(() => this.vmcs.vmread(field)); // a name the user typed: checked by the lookup
    } catch (e) {
      if (e instanceof VmcsError) return undefined;
      throw e;
    }
  }

  setTrap(trap: TrapRequest, enabled: boolean): string {
    return this.onEach(() => applyTrap(this, trap, enabled));
  }

  view(name: string, arg?: string): MachineView {
    return this.onSelected(() => machineView(this, name, arg));
  }
}

/** What translations and decoded code depend on (paging.ts CR0/CR4_TRANSLATION_BITS, CR3, EFER, CS). */
function translationKey(s: X86State): string {
  return `${s.cr0 & CR0_TRANSLATION_BITS}:${s.cr3}:${s.cr4 & CR4_TRANSLATION_BITS}:${s.efer}:${s.seg.cs.base}:${s.seg.cs.attributes}:${s.mode}`;
}

export function createX86Machine(options: MachineOptions = {}): X86Machine {
  return new X86Machine(options);
}
