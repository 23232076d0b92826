// Modelled cost of one exit round trip on arm64 KVM (guest → EL2 → host kernel → EL2 → guest), in
// host cycles, as named components. Calibration:
// - Dall et al., "ARM Virtualization: Performance and Architectural Implications", ISCA 2016,
//   Table II: a KVM ARM hypercall round trip of roughly 6,500 cycles on an APM X-Gene (non-VHE:
//   EL2 switches to the host kernel at EL1 and back, saving and restoring the EL1 system
//   registers, the vGIC and the timer) against roughly 1,300 on x86 — figures recalled, NOT
//   verified here: treat them as estimates.
// The split of that round trip into components and every handler figure are ESTIMATES of this
// model; each component's `source` says which. Guest instructions cost 1 cycle.

import { totalCost, type CostComponent, type ExitCost } from "../core/cost.js";

export type { CostComponent };

const ESTIMATE = "estimate (exitlab model)";
const DALL = "estimate: round trip ≈ 6,500 cycles after Dall et al. ISCA 2016 Table II (recalled, unverified)";

/** The non-VHE world switch: trap to EL2, switch to the host's EL1 context and back, eret to the guest. */
export const ARM_WORLD_SWITCH: readonly CostComponent[] = [
  { key: "trap", name: "exception to EL2 and eret (hardware)", cycles: 200, source: DALL },
  { key: "el1_switch", name: "save/restore guest and host EL1 system registers (__kvm_vcpu_run)", cycles: 2800, source: DALL },
  { key: "vgic_timer", name: "save/restore vGIC and virtual timer state", cycles: 2500, source: DALL },
  { key: "kvm_exit_path", name: "host kernel run loop (kvm_arch_vcpu_ioctl_run, handle_exit)", cycles: 700, source: DALL },
];

const HANDLER: Record<string, CostComponent> = {
  HVC64: { key: "handler", name: "handle_hvc → kvm_psci_call", cycles: 300, source: DALL },
  SYS64: { key: "handler", name: "kvm_handle_sys_reg (emulate_sys_reg)", cycles: 400, source: ESTIMATE },
  WFx: { key: "handler", name: "kvm_handle_wfx", cycles: 300, source: ESTIMATE },
  IABT_LOW: { key: "handler", name: "kvm_handle_guest_abort → user_mem_abort (map a page)", cycles: 3000, source: ESTIMATE },
  DABT_LOW: { key: "handler", name: "kvm_handle_guest_abort (map a page, or io_mem_abort)", cycles: 3000, source: ESTIMATE },
};
/**
 * Dall et al., ISCA 2016, Table II, KVM on ARM (APM X-Gene, cycles; recalled from the paper, not
 * verified against a stored copy here: estimates): "Interrupt Controller Trap" 7,370 — a guest
 * access to the emulated distributor, handled in the kernel; "Virtual IRQ Completion" 71 — the
 * guest's EOI through the virtual CPU interface, no exit (x86 KVM without APICv: 1,556).
 */
export const DALL_TABLE2 = { hypercall: 6500, interruptControllerTrap: 7370, virtualIrqCompletion: 71 } as const;
const DALL_GIC = "Dall et al. ISCA 2016 Table II, Interrupt Controller Trap 7,370 cycles less the world switch (recalled, unverified: estimate)";
/** The in-kernel vGIC distributor access: Table II's trap less this model's world switch. */
const KERNEL_MMIO: CostComponent = {
  key: "handler",
  name: "io_mem_abort → the vGIC distributor (in the kernel)",
  cycles: DALL_TABLE2.interruptControllerTrap - ARM_WORLD_SWITCH.reduce((a, c) => a + c.cycles, 0),
  source: DALL_GIC,
};
HANDLER.IRQ = { key: "handler", name: "host IRQ handler (kvm_arch_timer_handler / vgic maintenance), handle_exit returns 1", cycles: 300, source: ESTIMATE };

const DEFAULT_HANDLER: CostComponent = { key: "handler", name: "handler", cycles: 300, source: ESTIMATE };

/** Cleaning to the point of coherency: about 8 bytes per cycle (estimate). */
export const FLUSH_BYTES_PER_CYCLE = 8;
/** KVM_EXIT_MMIO round trip through the VMM (QEMU) and back into KVM_RUN (estimate). */
export const USERSPACE_ROUND_TRIP = 12000;

/**
 * An exit's modelled cost by reason (an exception class name, or "IRQ"): the world switch and the
 * handler, plus what handling turned out to need (cleaning to PoC, a VMM round trip; an in-kernel
 * vGIC access replaces the abort handler). Cycles of the modelled 1 GHz core.
 */
export function exitCost(reason: string, extra: { flushBytes?: number; userspace?: boolean; kernelMmio?: boolean } = {}): ExitCost {
  const components = [...ARM_WORLD_SWITCH, extra.kernelMmio ? KERNEL_MMIO : HANDLER[reason] ?? { ...DEFAULT_HANDLER, name: `handler for ${reason}` }];
  if (extra.flushBytes) {
    components.push({ key: "dcache_flush", name: `clean ${extra.flushBytes} bytes to PoC`, cycles: Math.ceil(extra.flushBytes / FLUSH_BYTES_PER_CYCLE), source: ESTIMATE });
  }
  if (extra.userspace) components.push({ key: "userspace", name: "KVM_EXIT_MMIO to the VMM and back", cycles: USERSPACE_ROUND_TRIP, source: ESTIMATE });
  return totalCost(components);
}

export const GUEST_INSTRUCTION_CYCLES = 1;
