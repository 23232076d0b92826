# Self-IPIs through the xAPIC ICR in a loop (APICv: each ICR2/ICR store an APIC_WRITE exit), a
# read-modify-write of TMICT (a store in the middle of an instruction) and a store followed by
# more code in the same block: what trap-exit.test.ts runs compiled and interpreted.
.code32
start:
  mov $0x7000000, %esp
  lgdt gdtr
  lidt idtr
  movl $0x1ff, 0xfee000f0        # SVR: APIC software-enabled, spurious vector 0xff
  sti
  mov $40, %ecx
again:
  movl $0, 0xfee00310            # ICR2: destination 0
  movl $0x44040, 0xfee00300      # ICR: self, fixed, vector 0x40
  addl $1, sent
  orl $0x10, 0xfee00380          # TMICT: read (virtualized), write (APIC_WRITE)
  dec %ecx
  jnz again
  cli
  hlt
handler:
  incl ticks
  movl $0, 0xfee000b0            # EOI (virtualized)
  iret
  flat_gdt_idt 0x40, handler
ticks:
  .long 0
sent:
  .long 0
