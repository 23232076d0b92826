// The arm64 machine: a guest CPU at EL1 under EL2 + guest RAM on a mach-virt-like map + a PL011
// UART + the KVM/arm64 model. step/run execute guest instructions until a trap rule raises an
// exception to EL2; the hardware's part of the exit (ESR_EL2, FAR_EL2, HPFAR_EL2, ELR_EL2,
// SPSR_EL2) is recorded, traced (kvm_exit) and left pending; handle() runs KVM's handler for the
// exception class and re-enters the guest.

import { GuestMemory } from "../core/memory.js";
import { MmioBus } from "../core/bus.js";
import { HostMemory } from "../core/host-memory.js";
import { TraceLog, type FieldValue, type TraceEmitter } from "../core/trace.js";
import { ExitlabError } from "../core/errors.js";
import { VmBase } from "../core/vm-base.js";
import { DEFAULT_RAM_MIB, guestRamBytes, type DisasmLine, type HandleResult, type Machine, type MachineOptions, type MachineSettings, type MachineView, type TrapRequest } from "../core/machine.js";
import { disassembleA64 } from "./isa/index.js";
import { A64Engine } from "./engine.js";
import { A64Cpu, CpuStop, El2Trap } from "./cpu.js";
import { REG, join64, value64 } from "./state.js";
import { exceptionClass } from "./esr.js";
import { ExitStore } from "../core/exits.js";
import { CHUNK_MASK, putU64, setU64, type ColumnArray } from "../core/columns.js";
import type { HypModel, HypVariant } from "./hyp/source.js";
import { variantId } from "./exit-schema.js";
import { ARM64_EXIT_SCHEMA, F_FAR, F_HPFAR, F_KMMIO, F_SMP, F_USER, F_VAL, F_WORD } from "./exit-schema.js";
import { KvmVcpu } from "./kvm/vcpu.js";
import { handleExit } from "./kvm/handlers.js";
import type { Granule } from "./kvm/stage2.js";
import { exitCost, GUEST_INSTRUCTION_CYCLES } from "./cost.js";
import { Pl011, PL011_BASE, PL011_SIZE } from "../devices/pl011.js";
import { loadGuest } from "./loader.js";
import { checkSetting } from "../core/settings.js";
import { applyTrap } from "./traps.js";
import { machineView } from "./views.js";
import { ARM64_REGISTER_NAMES } from "./registers.js";
import { ARM64_TRACEPOINT_TABLE, type Arm64TracepointName } from "./tracepoints.js";
import { VirtualClock } from "../core/clock.js";
import { GenericTimer, KVM_CNTHCTL } from "./timer.js";
import { Vgic } from "./kvm/vgic.js";
import { distributorDevices, GICC_BASE, type GicVersion } from "./gic/dist.js";
import { ATTN_STOP } from "./cpu.js";
import { EXIT_IRQ } from "./exit-schema.js";
import { analysePollLoop, cyclesToSkip, type PollLoop } from "./spin.js";
import { DEFAULT_QUANTUM, VcpuScheduler, type VcpuControl } from "../core/vcpus.js";
import { readCpuRegister, writeCpuRegister } from "./register-access.js";
import { psciAffinityInfo, psciCpuOn, vcpuMpidr, type Arm64Vcpu } from "./vcpu-state.js";
import { blockVcpu, othersRunnable, powerOff, schedule, sgiPending, vcpuControl, timerDeadlineName, timerOfDeadline, type SmpMachine } from "./smp.js";

export const GUEST_RAM_BASE = 0x4000_0000;
/** Guest RAM by default (MiB → bytes); MachineOptions.memoryMiB sets another size. */
export const GUEST_RAM_SIZE = DEFAULT_RAM_MIB * 1024 * 1024;
export const DEFAULT_STEP_LIMIT = 10_000_000;
const EC_SYS64 = 0x18, EC_HVC64 = 0x16, EC_SMC64 = 0x17, EC_WFX = 0x01;
/** HVC #0 and SMC #0 (imm16 in bits 20:5), WFI and WFE: Arm ARM C6.2 encodings. */
const CALL_WORD = [0xd400_0002, 0xd400_0003];
const WFI_WORD = 0xd503_207f, WFE_WORD = 0xd503_205f;

/** The cost of an exit known when it happens (world switch + handler), by exception class. */
const reasonName = (ec: number) => (ec === EXIT_IRQ ? "IRQ" : exceptionClass(ec).name);

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

export class Arm64Machine extends VmBase<Arm64TracepointName> implements Machine, SmpMachine {
  readonly arch = "arm64" as const;
  readonly memory: GuestMemory;
  readonly bus = new MmioBus();
  readonly host = new HostMemory();
  readonly trace: TraceLog;
  readonly exits: ExitStore;
  /** Where each arch column of the exit store is. */
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
  readonly symbols: Map<string, bigint>;
  /** The kvm_exit and kvm_entry emitters (trace.emitterOf): every exit emits both. */
  private readonly emitExit: TraceEmitter;
  private readonly emitEntry: TraceEmitter;
  /** Runs guest code: compiled blocks, or one instruction at a time with `jit` off. */
  readonly engine: A64Engine;

  constructor(options: MachineOptions = {}) {
    super();
    const era = (options.settings?.era as Arm64Settings["era"] | undefined) ?? "2015";
    this.settings = { era: "2015", stepLimit: DEFAULT_STEP_LIMIT, granule: "64k", pair_mmio: false, jit: true, gic: era === "2015" ? "v2" : "v3", model: era === "2015" ? "nvhe" : "vhe", vcpus: 1, quantum: DEFAULT_QUANTUM, ...(options.settings ?? {}) } as Arm64Settings;
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
    const guest = loadGuest(this.memory, options.guest ?? { builtin: "boot" }, {
      ram: { base: GUEST_RAM_BASE, size: ramSize },
      uart: { base: PL011_BASE, size: PL011_SIZE },
      gic: this.settings.gic,
      vcpus: this.settings.vcpus,
    });
    this.symbols = guest.symbols;
    this.sched = new VcpuScheduler(this.settings.vcpus, this.settings.quantum);
    // Modelled time: cycles so far plus the instructions of the run in progress, plus time blocked.
    this.clock = new VirtualClock(() => this.cycles + this.engine.retired * GUEST_INSTRUCTION_CYCLES);
    for (let i = 0; i < this.settings.vcpus; i++) this.vcpus.push(this.makeVcpu(i));
    const boot = this.vcpus[0]!;
    this.cpu = boot.cpu;
    this.kvm = boot.kvm;
    this.timer = boot.timer;
    this.engine = new A64Engine(this.cpu, this.memory);
    for (const v of this.vcpus.slice(1)) this.engine.attach(v.cpu);
    this.vgic = this.makeVgic(this.settings.gic);
    this.engine.jit = this.settings.jit;
    this.memory.onWrite = (page, pa, size) => this.engine.codeWritten(page, pa, size);
    // kvm_reset_vcpu of every vCPU; the secondaries stay off until PSCI CPU_ON.
    for (const v of this.vcpus) this.resetVcpu(v.id, v.id === 0 ? guest.entry : 0n, v.id === 0 ? guest.dtb : 0n);
    this.enter();
  }

  /** KVM_CREATE_VCPU: vCPU `id`'s CPU, KVM state and timer, wired to the VM (its vGIC interface comes with the vGIC). */
  private makeVcpu(id: number): Arm64Vcpu {
    const cpu = new A64Cpu(this.memory, this.bus, this.host.memory);
    const kvm = new KvmVcpu({
      cpu,
      memory: this.memory,
      bus: this.bus,
      host: this.host,
      era: () => this.settings.era,
      granule: () => this.settings.granule,
      pairMmio: () => this.settings.pair_mmio,
      emit: (name, fields) => this.emit(name, fields),
      emitter: (name) => this.emitterFor(name),
      block: () => this.block(),
      timerReg: { read: (n) => this.timer.read(n), write: (n, v) => this.timer.write(n, v) },
      sgi1r: (v) => this.vgic.sgi1r(v),
      psci: {
        cpuOn: (t, e, c) => psciCpuOn(this, this.settings.era, t, e, c),
        affinityInfo: (t, l) => psciAffinityInfo(this, this.settings.era, t, l),
        cpuOff: () => this.cpuOff(),
      },
    });
    // One stage 2 per VM: every vCPU's VTTBR_EL2 points at the same tables.
    if (id > 0) kvm.stage2 = this.vcpus[0]!.kvm.stage2;
    cpu.clock = () => this.clock.now();
    const timer = new GenericTimer(this.clock, () => Number(cpu.reg("CNTFRQ_EL0")), () => this.timerChanged(id));
    cpu.mapDirect = (ipa) => kvm.mapDirect(ipa);
    cpu.counterRead = (virtual, rt) => this.skipPolling(virtual, rt);
    return { id, cpu, kvm, timer, exits: 0, steps: 0, blockedAt: 0, resume: "" };
  }

  /** kvm_reset_vcpu of vCPU `id`: registers reset, pc = `pc`, x0 = `x0`, its MPIDR, KVM's timer traps and vGIC view. */
  resetVcpu(id: number, pc: bigint, x0: bigint): void {
    const v = this.vcpus[id]!;
    if (id > 0) v.cpu.resetRegisters();
    v.kvm.reset(pc, x0);
    v.cpu.writeSysregValue("CNTHCTL_EL2", KVM_CNTHCTL);
    v.cpu.setReg("VMPIDR_EL2", vcpuMpidr(id));
    if (this.vgic) this.vgicCpu(v, this.vgic);
    if (id > 0) {
      // kvm_timer_vcpu_reset: both timers disabled, their deadlines gone.
      for (const t of v.timer.timers) {
        (t.ctl = 0), (t.fired = false);
        this.clock.schedule(timerDeadlineName(id, t.def.name), null);
      }
    }
  }

  /** The VM's modelled time (core/clock.ts): counters, timers and blocking derive from it. */
  readonly clock: VirtualClock;
  /** The loaded vCPU's generic timer (timer.ts). */
  timer: GenericTimer;
  /** KVM's vGIC of this VM (kvm/vgic.ts). */
  vgic: Vgic;
  /** Bus regions of the current vGIC (replaced with it). */
  private gicRegions: { base: number; size: number }[] = [];

  /** Create the vGIC (KVM_CREATE_DEVICE): distributor frames on the bus as in-kernel devices, GICV mapped directly (v2) or the ICC_* registers (v3). */
  private makeVgic(version: GicVersion): Vgic {
    for (const r of this.gicRegions) this.bus.remove(r.base);
    const hooks = this.vcpus.map((x) => ({ timer: x.timer, onVirq: (on: boolean) => x.cpu.setVirq(on), onPhysical: () => (x.cpu.attention |= ATTN_STOP) }));
    const v = new Vgic(version, () => this.settings.era, hooks, (t) => sgiPending(this, t));
    v.load(this.sched.current);
    const regions = [...distributorDevices(v.dist)];
    if (version === "v2") regions.push(v.gicvDevice());
    for (const r of regions) this.bus.add(r.base, r.size, r.device);
    this.gicRegions = regions;
    for (const x of this.vcpus) this.vgicCpu(x, v);
    return v;
  }

  /** A vCPU's side of the vGIC: GICV mapped (v2) or the ICC_* system registers (v3), its timer's and the vGIC's registers. */
  private vgicCpu(x: Arm64Vcpu, v: Vgic): void {
    const version = v.version;
    x.kvm.directMmio = version === "v2" ? [{ base: GICC_BASE, size: 0x2000 }] : [];
    x.cpu.gicSysregs = version === "v3";
    // ID_AA64PFR0_EL1.GIC (27:24): 1 = the GICv3 system-register interface (KVM sets it with a vGICv3).
    const pfr0 = x.cpu.reg("ID_AA64PFR0_EL1") & ~(0xfn << 24n);
    x.cpu.sysregs.set("ID_AA64PFR0_EL1", version === "v3" ? pfr0 | (1n << 24n) : pfr0);
    x.cpu.sysregHook = {
      read: (n) => x.timer.read(n) ?? (version === "v3" ? v.readIcc(n) : undefined),
      write: (n, val) => x.timer.write(n, val) || (version === "v3" && v.writeIcc(n, val)),
    };
  }

  /** A timer register of vCPU `id` changed: reschedule its deadlines and stop the running chunk at the next block boundary. */
  private timerChanged(id: number): void {
    const x = this.vcpus[id]!;
    for (const t of x.timer.timers) this.clock.schedule(timerDeadlineName(id, t.def.name), x.timer.deadline(t));
    x.cpu.attention |= ATTN_STOP;
  }

  /**
   * Deadlines due: a timer's output goes high while the guest runs, which is a physical interrupt
   * to the host (the virtual timer's PPI 27; the host hrtimer emulating the physical one) and so an
   * IRQ exit; KVM injects the virtual interrupt on the way back in.
   */
  private fireDue(): void {
    for (const name of this.clock.due()) {
      const { id, timer } = timerOfDeadline(name);
      const t = this.vcpus[id]!.timer.timers.find((x) => x.def.name === timer)!;
      t.fired = true;
      this.clock.schedule(name, null);
      // Another vCPU's: it takes the interrupt when it runs (an IRQ exit), or wakes from WFI with its line high.
      if (id === this.sched.current) this.vgic.raisePhysical(t.def.intid);
      else if (this.sched.states[id] === "running") this.vgic.raisePhysicalOn(id, t.def.intid);
      else this.vgic.withVcpu(id, () => this.vgic.syncTimers());
    }
  }

  /** Polling loops found (spin.ts), by the guest-physical address of their counter read. */
  private readonly pollLoops = new Map<number, PollLoop | null>();

  /** At a counter read: skip the iterations of a recognised polling loop that would not end it (spin.ts). */
  private skipPolling(virtual: boolean, rt: number): void {
    const cpu = this.cpu;
    if (cpu.attention !== 0) return;
    if (this.sched.count > 1 && othersRunnable(this)) return;
    let pa: number;
    try {
      pa = cpu.mmu.translate(cpu.state.pc, "fetch", cpu.state.el);
    } catch {
      return;
    }
    const mem = this.memory;
    let loop = this.pollLoops.get(pa);
    if (loop === undefined || (loop !== null && loop.words.some((w, i) => mem.read32(loop!.first + 4 * i) !== w))) {
      loop = analysePollLoop((p) => mem.read32(p), pa, rt);
      this.pollLoops.set(pa, loop);
    }
    if (loop === null) return;
    const x = cpu.state.x;
    const freq = Number(cpu.reg("CNTFRQ_EL0"));
    const off = virtual ? this.timer.cntvoff : 0n;
    const clock = this.clock;
    const now = clock.now();
    const count = clock.ticks(freq, now) - off;
    const skip = cyclesToSkip(loop, count, loop.start >= 0 ? x[loop.start]! : 0n, x[loop.bound]!, now, clock.next, (t) => clock.cycleOfTick(t + off, freq));
    if (skip > 0) clock.skip(skip);
  }

  /** kvm_vcpu_block for WFI: ns blocked (0 when an interrupt is pending), or -1 when nothing can wake the vCPU. */
  private block(): number {
    if (this.vgic.pendingForVcpu()) return 0;
    if (this.sched.count > 1) return blockVcpu(this);
    const slept = this.clock.sleepToNext();
    if (slept < 0) return -1;
    // The timer that woke the vCPU: the host took its interrupt while the vCPU slept (no exit).
    for (const name of this.clock.due()) {
      const t = this.timer.timers.find((x) => x.def.name === name)!;
      t.fired = true;
      this.clock.schedule(name, null);
    }
    this.vgic.syncTimers();
    const ns = this.clock.nanos(slept);
    this.emit("kvm_vcpu_wakeup", { ns, waited: true, valid: true });
    return Math.max(1, ns);
  }



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

  /** kvm_exit's and kvm_entry's field records, reused by every exit and entry (the trace copies them into its columns). */
  private readonly exitFields: Record<string, FieldValue> = { vcpu_pc: 0, esr_ec: 0, type: 2 };
  private readonly entryFields: Record<string, FieldValue> = { vcpu_pc: 0 };

  /** Re-enter the guest (the eret at the end of __kvm_vcpu_run). */
  private enter(): void {
    this.vgic.flush();
    this.entryFields.vcpu_pc = this.cpu.state.pcValue();
    this.emitEntry(this.steps, this.cycles, this.entryFields);
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
  private variantCode = 0;
  private switchChanged(): void {
    this.baseCyclesCache = [];
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
    this.emitExit(this.steps, this.cycles, f);
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
    this.emitExit(this.steps, this.cycles, f);
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
    if (sched.count > 1) {
      sched.charge(Math.max(1, n));
      this.vcpus[sched.current]!.steps += n;
    }
    return n;
  }

  /** execMany on the loaded vCPU. */
  private execVcpu(max: number): number {
    const s = this.cpu.state;
    // Modelled time first: a deadline due or a physical interrupt pending is an IRQ exit before
    // the next instruction; otherwise the chunk ends at the next deadline (one cycle per instruction).
    const clock = this.clock;
    if (clock.next !== Infinity || this.vgic.physical.size) {
      if (clock.next <= clock.now()) this.fireDue();
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
    const r = code === EXIT_IRQ ? this.handleIrqExit() : handleExit(this.kvm, code);
    let cycles = this.baseCycles(code);
    const flush = this.kvm.lastFlushBytes;
    const user = this.kvm.lastUserspace;
    const kernelMmio = this.kvm.lastKernelMmio;
    if (flush || user || kernelMmio) {
      // What handling turned out to need: recorded in the exit's columns, its cycles recomputed.
      cycles = exitCost(exceptionClass(code).name, { flushBytes: flush, userspace: user, kernelMmio }, this.switchVariant).cycles;
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
    this.fireDue();
  }

  /** PSCI CPU_OFF of the loaded vCPU: true when it was the last one on. */
  private cpuOff(): boolean {
    return this.sched.count === 1 ? true : powerOff(this);
  }

  /** handle_exit for ARM_EXCEPTION_IRQ: the host handled its interrupt already; resume (KVM returns 1). */
  private handleIrqExit(): HandleResult {
    const what = [...this.vgic.physical].sort((a, b) => a - b);
    this.vgic.physical.clear();
    this.kvm.count("irq_exits");
    this.kvm.lastFlushBytes = 0;
    this.kvm.lastUserspace = false;
    return { action: "resume", message: `IRQ exit: physical interrupt ${what.map((i) => `${i} (${irqName(i)})`).join(", ")} taken by the host; KVM resumes the guest` };
  }

  /**
   * `irq N` from the VMM (KVM_IRQ_LINE, level high then low for an edge): the distributor's
   * interrupt N; a running vCPU is kicked (an IRQ exit) so the interrupt reaches it at entry.
   */
  injectIrq(intid: number): string {
    if (!Number.isInteger(intid) || intid < 16 || intid >= 288) throw new ExitlabError(`interrupt ${intid} out of range`, "irq takes a PPI (16..31) or an SPI (32..287) INTID; SGIs come from the guest (GICD_SGIR, ICC_SGI1R_EL1)");
    const type = intid < 32 ? 2 : 1;
    this.emit("kvm_irq_line", { type, vcpu_idx: 0, irq_num: intid < 32 ? intid : intid - 32, level: 1 });
    this.vgic.injectLine(intid, true);
    if (this.vgic.dist.edge[intid] === 0) {
      // The VMM lowers the line again at once (a pulse): the latch keeps it pending for the guest.
      this.vgic.dist.latch[intid] = 1;
      this.vgic.injectLine(intid, false);
    }
    this.vgic.raisePhysical(-1);
    return `interrupt ${intid} (${irqName(intid)}) injected${this.vgic.dist.enabled[intid] ? "" : ", disabled in the distributor: it stays pending"}`;
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
    const v = checkSetting(this.arch, name, value);
    switch (name) {
      case "era":
        this.settings.era = v as Arm64Settings["era"];
        this.switchChanged();
        return;
      case "model":
        this.settings.model = v as HypModel;
        this.switchChanged();
        return;
      case "stepLimit":
        this.settings.stepLimit = v as number;
        return;
      case "granule":
        if (v !== this.settings.granule) {
          // A different host page size means a new, empty stage 2: every page faults in again.
          this.settings.granule = v as Arm64Settings["granule"];
          this.kvm.rebuildStage2();
        }
        return;
      case "pair_mmio":
        this.settings.pair_mmio = v as boolean;
        return;
      case "jit":
        this.settings.jit = v as boolean;
        this.engine.jit = v as boolean;
        return;
      case "vcpus":
        if (v !== this.sched.count) throw new ExitlabError(`a booted VM keeps its ${this.sched.count} vCPU${this.sched.count === 1 ? "" : "s"} (KVM creates them before the first run)`, "`set vcpus N` before `vm boot` boots VMs with N");
        return;
      case "quantum":
        this.settings.quantum = v as number;
        this.sched.quantum = v as number;
        return;
      case "gic":
        if (v !== this.settings.gic) {
          // A new vGIC (KVM_CREATE_DEVICE of the other kind): its state starts afresh.
          this.settings.gic = v as GicVersion;
          this.vgic.sync();
          this.vgic = this.makeVgic(v as GicVersion);
          this.switchChanged();
        }
        return;
    }
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

/** What an interrupt is on this machine, for messages. */
function irqName(intid: number): string {
  if (intid === -1) return "kick";
  if (intid < 16) return "SGI";
  if (intid === 25) return "vGIC maintenance";
  if (intid === 27) return "virtual timer";
  if (intid === 30) return "physical timer";
  return intid < 32 ? "PPI" : "SPI";
}

export function createArm64Machine(options: MachineOptions = {}): Arm64Machine {
  return new Arm64Machine(options);
}
