// Reading a program (file or stdin) and reporting argument errors.

import { readFileSync } from "node:fs";

export class UsageError extends Error {}

export function readProgram(file: string): string {
  if (file === "-") return readFileSync(0, "utf8");
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function usageFailure(message: string): number {
  process.stderr.write(`exitlab: ${message}\n(see \`exitlab --help\`)\n`);
  return 2;
}
