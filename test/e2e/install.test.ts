// `exitlab kernel install --sys-prefix` with real jupyters: a virtualenv's (made by Debian's python,
// with the console scripts pip would write) and Debian's own in /usr. Skips without Debian's
// Jupyter unless EXITLAB_REQUIRE_JUPYTER is set. Needs the compiled dist/.

import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist/bin/cli.js");
const PY = "/usr/bin/python3";
const haveJupyter = spawnSync(PY, ["-c", "import jupyter_client, jupyter_core"]).status === 0 && existsSync("/usr/bin/jupyter");
const required = !!process.env.EXITLAB_REQUIRE_JUPYTER;

/** A PATH with `first` in front and no other jupyter than /usr/bin's. */
const pathWith = (first: string) => [first, dirname(process.execPath), "/usr/bin", "/bin"].join(delimiter);
const exitlab = (args: string[], PATH: string) =>
  spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, PATH, PYTHONWARNINGS: "ignore" }, encoding: "utf8" });

describe.skipIf(!haveJupyter && !required)("exitlab kernel install --sys-prefix", () => {
  let tmp = "";
  let venv = "";

  beforeAll(() => {
    expect(haveJupyter, `${PY} lacks jupyter_client (EXITLAB_REQUIRE_JUPYTER is set)`).toBe(true);
    tmp = mkdtempSync(join(tmpdir(), "exitlab-install-"));
    venv = join(tmp, "venv");
    const made = spawnSync(PY, ["-m", "venv", "--system-site-packages", "--without-pip", venv], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    // The console scripts pip writes for jupyter_core and jupyter_client, bound to the venv's python.
    const scripts: Record<string, string> = {
      jupyter: "from jupyter_core.command import main",
      "jupyter-kernelspec": "from jupyter_client.kernelspecapp import KernelSpecApp\nmain = KernelSpecApp.launch_instance",
    };
    for (const [name, entry] of Object.entries(scripts)) {
      const file = join(venv, "bin", name);
      writeFileSync(file, `#!${join(venv, "bin/python")}\nimport sys\n${entry}\nsys.exit(main())\n`);
      chmodSync(file, 0o755);
    }
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("installs into the active virtualenv, where its jupyter finds and runs the kernel", () => {
    const PATH = pathWith(join(venv, "bin"));
    const r = exitlab(["kernel", "install", "--sys-prefix"], PATH);
    const dir = join(venv, "share/jupyter/kernels/exitlab");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`installed kernelspec exitlab in ${dir}\n`);
    expect(JSON.parse(readFileSync(join(dir, "kernel.json"), "utf8")).argv[1]).toBe(join(ROOT, "dist/kernel/main.js"));
    expect(readFileSync(join(dir, "kernel.js"), "utf8")).toContain('defineSimpleMode("exitlab"');
    const env = { ...process.env, PATH, PYTHONWARNINGS: "ignore", JUPYTER_PATH: "", JUPYTER_RUNTIME_DIR: join(tmp, "runtime") };
    const listed = spawnSync(join(venv, "bin/jupyter"), ["kernelspec", "list", "--json"], { env, encoding: "utf8" });
    expect(JSON.parse(listed.stdout).kernelspecs.exitlab.resource_dir).toBe(dir);
    // The venv's jupyter_client starts the kernel from that spec and runs a cell.
    const run = spawnSync(join(venv, "bin/python"), ["-c", `
import sys
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name="exitlab")
try:
    reply = kc.execute_interactive("vm boot arm64\\nstep until exit\\nexpect exit.reason == IABT_LOW", timeout=60, output_hook=lambda m: None)
    print(reply["content"]["status"])
finally:
    kc.stop_channels(); km.shutdown_kernel(now=True)
`], { env, encoding: "utf8", timeout: 90_000 });
    expect(run.stdout.trim().split("\n").at(-1), run.stderr).toBe("ok");
  }, 120_000);

  it("installs into Debian's /usr with Debian's jupyter (or says why it cannot)", () => {
    const name = `exitlab-test-${process.pid}`;
    const dir = `/usr/share/jupyter/kernels/${name}`;
    const r = exitlab(["kernel", "install", "--sys-prefix", "--name", name], pathWith("/usr/bin"));
    let writable = true;
    try {
      accessSync("/usr/share/jupyter/kernels", constants.W_OK);
    } catch {
      writable = false;
    }
    if (!writable) {
      // Not root: jupyter's own error comes through, with a non-zero status.
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/exitlab: kernel install failed: jupyter kernelspec install failed: .*(Permission|denied)/s);
      return;
    }
    try {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(`installed kernelspec ${name} in ${dir}\n`);
      const listed = spawnSync("/usr/bin/jupyter", ["kernelspec", "list", "--json"], { encoding: "utf8", env: { ...process.env, JUPYTER_PATH: "" } });
      expect(JSON.parse(listed.stdout).kernelspecs[name].resource_dir).toBe(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says what to do when no jupyter is on PATH", () => {
    const r = exitlab(["kernel", "install", "--sys-prefix"], join(tmp, "nothing"));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--sys-prefix installs into the environment of the `jupyter` on PATH, and there is none/);
    expect(r.stderr).toMatch(/--prefix DIR/);
  });
});
