// The `exitlab` command line: dispatches to one module per command (bin/commands/*).
// Exit codes: 0 ok, 1 failed expectation or runtime error, 2 syntax error or bad arguments.

import { readFileSync } from "node:fs";
import { runCommand } from "./commands/run.js";
import { checkCommand } from "./commands/check.js";
import { replCommand } from "./commands/repl.js";
import { kernelCommand } from "./commands/kernel.js";
import { kvmUnitTestsCommand, KUT_USAGE } from "./commands/kvm-unit-tests.js";

export const USAGE = `usage: exitlab <command> [arguments]

commands:
  run FILE.exl [--json] [--html OUT.html]   run a program (FILE "-" reads standard input)
  check FILE.exl                            parse only; report syntax errors
  repl                                      interactive session (asm blocks span lines)
  kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]
                                            install the Jupyter kernelspec
  ${KUT_USAGE}
                                            run kvm-unit-tests entries on exitlab and QEMU; compare
options:
  --help       this text
  --version    the exitlab version

exit status: 0 ok, 1 failed expectation or runtime error, 2 syntax error or bad arguments`;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
      process.stderr.write(USAGE + "\n");
      return 2;
    case "--help": case "-h": case "help":
      process.stdout.write(USAGE + "\n");
      return 0;
    case "--version": case "-V":
      process.stdout.write(`exitlab ${version()}\n`);
      return 0;
    case "run": return runCommand(rest);
    case "check": return checkCommand(rest);
    case "repl": return replCommand(rest);
    case "kernel": return kernelCommand(rest);
    case "kvm-unit-tests": return kvmUnitTestsCommand(rest);
    default:
      process.stderr.write(`exitlab: unknown command \`${cmd}\`\n\n${USAGE}\n`);
      return 2;
  }
}

// A reader that stops early (`exitlab run x.exl | head`) closes the pipe: stop quietly, as cat does.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`exitlab: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
