// exitlab as a newcomer meets it: the README stands on its own (no references outside the
// repository), `npx exitlab` runs in a checkout, the package npm would pack carries everything its
// package.json names, and a project outside the checkout that depends on it (the link
// `npm install /path/to/exitlab` makes) imports it from ESM, CommonJS and TypeScript.
// Needs the compiled dist/ (npm test builds first).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  bin: Record<string, string>;
  main: string;
  types: string;
  exports: Record<string, Record<string, string>>;
};
const run = (cmd: string, args: string[], cwd: string) => spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 120_000, env: { ...process.env, npm_config_update_notifier: "false" } });

describe("the README on its own", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");

  test("names nothing outside the repository (a clone has no ../shared)", () => {
    expect(readme).not.toMatch(/\.\.\/shared|shared\/DESIGN/);
    expect(readFileSync(join(ROOT, "docs/architecture.md"), "utf8")).not.toMatch(/\.\.\/shared/);
  });

  test("every repository file it links or names by path exists", () => {
    expect(readme).toContain("docs/architecture.md");
    const paths = [...readme.matchAll(/`((?:docs|examples|notebooks|bin|kernel|lab|runtime|grammar|bench)\/[\w./-]+\.(?:md|exl|ipynb|ts|js))`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThanOrEqual(3);
    for (const p of paths) expect(existsSync(join(ROOT, p)), p).toBe(true);
  });

  test("says how to run the CLI in a checkout and how to depend on exitlab", () => {
    expect(readme).toContain("npx exitlab run FILE.exl");
    expect(readme).toContain("npm install /path/to/exitlab");
    expect(readme).toMatch(/npx tslab install --user --python \S+ --binary "\$PWD\/node_modules\/\.bin\/tslab"/);
  });
});

describe("npx exitlab in a checkout", () => {
  test("runs an example as `node bin/exitlab.js` does, from the root and from a subfolder", () => {
    const direct = run(process.execPath, ["bin/exitlab.js", "run", "examples/mmu-enable-x86.exl"], ROOT);
    expect(direct.status, direct.stderr).toBe(0);
    const npx = run("npx", ["--offline", "exitlab", "run", "examples/mmu-enable-x86.exl"], ROOT);
    expect(npx.status, npx.stderr).toBe(0);
    expect(npx.stdout).toBe(direct.stdout);
    const sub = run("npx", ["--offline", "exitlab", "run", "mmu-enable-x86.exl"], join(ROOT, "examples"));
    expect(sub.stdout).toBe(direct.stdout);
  }, 120_000);
});

describe("exitlab as another project's dependency", () => {
  test("the packed package carries what package.json names (bin, main, types, every export)", () => {
    const r = run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], ROOT);
    expect(r.status, r.stderr).toBe(0);
    const files = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    const named = [...Object.values(pkg.bin), pkg.main, pkg.types, ...Object.values(pkg.exports).flatMap((e) => Object.values(e))].map((p) => p.replace(/^\.\//, ""));
    for (const p of named) expect(files.has(p), p).toBe(true);
    expect(files.has("dist/bin/cli.js")).toBe(true);
    expect([...files].filter((f) => f.startsWith("test/") || f.startsWith("node_modules/"))).toEqual([]);
  });

  const outside = mkdtempSync(join(tmpdir(), "exitlab-user-"));
  afterAll(() => rmSync(outside, { recursive: true, force: true }));

  test("a project outside the checkout imports it from ESM, CommonJS and TypeScript", () => {
    // What `npm install /path/to/exitlab` leaves (npm 9+ links a folder): a relative link in
    // node_modules and a file: dependency.
    writeFileSync(join(outside, "package.json"), JSON.stringify({ name: "user", private: true, type: "module", dependencies: { exitlab: `file:${relative(outside, ROOT)}` } }));
    mkdirSync(join(outside, "node_modules"));
    symlinkSync(relative(join(outside, "node_modules"), ROOT), join(outside, "node_modules/exitlab"), "dir");

    writeFileSync(join(outside, "esm.mjs"), [
      'import { Lab, renderAllText } from "exitlab";',
      'import { createMachine } from "exitlab/runtime";',
      "const lab = await Lab.create();",
      'const out = renderAllText(lab.run("vm boot x86_64; run until halt; expect count(exits where reason == CR_ACCESS) == 3"));',
      'const m = createMachine("arm64", {}); m.runUntilExit();',
      'console.log(out.trim().split("\\n").at(-1), m.pendingExit.reason);',
    ].join("\n"));
    const esm = run(process.execPath, ["esm.mjs"], outside);
    expect(esm.stderr).toBe("");
    expect(esm.stdout).toBe("ok: count(exits where reason == CR_ACCESS) == 3 IABT_LOW\n");

    writeFileSync(join(outside, "cjs.cjs"), 'const { Lab } = require("exitlab"); Lab.create().then((l) => console.log(typeof l.run));\n');
    const cjs = run(process.execPath, ["cjs.cjs"], outside);
    expect(cjs.stdout, cjs.stderr).toBe("function\n");

    // Types through package.json's exports (NodeNext), as a TypeScript project would see them.
    writeFileSync(join(outside, "user.ts"), [
      'import { Lab, type Result } from "exitlab";',
      "const lab: Lab = await Lab.create();",
      'const rs: Result[] = lab.run("vm boot arm64");',
      "export const kinds: string[] = rs.map((r) => r.kind);",
      "// @ts-expect-error: run takes a string",
      "lab.run(42);",
    ].join("\n"));
    writeFileSync(join(outside, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ["user.ts"] }));
    const tsc = run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], outside);
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
  }, 120_000);
});
