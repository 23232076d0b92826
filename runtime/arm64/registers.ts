// Names the arm64 machine answers to in readRegister/writeRegister (and completion): the general
// registers, sp/pc/pstate, and the system registers of the sysreg table.

import { SYSREGS } from "./sysregs.js";

export const ARM64_REGISTER_NAMES: readonly string[] = [
  ...Array.from({ length: 31 }, (_, i) => `x${i}`),
  ...Array.from({ length: 31 }, (_, i) => `w${i}`),
  "sp", "pc", "pstate", "el",
  ...SYSREGS.map((r) => r.name.toLowerCase()),
];
