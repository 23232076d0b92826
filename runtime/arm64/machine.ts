// The arm64 machine: a guest CPU at EL1 under EL2 + guest RAM on a mach-virt-like map + a PL011
// UART + the KVM/arm64 model. step/run execute guest instructions until a trap rule raises an
// exception to EL2; the hardware's part of the exit (ESR_EL2, FAR_EL2, HPFAR_EL2, ELR_EL2,
// SPSR_EL2) is recorded, traced (kvm_exit) and left pending; handle() runs KVM's handler for the
// exception class and re-enters the guest.

import { ExitlabError } from "../core/errors.js";
import { GuestMemory } from "../core/memory.js";
import { MmioBus } from "../core/bus.js";
import { HostMemory } from "../core/host-memory.js";
import { TraceLog, type FieldValue, type TraceEmitter } from "../core/trace.js";
import { VmBase } from "../core/vm-base.js";
import { DEFAULT_RAM_MIB, guestRamBytes, type DisasmLine, type HandleResult, type Machine, type MachineOptions, type MachineView, type TrapRequest } from "../core/machine.js";
import { disassembleA64 } from "./isa/index.js";
import { A64Engine } from "./engine.js";
import { A64Cpu, CpuStop, El2Trap } from "./cpu.js";
import { REG, join64, value64 } from "./state.js";
import { exceptionClass } from "./esr.js";
import { ExitStore } from "../core/exits.js";
import { CHUNK_MASK, putU64, setU64, type ColumnArray } from "../core/columns.js";
import type { HypVariant } from "./hyp/source.js";
import { variantId } from "./exit-schema.js";
import { ARM64_EXIT_SCHEMA, F_FAR, F_HPFAR, F_KMMIO, F_SMP, F_USER, F_VAL, F_WORD } from "./exit-schema.js";
import { KvmVcpu } from "./kvm/vcpu.js";
import { handleExit } from "./kvm/handlers.js";
import { exitCost, GUEST_INSTRUCTION_CYCLES } from "./cost.js";
import { Pl011, PL011_BASE, PL011_SIZE } from "../devices/pl011.js";
import { GpexEcam, GPEX_ECAM_BASE, GPEX_ECAM_SIZE } from "../devices/pci-gpex.js";
import { loadGuest } from "./loader.js";
import { applyTrap } from "./traps.js";
import { machineView } from "./views.js";
import { ARM64_REGISTER_NAMES } from "./registers.js";
import { ARM64_TRACEPOINT_TABLE, type Arm64TracepointName } from "./tracepoints.js";
import { VirtualClock } from "../core/clock.js";
import type { GenericTimer } from "./timer.js";
import type { Vgic } from "./kvm/vgic.js";
import { ATTN_STOP } from "./cpu.js";
import { EXIT_IRQ } from "./exit-schema.js";
import type { PollLoop } from "./spin.js";
import { VcpuScheduler, type VcpuControl } from "../core/vcpus.js";
import { readCpuRegister, writeCpuRegister } from "./register-access.js";
import type { Arm64Vcpu } from "./vcpu-state.js";
import { powerOff, schedule, vcpuControl, type SmpMachine } from "./smp.js";
import { fireDue, handleIrqExit, injectIrq } from "./irq.js";
import { makeVcpu, makeVgic, resetVcpu } from "./vcpu-setup.js";
import { applyArm64Setting, arm64Settings, DEFAULT_STEP_LIMIT, type Arm64Settings } from "./settings.js";

export const GUEST_RAM_BASE = 0x4000_0000;
/** Guest RAM by default (MiB → bytes); MachineOptions.memoryMiB sets another size. */
export const GUEST_RAM_SIZE = DEFAULT_RAM_MIB * 1024 * 1024;
export { DEFAULT_STEP_LIMIT, type Arm64Settings };
const EC_SYS64 = 0x18, EC_HVC64 = 0x16, EC_SMC64 = 0x17, EC_WFX = 0x01;
/** HVC #0 and SMC #0 (imm16 in bits 20:5), WFI and WFE: Arm ARM C6.2 encodings. */
const CALL_WORD = [0xd400_0002, 0xd400_0003];
const WFI_WORD = 0xd503_207f, WFE_WORD = 0xd503_205f;

/** The cost of an exit known when it happens (world switch + handler), by exception class. */
const reasonName = (ec: number) => (ec === EXIT_IRQ ? "IRQ" : exceptionClass(ec).name);

export class Arm64Machine extends VmBase<Arm64TracepointName> implements Machine, SmpMachine {
  readonly arch = "arm64" as const;
  readonly memory: GuestMemory;
  readonly bus = new MmioBus();
  readonly host = new HostMemory();
  readonly trace: TraceLog;
  readonly exits: ExitStore;
  /** Column numbers of the arch's exit columns (ARM64_EXIT_SCHEMA.columns) by name. */
  private readonly exitCols: Record<"esr" | "far" | "hpfar" | "val" | "word" | "flush" | "switch" | "vcpu", number>;
  readonly settings: Arm64Settings;
  /** The loaded vCPU's CPU and KVM state (vcpus[sched.current]). */
  cpu: A64Cpu;
  kvm: KvmVcpu;
  /** Every vCPU, by id, and their scheduler (core/vcpus.ts). */
  readonly vcpus: Arm64Vcpu[] = [];
  readonly sched: VcpuScheduler;
  /** The vCPU `show regs`, `show exit` and `step` address (`vcpu N`). */
  selected = 0;
  readonly uart = new Pl011();
  /** The generic PCIe host's ECAM (devices/pci-gpex.ts): the host bridge alone on bus 0. */
  readonly pcie = new GpexEcam();
  readonly symbols: Map<string, bigint>;
  /** Where the loader put the device tree (x0 at entry): 0x44000000, or after an initrd (loader.ts). */
  readonly dtbAddress: number;
  /** The kvm_exit and kvm_entry emitters (trace.emitterOf): every exit emits both. */
  private readonly emitExit: TraceEmitter;
  private readonly emitEntry: TraceEmitter;
  /** Runs guest code: compiled blocks, or one instruction at a time with `jit` off. */
  readonly engine: A64Engine;

  constructor(options: MachineOptions = {}) {
    super();
    this.settings = arm64Settings(options.settings);
    if (options.devices?.length) throw new ExitlabError(`no QEMU device "${options.devices[0]}" on arm64 mach-virt`, "MachineOptions.devices adds x86 pc devices (pc-testdev)");
    this.checkSettings();
    this.switchChanged();
    this.memory = new GuestMemory({ capBytes: options.memoryCapBytes });
    const ramSize = guestRamBytes("arm64", options);
    this.memory.addRegion({ name: "ram", base: GUEST_RAM_BASE, size: ramSize });
    this.trace = new TraceLog(ARM64_TRACEPOINT_TABLE, { capEvents: options.traceCapEvents ?? (this.settings.traceCap as number | undefined) });
    this.emitExit = this.trace.emitterOf(this.trace.kindId("kvm_exit"));
    this.emitEntry = this.trace.emitterOf(this.trace.kindId("kvm_entry"));
    this.exits = new ExitStore(ARM64_EXIT_SCHEMA, options.exitCap ?? (this.settings.exitCap as number | undefined));
    this.exitCols = Object.fromEntries([...this.exits.colIndex]) as Arm64Machine["exitCols"];
    this.bus.add(PL011_BASE, PL011_SIZE, this.uart);
    this.bus.add(GPEX_ECAM_BASE, GPEX_ECAM_SIZE, this.pcie);
    const guest = loadGuest(this.memory, options.guest ?? { builtin: "boot" }, {
      ram: { base: GUEST_RAM_BASE, size: ramSize },
      uart: { base: PL011_BASE, size: PL011_SIZE },
      gic: this.settings.gic,
      vcpus: this.settings.vcpus,
    });
    this.symbols = guest.symbols;
    this.dtbAddress = Number(guest.dtb);
    this.sched = new VcpuScheduler(this.settings.vcpus, this.settings.quantum);
    // Modelled time: cycles so far plus the instructions of the run in progress, plus time blocked.
    this.clock = new VirtualClock(this);
    for (let i = 0; i < this.settings.vcpus; i++) this.vcpus.push(makeVcpu(this, i));
    const boot = this.vcpus[0]!;
    this.cpu = boot.cpu;
    this.kvm = boot.kvm;
    this.timer = boot.timer;
    this.engine = new A64Engine(this.cpu, this.memory);
    for (const v of this.vcpus.slice(1)) this.engine.attach(v.cpu);
    this.vgic = makeVgic(this, this.settings.gic);
    this.engine.jit = this.settings.jit;
    this.memory.onWrite = (page, pa, size) => this.engine.codeWritten(page, pa, size);
    // kvm_reset_vcpu of every vCPU; the secondaries stay off until PSCI CPU_ON.
    for (const v of this.vcpus) resetVcpu(this, v.id, v.id === 0 ? guest.entry : 0n, v.id === 0 ? guest.dtb : 0n);
    this.enter();
  }

  /** kvm_reset_vcpu of vCPU `id` (vcpu-setup.ts): pc = `pc`, x0 = `x0`. */
  resetVcpu(id: number, pc: bigint, x0: bigint): void {
    resetVcpu(this, id, pc, x0);
  }

  /** The VM's modelled time (core/clock.ts): counters, timers and blocking derive from it. */
  readonly clock: VirtualClock;
  /** The loaded vCPU's generic timer (timer.ts). */
  timer: GenericTimer;
  /** KVM's vGIC of this VM (kvm/vgic.ts). */
  vgic: Vgic;
  /** Bus regions of the current vGIC (replaced with it: vcpu-setup.ts makeVgic). */
  gicRegions: { base: number; size: number }[] = [];

  /** Polling loops found (spin.ts), by the guest-physical address of their counter read. */
  readonly pollLoops = new Map<number, PollLoop | null>();

  get console(): string {
    return this.uart.output;
  }

  /** Guest instructions KVM emulated or skipped while handling exits (not counted in `steps`). */
  get emulated(): number {
    return this.kvm.emulated;
  }

  get pc(): bigint {
    return this.viewVcpu.cpu.state.pc;
  }

  /** The clock's busy time: exit costs and the guest instructions retired (the engine's running count included), in cycles. */
  busyCycles(): number {
    return this.cycles + this.engine.retired * GUEST_INSTRUCTION_CYCLES;
  }

  /** kvm_exit's and kvm_entry's field records, reused by every exit and entry (the trace copies them into its columns). */
  private readonly exitFields: Record<string, FieldValue> = { vcpu_pc: 0, esr_ec: 0, type: 2 };
  private readonly entryFields: Record<string, FieldValue> = { vcpu_pc: 0 };

  /** Re-enter the guest (the eret at the end of __kvm_vcpu_run). */
  private enter(): void {
    this.vgic.flush();
    this.entryFields.vcpu_pc = this.cpu.state.pcValue();
    this.emitEntry(this.steps, this.stamp(), this.entryFields);
  }

  // ---- exits ----

  /** The hardware's side of a trap to EL2: syndrome registers, the exit's columns, then KVM's kvm_exit trace. */
  /** The arch columns of the exit chunk being filled, typed once per chunk (monomorphic stores). */
  private exitChunk: unknown = null;
  private exitArrays: { esr: Uint32Array; far: Uint32Array; hpfar: Uint32Array; val: Uint32Array; word: Uint32Array; flush: Float64Array; sw: Uint32Array; vcpu: Uint32Array } | null = null;

  /** The world-switch variant of this VM's settings (model, era, gic): what hyp/ executes per exit. */
  get switchVariant(): HypVariant {
    const st = this.settings;
    return { model: st.model, deferred: st.model === "vhe" && st.era === "today", gic: st.gic };
  }

  /** The cost known at an exit (world switch + handler) by exit code, for the current variant. */
  private baseCyclesCache: number[] = [];
  private baseCycles(ec: number): number {
    return (this.baseCyclesCache[ec] ??= exitCost(reasonName(ec), {}, this.switchVariant).cycles);
  }
  /** The cost of an MMIO exit handled in the kernel or by the VMM, by exit code (cached per variant like baseCycles). */
  private mmioCyclesCache: number[] = [];
  private mmioCycles(ec: number, userspace: boolean, kernelMmio: boolean): number {
    return (this.mmioCyclesCache[ec * 4 + (userspace ? 2 : 0) + (kernelMmio ? 1 : 0)] ??= exitCost(exceptionClass(ec).name, { userspace, kernelMmio }, this.switchVariant).cycles);
  }
  private variantCode = 0;
  /** The switch variant's settings changed (model, era, gic): the per-exit costs are recomputed. */
  switchChanged(): void {
    this.baseCyclesCache = [];
    this.mmioCyclesCache = [];
    this.variantCode = variantId(this.switchVariant);
  }

  private bindExitChunk(c: ColumnArray[]): NonNullable<Arm64Machine["exitArrays"]> {
    const j = this.exitCols;
    this.exitChunk = c;
    return (this.exitArrays = {
      esr: c[j.esr] as Uint32Array, far: c[j.far] as Uint32Array, hpfar: c[j.hpfar] as Uint32Array,
      val: c[j.val] as Uint32Array, word: c[j.word] as Uint32Array, flush: c[j.flush] as Float64Array, sw: c[j.switch] as Uint32Array,
      vcpu: c[j.vcpu] as Uint32Array,
    });
  }

  private vmExit(t: El2Trap): void {
    const cpu = this.cpu;
    const s = cpu.state;
    const r = s.r;
    const pcLo = r[REG.PC]!, pcHi = r[REG.PC + 1]!;
    // KVM's vcpu pc is ELR_EL2: past the instruction for HVC, the instruction itself otherwise.
    let elrLo = pcLo, elrHi = pcHi;
    if (t.next) {
      elrLo = (pcLo + 4) | 0;
      if (elrLo >>> 0 < 4) elrHi = (pcHi + 1) | 0;
      r[REG.PC] = elrLo;
      r[REG.PC + 1] = elrHi;
    }
    // The EL2 syndrome registers (none of them affects translation: straight into the register
    // file; ESR/ELR/SPSR kept as numbers until read).
    cpu.setExitRegs(t.esr, elrLo, elrHi);
    if (t.far !== undefined) cpu.sysregs.set("FAR_EL2", t.far);
    if (t.hpfar !== undefined) cpu.sysregs.set("HPFAR_EL2", t.hpfar);
    const vcpuPc = value64(elrLo, elrHi);
    // The syndrome is read once, as a number (ESR_EL2's defined bits fit in 32); the fields are
    // decoded by the exit schema when shown, and by KVM's handlers from kvm.exitEsr.
    const esr = t.esr >>> 0;
    const ec = esr >>> 26;
    let flags = 0;
    if (t.far !== undefined) flags |= F_FAR;
    if (t.hpfar !== undefined) flags |= F_HPFAR;
    // The value a trapped MSR writes (Rt), or x0 of an HVC: its register's halves.
    let valReg = -1;
    if (ec === EC_SYS64) {
      if ((esr & 1) === 0) valReg = (esr >>> 5) & 31;
    } else if (ec === EC_HVC64) valReg = 0;
    if (valReg >= 0) flags |= F_VAL;
    // The trapping instruction, for its disassembly when shown: HVC/SMC #imm16 and WFI/WFE are
    // determined by the syndrome (one encoding each); other classes read the word at pc.
    const word = ec === EC_HVC64 || ec === EC_SMC64 ? CALL_WORD[ec - EC_HVC64]! | ((esr & 0xffff) << 5) : ec === EC_WFX ? (esr & 1 ? WFE_WORD : WFI_WORD) : this.insnWord(join64(pcLo, pcHi), true);
    if (word !== undefined) flags |= F_WORD;
    if (this.sched.count > 1) flags |= F_SMP;
    // The cost known at the exit (world switch + handler); handling adds what it turns out to
    // need (cleaning pages, a trip to the VMM), as x86 records its cost at the exit too.
    const store = this.exits;
    const index = store.record(this.steps, pcLo >>> 0, pcHi >>> 0, ec, this.baseCycles(ec), flags);
    const c = store.chunk(index);
    const slot = index & CHUNK_MASK;
    const k = c === this.exitChunk ? this.exitArrays! : this.bindExitChunk(c);
    k.esr[slot] = esr;
    putU64(k.far, slot, t.far ?? 0);
    putU64(k.hpfar, slot, t.hpfar ?? 0);
    if (valReg >= 0 && valReg < 31) setU64(k.val, slot, r[2 * valReg]!, r[2 * valReg + 1]!);
    else setU64(k.val, slot, 0, 0);
    k.word[slot] = word ?? 0;
    k.flush[slot] = 0;
    k.sw[slot] = this.variantCode;
    k.vcpu[slot] = this.sched.current;
    this.vcpus[this.sched.current]!.exits++;
    this.kvm.exitEsr = esr;
    const f = this.exitFields;
    f.vcpu_pc = vcpuPc;
    f.esr_ec = ec;
    f.type = ARM_EXCEPTION_TRAP;
    this.emitExit(this.steps, this.stamp(), f);
    this.pendingIndex = index;
    this.vgic.sync();
  }

  /**
   * An IRQ exit (ARM_EXCEPTION_IRQ): a physical interrupt reached the host while the guest ran.
   * ESR_EL2 is not written (KVM keeps the last trap's syndrome, which today's kvm_exit prints).
   */
  private irqExit(): void {
    const r = this.cpu.state.r;
    const pcLo = r[REG.PC]! >>> 0, pcHi = r[REG.PC + 1]! >>> 0;
    const index = this.exits.record(this.steps, pcLo, pcHi, EXIT_IRQ, this.baseCycles(EXIT_IRQ), this.sched.count > 1 ? F_SMP : 0);
    const c = this.exits.chunk(index);
    const k = c === this.exitChunk ? this.exitArrays! : this.bindExitChunk(c);
    const slot = index & CHUNK_MASK;
    k.esr[slot] = this.kvm.exitEsr >>> 0;
    k.word[slot] = 0;
    k.flush[slot] = 0;
    k.sw[slot] = this.variantCode;
    k.vcpu[slot] = this.sched.current;
    this.vcpus[this.sched.current]!.exits++;
    const f = this.exitFields;
    f.vcpu_pc = value64(pcLo, pcHi);
    f.esr_ec = this.kvm.exitEsr >>> 26;
    f.type = ARM_EXCEPTION_IRQ;
    this.emitExit(this.steps, this.stamp(), f);
    this.pendingIndex = index;
    this.vgic.sync();
  }

  /** The instruction word at a guest VA, if it translates (for the exit's disassembly). */
  private insnWord(va: bigint, viaTlb = false): number | undefined {
    try {
      // At an exit, through the TLB: the trapping instruction was just fetched, so this is a hit.
      // Elsewhere (show disasm) the walk, which leaves the TLB as it was.
      const el = this.cpu.state.el;
      const pa = viaTlb ? this.cpu.mmu.translate(va, "fetch", el) : this.cpu.mmu.walk(va, "fetch", el).pa;
      return this.memory.isRam(pa) ? this.memory.read32(pa) : undefined;
    } catch {
      return this.memory.isRam(Number(va)) ? this.memory.read32(Number(va)) : undefined;
    }
  }

  protected execOne(): void {
    this.execMany(1);
  }

  /** Run up to `max` instructions through the engine; stops early at an exit or a stop. */
  protected override execMany(max: number): number {
    const sched = this.sched;
    if (sched.count > 1) {
      // SMP: the vCPU whose turn it is (smp.ts), for at most the rest of its quantum.
      if (schedule(this) < 0) return 0;
      if (sched.left < max) max = Math.max(1, sched.left);
    }
    const n = this.execVcpu(max);
    if (sched.count > 1) sched.charge(Math.max(1, n));
    return n;
  }

  /** execMany on the loaded vCPU. */
  private execVcpu(max: number): number {
    const s = this.cpu.state;
    // Modelled time first: a deadline due or a physical interrupt pending is an IRQ exit before
    // the next instruction; otherwise the chunk ends at the next deadline (one cycle per instruction).
    const clock = this.clock;
    if (clock.next !== Infinity || this.vgic.physical.size) {
      if (clock.next <= clock.now()) fireDue(this);
      if (this.vgic.physical.size) {
        this.cpu.attention &= ~ATTN_STOP;
        this.irqExit();
        return 0;
      }
      const toNext = Math.ceil((clock.next - clock.now()) / GUEST_INSTRUCTION_CYCLES);
      if (toNext < max) max = Math.max(1, toNext);
    }
    let n: number;
    let stop: unknown;
    try {
      n = this.engine.run(max);
    } catch (e) {
      // Instructions before the one that trapped have retired (an exception taken to the guest's
      // EL1 counts as retired too: the engine takes those and goes on).
      n = s.partial;
      stop = e;
    }
    this.steps += n;
    // The vCPU's own count (SMP), before the exit below is handled (its vPMU reads it).
    if (this.sched.count > 1) this.vcpus[this.sched.current]!.steps += n;
    this.cycles += n * GUEST_INSTRUCTION_CYCLES;
    if (stop === undefined) {
      const t = this.cpu.trap;
      if (t !== null) {
        this.cpu.trap = null;
        this.vmExit(t);
      }
      return n;
    }
    if (stop instanceof El2Trap) this.vmExit(stop);
    else if (stop instanceof CpuStop) this.halted = { message: stop.message };
    else {
      const msg = stop instanceof Error ? stop.message : String(stop);
      this.halted = { message: `emulation error at pc 0x${s.pc.toString(16)}: ${msg}` };
    }
    return n;
  }

  private handleExitAt(index: number): HandleResult {
    const store = this.exits;
    const code = store.codeOf(index);
    const r = code === EXIT_IRQ ? handleIrqExit(this) : handleExit(this.kvm, code);
    let cycles = this.baseCycles(code);
    const flush = this.kvm.lastFlushBytes;
    const user = this.kvm.lastUserspace;
    const kernelMmio = this.kvm.lastKernelMmio;
    if (flush || user || kernelMmio) {
      // What handling turned out to need: recorded in the exit's columns, its cycles recomputed.
      cycles = flush ? exitCost(exceptionClass(code).name, { flushBytes: flush, userspace: user, kernelMmio }, this.switchVariant).cycles : this.mmioCycles(code, user, kernelMmio);
      this.kvm.lastKernelMmio = false;
      (store.chunk(index)[this.exitCols.flush] as Float64Array)[index & CHUNK_MASK] = flush;
      if (user) store.setFlags(index, store.row(index).flags | F_USER);
      if (kernelMmio) store.setFlags(index, store.row(index).flags | F_KMMIO);
      store.setCycles(index, cycles);
    }
    this.cycles += cycles;
    if (r.action === "halt") {
      this.halted = { message: r.message };
      return r;
    }
    // A vCPU that blocked (WFI) or powered off re-enters when it is woken or powered on.
    if (this.sched.states[this.sched.current] === "running") this.enter();
    return r;
  }

  /** KVM is in the host handling the loaded vCPU's exit (an SGI it sends to itself needs no kick). */
  handling = false;

  protected override handlePending(index: number): HandleResult {
    this.handling = true;
    try {
      return this.handleExitAt(index);
    } finally {
      this.handling = false;
    }
  }

  loadVcpu(id: number): void {
    if (this.cpu === this.vcpus[id]!.cpu) return;
    const v = this.vcpus[id]!;
    this.cpu = v.cpu;
    this.kvm = v.kvm;
    this.timer = v.timer;
    this.engine.use(v.cpu);
    this.vgic.load(id);
    this.sched.current = id;
  }

  enterGuest(): void {
    this.enter();
  }

  traceWakeup(ns: number): void {
    this.emit("kvm_vcpu_wakeup", { ns, waited: true, valid: true });
  }

  fireTimers(): void {
    fireDue(this);
  }

  /** PSCI CPU_OFF of the loaded vCPU: true when it was the last one on. */
  cpuOff(): boolean {
    return this.sched.count === 1 ? true : powerOff(this);
  }

  /**
   * `irq N` from the VMM (KVM_IRQ_LINE: irq.ts): a PPI to the selected vCPU (`vcpu N`), an SPI to
   * the distributor; the vCPU it reaches is kicked.
   */
  injectIrq(intid: number): string {
    return injectIrq(this, intid, this.selected);
  }

  /** A KVM tracepoint of this VM, stamped now (for the modules that act for the machine). */
  traceEvent(name: Arm64TracepointName, fields: Record<string, FieldValue>): void {
    this.emit(name, fields);
  }

  // ---- registers, memory, settings ----

  registerNames(): readonly string[] {
    return ARM64_REGISTER_NAMES;
  }

  /** A register of the selected vCPU (`vcpu N`) by name (register-access.ts). */
  readRegister(name: string): bigint {
    return readCpuRegister(this.viewVcpu.cpu, name);
  }

  writeRegister(name: string, value: bigint): void {
    writeCpuRegister(this.viewVcpu.cpu, name, value);
  }

  /** The vCPU the lab addresses (`vcpu N`; vCPU 0 unless selected). */
  get viewVcpu(): Arm64Vcpu {
    return this.vcpus[this.selected]!;
  }

  /** The vCPUs as the lab sees them (core/vcpus.ts VcpuControl). */
  readonly vcpuControl: VcpuControl = vcpuControl(this);

  disassemble(address: bigint, count: number): DisasmLine[] {
    const out: DisasmLine[] = [];
    for (let i = 0; i < count; i++) {
      const a = address + BigInt(4 * i);
      const word = this.insnWord(a);
      if (word === undefined) {
        out.push({ address: a, bytes: new Uint8Array(0), text: "(not guest RAM)" });
        break;
      }
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, word, true);
      out.push({ address: a, bytes, text: disassembleA64(word, a) });
    }
    return out;
  }

  set(name: string, value: FieldValue): void {
    if (this.setCap(name, value)) return;
    applyArm64Setting(this, name, value);
  }

  setTrap(trap: TrapRequest, enabled: boolean): string {
    return applyTrap(this, trap, enabled);
  }

  view(name: string, arg?: string): MachineView {
    return machineView(this, name, arg);
  }
}

/** kvm_arm_exception_type (arch/arm64/include/asm/kvm_asm.h): ARM_EXCEPTION_IRQ 0, ARM_EXCEPTION_TRAP 2. */
const ARM_EXCEPTION_IRQ = 0, ARM_EXCEPTION_TRAP = 2;

export function createArm64Machine(options: MachineOptions = {}): Arm64Machine {
  return new Arm64Machine(options);
}
