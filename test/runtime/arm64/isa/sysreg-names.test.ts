// MRS/MSR use the installed system-register name table (runtime/arm64/sysregs.ts in the machine);
// the generic s<op0>_<op1>_c<n>_c<m>_<op2> form always works.

import { describe, it, expect } from "vitest";
import { assembleA64, disassembleA64, setSysregNames, DEFAULT_SYSREG_NAMES } from "../../../../runtime/arm64/isa/index.js";

const word = (src: string) => new DataView(assembleA64(src).bytes.buffer).getUint32(0, true);

describe("system register names", () => {
  it("uses an installed table for both directions", () => {
    const regs = [{ name: "SCTLR_EL1", op0: 3, op1: 0, crn: 1, crm: 0, op2: 0 }, { name: "HCR_EL2", op0: 3, op1: 4, crn: 1, crm: 1, op2: 0 }];
    setSysregNames({
      byName: (n) => regs.find((r) => r.name === n.toUpperCase()),
      byEncoding: (e) => regs.find((r) => r.op0 === e.op0 && r.op1 === e.op1 && r.crn === e.crn && r.crm === e.crm && r.op2 === e.op2),
    });
    try {
      expect(word("mrs x0, sctlr_el1")).toBe(0xd5381000); // GNU as
      expect(word("msr hcr_el2, x1")).toBe(0xd51c1101);
      expect(disassembleA64(0xd5181000, 0n)).toBe("msr sctlr_el1, x0");
      expect(word("mrs x0, s3_0_c1_c0_0")).toBe(0xd5381000);
    } finally {
      setSysregNames(undefined);
    }
    expect(disassembleA64(0xd5181000, 0n)).toBe("msr s3_0_c1_c0_0, x0");
    setSysregNames(DEFAULT_SYSREG_NAMES);
  });

  it("installs the machine's sysreg table (runtime/arm64/sysregs.ts) by default", () => {
    expect(word("mrs x2, id_aa64mmfr0_el1")).toBe(0xd5380702); // GNU as
    expect(word("msr tcr_el1, x1")).toBe(0xd5182041);
    expect(word("msr vttbr_el2, x0")).toBe(0xd51c2100);
    expect(disassembleA64(0xd5182041, 0n)).toBe("msr tcr_el1, x1");
    expect(disassembleA64(0xd53c6082, 0n)).toBe("mrs x2, hpfar_el2");
  });
});
