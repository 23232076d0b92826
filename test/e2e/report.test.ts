// `exitlab run FILE --html OUT.html` in Debian's headless Chromium (puppeteer-core, as
// browser.test.ts drives it): the page is self-contained — every request it makes is for the
// file itself, none to the network — draws every chart with the vega-embed bundled in it, and logs
// no console errors. Skips without chromium unless EXITLAB_REQUIRE_JUPYTER is set (then it fails).

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => existsSync(p));
const required = !!process.env.EXITLAB_REQUIRE_JUPYTER;
const FIX = join(ROOT, "test/runtime/traces/fixtures");

const PROGRAM = `load trace "${FIX}/trace-cmd-x86-2015.txt" as host
load trace "${FIX}/perf-script-arm64-today.txt" as armhost
vm boot x86_64 as model
run
table host by reason
compare model host
stat host
sql "select reason, count(*) as n from host where event = 'kvm_exit' group by reason order by n desc, reason"
chart compare model host
chart host exits by reason
chart armhost cycles by reason
chart model cycles over time
chart sql "select reason, count(*) as exits from host where event = 'kvm_exit' group by reason order by exits desc, reason"
`;

describe.skipIf(!CHROMIUM && !required)("the --html report in headless chromium", () => {
  it("opens offline, draws every chart, logs no errors", async () => {
    expect(CHROMIUM, "no chromium (Debian: chromium)").toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), "exitlab-report-"));
    writeFileSync(join(dir, "r.exl"), PROGRAM);
    const out = join(dir, "r.html");
    const r = spawnSync(process.execPath, [join(ROOT, "bin/exitlab.js"), "run", join(dir, "r.exl"), "--html", out], { encoding: "utf8", timeout: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const page = readFileSync(out, "utf8");
    expect(page).not.toMatch(/<script[^>]+src=/);
    expect(page).not.toMatch(/https?:\/\/(?!vega\.github\.io\/schema)[^"'\s]*\.(?:js|css)/);
    expect(page).toContain("<caption>stat of host: Analyze events for all VMs, all VCPUs");
    // The same program gives the same bytes.
    spawnSync(process.execPath, [join(ROOT, "bin/exitlab.js"), "run", join(dir, "r.exl"), "--html", join(dir, "again.html")], { encoding: "utf8", timeout: 120_000 });
    expect(readFileSync(join(dir, "again.html"), "utf8")).toBe(page);

    const puppeteer = (await import("puppeteer-core")).default;
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    try {
      const p = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      p.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warn") problems.push(`${m.type()}: ${m.text()}`);
      });
      p.on("pageerror", (e) => problems.push(`pageerror: ${String(e)}`));
      await p.setRequestInterception(true);
      p.on("request", (req) => {
        requests.push(req.url());
        if (req.url().startsWith("file:")) void req.continue();
        else void req.abort();
      });
      await p.goto(pathToFileURL(out).href, { waitUntil: "load" });
      await p.waitForFunction(() => document.body.getAttribute("data-charts-drawn") === "yes", { timeout: 60_000 });
      const charts = await p.$$eval(".exitlab-vega", (els) => els.map((el) => ({ drawn: el.getAttribute("data-drawn"), marks: el.querySelectorAll("svg .mark-rect path, svg .mark-rect rect, svg .mark-line path, svg .mark-symbol path").length, texts: [...el.querySelectorAll("svg text")].map((t) => t.textContent) })));
      expect(charts).toHaveLength(5);
      for (const c of charts) {
        expect(c.drawn).toBe("yes");
        expect(c.marks).toBeGreaterThan(0);
      }
      expect(charts[1]!.texts).toContain("HLT");
      expect(charts[2]!.texts).toContain("IRQ");
      expect(charts[4]!.texts).toContain("EPT_VIOLATION");
      expect(problems).toEqual([]);
      expect(requests.filter((u) => !u.startsWith("file:"))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 180_000);
});
