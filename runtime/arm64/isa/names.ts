// System-register names for MRS/MSR come from the sysreg table in runtime/arm64/sysregs.ts (which
// must not import the ISA). Generic S<op0>_<op1>_C<n>_C<m>_<op2> names (Arm ARM C5.3) are always
// accepted; setSysregNames() can install another table (tests do).

import { setSysregNames } from "./sysnames.js";
import { sysregByEncoding, sysregByName } from "../sysregs.js";

export const DEFAULT_SYSREG_NAMES = { byName: sysregByName, byEncoding: sysregByEncoding };
setSysregNames(DEFAULT_SYSREG_NAMES);

export { setSysregNames };
