// The x86-64 machine: guest CPU in VMX non-root operation + guest RAM + devices + the KVM model.
// step/run execute guest instructions until a trap rule raises an exit; the exit is recorded in
// the VMCS, traced (kvm_exit) and left pending; handle() runs KVM's handler and re-enters the guest.

import { GuestMemory } from "../core/memory.js";
import { MmioBus } from "../core/bus.js";
import { TraceLog, type FieldValue } from "../core/trace.js";
import { ExitlabError } from "../core/errors.js";
import { checkCpuVendor } from "./kvm/cpuid.js";
import {
  DEFAULT_RAM_MIB, guestRamBytes, type DisasmLine, type HandleResult, type Machine, type MachineOptions, type MachineSettings, type MachineView, type TrapRequest,
} from "../core/machine.js";
import { decodeX86, disassembleX86 } from "./isa/index.js";
import { entryState } from "./entry.js";
import { checkSetting } from "../core/settings.js";
import type { X86State } from "./env.js";
import { VmcsError } from "./vmx/fields.js";
import { Ept, HostMemory } from "./vmx/ept.js";
import { INTR_TYPE } from "./vmx/qualification.js";
import { loadGuestState, saveGuestState } from "./vmx/guest-state.js";
import { apicvOn } from "./kvm/irqchip.js";
import { VirtualClock } from "../core/clock.js";
import { handleExit } from "./kvm/handlers.js";
import { ExitStore } from "../core/exits.js";
import { X86_EXIT_SCHEMA } from "./exit-schema.js";
import { PioBus } from "../devices/pio.js";
import { COM1_PORT, COM1_SIZE, Serial16550 } from "../devices/serial.js";
import { DEBUG_EXIT_PORT, DebugExit } from "../devices/debug-exit.js";
import { FwCfg, FW_CFG_PORT } from "../devices/fw-cfg.js";
import { loadGuest } from "./loader.js";
import { applyTrap } from "./traps.js";
import { machineView } from "./views.js";
import { X86_TRACEPOINT_TABLE } from "./tracepoints.js";
import { X86_REGISTER_NAMES } from "./registers.js";
import { readX86Register, writeX86Register } from "./register-access.js";
import { DEFAULT_QUANTUM, VcpuScheduler, type VcpuControl } from "../core/vcpus.js";
import { createX86Vcpu, initState, type VcpuHost, type X86Vcpu } from "./vcpu-state.js";
import { addQemuDevices } from "./qemu-devices.js";
import { irqLine, setIrqLine, type IrqLineMachine } from "./irq-line.js";
import { blockOnHlt, deliverFromIoApic, deliverIpi, schedule, vcpuControl, type X86SmpMachine } from "./smp.js";
import { IoApic, IOAPIC_BASE } from "./apic/ioapic.js";
import { KvmPic } from "./apic/pic.js";
import { installPcPlatform, type PcPlatformMachine } from "./pc-platform.js";
import type { KvmPit } from "./pit.js";
import type { Mc146818Rtc } from "./rtc.js";
import { LapicWindows } from "./apic/lapic-window.js";
import { skipTscPoll, type TscPoll } from "./tsc-poll.js";
import { tscPollHost } from "./tsc-poll-host.js";
import { vmCpuid, type VmCpuid } from "./kvm/cpuid-vm.js";
import { EXIT_INFO } from "./machine-entry-exit.js";
import { X86MachineRun } from "./machine-run.js";

export const GUEST_RAM_BASE = 0;
/** Guest RAM by default (MiB → bytes); MachineOptions.memoryMiB sets another size. */
export const GUEST_RAM_SIZE = DEFAULT_RAM_MIB * 1024 * 1024;
export const DEFAULT_STEP_LIMIT = 10_000_000;

export { X86_REGISTER_NAMES };

/**
 * The x86-64 machine. Built in layers, one module each: machine-entry-exit.ts (VM entry and exit,
 * the exit record), machine-run.ts (the run loop), this file (set-up, vCPUs, the Machine API).
 */
export class X86Machine extends X86MachineRun implements Machine, X86SmpMachine {
  readonly arch = "x86_64" as const;
  readonly memory: GuestMemory;
  readonly bus = new MmioBus();
  readonly pio = new PioBus();
  readonly trace: TraceLog;
  readonly exits: ExitStore;
  readonly settings: MachineSettings;
  readonly host = new HostMemory();
  readonly ept: Ept;
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

  /** `steps` when the running vCPU's chunk began (runVcpus). */
  private chunkStart = 0;
  /** Instructions vCPU `id` retired, live: its own, those of the chunk it runs now, and those KVM completed for it. */
  private retired(id: number): number {
    const v = this.vcpus[id]!;
    return v.steps + v.kvm.emulated + (this.inVcpu && v === this.vcpu ? this.steps - this.chunkStart : 0);
  }
  protected runVcpus(max: number, one: boolean): number {
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


export function createX86Machine(options: MachineOptions = {}): X86Machine {
  return new X86Machine(options);
}
