.code32
start:
  mov $0x7000000, %esp
  lgdt gdtr
  lidt idtr
  mov $0x11, %al                 # ICW1: edge, cascade, ICW4 follows
  out %al, $0x20
  mov $0x20, %al                 # ICW2: IR0 is vector 0x20
  out %al, $0x21
  mov $0x04, %al                 # ICW3: the slave on IR2
  out %al, $0x21
  mov $0x01, %al                 # ICW4: 8086 mode
  out %al, $0x21
  mov $0xfd, %al                 # OCW1: only IR1 unmasked
  out %al, $0x21
  movl $0x1ff, 0xfee000f0        # SVR: APIC software-enabled
  movl lvt0, %eax
  movl %eax, 0xfee00350          # LVT0: ExtINT (or masked)
  sti                            # its shadow covers the loop's first instruction once (SDM 6.8.3)
wait:
  cmpl $1, count
  jb wait
  cli
  hlt
handler:
  incl count
  mov $0x20, %al                 # OCW2: non-specific EOI to the master
  out %al, $0x20
  iret
  flat_gdt_idt 0x21, handler
count:
  .long 0
lvt0:
  .long 0x700
