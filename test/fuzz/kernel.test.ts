// The kernel fuzzer (kernel_fuzz.py, jupyter_client from Debian's python3) against the installed
// exitlab kernel: issue 19's kernel regressions and abuse scenarios, random requests from a fixed
// seed (or, under `npm run fuzz`, from EXITLAB_FUZZ_SEED for EXITLAB_FUZZ_MS), and the saved
// reproducers (corpus/kernel-*.json). Skips without Jupyter unless EXITLAB_REQUIRE_JUPYTER is set.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HERE = fileURLToPath(new URL(".", import.meta.url));
const CORPUS = join(HERE, "corpus");
const PY = "/usr/bin/python3";
const haveJupyter = spawnSync(PY, ["-c", "import jupyter_client"]).status === 0;
const required = !!process.env.EXITLAB_REQUIRE_JUPYTER;
const ms = Number(process.env.EXITLAB_FUZZ_MS ?? 0);
const seed = Number(process.env.EXITLAB_FUZZ_SEED ?? 19);

describe.skipIf(!haveJupyter && !required)("the kernel under abusive clients", () => {
  let prefix = "";
  let env: NodeJS.ProcessEnv = {};
  beforeAll(async () => {
    expect(haveJupyter, `${PY} lacks jupyter_client (EXITLAB_REQUIRE_JUPYTER is set)`).toBe(true);
    expect(existsSync(join(ROOT, "dist/kernel/install.js")), "dist/ is not built (npm run build)").toBe(true);
    prefix = mkdtempSync(join(tmpdir(), "exitlab-kfuzz-"));
    const install = (await import(join(ROOT, "dist/kernel/install.js"))) as { main(argv: string[]): Promise<number> };
    expect(await install.main(["--prefix", prefix])).toBe(0);
    env = { ...process.env, JUPYTER_PATH: join(prefix, "share/jupyter"), JUPYTER_RUNTIME_DIR: join(prefix, "runtime"), PYTHONWARNINGS: "ignore" };
  });
  afterAll(() => {
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });
  const run = (args: string[], timeout: number) => spawnSync(PY, ["kernel_fuzz.py", ...args], { cwd: HERE, env, encoding: "utf8", timeout, maxBuffer: 1 << 28 });
  const failed = (out: string) => out.split("\n").filter((l) => l.startsWith("FAIL"));

  test.skipIf(ms > 0)("issue 19's kernel findings, 50 MB cells, an interrupt storm, 200 queued executes, 20 restarts", () => {
    const r = run(["regressions"], 170_000);
    expect(failed(r.stdout), r.stdout + r.stderr.slice(-3000)).toEqual([]);
    expect(r.stdout).toMatch(/ok 20 restarts, then a cell/);
    expect(r.status).toBe(0);
  }, 180_000);

  test(ms ? `random requests for ${ms} ms from seed ${seed}` : "random requests (fixed seed, 5 s)", () => {
    const seconds = ms ? ms / 1000 : 5;
    const r = run(["fuzz", String(seed), String(seconds)], (seconds + 60) * 1000);
    const inputs = Number(/^inputs (\d+)$/m.exec(r.stdout)?.[1] ?? 0);
    if (process.env.EXITLAB_FUZZ_STATS) appendFileSync(process.env.EXITLAB_FUZZ_STATS, JSON.stringify({ target: "kernel", inputs, failed: r.status !== 0, seed }) + "\n");
    const repro = /^REPRO (.*)$/m.exec(r.stdout)?.[1];
    if (repro && ms) writeFileSync(join(CORPUS, `kernel-${createHash("sha256").update(repro).digest("hex").slice(0, 12)}.json`), JSON.stringify({ target: "kernel", ...JSON.parse(repro), seed }, null, 1) + "\n");
    expect(failed(r.stdout), r.stdout.slice(-3000) + r.stderr.slice(-3000)).toEqual([]);
    expect(inputs).toBeGreaterThan(ms ? 0 : 50);
    expect(r.status).toBe(0);
  }, (ms || 5000) + 120_000);

  const saved = existsSync(CORPUS) ? readdirSync(CORPUS).filter((f) => f.startsWith("kernel-") && f.endsWith(".json")) : [];
  test.skipIf(saved.length === 0)("the saved kernel reproducers", () => {
    const r = run(["replay", ...saved.map((f) => join(CORPUS, f))], 120_000);
    expect(failed(r.stdout), r.stdout + r.stderr.slice(-3000)).toEqual([]);
    expect(r.status).toBe(0);
  }, 130_000);
});
