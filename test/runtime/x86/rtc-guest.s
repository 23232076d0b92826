.code32
start:
  mov $0x7000000, %esp
  lgdt gdtr
  lidt idtr
  mov $0x11, %al                 # both PICs: ICW1, ICW2 (0x20 / 0x28), ICW3, ICW4
  out %al, $0x20
  out %al, $0xa0
  mov $0x20, %al
  out %al, $0x21
  mov $0x28, %al
  out %al, $0xa1
  mov $0x04, %al
  out %al, $0x21
  mov $0x02, %al
  out %al, $0xa1
  mov $0x01, %al
  out %al, $0x21
  out %al, $0xa1
  mov $0xfb, %al                 # master: only IR2 (the slave)
  out %al, $0x21
  mov $0xfe, %al                 # slave: only IR0 (IRQ 8, the RTC)
  out %al, $0xa1
  movl $0x1ff, 0xfee000f0        # SVR: APIC software-enabled
  movl $0x700, 0xfee00350        # LVT0: ExtINT
  mov $0x0b, %al                 # RTC register B: UIE (an interrupt each second), 24 h
  out %al, $0x70
  mov $0x12, %al
  out %al, $0x71
  sti
wait:
  hlt
  cmpl $2, count
  jb wait
  cli
  hlt
handler:
  incl count
  mov $0x0c, %al                 # read register C: the flags clear, IRQ 8 drops
  out %al, $0x70
  in $0x71, %al
  mov %al, flags
  mov $0x20, %al                 # EOI: slave, then master
  out %al, $0xa0
  out %al, $0x20
  iret
  flat_gdt_idt 0x28, handler
count:
  .long 0
flags:
  .long 0
