// The legacy PIC through the CLI: a guest initializes the 8259A pair the way Linux's init_8259A
// does, masks every pin as kvm-unit-tests' mask_pic_interrupts does (outb 0xff to 0x21 and 0xa1),
// reads the masks and the ELCR back; KVM emulates the ports in the kernel (i8259.c on
// KVM_PIO_BUS): kvm_pio is traced, with no trip to the VMM (no kvm_userspace_exit).

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function run(program: string): { out: string; err: string; status: number | null } {
  const r = spawnSync(process.execPath, ["bin/exitlab.js", "run", "-"], { cwd: ROOT, input: program, encoding: "utf8" });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

const PROGRAM = (era: string) => `set era ${era}
vm boot x86_64 asm mode 32 {
  mov $0x11, %al
  out %al, $0x20
  mov $0x20, %al
  out %al, $0x21
  mov $0x04, %al
  out %al, $0x21
  mov $0x01, %al
  out %al, $0x21
  mov $0x11, %al
  out %al, $0xa0
  mov $0x28, %al
  out %al, $0xa1
  mov $0x02, %al
  out %al, $0xa1
  mov $0x01, %al
  out %al, $0xa1
  mov $0xff, %al
  out %al, $0x21
  out %al, $0xa1
  mov $0x4d1, %dx
  mov $0xff, %al
  out %al, %dx
  in $0x21, %al
  mov %al, %bl
  in $0xa1, %al
  mov %al, %bh
  in %dx, %al
  mov %al, %cl
  mov $0x0b, %al
  out %al, $0x20
  in $0x20, %al
  mov %al, %ch
  hlt
}
run
print "imr", rbx & 0xffff, "elcr2", rcx & 0xff, "isr", (rcx >> 8) & 0xff
show trace
`;

describe("the 8259A pair in the kernel", () => {
  for (const era of ["2015", "today"]) {
    it(`${era}: the guest programs and masks both chips; the ports never reach the VMM`, () => {
      const r = run(PROGRAM(era));
      expect(r.err).toBe("");
      expect(r.status).toBe(0);
      // IMRs 0xff/0xff; ELCR2 keeps the writable bits only (0xde); the ISR is empty.
      expect(r.out).toMatch(/^imr 0xffff elcr2 0xde isr 0x0$/m);
      expect(r.out).toContain("kvm_pio: pio_write at 0x21 size 1 count 1 val 0xff");
      expect(r.out).toContain("kvm_pio: pio_write at 0x4d1 size 1 count 1 val 0xff");
      expect(r.out).toContain("kvm_pio: pio_read at 0xa1 size 1 count 1 val 0xff");
      expect(r.out).toContain("kvm_pio: pio_read at 0x4d1 size 1 count 1 val 0xde");
      expect(r.out).not.toContain("kvm_userspace_exit");
    });
  }
});
