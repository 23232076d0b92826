// The exitlab kernel against real Jupyter clients (Debian's python: jupyter_client, nbconvert,
// jupyter_kernel_test). Without them these tests skip, unless EXITLAB_REQUIRE_JUPYTER is set:
// then a missing Jupyter is a failure. Needs the compiled dist/ (npm test builds first).

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HERE = fileURLToPath(new URL(".", import.meta.url));
const PY = "/usr/bin/python3";

const haveJupyter = spawnSync(PY, ["-c", "import jupyter_client, nbconvert, jupyter_kernel_test"]).status === 0;
const required = !!process.env.EXITLAB_REQUIRE_JUPYTER;

describe.skipIf(!haveJupyter && !required)("exitlab kernel with real Jupyter clients", () => {
  let prefix = "";
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    expect(haveJupyter, `${PY} lacks jupyter_client/nbconvert/jupyter_kernel_test (EXITLAB_REQUIRE_JUPYTER is set)`).toBe(true);
    expect(existsSync(join(ROOT, "dist/kernel/install.js")), "dist/ is not built (npm run build)").toBe(true);
    prefix = mkdtempSync(join(tmpdir(), "exitlab-jupyter-"));
    const install = (await import(join(ROOT, "dist/kernel/install.js"))) as { main(argv: string[]): Promise<number> };
    expect(await install.main(["--prefix", prefix])).toBe(0);
    env = { ...process.env, JUPYTER_PATH: join(prefix, "share/jupyter"), JUPYTER_RUNTIME_DIR: join(prefix, "runtime"), PYTHONWARNINGS: "ignore" };
  });
  afterAll(() => {
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  const run = (args: string[], cwd = HERE) => spawnSync(PY, args, { cwd, env, encoding: "utf8", timeout: 170_000 });

  it("installs a kernelspec with absolute paths, logos and the interrupt mode", () => {
    const dir = join(prefix, "share/jupyter/kernels/exitlab");
    const spec = JSON.parse(readFileSync(join(dir, "kernel.json"), "utf8"));
    expect(spec.argv[0]).toBe(process.execPath);
    expect(spec.argv[1]).toMatch(/^\/.*dist\/kernel\/main\.js$/);
    expect(spec.argv[2]).toBe("{connection_file}");
    expect(spec.language).toBe("exitlab");
    expect(spec.interrupt_mode).toBe("message");
    for (const f of ["logo-32x32.png", "logo-64x64.png"]) expect(readFileSync(join(dir, f)).subarray(1, 4).toString()).toBe("PNG");
    const listed = run(["-m", "jupyter_client.kernelspecapp", "list", "--json"]);
    expect(JSON.parse(listed.stdout).kernelspecs.exitlab.resource_dir).toBe(dir);
  });

  it("passes jupyter_kernel_test's KernelTests", () => {
    const r = run(["-m", "unittest", "-v", "kernel_test"]);
    expect(r.stderr).toMatch(/\nOK/);
    expect(r.stderr).toMatch(/test_history .* ok/);
    expect(r.status, r.stderr).toBe(0);
  }, 180_000);

  it("interrupts a runaway guest, drops bad signatures and malformed frames, restarts, shuts down", () => {
    const r = run(["protocol_checks.py", "exitlab"]);
    const failed = r.stdout.split("\n").filter((l) => l.startsWith("FAIL"));
    expect(failed, r.stdout + r.stderr).toEqual([]);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("ok ")).length, r.stdout + r.stderr).toBeGreaterThanOrEqual(18);
    expect(r.stderr).toMatch(/dropped a shell message: bad signature/);
    expect(r.status).toBe(0);
  }, 180_000);

  it("stop_on_error aborts only the requests queued when a cell failed, even when the kernel stalls after the error reply", () => {
    const r = run(["abort_checks.py", "exitlab"]);
    const lines = r.stdout.split("\n");
    expect(lines.filter((l) => l.startsWith("FAIL")), r.stdout + r.stderr).toEqual([]);
    expect(lines.filter((l) => l.startsWith("ok ")).length, r.stdout + r.stderr).toBe(8);
    expect(r.status, r.stderr).toBe(0);
  }, 120_000);

  it("completion offers every trap kind, setting, view and register decoder; decode answers with a table", async () => {
    const rt = (await import(join(ROOT, "dist/runtime/index.js"))) as typeof import("../../runtime/index.js");
    const words = (await import(join(ROOT, "dist/grammar/words.js"))) as typeof import("../../grammar/words.js");
    const arches = ["x86_64", "arm64"] as const;
    const want = {
      trap: Object.fromEntries(arches.map((a) => [a, [...new Set(rt.archInfo[a]!.traps.flatMap((t) => [...(t.forms ?? [t.name])]))]])),
      views: Object.fromEntries(arches.map((a) => [a, rt.archInfo[a]!.viewNames])),
      settings: Object.keys(words.SETTINGS),
      decoders: arches.flatMap((a) => rt.archInfo[a]!.decoders.map((d) => d.name)),
    };
    const r = run(["vocabulary_checks.py", "exitlab", JSON.stringify(want)]);
    const failed = r.stdout.split("\n").filter((l) => l.startsWith("FAIL"));
    expect(failed, r.stdout + r.stderr).toEqual([]);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("ok ")).length).toBe(15);
    expect(r.status, r.stderr).toBe(0);
  }, 180_000);

  const notebooks = existsSync(join(ROOT, "notebooks")) ? readdirSync(join(ROOT, "notebooks")).filter((f) => /^\d.*\.ipynb$/.test(f)) : [];
  // Notebooks that boot the kvm-unit-tests binaries of ../shared (beside the checkout; not in a
  // user's clone): run when the corpus is there, and required by EXITLAB_REQUIRE_KUT (CI).
  const KUT = join(ROOT, "../shared/guests/kvm-unit-tests");
  const needsCorpus = (name: string) => readFileSync(join(ROOT, "notebooks", name), "utf8").includes("shared/guests/kvm-unit-tests/");
  const runnable = notebooks.filter((n) => !needsCorpus(n) || existsSync(KUT) || process.env.EXITLAB_REQUIRE_KUT === "1");
  it.each(runnable)("nbconvert --execute runs %s without error or warning", (name) => {
    const out = join(prefix, "out");
    // Warnings on (MissingIDFieldWarning is a FutureWarning), except nbconvert's own deprecation notices.
    const r = spawnSync(PY, ["-m", "nbconvert", "--to", "notebook", "--execute", "--output-dir", out, join(ROOT, "notebooks", name)], { cwd: HERE, env: { ...env, PYTHONWARNINGS: "default,ignore::DeprecationWarning" }, encoding: "utf8", timeout: 170_000 });
    expect(r.status, r.stderr).toBe(0);
    // nbconvert warns (MissingIDFieldWarning, ...) on stderr; its own two progress lines are all it may print.
    expect(r.stderr.split("\n").filter((l) => l.trim() && !/^\[NbConvertApp\] (Converting|Writing)/.test(l))).toEqual([]);
    const nb = JSON.parse(readFileSync(join(out, name), "utf8")) as { cells: { cell_type: string; id?: string; source: string[]; outputs?: { output_type: string; data?: Record<string, unknown> }[] }[] };
    expect(nb.cells.every((c) => typeof c.id === "string" && c.id !== "")).toBe(true);
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    expect(outputs.filter((o) => o.output_type === "error")).toEqual([]);
    const mimes = new Set(outputs.flatMap((o) => Object.keys(o.data ?? {})));
    expect(mimes.has("text/plain")).toBe(true);
    if (readFileSync(join(ROOT, "notebooks", name), "utf8").includes("chart ")) {
      for (const m of ["application/vnd.vegalite.v5+json", "image/svg+xml", "image/png"]) expect(mimes.has(m), m).toBe(true);
    }
    if (readFileSync(join(ROOT, "notebooks", name), "utf8").includes("table exits")) expect(mimes.has("text/html")).toBe(true);
  }, 180_000);

  // 02 (x86 vs arm64) and 03 (KVM 2015 vs today) end with the comparison they are about, as a chart
  // of both VMs' exits and cycles per reason.
  it.each([
    ["02-vmx-slides-x86.ipynb", ["intel", "arm"]],
    ["03-kvm-eras-x86.ipynb", ["kvm2015", "kvm_today"]],
  ])("%s ends with a chart comparing %j", (name, vms) => {
    const nb = JSON.parse(readFileSync(join(prefix, "out", name), "utf8")) as { cells: { cell_type: string; outputs?: { output_type: string; data?: Record<string, unknown> }[] }[] };
    const last = nb.cells.filter((c) => c.cell_type === "code").at(-1)!;
    const chart = last.outputs!.at(-1)!.data!["application/vnd.vegalite.v5+json"] as { hconcat: { encoding: { x: { field: string }; color: { scale: { domain: string[] } } } }[]; data: { values: { source: string }[] } };
    expect(chart.hconcat.map((p) => p.encoding.x.field)).toEqual(["exits", "cycles"]);
    expect(chart.hconcat[0]!.encoding.color.scale.domain).toEqual(vms);
    expect(new Set(chart.data.values.map((v) => v.source))).toEqual(new Set(vms));
  });

  // The TypeScript notebook runs where it lives, in notebooks/, with the tslab kernel installed
  // as the README says. `exitlab` resolves there through notebooks/node_modules/exitlab, which
  // `npm install` (prepare → build) links to the checkout; tslab compiles to CommonJS, so
  // `import { Lab } from "exitlab"` becomes require("exitlab"), which needs a `require`/`default`
  // condition in package.json's exports (Node 20.19+ loads ESM then).
  it("the TypeScript notebook runs in notebooks/ under tslab with rich displays", () => {
    expect(existsSync(join(ROOT, "notebooks/node_modules/exitlab/package.json")), "notebooks/node_modules/exitlab: run npm install (or npm run build)").toBe(true);
    const tslab = join(ROOT, "node_modules/.bin/tslab");
    const inst = spawnSync(process.execPath, [tslab, "install", "--python", PY, "--prefix", prefix, "--binary", tslab], { env, encoding: "utf8" });
    expect(inst.status, inst.stderr).toBe(0);
    const out = join(prefix, "tsnb");
    const r = run(["-m", "nbconvert", "--to", "notebook", "--execute", "--output-dir", out, "typescript-api.ipynb"], join(ROOT, "notebooks"));
    expect(r.status, r.stderr).toBe(0);
    const nb = JSON.parse(readFileSync(join(out, "typescript-api.ipynb"), "utf8")) as { cells: { outputs?: { output_type: string; data?: Record<string, unknown>; text?: string }[] }[] };
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    expect(outputs.filter((o) => o.output_type === "error")).toEqual([]);
    const mimes = new Set(outputs.flatMap((o) => Object.keys(o.data ?? {})));
    for (const m of ["text/html", "application/vnd.vegalite.v5+json", "image/svg+xml", "image/png"]) expect(mimes.has(m), m).toBe(true);
    expect(outputs.some((o) => /41 exits, 41 counted by reason/.test(String(o.text ?? "")))).toBe(true);
    // `await displayResults(...)` shows the results and adds no value of its own (was a stray `true`).
    expect(outputs.filter((o) => o.output_type === "execute_result")).toEqual([]);
  }, 180_000);
});
