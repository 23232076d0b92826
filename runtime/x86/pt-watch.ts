// Which guest pages hold paging structures, and whether any of them (or EPT) changed since the TLB
// was last flushed. A flush the guest asks for by toggling CR4.PGE (SDM Vol. 3 4.10.4.1: every
// TLB and paging-structure-cache entry goes, global ones included) changes nothing a later access
// can see when every entry the TLB holds is what a walk would give now: the walk's inputs other
// than PGE are unchanged (only PGE changed), no paging-structure entry was written since the
// entries were made (they were all made after the last real flush), and EPT is unchanged. The
// TLB then keeps them (X86Cpu.writeCr), and the guest does not walk its tables again after every
// toggle (kvm-unit-tests' vmexit_cr4_pge toggles it billions of cycles long).
//
// A page joins `pages` when a walk first reads an entry from it; the CPU then keeps no fast write
// entry for it in any vCPU (as for pages holding decoded code), so every later write reaches the
// memory's write hook, and `written` counts it. Entries read from MMIO cannot be watched: a walk
// that read one disables the shortcut until the next real flush.

/** Paging-structure pages of one vCPU's walks and the writes to them (X86Cpu.ptWatch). */
export class PageTableWatch {
  /** Host-physical page numbers a walk has read a paging-structure entry from. */
  readonly pages = new Set<number>();
  /** Writes to those pages so far. */
  private writes = 0;
  /** `writes` and the EPT version at the last real flush. */
  private writesAtFlush = 0;
  private eptAtFlush = -1;
  /** A walk read an entry from MMIO since the last real flush. */
  private mmio = false;

  /** A walk read an entry at host page `pn`: true when the page is new to the watch (the caller drops fast write entries for it). */
  noteEntryPage(pn: number): boolean {
    if (this.pages.has(pn)) return false;
    this.pages.add(pn);
    return true;
  }

  /** A walk read an entry from MMIO (not watchable). */
  noteMmioEntry(): void {
    this.mmio = true;
  }

  /** Guest memory at host page `pn` was written (the memory's write hook). */
  written(pn: number): void {
    if (this.pages.has(pn)) this.writes++;
  }

  /** The TLB was really flushed with EPT at `eptVersion` (Ept.version). */
  flushed(eptVersion: number): void {
    this.writesAtFlush = this.writes;
    this.eptAtFlush = eptVersion;
    this.mmio = false;
  }

  /** No watched page written, no MMIO entry read and EPT unchanged (`eptVersion`) since the last real flush. */
  unchangedSinceFlush(eptVersion: number): boolean {
    return this.writes === this.writesAtFlush && eptVersion === this.eptAtFlush && !this.mmio;
  }
}
