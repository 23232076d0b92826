// The differential tests can fail: a deliberate bug planted in one instruction's template must
// be caught. (1) A bug only in compiled blocks (the template misbehaves when the instruction is
// not the first of its block, i.e. never in the interpreter, which runs blocks of one) must make
// the interpreter-vs-compiled comparison fail. (2) A bug in the template itself (both paths) must
// make the comparison with QEMU fail. The table entry is restored afterwards.

import { afterEach, describe, expect, test } from "vitest";
import { A64_TABLE } from "../../../../runtime/arm64/isa/index.js";
import { konst64, type Gen } from "../../../../runtime/arm64/isa/gen.js";
import type { A64Fields } from "../../../../runtime/arm64/isa/types.js";
import { generateA64 } from "../../difftest/a64-gen.js";
import { A64_QEMU_TOOLS, a64Diff, a64RunExitlab, a64RunQemu } from "../../difftest/a64-run.js";
import { haveTools } from "../../../tools.js";
import { qemuRequired } from "../../difftest/qemu.js";

const HAVE_QEMU = haveTools(...A64_QEMU_TOOLS);
if (!HAVE_QEMU && qemuRequired) throw new Error(`EXITLAB_REQUIRE_QEMU is set but one of ${A64_QEMU_TOOLS.join(", ")} is missing`);

type Emit = (f: A64Fields, g: Gen) => void;
const restore: (() => void)[] = [];
afterEach(() => restore.splice(0).forEach((r) => r()));

/** Replace the template of EOR (shifted register) and every alias that runs it. */
function plantBug(buggy: (original: Emit) => Emit): void {
  const base = A64_TABLE.find((s) => s.name === "EOR_reg")!;
  const original = base.emit!;
  for (const spec of A64_TABLE.filter((s) => s.emit === original)) {
    const s = spec as { emit?: Emit };
    s.emit = buggy(original);
    restore.push(() => (s.emit = original));
  }
}

/** EOR's result with bit 0 flipped (when `when` holds for the builder). */
const flipBit0 = (when: (g: Gen) => boolean) => (original: Emit): Emit => (f, g) => {
  original(f, g);
  if (when(g) && f.Rd !== 31) g.setReg(f.Rd!, g.logic("^", g.reg(f.Rd!, f.sf!), konst64(1n), f.sf!, false, false), f.sf!);
};

const programs = (base: number, n: number) => Array.from({ length: n }, (_, i) => generateA64(base + i, { length: 40, labelPrefix: `m${i}_` }));
const usesEor = (p: { body: string[] }) => p.body.some((l) => /^eor\s/.test(l));

describe("a planted bug fails the differential tests", () => {
  test("a bug only in compiled blocks: the interpreter and the compiled path disagree", () => {
    plantBug(flipBit0((g) => g.index > 0));
    const ps = programs(0x5eed_0000, 40).filter(usesEor);
    expect(ps.length).toBeGreaterThan(5);
    const caught = ps.filter((p) => a64Diff(a64RunExitlab(p, false), a64RunExitlab(p, true)).length > 0);
    expect(caught.length).toBeGreaterThan(0);
  });

  test("the same programs agree once the entry is restored", () => {
    const ps = programs(0x5eed_0000, 40).filter(usesEor);
    for (const p of ps) expect(a64Diff(a64RunExitlab(p, false), a64RunExitlab(p, true))).toEqual([]);
  });

  test.skipIf(!HAVE_QEMU)("a bug in the template (both paths): exitlab and QEMU disagree", () => {
    const ps = programs(0x5eed_1000, 40).filter(usesEor);
    const qemu = a64RunQemu(ps);
    plantBug(flipBit0(() => true));
    const caught = ps.filter((p, i) => a64Diff(qemu[i]!, a64RunExitlab(p, false)).length > 0);
    expect(caught.length).toBeGreaterThan(0);
  });
});
