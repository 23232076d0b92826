// Reading a program (file or stdin) and reporting argument errors.

import { readFileSync } from "node:fs";

/** The program's text (`-`: standard input), or the exit status after saying why it cannot be read. */
export function readProgram(file: string): { source: string } | { status: number } {
  if (file === "-") return { source: readFileSync(0, "utf8") };
  try {
    return { source: readFileSync(file, "utf8") };
  } catch (e) {
    return { status: usageFailure(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`) };
  }
}

export function usageFailure(message: string): number {
  process.stderr.write(`exitlab: ${message}\n(see \`exitlab --help\`)\n`);
  return 2;
}
