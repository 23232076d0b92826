// Running a generated A64 program: in exitlab (guest at EL1, MMU off, ends with `hvc #0`, whose
// exit is left pending so the state is read exactly there) and, in batches, under QEMU user mode
// (one static ELF per batch: each program in turn, its registers, NZCV and buffer dumped to
// memory, everything written to stdout at the end).

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMachine } from "../../../runtime/index.js";
import { A64_BASE_REG, A64_BUF_BIAS, A64_BUF_SIZE, a64LoadImm, type A64Program } from "./a64-gen.js";
import { hex } from "./prng.js";
import { engineSettings } from "./engine.js";

/** The state a run ends in: x0..x30 (x28 as base-relative 0), NZCV (bits 3:0), the buffer. */
export interface A64Final {
  x: bigint[];
  nzcv: number;
  buf: Uint8Array;
}

/** Register initialisation shared by both wrappers: NZCV through x0 first, then every register. */
function prologue(p: A64Program): string[] {
  const out = [`movz x0, #${hex(p.nzcv << 12)}, lsl #16`, "msr nzcv, x0"];
  for (let r = 0; r <= 30; r++) if (r !== A64_BASE_REG) out.push(...a64LoadImm(r, p.init[r]!));
  return out;
}

const bufBytes = (b: Uint8Array) => {
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 16) out.push(`.byte ${Array.from(b.subarray(i, i + 16)).join(", ")}`);
  return out;
};

export function a64ExitlabSource(p: A64Program): string {
  return [
    "start:",
    "adr x28, buf",
    `add x28, x28, #${A64_BUF_BIAS}`,
    ...prologue(p),
    ...p.body,
    "hvc #0",
    ".balign 4096", // the data on its own page, away from the code
    "buf:",
    ...bufBytes(p.buf),
  ].join("\n") + "\n";
}

/** Run on the interpreter (jit false) or the compiled path (jit true): see engine.ts. */
export function a64RunExitlab(p: A64Program, jit: boolean): A64Final {
  const m = createMachine("arm64", { guest: { source: a64ExitlabSource(p) }, settings: engineSettings("arm64", jit) });
  // QEMU user mode runs the program on Normal memory (Linux maps it so); with the MMU off every
  // data access would be Device-nGnRnE and the generator's unaligned accesses Alignment faults
  // (Arm ARM B2.5.2). HCR_EL2.DC (default cacheable) makes stage-1-off accesses Normal write-back.
  m.writeRegister("hcr_el2", m.readRegister("hcr_el2") | (1n << 12n));
  const r = m.run({ stopOnExit: (e) => e.reason === "HVC64" });
  if (r.stop !== "exit") throw new Error(`program did not reach its hvc: ${r.stop} ${r.message ?? ""} ${m.halted?.message ?? ""} pc ${hex(m.pc)}`);
  const base = m.readRegister("x28");
  const x = Array.from({ length: 31 }, (_, i) => (i === A64_BASE_REG ? m.readRegister("x28") - base : m.readRegister(`x${i}`)));
  const nzcv = Number((m.readRegister("pstate") >> 28n) & 0xfn);
  const buf = m.readPhysical(Number(base) - A64_BUF_BIAS, A64_BUF_SIZE);
  return { x, nzcv, buf: new Uint8Array(buf) };
}

/** GNU tools and QEMU for the A64 comparison. */
export const A64_QEMU_TOOLS = ["qemu-aarch64", "aarch64-linux-gnu-as", "aarch64-linux-gnu-ld"];

/**
 * Run a batch under qemu-aarch64: one static ELF, one `as`, one `ld`, one QEMU process. The
 * programs' labels must be distinct (generate them with labelPrefix). Returns one state per program.
 */
export function a64RunQemu(programs: A64Program[]): A64Final[] {
  const DUMP = 256; // x0..x30 + nzcv, 8 bytes each
  const text: string[] = [".text", ".globl _start", "_start:"];
  const data: string[] = [".data", ".balign 16", "dumps:"];
  programs.forEach((p, i) => {
    text.push(
      `adrp x0, dump${i}`, `add x0, x0, :lo12:dump${i}`, "mov sp, x0",
      `adrp x28, buf${i}`, `add x28, x28, :lo12:buf${i}`, `add x28, x28, #${A64_BUF_BIAS}`,
      ...prologue(p),
      ...p.body,
    );
    for (let r = 0; r < 30; r += 2) text.push(`stp x${r}, x${r + 1}, [sp, #${8 * r}]`);
    text.push("str x30, [sp, #240]", "mrs x0, nzcv", "str x0, [sp, #248]");
    data.push(`dump${i}: .space ${DUMP}`);
  });
  programs.forEach((p, i) => data.push(`buf${i}:`, ...bufBytes(p.buf)));
  data.push("dumps_end:");
  text.push(
    "mov x0, #1", "adrp x1, dumps", "add x1, x1, :lo12:dumps",
    "adrp x2, dumps_end", "add x2, x2, :lo12:dumps_end", "sub x2, x2, x1",
    "mov x8, #64", "svc #0", // write(1, dumps, size)
    "mov x0, #0", "mov x8, #93", "svc #0", // exit(0)
  );
  const dir = mkdtempSync(join(tmpdir(), "exitlab-a64diff-"));
  try {
    writeFileSync(join(dir, "p.s"), [...text, ...data].join("\n") + "\n");
    execFileSync("aarch64-linux-gnu-as", ["-march=armv8.2-a", "-o", join(dir, "p.o"), join(dir, "p.s")]);
    execFileSync("aarch64-linux-gnu-ld", ["-static", "-o", join(dir, "p"), join(dir, "p.o")]);
    const out = execFileSync("qemu-aarch64", [join(dir, "p")], { maxBuffer: 64 << 20 });
    const want = programs.length * (DUMP + A64_BUF_SIZE);
    if (out.length !== want) throw new Error(`qemu-aarch64 wrote ${out.length} bytes, expected ${want}`);
    const view = new DataView(out.buffer, out.byteOffset, out.length);
    return programs.map((_, i) => {
      const x = Array.from({ length: 31 }, (_, r) => (r === A64_BASE_REG ? 0n : view.getBigUint64(i * DUMP + 8 * r, true)));
      const nzcv = Number((view.getBigUint64(i * DUMP + 248, true) >> 28n) & 0xfn);
      const at = programs.length * DUMP + i * A64_BUF_SIZE;
      return { x, nzcv, buf: new Uint8Array(out.subarray(at, at + A64_BUF_SIZE)) };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Differences between two final states, as readable lines (empty when they agree). */
export function a64Diff(want: A64Final, got: A64Final): string[] {
  const out: string[] = [];
  for (let r = 0; r <= 30; r++) if (want.x[r] !== got.x[r]) out.push(`x${r}: expected ${hex(want.x[r]!)}, got ${hex(got.x[r]!)}`);
  if (want.nzcv !== got.nzcv) out.push(`nzcv: expected ${want.nzcv.toString(2).padStart(4, "0")}, got ${got.nzcv.toString(2).padStart(4, "0")}`);
  for (let i = 0; i < want.buf.length; i++) {
    if (want.buf[i] !== got.buf[i]) out.push(`buf[base${i - A64_BUF_BIAS >= 0 ? "+" : ""}${i - A64_BUF_BIAS}]: expected ${hex(want.buf[i]!)}, got ${hex(got.buf[i]!)}`);
  }
  return out;
}
