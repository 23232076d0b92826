// RDPKRU and WRPKRU (Intel SDM Vol. 2B "RDPKRU", "WRPKRU"; Vol. 3 4.6.2): PKRU, the user-mode
// protection keys' rights (runtime/x86/pkeys.ts). Neither causes a VM exit (SDM Vol. 3 25.1.3:
// they are not in the list of instructions that cause exits): KVM switches PKRU at entry and exit.

import { CR4_PKE } from "../../pkeys.js";
import { VECTOR } from "../../vectors.js";
import { readGpr, writeGpr, type Sem } from "./core.js";

/** RDPKRU: #UD if CR4.PKE = 0; #GP(0) if ECX ≠ 0; else EAX = PKRU, EDX = 0 (upper halves of RAX/RDX cleared). */
const rdpkru: Sem = (env) => {
  const s = env.state;
  if (!(s.cr4 & CR4_PKE)) return env.raise(VECTOR.UD);
  if (readGpr(s, 1, 4) !== 0n) return env.raise(VECTOR.GP, 0);
  writeGpr(s, 0, 4, BigInt((s.pkru ?? 0) >>> 0));
  writeGpr(s, 2, 4, 0n);
};

/** WRPKRU: #UD if CR4.PKE = 0; #GP(0) if ECX ≠ 0 or EDX ≠ 0; else PKRU = EAX (any CPL). */
const wrpkru: Sem = (env) => {
  const s = env.state;
  if (!(s.cr4 & CR4_PKE)) return env.raise(VECTOR.UD);
  if (readGpr(s, 1, 4) !== 0n || readGpr(s, 2, 4) !== 0n) return env.raise(VECTOR.GP, 0);
  s.pkru = Number(readGpr(s, 0, 4));
};

export const PKEYS_SEMANTICS: Record<string, Sem> = { rdpkru, wrpkru };
