// Instruction fetch for X86Cpu (its second layer, over cpu-memory.ts): decoded instructions and
// compiled blocks cached by host-physical code page, the last fetch translation and four earlier
// ones (an instruction TLB), and dropping them when code is written (self-modifying code) or
// translations change.
import type { X86State } from "./env.js";
import type { X86Insn } from "./isa/types.js";
import { decodeX86 } from "./isa/decode.js";
import { compileBlock, MAX_BLOCK_INSNS, type Block } from "./jit.js";
import { CpuMemory } from "./cpu-memory.js";

interface CodePage {
  insns: (X86Insn | undefined)[];
  blocks: (Block | null | undefined)[];
}

const PAGE_END = new Error("page end");

/** X86Cpu's instruction-fetch layer (cpu.ts): fetchInsn and blockAt, over the memory layer's translation. */
export abstract class CpuFetch extends CpuMemory {
  /**
   * Decoded instructions and compiled blocks by host-physical page (the memory the code came
   * from), in arrays indexed by page offset. Code is position independent (rip-relative), so
   * entries stay valid across TLB flushes; a write to the page drops it (codeWritten).
   */
  protected override readonly code = new Map<number, CodePage>();
  /** A store hit a page with cached code since the flag was cleared (blocks stop; jit.ts). */
  smc = false;
  // The last instruction-fetch translation: linear page → code page (an instruction TLB entry).
  private fLin = NaN;
  private fMode: X86State["mode"] = "real";
  private fCs: X86State["seg"]["cs"] | null = null;
  private fCsBaseN = 0;
  private fPage: CodePage | null = null;
  private fHpa = 0;
  /** The fetch translation was made at CPL 3 (userBank): it serves that privilege only. */
  private fUser = false;
  /** Page offset of rip after codePage(). */
  private fOff = 0;

  /** Bumped whenever a fetch translation or cached code may have changed (block chains check it). */
  epoch = 0;
  /** Forget the cached fetch translations and the data TLB (TLB flush, EPT change by the hypervisor, VM entry). */
  invalidateFetch(): void {
    if (this.fetchedPages.size !== 0) this.fetchedPages.clear();
    this.epoch++;
    this.systemVersion++;
    this.fLin = NaN;
    this.fPage = null;
    this.fCs = null;
    this.vLin.fill(NaN);
    this.invalidateData();
  }

  // Earlier fetch translations (an interrupt handler's page and the interrupted code's): the
  // entry codePage replaced goes here, valid exactly as long as it would have stayed (dropped with
  // it by invalidateFetch, or alone when its page's code is written).
  private readonly vLin = new Float64Array(4).fill(NaN);
  private readonly vMode: X86State["mode"][] = ["real", "real", "real", "real"];
  private readonly vPage: (CodePage | null)[] = [null, null, null, null];
  private readonly vHpa = new Float64Array(4);
  private readonly vUser = [false, false, false, false];
  private vNext = 0;

  /** Guest memory written at a page: drop decoded and compiled code from it (self-modifying code); note a paging-structure write. */
  codeWritten(pageNumber: number): void {
    this.ptWatch.written(pageNumber);
    if (this.zeroPages.size !== 0 && this.zeroPages.has(pageNumber)) this.invalidateData();
    if (this.code.delete(pageNumber)) {
      this.smc = true;
      this.epoch++;
      if (this.fPage && this.fHpa === pageNumber) this.invalidateFetch();
      for (let i = 0; i < 4; i++) if (this.vHpa[i] === pageNumber) this.vLin[i] = NaN;
    }
  }

  /** The code page rip is in (translating the fetch once per page), or null (not RAM: slow path). */
  private codePage(): CodePage | null {
    const s = this.state;
    let lin: number;
    const cs = s.seg.cs;
    if (s.mode === "long64") lin = s.pc;
    else {
      // CS changes (segment loads, VM entry) replace the object or invalidate this cache.
      if (cs !== this.fCs) {
        this.invalidateFetch();
        this.fCs = cs;
        this.fCsBaseN = Number(cs.base & 0xffff_ffffn);
      }
      lin = this.fCsBaseN + s.pc; // both below 2^32: wrap by one subtraction (% on doubles is slow)
      if (lin >= 4294967296) lin -= 4294967296;
    }
    const linPage = Math.floor(lin / 4096);
    this.fOff = (lin - linPage * 4096) | 0;
    const user = this.userBank;
    if (linPage === this.fLin && s.mode === this.fMode && user === this.fUser && this.fPage) return this.fPage;
    for (let i = 0; i < 4; i++) {
      if (this.vLin[i] !== linPage || this.vMode[i] !== s.mode || this.vUser[i] !== user) continue;
      // Swap: the earlier translation becomes the current one, the current one an earlier one.
      const page = this.vPage[i]!, hpa = this.vHpa[i]!;
      this.remember(i);
      (this.fLin = linPage), (this.fMode = s.mode), (this.fUser = user), (this.fPage = page), (this.fHpa = hpa);
      return page;
    }
    const big = BigInt.asUintN(64, BigInt(lin));
    this.fetchedPages.add(linPage);
    const gpa = this.translateLinear(big, { write: false, fetch: true, user: this.cpl() === 3 });
    const hpa = this.hostAddress(gpa, big, "fetch", true);
    if (hpa === null) return null;
    const pn = Math.floor(hpa / 4096);
    let page = this.code.get(pn);
    if (!page) {
      this.code.set(pn, (page = { insns: new Array<X86Insn | undefined>(4096).fill(undefined), blocks: new Array<Block | null | undefined>(4096).fill(undefined) }));
      // Writes to a code page must go through codeWritten: drop every vCPU's fast write entries for it.
      this.dropPeerWriteEntries(pn);
    }
    this.remember(this.vNext);
    this.vNext = (this.vNext + 1) & 3;
    this.fLin = linPage;
    this.fMode = s.mode;
    this.fUser = user;
    this.fPage = page;
    this.fHpa = pn;
    return page;
  }

  /** Keep the current fetch translation in earlier-translation slot `i` (none: the slot is emptied). */
  private remember(i: number): void {
    const cur = this.fPage;
    this.vLin[i] = cur !== null && this.fLin === this.fLin ? this.fLin : NaN;
    this.vMode[i] = this.fMode;
    this.vUser[i] = this.fUser;
    this.vPage[i] = cur;
    this.vHpa[i] = this.fHpa;
  }

  /** Decode at a page offset from memory; null if the instruction does not end in the page. */
  private decodeInPage(page: CodePage, off: number, mode: X86State["mode"]): X86Insn | null {
    const hit = page.insns[off];
    if (hit && hit.mode === mode) return hit;
    const base = this.fHpa * 4096;
    const memory = this.deps.memory;
    let insn: X86Insn;
    try {
      insn = decodeX86((o) => {
        if (off + o >= 4096) throw PAGE_END;
        return memory.readByte(base + off + o);
      }, mode);
    } catch (e) {
      if (e === PAGE_END) return null;
      throw e;
    }
    page.insns[off] = insn;
    return insn;
  }

  /** The decoded instruction at rip: fetched through paging/EPT (may fault or exit), decoded once. */
  fetchInsn(): X86Insn {
    const s = this.state;
    const page = this.codePage();
    const insn = page ? this.decodeInPage(page, this.fOff, s.mode) : null;
    return insn ?? decodeX86((o) => this.fetchByte(o), s.mode);
  }

  /** The compiled block at rip, or null (no template for the first instruction, or not RAM). */
  blockAt(): Block | null {
    const s = this.state;
    if (s.mode === "real" || s.mode === "protected16") return null;
    const page = this.codePage();
    if (!page) return null;
    const start = this.fOff;
    const hit = page.blocks[start];
    if (hit !== undefined && (hit === null || hit.mode === s.mode)) return hit;
    const insns: X86Insn[] = [];
    for (let off = start; insns.length < MAX_BLOCK_INSNS; ) {
      const insn = this.decodeInPage(page, off, s.mode);
      if (!insn) break;
      insns.push(insn);
      off += insn.length;
      if (insn.spec.sem === "ud") break;
    }
    const block = insns.length ? compileBlock(insns, s.mode) : null;
    page.blocks[start] = block;
    return block;
  }

  /** Instruction-fetch byte at cs:rip+offset (the decoder's fetch callback). */
  fetchByte(offset: number): number {
    // In the page of the current fetch translation (64-bit mode): its RAM page, as the walk would give
    // (the translation is dropped whenever the TLB, EPT, CS or the CPL change: invalidateFetch).
    const s = this.state;
    if (s.mode === "long64" && this.fPage !== null && this.fMode === "long64" && this.fUser === this.userBank && !this.emulating) {
      const lin = s.pc + offset;
      const page = Math.floor(lin / 4096);
      if (page === this.fLin) return this.deps.memory.readByte(this.fHpa * 4096 + (lin - page * 4096));
    }
    const lin = this.linear("cs", this.state.rip + BigInt(offset));
    return Number(this.accessLinear(lin, 1, "fetch"));
  }
}
