// `exitlab kvm-unit-tests DIR`: every entry of DIR/unittests.cfg on exitlab and, when QEMU system
// emulation is installed, on QEMU TCG too; a table of both outcomes and whether every result line
// matches (bin/kut/runner.ts).

import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Arch } from "../../runtime/core/machine.js";
import { parseUnittestsCfg } from "../kut/config.js";
import { DEFAULT_KUT_ERA, entriesFor, hasQemu, resultTable, runEntry, timingTable, type EntryResult } from "../kut/runner.js";
import { usageFailure } from "./io.js";

export const KUT_USAGE = "kvm-unit-tests DIR [--arch arm64|x86_64] [--only NAME,...] [--era 2015|today] [--model nvhe|vhe] [--timeout SECONDS] [--initrd FILE] [--no-qemu] [--json OUT.json]";

/** The architecture of a directory's binaries: an ELF32 .flat is an x86 multiboot kernel, anything else arm64. */
function archOfDir(dir: string): Arch {
  const flat = readdirSync(dir).find((f) => f.endsWith(".flat"));
  if (!flat) return "arm64";
  const b = readFileSync(join(dir, flat)).subarray(0, 5);
  return b[0] === 0x7f && b[1] === 0x45 && b[4] === 1 ? "x86_64" : "arm64";
}

export async function kvmUnitTestsCommand(args: string[]): Promise<number> {
  const dir = args.find((a, i) => !a.startsWith("--") && !["--arch", "--only", "--json", "--era", "--model", "--timeout", "--initrd"].includes(args[i - 1] ?? ""));
  if (!dir) return usageFailure(`usage: exitlab ${KUT_USAGE}`);
  const cfgPath = join(dir, "unittests.cfg");
  if (!existsSync(cfgPath)) return usageFailure(`${dir} has no unittests.cfg (a kvm-unit-tests build directory for one architecture, e.g. arm/ or x86/)`);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const archArg = opt("--arch");
  if (archArg !== undefined && archArg !== "arm64" && archArg !== "x86_64") return usageFailure(`--arch must be arm64 or x86_64, not ${archArg}`);
  const arch: Arch = (archArg as Arch | undefined) ?? archOfDir(dir);
  const only = opt("--only")?.split(",");
  const era = opt("--era");
  if (era !== undefined && era !== "2015" && era !== "today") return usageFailure(`--era must be 2015 or today, not ${era}`);
  const model = opt("--model");
  if (model !== undefined && model !== "nvhe" && model !== "vhe") return usageFailure(`--model must be nvhe or vhe, not ${model}`);
  if (model !== undefined && arch !== "arm64") return usageFailure("--model chooses arm64's world switch (nvhe or vhe); x86_64 has none");
  const timeoutArg = opt("--timeout");
  const timeoutS = timeoutArg === undefined ? undefined : Number(timeoutArg);
  if (timeoutS !== undefined && !(Number.isFinite(timeoutS) && timeoutS > 0)) return usageFailure(`--timeout takes seconds (a positive number), not ${timeoutArg}`);
  const initrd = opt("--initrd");
  if (args.includes("--initrd") && (initrd === undefined || initrd.startsWith("--"))) return usageFailure("--initrd takes a file (QEMU's -initrd: kvm-unit-tests read it as their environment, KEY=value lines)");
  if (initrd !== undefined && !existsSync(initrd)) return usageFailure(`--initrd: ${initrd} does not exist`);
  const withQemu = !args.includes("--no-qemu") && hasQemu(arch);
  const entries = entriesFor(parseUnittestsCfg(readFileSync(cfgPath, "utf8")), arch, only);
  if (only && entries.length !== only.length) return usageFailure(`no ${arch} entry named ${only.filter((n) => !entries.some((e) => e.name === n)).join(", ")} in ${cfgPath}`);
  const noReference = args.includes("--no-qemu") ? "--no-qemu" : "QEMU system emulation not installed";
  process.stderr.write(`${entries.length} ${arch} entries${withQemu ? ", each on exitlab and on QEMU TCG" : ` on exitlab (${noReference}: no reference)`}\n`);
  const rows: EntryResult[] = [];
  for (const e of entries) {
    const r = runEntry(dir, arch, e, withQemu, { era: era as "2015" | "today" | undefined, model: model as "nvhe" | "vhe" | undefined, timeoutS, initrd, named: only !== undefined });
    rows.push(r);
    process.stderr.write(`  ${e.name}: exitlab ${r.exitlab.outcome}${r.qemu ? `, QEMU ${r.qemu.outcome}, ${r.match === undefined ? "not compared" : r.match ? "lines match" : "lines differ"}` : ""}\n`);
  }
  process.stdout.write(resultTable(rows) + "\n");
  const timings = timingTable(rows, `KVM ${era ?? DEFAULT_KUT_ERA}${arch === "arm64" ? `, ${model ?? (era === "2015" ? "nvhe" : "vhe")}` : ""}`);
  if (timings) process.stdout.write("\n" + timings + "\n");
  const json = opt("--json");
  if (json) writeFileSync(json, JSON.stringify(rows.map((r) => ({ name: r.entry.name, needs: r.needs, match: r.match, exitlab: r.exitlab, qemu: r.qemu })), null, 2) + "\n");
  return 0;
}
