// The exitlab kernel against real Jupyter clients (Debian's python: jupyter_client, nbconvert,
// jupyter_kernel_test). Without them these tests skip, unless EXITLAB_REQUIRE_JUPYTER is set:
// then a missing Jupyter is a failure. Needs the compiled dist/ (npm test builds first).

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
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
    expect(r.stdout.split("\n").filter((l) => l.startsWith("ok ")).length).toBeGreaterThanOrEqual(18);
    expect(r.stderr).toMatch(/dropped a shell message: bad signature/);
    expect(r.status).toBe(0);
  }, 180_000);

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
  it.each(notebooks)("nbconvert --execute runs %s without error", (name) => {
    const out = join(prefix, "out");
    const r = run(["-m", "nbconvert", "--to", "notebook", "--execute", "--output-dir", out, join(ROOT, "notebooks", name)]);
    expect(r.status, r.stderr).toBe(0);
    const nb = JSON.parse(readFileSync(join(out, name), "utf8")) as { cells: { cell_type: string; outputs?: { output_type: string; data?: Record<string, unknown> }[] }[] };
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    expect(outputs.filter((o) => o.output_type === "error")).toEqual([]);
    const mimes = new Set(outputs.flatMap((o) => Object.keys(o.data ?? {})));
    expect(mimes.has("text/plain")).toBe(true);
    if (readFileSync(join(ROOT, "notebooks", name), "utf8").includes("chart exits")) {
      for (const m of ["application/vnd.vegalite.v5+json", "image/svg+xml", "image/png"]) expect(mimes.has(m), m).toBe(true);
    }
    if (readFileSync(join(ROOT, "notebooks", name), "utf8").includes("table exits")) expect(mimes.has("text/html")).toBe(true);
  }, 180_000);

  // tslab compiles to CommonJS: `import { Lab } from "exitlab"` becomes require("exitlab"), which
  // needs a `require`/`default` condition in package.json's exports (Node 20.19+ loads ESM then).
  it("the TypeScript notebook runs under tslab with rich displays", () => {
    const tslab = join(ROOT, "node_modules/tslab/bin/tslab");
    const inst = spawnSync(process.execPath, [tslab, "install", "--python", PY, "--prefix", prefix, "--binary", tslab], { env, encoding: "utf8" });
    expect(inst.status, inst.stderr).toBe(0);
    const work = join(prefix, "tsnb");
    mkdirSync(join(work, "node_modules"), { recursive: true });
    symlinkSync(ROOT, join(work, "node_modules/exitlab"));
    copyFileSync(join(ROOT, "notebooks/typescript-api.ipynb"), join(work, "typescript-api.ipynb"));
    const r = run(["-m", "nbconvert", "--to", "notebook", "--execute", "--output-dir", join(work, "out"), "typescript-api.ipynb"], work);
    expect(r.status, r.stderr).toBe(0);
    const nb = JSON.parse(readFileSync(join(work, "out/typescript-api.ipynb"), "utf8")) as { cells: { outputs?: { output_type: string; data?: Record<string, unknown>; text?: string }[] }[] };
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    expect(outputs.filter((o) => o.output_type === "error")).toEqual([]);
    const mimes = new Set(outputs.flatMap((o) => Object.keys(o.data ?? {})));
    for (const m of ["text/html", "application/vnd.vegalite.v5+json", "image/svg+xml", "image/png"]) expect(mimes.has(m), m).toBe(true);
    expect(outputs.some((o) => /41 exits, 41 counted by reason/.test(String(o.text ?? "")))).toBe(true);
  }, 180_000);
});
