// PSCI over HVC as KVM implements it (Linux v4.1 arch/arm/kvm/psci.c, PSCI 0.2; "today" reports
// PSCI 1.0+). Function IDs and return codes: Arm DEN 0022 (PSCI specification) Table 5 and 6.

import type { KvmEra } from "../../core/trace.js";

export interface PsciFunction {
  id: number;
  name: string;
  doc: string;
}

export const PSCI_FUNCTIONS: readonly PsciFunction[] = [
  { id: 0x8400_0000, name: "PSCI_VERSION", doc: "return the PSCI version (major << 16 | minor)" },
  { id: 0x8400_0001, name: "CPU_SUSPEND", doc: "suspend the calling CPU (KVM: like WFI)" },
  { id: 0x8400_0002, name: "CPU_OFF", doc: "power the calling CPU down" },
  { id: 0xc400_0003, name: "CPU_ON", doc: "power a CPU up at an entry point (SMC64/HVC64 calling convention)" },
  { id: 0xc400_0004, name: "AFFINITY_INFO", doc: "state of a CPU" },
  { id: 0x8400_0006, name: "MIGRATE_INFO_TYPE", doc: "Trusted OS migration: 2 = not present / MP" },
  { id: 0x8400_0008, name: "SYSTEM_OFF", doc: "power the system off (KVM_EXIT_SYSTEM_EVENT to the VMM)" },
  { id: 0x8400_0009, name: "SYSTEM_RESET", doc: "reset the system (KVM_EXIT_SYSTEM_EVENT to the VMM)" },
];

export const PSCI_RET = { SUCCESS: 0n, NOT_SUPPORTED: (1n << 64n) - 1n, INVALID_PARAMS: (1n << 64n) - 2n } as const;

const BY_ID = new Map(PSCI_FUNCTIONS.map((f) => [f.id, f]));

let lastId = -1n;
let lastFn: PsciFunction | undefined;

export function psciFunction(id: bigint): PsciFunction | undefined {
  // Guests call the same function in a row: compare before computing the 32-bit id.
  if (id === lastId) return lastFn;
  lastFn = BY_ID.get(Number(id & 0xffff_ffffn));
  lastId = id;
  return lastFn;
}

/** The PSCI function with this 32-bit function ID (W0), if KVM implements it. */
export function psciFunctionById(id: number): PsciFunction | undefined {
  // Guests call the same function in a row (a PSCI_VERSION loop, a poll).
  if (id === lastById) return lastByIdFn;
  lastByIdFn = BY_ID.get(id);
  lastById = id;
  return lastByIdFn;
}
let lastById = -1;
let lastByIdFn: PsciFunction | undefined;

/** PSCI_VERSION's answer per era: 0.2 (Linux 4.1), 1.1 today. */
export function psciVersion(era: KvmEra): bigint {
  return era === "2015" ? 0x2n : 0x1_0001n;
}
