.code32
start:
  mov $0x7000000, %esp
  lgdt gdtr
  lidt idtr
  mov $0x11, %al                 # PIC: ICW1, ICW2 (IR0 is vector 0x20), ICW3, ICW4
  out %al, $0x20
  mov $0x20, %al
  out %al, $0x21
  mov $0x04, %al
  out %al, $0x21
  mov $0x01, %al
  out %al, $0x21
  mov $0xfe, %al                 # OCW1: only IR0 (the PIT) unmasked
  out %al, $0x21
  movl $0x1ff, 0xfee000f0        # SVR: APIC software-enabled
  movl $0x700, 0xfee00350        # LVT0: ExtINT
  mov $0x34, %al                 # PIT counter 0: LSB then MSB, mode 2, binary
  out %al, $0x43
  mov $0xa9, %al                 # count 1193 (0x4a9): 999,847 ns a period
  out %al, $0x40
  mov $0x04, %al
  out %al, $0x40
  sti
wait:
  hlt                            # sleeps to the PIT's next expiry
  cmpl $3, count
  jb wait
  cli
  hlt
handler:
  incl count
  mov $0x20, %al                 # OCW2: non-specific EOI (KVM's PIT hears the ack)
  out %al, $0x20
  iret
  flat_gdt_idt 0x20, handler
count:
  .long 0
