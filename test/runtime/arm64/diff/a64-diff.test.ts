// Differential tests for the A64 engine (issue 12): seeded random programs — data processing of
// both widths, flag setters and consumers, loads/stores of every size and addressing mode, pairs,
// forward branches and small counted loops — must end in the same registers, NZCV and buffer
// bytes (1) under the interpreter ({ jit: false }) and the compiled path ({ jit: true }), and
// (2) in exitlab and in QEMU user mode (qemu-aarch64) running the same program built by GNU as.
// A failure prints the seed and the program; the generator is test/runtime/difftest/a64-gen.ts.
// Reproduce one program: generateA64(seed, { length: lengthOf(seed) }) and a64ExitlabSource.

import { describe, expect, test } from "vitest";
import { generateA64, a64ProgramText } from "../../difftest/a64-gen.js";
import { A64_QEMU_TOOLS, a64Diff, a64RunExitlab, a64RunQemu } from "../../difftest/a64-run.js";
import { acceptsJit, withContext } from "../../difftest/engine.js";
import { qemuRequired } from "../../difftest/qemu.js";
import { haveTools } from "../../../tools.js";

/** Fixed seeds: program n of a suite has seed BASE + n and a length of 5..60 taken from the seed. */
const JIT_SEED = 0xa64_0000;
const JIT_PROGRAMS = 300;
const QEMU_SEED = 0xa64_8000;
const QEMU_PROGRAMS = 200;
const lengthOf = (seed: number) => 5 + (Math.imul(seed, 0x9e3779b1) >>> 0) % 56;

describe("A64 program generator", () => {
  test("is deterministic and covers the instruction forms", () => {
    expect(generateA64(JIT_SEED, { length: 60 })).toEqual(generateA64(JIT_SEED, { length: 60 }));
    const seen = new Set<string>();
    for (let n = 0; n < JIT_PROGRAMS; n++) for (const l of generateA64(JIT_SEED + n, { length: lengthOf(JIT_SEED + n) }).body) seen.add(l.split(/[\s.]/)[0]!);
    const want = "add adds sub subs cmp cmn tst and orr eor ands bic orn eon bics movz movk movn madd msub mul mneg umulh smulh smaddl umull udiv sdiv lsl lsr asr ror ubfx sbfx bfi bfxil ubfiz sbfiz bfc uxtb sxth sxtw ubfm sbfm bfm csel csinc csinv csneg cset csetm cinc cinv cneg ccmp ccmn adc adcs sbc sbcs ngc clz cls rbit rev rev16 rev32 extr neg negs mvn mov strb ldrb ldrsb strh ldrh ldrsh str ldr ldrsw stur ldur sturb ldurb ldursh ldp stp ldpsw b cbz cbnz tbz tbnz";
    expect(want.split(" ").filter((m) => !seen.has(m))).toEqual([]);
  });
});

describe("A64: interpreter vs compiled path", () => {
  test(`${JIT_PROGRAMS} random programs agree on every register, flag and buffer byte`, () => {
    expect(acceptsJit("arm64")).toBe(true);
    for (let n = 0; n < JIT_PROGRAMS; n++) {
      const seed = JIT_SEED + n;
      const p = generateA64(seed, { length: lengthOf(seed) });
      const text = () => a64ProgramText(p);
      const interp = withContext(text, () => a64RunExitlab(p, false));
      const jit = withContext(text, () => a64RunExitlab(p, true));
      const diff = a64Diff(interp, jit);
      if (diff.length) expect.fail(`jit differs from the interpreter (expected = interpreter):\n${diff.join("\n")}\n${text()}`);
    }
  });
});

const HAVE_QEMU = haveTools(...A64_QEMU_TOOLS);
if (!HAVE_QEMU && qemuRequired) throw new Error(`EXITLAB_REQUIRE_QEMU is set but one of ${A64_QEMU_TOOLS.join(", ")} is missing`);

describe.skipIf(!HAVE_QEMU)(`A64: exitlab vs QEMU user mode${HAVE_QEMU ? "" : ` (skipped: needs ${A64_QEMU_TOOLS.join(", ")})`}`, () => {
  test(`${QEMU_PROGRAMS} random programs end in the same state as under qemu-aarch64`, () => {
    const programs = Array.from({ length: QEMU_PROGRAMS }, (_, n) => generateA64(QEMU_SEED + n, { length: lengthOf(QEMU_SEED + n), labelPrefix: `p${n}_` }));
    const qemu = a64RunQemu(programs);
    programs.forEach((p, n) => {
      const text = () => a64ProgramText(p);
      const diff = a64Diff(qemu[n]!, withContext(text, () => a64RunExitlab(p, false)));
      if (diff.length) expect.fail(`exitlab differs from QEMU (expected = QEMU):\n${diff.join("\n")}\n${text()}`);
    });
  });
});
