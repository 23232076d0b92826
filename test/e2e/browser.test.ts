// The kernel in a real browser: Debian's classic notebook server (jupyter-notebook) and Debian's
// chromium, driven by puppeteer-core. The notebook loads the kernelspec's kernel.js, colours the
// cells with its CodeMirror mode, and runs a cell through the kernel. Skips without the server
// or the browser, unless EXITLAB_REQUIRE_JUPYTER is set (then it fails).

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "puppeteer-core";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PY = "/usr/bin/python3";
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => existsSync(p));

const haveServer = spawnSync(PY, ["-c", "import notebook.notebookapp"]).status === 0;
const required = !!process.env.EXITLAB_REQUIRE_JUPYTER;

const CELL = `# boot the guest and stop at the first exit
set era 2015
vm boot arm64 asm {
loop:   ldr x0, [x1, #8]   // a load
        b loop
} as spin
vm boot arm64 as demo
step until exit.reason == IABT_LOW
show exit`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitForServer(url: string, server: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (server.exitCode !== null) throw new Error(`notebook server exited: ${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`notebook server did not answer: ${log()}`);
}

/** Each CodeMirror token span of the first code cell: [css class, text]. */
async function cellTokens(page: Page): Promise<[string, string][]> {
  return page.$$eval(".cell.code_cell .CodeMirror-code span[class^='cm-']", (spans) =>
    spans.map((s) => [s.className, s.textContent ?? ""] as [string, string]),
  );
}

describe.skipIf((!haveServer || !CHROMIUM) && !required)("exitlab in the classic notebook, in chromium", () => {
  let dir = "";
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let serverLog = "";

  beforeAll(async () => {
    expect(haveServer, `${PY} lacks the classic notebook server (Debian: jupyter-notebook)`).toBe(true);
    expect(CHROMIUM, "no chromium (Debian: chromium)").toBeDefined();
    dir = mkdtempSync(join(tmpdir(), "exitlab-browser-"));
    const install = (await import(join(ROOT, "dist/kernel/install.js"))) as { main(argv: string[]): Promise<number> };
    expect(await install.main(["--prefix", join(dir, "prefix")])).toBe(0);
    const nbdir = join(dir, "notebooks");
    mkdirSync(nbdir);
    // Saved with the kernel's language_info: the notebook asks for its mode as soon as it loads.
    const { LANGUAGE_INFO } = (await import(join(ROOT, "dist/kernel/exitlab-backend.js"))) as { LANGUAGE_INFO: object };
    writeFileSync(
      join(nbdir, "cells.ipynb"),
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: "exitlab", display_name: "exitlab", language: "exitlab" }, language_info: LANGUAGE_INFO },
        cells: [{ cell_type: "code", id: "c1", metadata: {}, execution_count: null, outputs: [], source: CELL }],
      }),
    );
    const port = await freePort();
    const env = {
      ...process.env,
      HOME: dir,
      JUPYTER_PATH: join(dir, "prefix/share/jupyter"),
      JUPYTER_CONFIG_DIR: join(dir, "config"),
      JUPYTER_RUNTIME_DIR: join(dir, "runtime"),
      PYTHONWARNINGS: "ignore",
    };
    server = spawn(PY, ["-m", "notebook", "--no-browser", "--allow-root", `--port=${port}`, "--ip=127.0.0.1",
      "--NotebookApp.token=exitlab-test", "--NotebookApp.port_retries=0", `--notebook-dir=${nbdir}`], { env, stdio: ["ignore", "pipe", "pipe"] });
    server.stdout!.on("data", (d) => (serverLog += d));
    server.stderr!.on("data", (d) => (serverLog += d));
    const base = `http://127.0.0.1:${port}`;
    await waitForServer(`${base}/api?token=exitlab-test`, server, () => serverLog);
    const puppeteer = (await import("puppeteer-core")).default;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    page = await browser.newPage();
    // Serve kernel.js late, so the notebook asks for the "exitlab" mode (from the saved
    // language_info) before kernel.js has defined it: kernel.js must then apply it itself.
    await page.setRequestInterception(true);
    page.on("request", (req) => {
      if (req.url().includes("/kernelspecs/exitlab/kernel.js")) setTimeout(() => void req.continue(), 2000);
      else void req.continue();
    });
    await page.goto(`${base}/notebooks/cells.ipynb?token=exitlab-test`, { waitUntil: "load" });
    await page.waitForFunction(
      () => !!(window as unknown as { Jupyter?: { notebook?: { kernel?: { info_reply?: unknown } } } }).Jupyter?.notebook?.kernel?.info_reply,
      { timeout: 60_000 },
    );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill("SIGTERM");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("loads kernel.js and colours a cell with the exitlab mode", async () => {
    // kernel.js defines the mode; its onload applies it to the cells.
    await page.waitForFunction(
      () => !!(window as unknown as { CodeMirror?: { modes: Record<string, unknown> } }).CodeMirror?.modes.exitlab && !!document.querySelector(".code_cell .cm-keyword"),
      { timeout: 20_000 },
    );
    const mode = await page.evaluate(() => {
      const cm = document.querySelector(".code_cell .CodeMirror") as unknown as { CodeMirror: { getOption(k: string): unknown } };
      return cm.CodeMirror.getOption("mode");
    });
    expect(mode).toMatchObject({ name: "exitlab" });
    const tokens = await cellTokens(page);
    const classOf = (text: string) => tokens.filter(([, t]) => t.trim() === text).map(([c]) => c);
    expect(classOf("# boot the guest and stop at the first exit")).toEqual(["cm-comment"]);
    for (const k of ["set", "vm", "boot", "asm", "as", "step", "until", "show"]) expect(classOf(k), k).toContain("cm-keyword");
    expect(classOf("exit")).toEqual(["cm-keyword", "cm-keyword"]);
    expect(classOf("arm64")).toEqual(["cm-builtin", "cm-builtin"]);
    expect(classOf("IABT_LOW")).toEqual(["cm-atom"]);
    expect(classOf("2015")).toEqual(["cm-number"]);
    expect(classOf("demo")).toEqual(["cm-variable"]);
    expect(classOf("==")).toEqual(["cm-operator"]);
    // Inside the asm block: GNU as, not the DSL.
    expect(classOf("loop:")).toEqual(["cm-def"]);
    expect(classOf("ldr")).toEqual(["cm-keyword"]);
    expect(classOf("#8")).toEqual(["cm-number"]);
    expect(classOf("// a load")).toEqual(["cm-comment"]);
    expect(classOf("b")).toEqual(["cm-keyword"]);
    expect(classOf("loop")).toEqual([]); // the branch target is a plain name
  });

  it("runs the cell through the kernel and shows the exit as a table", async () => {
    await page.evaluate(() => {
      const w = window as unknown as { Jupyter: { notebook: { execute_all_cells(): void } } };
      w.Jupyter.notebook.execute_all_cells();
    });
    await page.waitForSelector(".output_area .output_html table", { timeout: 60_000 });
    const text = await page.$eval(".output_area .output_html table", (t) => t.textContent ?? "");
    expect(text).toContain("IABT_LOW");
    expect(await page.$$(".output_area .output_error")).toHaveLength(0);
  }, 90_000);
});
