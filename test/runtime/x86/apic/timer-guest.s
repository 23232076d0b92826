.code32
start:
  mov $0x7000000, %esp
  lgdt gdtr
  lidt idtr
  movl $0x1ff, 0xfee000f0        # SVR: APIC software-enabled, spurious vector 0xff
  movl $0x0b, 0xfee003e0         # TDCR: divide by 1
  movl $0x20030, 0xfee00320      # LVTT: periodic, vector 0x30
  movl $10000, 0xfee00380        # TMICT: 10000 bus cycles
  sti
wait:
  hlt
  cmpl $5, ticks
  jb wait
  cli
  movl $0, 0xfee00320 + 0        # LVTT: one-shot (disarms)
  movl $0x10000, 0xfee00320      # masked
  hlt
handler:
  incl ticks
  movl $0, 0xfee000b0            # EOI
  iret
  flat_gdt_idt 0x30, handler
ticks:
  .long 0
