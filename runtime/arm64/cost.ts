// Modelled cost of one exit round trip on arm64 KVM (guest → EL2 → host kernel → EL2 → guest), in
// host cycles, as named components. Calibration:
// - Dall et al., "ARM Virtualization: Performance and Architectural Implications", ISCA 2016,
//   Table II: a KVM ARM hypercall round trip of roughly 6,500 cycles on an APM X-Gene (non-VHE:
//   EL2 switches to the host kernel at EL1 and back, saving and restoring the EL1 system
//   registers, the vGIC and the timer) against roughly 1,300 on x86 — recalled, and confirmed only
//   second-hand (hyp/costs.ts, "Provenance": a research note quoting Table II), not against the paper.
// The world switch itself is not a constant: it is the hyp's A64 code executed at EL2
// (runtime/arm64/hyp/: nVHE or VHE, by the VM's `model`), its instructions and system-register
// accesses weighted by hyp/costs.ts. What stays constant here is the host side: the host kernel's
// run loop and the handlers (ESTIMATES of this model; each component's `source` says which).
// Guest instructions cost 1 cycle.

import { totalCost, type CostComponent, type ExitCost } from "../core/cost.js";
import { switchComponents, switchProfile } from "./hyp/switch.js";
import type { HypVariant } from "./hyp/source.js";

export type { CostComponent };

const ESTIMATE = "estimate (exitlab model)";
const DALL = "estimate: round trip ≈ 6,500 cycles after Dall et al. ISCA 2016 Table II (confirmed second-hand, not against the paper)";

/** The 2015 machine's switch: nVHE, EL1 state switched on every exit, GICv2. */
export const DEFAULT_VARIANT: HypVariant = { model: "nvhe", deferred: false, gic: "v2" };

/** The host kernel's part of every exit (between the switches): its run loop. */
export const KVM_EXIT_PATH: CostComponent = { key: "kvm_exit_path", name: "host kernel run loop (kvm_arch_vcpu_ioctl_run, handle_exit)", cycles: 700, source: DALL };

/** The world switch of `variant` for an exit of `kind`, executed at EL2, plus the host's run loop. */
export function worldSwitch(variant: HypVariant = DEFAULT_VARIANT, kind: "trap" | "irq" = "trap"): CostComponent[] {
  return [...switchComponents(switchProfile(variant, kind)), KVM_EXIT_PATH];
}

const HANDLER: Record<string, CostComponent> = {
  HVC64: { key: "handler", name: "handle_hvc → kvm_psci_call", cycles: 300, source: DALL },
  SYS64: { key: "handler", name: "kvm_handle_sys_reg (emulate_sys_reg)", cycles: 400, source: ESTIMATE },
  WFx: { key: "handler", name: "kvm_handle_wfx", cycles: 300, source: ESTIMATE },
  IABT_LOW: { key: "handler", name: "kvm_handle_guest_abort → user_mem_abort (map a page)", cycles: 3000, source: ESTIMATE },
  DABT_LOW: { key: "handler", name: "kvm_handle_guest_abort (map a page, or io_mem_abort)", cycles: 3000, source: ESTIMATE },
};
/**
 * Dall et al., ISCA 2016, Table II, KVM on ARM (APM X-Gene, cycles; recalled, and confirmed
 * second-hand by a research note quoting the table, hyp/costs.ts "Provenance", not against the paper): "Interrupt Controller Trap" 7,370 — a guest
 * access to the emulated distributor, handled in the kernel; "Virtual IRQ Completion" 71 — the
 * guest's EOI through the virtual CPU interface, no exit (x86 KVM without APICv: 1,556).
 */
export const DALL_TABLE2 = { hypercall: 6500, interruptControllerTrap: 7370, virtualIrqCompletion: 71 } as const;
const DALL_GIC = "Dall et al. ISCA 2016 Table II, Interrupt Controller Trap 7,370 cycles (confirmed second-hand) less the modelled world switch: an estimate";
/** The in-kernel vGIC distributor access: Table II's trap less this model's 2015 world switch (computed once). */
let kernelMmio: CostComponent | undefined;
function kernelMmioHandler(): CostComponent {
  return (kernelMmio ??= {
    key: "handler",
    name: "io_mem_abort → the vGIC distributor (in the kernel)",
    cycles: DALL_TABLE2.interruptControllerTrap - worldSwitch().reduce((a, c) => a + c.cycles, 0),
    source: DALL_GIC,
  });
}
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
export function exitCost(reason: string, extra: { flushBytes?: number; userspace?: boolean; kernelMmio?: boolean } = {}, variant: HypVariant = DEFAULT_VARIANT): ExitCost {
  const components = [...worldSwitch(variant, reason === "IRQ" ? "irq" : "trap"), extra.kernelMmio ? kernelMmioHandler() : HANDLER[reason] ?? { ...DEFAULT_HANDLER, name: `handler for ${reason}` }];
  if (extra.flushBytes) {
    components.push({ key: "dcache_flush", name: `clean ${extra.flushBytes} bytes to PoC`, cycles: Math.ceil(extra.flushBytes / FLUSH_BYTES_PER_CYCLE), source: ESTIMATE });
  }
  if (extra.userspace) components.push({ key: "userspace", name: "KVM_EXIT_MMIO to the VMM and back", cycles: USERSPACE_ROUND_TRIP, source: ESTIMATE });
  return totalCost(components);
}

export const GUEST_INSTRUCTION_CYCLES = 1;
