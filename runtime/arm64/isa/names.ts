// System-register names for MRS/MSR come from the sysreg table in runtime/arm64/sysregs.ts
// (owned by the machine side). It is loaded here when present, so that the ISA keeps working —
// with the generic S<op0>_<op1>_C<n>_C<m>_<op2> names of Arm ARM C5.3 — while that table does
// not exist yet. The lead can also install any table with setSysregNames().

import { setSysregNames, type SysregNames } from "./sysnames.js";

interface SysregModule {
  sysregByName?: (name: string) => { op0: number; op1: number; crn: number; crm: number; op2: number } | undefined;
  sysregByEncoding?: (enc: { op0: number; op1: number; crn: number; crm: number; op2: number }) => { name: string } | undefined;
}

const SYSREGS_MODULE = "../sysregs.js";
try {
  const m = (await import(SYSREGS_MODULE)) as SysregModule;
  if (typeof m.sysregByName === "function" && typeof m.sysregByEncoding === "function") {
    const table: SysregNames = { byName: m.sysregByName, byEncoding: m.sysregByEncoding };
    setSysregNames(table);
  }
} catch {
  // no sysreg table (yet): generic names only
}

export { setSysregNames };
