// `exitlab check FILE.exl`: parse only.

import { parse, ExitlabSyntaxError } from "../../grammar/parse.js";
import { errorResult } from "../../lab/errors.js";
import { formatError } from "../../lab/results.js";
import { readProgram, usageFailure } from "./io.js";

export async function checkCommand(args: string[]): Promise<number> {
  if (args.length !== 1) return usageFailure("check needs exactly one program file (or -)");
  const file = args[0]!;
  const read = readProgram(file);
  if ("status" in read) return read.status;
  const { source } = read;
  try {
    const n = parse(source).statements.length;
    process.stdout.write(`${file}: ok (${n} statement${n === 1 ? "" : "s"})\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof ExitlabSyntaxError)) throw e;
    process.stderr.write(`${file}: ${formatError(errorResult(source, "SyntaxError", e.message, e.pos, e.hint))}\n`);
    return 2;
  }
}
