// Register names the x86 machine accepts (read/write/show), 64-bit and 32-bit views of the GPRs:
// the instruction set's lists in encoding order (isa/types.ts), one copy.

import { GPR32, GPR64 } from "./isa/types.js";

/** The 64-bit GPRs by register number (SDM Vol. 2 Table 2-2), as the machine names them. */
export const GPR64_NAMES: readonly string[] = GPR64;
/** The 32-bit views of the GPRs by register number. */
export const GPR32_NAMES: readonly string[] = GPR32;
const OTHER = ["rip", "rflags", "cr0", "cr2", "cr3", "cr4", "cr8", "efer", "cs", "ds", "es", "fs", "gs", "ss"];
export const X86_REGISTER_NAMES: readonly string[] = [...GPR64_NAMES, ...GPR32_NAMES, ...OTHER];
