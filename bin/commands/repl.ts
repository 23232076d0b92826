// `exitlab repl`: line editing via node:readline; lines accumulate while an asm block is open.
// The session runs in a worker thread (bin/repl-backend.ts through the kernel's Engine), so the
// main thread sees Ctrl-C while a statement runs: it stops the guest at the next instruction
// boundary and the prompt comes back with the VM as it stopped. Leaving: `exit` or `quit`,
// Ctrl-D, or Ctrl-C twice at an empty prompt (as node's REPL).

import { createInterface } from "node:readline";
import { isComplete } from "../../lab/complete.js";
import { Engine } from "../../kernel/engine.js";
import type { Output } from "../../kernel/backend.js";

const PROMPT = "exitlab> ";
const MORE = "   ...> ";
/** Lines that leave the REPL (when no asm block is open). */
const LEAVE = /^\s*(?:exit|quit)\s*;?\s*$/i;

export async function replCommand(args: string[]): Promise<number> {
  if (args.length) {
    process.stderr.write("exitlab: repl takes no arguments\n");
    return 2;
  }
  const engine = new Engine(new URL("../../kernel/worker.js", import.meta.url), new URL("../repl-backend.js", import.meta.url).href);
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: PROMPT,
    completer: (line: string, done: (err: Error | null, result: [string[], string]) => void) => {
      engine.request({ op: "complete", code: line, cursorPos: line.length }).then(
        (r) => {
          const c = r as { matches: string[]; cursor_start: number };
          done(null, [c.matches, line.slice(c.cursor_start)]);
        },
        () => done(null, [[], line]),
      );
    },
  });
  let buffer = "";
  let running = false;
  /** A Ctrl-C at an empty prompt: the next one leaves. */
  let leaveOnNext = false;
  const onInterrupt = () => {
    if (running) {
      engine.interrupt();
      return;
    }
    if (buffer) {
      buffer = "";
      process.stdout.write("\n");
      rl.setPrompt(PROMPT);
      rl.prompt();
      return;
    }
    if (leaveOnNext) {
      process.stdout.write("\n");
      rl.close();
      return;
    }
    leaveOnNext = true;
    process.stdout.write("\n(to leave, press Ctrl-C again or Ctrl-D, or type exit)\n");
    rl.prompt();
  };
  // A terminal's Ctrl-C reaches readline; a signal (kill -INT, a pipe's parent) reaches the process.
  rl.on("SIGINT", onInterrupt);
  process.on("SIGINT", onInterrupt);
  const write = (o: Output) => {
    if (o.type === "stream") (o.name === "stderr" ? process.stderr : process.stdout).write(o.text);
  };

  rl.prompt();
  for await (const line of rl) {
    leaveOnNext = false;
    if (!buffer && LEAVE.test(line)) break;
    buffer += (buffer ? "\n" : "") + line;
    if (isComplete(buffer) === "incomplete") {
      rl.setPrompt(MORE);
      rl.prompt();
      continue;
    }
    const code = buffer;
    buffer = "";
    engine.clearInterrupt();
    running = true;
    // The engine's worker does not keep the process alive; standard input may have ended already.
    const alive = setInterval(() => {}, 1 << 30);
    try {
      await engine.request({ op: "execute", code }, write);
    } catch (e) {
      process.stderr.write(`exitlab: ${e instanceof Error ? e.message : String(e)}\n`);
    } finally {
      running = false;
      clearInterval(alive);
    }
    rl.setPrompt(PROMPT);
    rl.prompt();
  }
  rl.close();
  process.off("SIGINT", onInterrupt);
  await engine.stop();
  return 0;
}
