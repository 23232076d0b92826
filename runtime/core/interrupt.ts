// Interrupt requests seen by long loops outside the guest run loop (assembling a large asm block,
// macro expansion): the lab installs the poll for the duration of one statement, the loops ask
// it every POLL_EVERY iterations. Without a poll installed, nothing is ever interrupted.

import { ExitlabError } from "./errors.js";

/** A user's interrupt (Ctrl-C, the kernel's interrupt_request) stopped the work. */
export class InterruptedError extends ExitlabError {
  constructor(message: string) {
    super(message);
    this.name = "Interrupted";
  }
}

/** Iterations between two looks at the poll (a look is a shared-memory read). */
export const POLL_EVERY = 1024;

let poll: (() => boolean) | undefined;
let ticks = 0;

/** fn() with `interrupted` as the poll that pollInterrupt() asks; the previous poll comes back after. */
export function withInterruptPoll<T>(interrupted: (() => boolean) | undefined, fn: () => T): T {
  const before = poll;
  poll = interrupted;
  try {
    return fn();
  } finally {
    poll = before;
  }
}

/** Call once per iteration of a long loop; throws InterruptedError (`doing` says what stopped). */
export function pollInterrupt(doing: string): void {
  if (++ticks % POLL_EVERY === 0 && poll?.()) throw new InterruptedError(`interrupted while ${doing}`);
}
