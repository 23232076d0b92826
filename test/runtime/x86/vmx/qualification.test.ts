import { describe, expect, test } from "vitest";
import { CR_ACCESS_QUAL, EPT_VIOLATION_QUAL, IO_QUAL, INTR_INFO, decodeQual, encodeQual } from "../../../../runtime/x86/vmx/qualification.js";

describe("exit-qualification codecs (SDM Vol. 3 Tables 27-3, 27-5, 27-7)", () => {
  test("fields of each layout do not overlap", () => {
    for (const l of [CR_ACCESS_QUAL, IO_QUAL, EPT_VIOLATION_QUAL, INTR_INFO]) {
      let used = 0n;
      for (const f of l.fields) {
        const m = ((1n << BigInt(f.width)) - 1n) << BigInt(f.lsb);
        expect(used & m, `${l.name}.${f.name}`).toBe(0n);
        used |= m;
      }
    }
  });

  test("the talk's EPT qualifications: 0x184 is a fetch, 0x181 a read, both final with a valid GLA", () => {
    expect(decodeQual(EPT_VIOLATION_QUAL, 0x184n)).toMatchObject({ read: 0, write: 0, fetch: 1, readable: 0, gla_valid: 1, final_translation: 1 });
    expect(decodeQual(EPT_VIOLATION_QUAL, 0x181n)).toMatchObject({ read: 1, fetch: 0, gla_valid: 1, final_translation: 1 });
  });

  test("the talk's CR qualifications: 4, 3, 0 are mov-to-CR4/3/0 from rax", () => {
    for (const cr of [4, 3, 0]) expect(decodeQual(CR_ACCESS_QUAL, BigInt(cr))).toMatchObject({ cr, access_type: 0, gpr: 0 });
    expect(decodeQual(CR_ACCESS_QUAL, 0x0813n)).toMatchObject({ cr: 3, access_type: 1, gpr: 8 });
    expect(decodeQual(CR_ACCESS_QUAL, 0x000b_0030n)).toMatchObject({ access_type: 3, lmsw_source: 0xb });
  });

  test("I/O: out %al to 0x3f8 via dx, in %eax from imm port", () => {
    expect(encodeQual(IO_QUAL, { size: 0, direction: 0, operand_encoding: 0, port: 0x3f8 })).toBe(0x3f8_0000n);
    expect(decodeQual(IO_QUAL, 0x00f4_004bn)).toMatchObject({ size: 3, direction: 1, string: 0, operand_encoding: 1, port: 0xf4 });
  });

  test("encode rejects values that do not fit", () => {
    expect(() => encodeQual(CR_ACCESS_QUAL, { cr: 16 })).toThrow(RangeError);
  });
});
