// `exitlab repl`: line editing via node:readline; lines accumulate while an asm block is open.

import { createInterface } from "node:readline";
import { Session } from "../../lab/session.js";
import { isComplete } from "../../lab/complete.js";
import { complete } from "../../lab/complete.js";
import { renderText } from "../../lab/render/text.js";

export async function replCommand(args: string[]): Promise<number> {
  if (args.length) {
    process.stderr.write("exitlab: repl takes no arguments\n");
    return 2;
  }
  const session = await Session.create();
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: "exitlab> ",
    completer: (line: string) => {
      const c = complete(session, line, line.length);
      return [c.matches, line.slice(c.start)];
    },
  });
  let buffer = "";
  let interrupted = false;
  rl.on("SIGINT", () => {
    if (buffer) {
      buffer = "";
      process.stdout.write("\n");
      rl.setPrompt("exitlab> ");
      rl.prompt();
    } else rl.close();
  });
  rl.prompt();
  for await (const line of rl) {
    buffer += (buffer ? "\n" : "") + line;
    if (isComplete(buffer) === "incomplete") {
      rl.setPrompt("   ...> ");
      rl.prompt();
      continue;
    }
    const code = buffer;
    buffer = "";
    interrupted = false;
    for (const r of session.execute(code, { interrupted: () => interrupted })) {
      (r.kind === "error" ? process.stderr : process.stdout).write(renderText(r) + "\n");
    }
    rl.setPrompt("exitlab> ");
    rl.prompt();
  }
  return 0;
}
