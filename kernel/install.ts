// `exitlab kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]`: writes a
// kernelspec (kernel.json with absolute paths, logos, a CodeMirror mode) where Jupyter looks
// (jupyter_client's KernelSpecManager: <data dir>/kernels/NAME).

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { kernelJs } from "./highlight.js";

const USAGE = "usage: exitlab kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]\n";

/** Jupyter's per-user data dir (jupyter_core.paths.jupyter_data_dir). */
function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  if (process.platform === "darwin") return join(homedir(), "Library", "Jupyter");
  const xdg = process.env.XDG_DATA_HOME;
  return join(xdg && xdg !== "" ? xdg : join(homedir(), ".local", "share"), "jupyter");
}

/**
 * --sys-prefix means "the environment of the `jupyter` on PATH" (a virtualenv's, conda's or
 * Debian's /usr). Rather than guess that environment's sys.prefix, let that jupyter install the
 * spec itself, exactly as `jupyter kernelspec install --sys-prefix` does for any kernel.
 */
function installWithJupyter(name: string): string {
  const staged = mkdtempSync(join(tmpdir(), "exitlab-kernelspec-"));
  try {
    const src = installKernelspec(staged, name).dir;
    const run = spawnSync("jupyter", ["kernelspec", "install", "--sys-prefix", "--replace", "--name", name, src], { encoding: "utf8" });
    if (run.error && (run.error as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`cannot run jupyter: ${run.error.message}`);
    if (run.error) {
      throw new Error("--sys-prefix installs into the environment of the `jupyter` on PATH, and there is none " +
        "(activate the environment first, or use --user or --prefix DIR)");
    }
    if (run.status !== 0) throw new Error(`jupyter kernelspec install failed: ${(run.stderr || run.stdout).trim()}`);
    // jupyter_client reports "Installed kernelspec NAME in DIR".
    const where = /Installed kernelspec \S+ in (.+)$/m.exec(run.stderr + run.stdout);
    if (!where) throw new Error(`jupyter kernelspec install did not say where it installed: ${(run.stderr + run.stdout).trim()}`);
    return where[1]!.trim();
  } finally {
    rmSync(staged, { recursive: true, force: true });
  }
}

// A minimal PNG encoder (RFC 2083): RGBA rows, filter 0, zlib-deflated, CRC-32 per chunk.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
export function encodePng(width: number, height: number, pixel: (x: number, y: number) => [number, number, number, number]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  const raw = Buffer.alloc(height * (1 + width * 4));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(pixel(x, y), y * (1 + width * 4) + 1 + x * 4);
  }
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/** The logo: a dark square with an "exit" arrow leaving a box (drawn from geometry, deterministic). */
function logo(size: number): Buffer {
  return encodePng(size, size, (x, y) => {
    const u = x / size, v = y / size;
    const box = u > 0.15 && u < 0.6 && v > 0.2 && v < 0.8 && (u < 0.22 || v < 0.27 || v > 0.73);
    const shaft = v > 0.45 && v < 0.55 && u > 0.35 && u < 0.8;
    const head = u >= 0.7 && u < 0.9 && Math.abs(v - 0.5) < 0.9 - u;
    if (box) return [240, 240, 240, 255];
    if (shaft || head) return [255, 140, 0, 255];
    return [30, 40, 70, 255];
  });
}

export interface InstallResult {
  dir: string;
}

export function installKernelspec(target: string, name: string): InstallResult {
  const dir = join(target, "kernels", name);
  mkdirSync(dir, { recursive: true });
  const mainJs = fileURLToPath(new URL("./main.js", import.meta.url));
  const spec = {
    argv: [process.execPath, mainJs, "{connection_file}"],
    display_name: "exitlab",
    language: "exitlab",
    interrupt_mode: "message",
    metadata: { debugger: false },
  };
  writeFileSync(join(dir, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
  writeFileSync(join(dir, "logo-32x32.png"), logo(32));
  writeFileSync(join(dir, "logo-64x64.png"), logo(64));
  writeFileSync(join(dir, "kernel.js"), kernelJs());
  return { dir };
}

export async function main(argv: string[]): Promise<number> {
  let where: "user" | "sys-prefix" | "prefix" = "user";
  let prefix = "";
  let name = "exitlab";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--user") where = "user";
    else if (a === "--sys-prefix") where = "sys-prefix";
    else if (a === "--prefix" || a === "--name") {
      const v = argv[++i];
      if (!v) {
        process.stderr.write(`exitlab: ${a} needs a value\n${USAGE}`);
        return 2;
      }
      if (a === "--prefix") (where = "prefix"), (prefix = v);
      else name = v;
    } else {
      process.stderr.write(`exitlab: unknown option ${a}\n${USAGE}`);
      return 2;
    }
  }
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    process.stderr.write(`exitlab: kernel name "${name}" may hold only letters, digits, . _ -\n`);
    return 2;
  }
  try {
    const dir =
      where === "sys-prefix"
        ? installWithJupyter(name)
        : installKernelspec(where === "user" ? userDataDir() : join(prefix, "share", "jupyter"), name).dir;
    process.stdout.write(`installed kernelspec ${name} in ${dir}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`exitlab: kernel install failed: ${(e as Error).message}\n`);
    return 1;
  }
}
