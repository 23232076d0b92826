// The bench's measures that need their own process (peak RSS is per process): run a script of
// dist/bench in a fresh node and read the JSON object it prints on its last stdout line.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Runs `script` (a file beside this one, e.g. "./mem-child.js") with `args` in a child node
 * process. Resolves to the parsed last line of its stdout; rejects naming `label`, the exit
 * status or signal and the last line of stderr when it fails, or when that line is not JSON.
 */
export function runChild<T>(script: string, args: readonly string[], label: string): Promise<T> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    p.on("error", reject);
    p.on("exit", (code, signal) => {
      if (code !== 0) return reject(new Error(`${label}: ${signal ?? `status ${code}`} ${err.trim().split("\n").slice(-1)[0] ?? ""}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").pop()!) as T);
      } catch (e) {
        reject(e);
      }
    });
  });
}
