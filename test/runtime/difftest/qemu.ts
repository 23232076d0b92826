// QEMU user mode for the differential tests: like EXITLAB_REQUIRE_BINUTILS (test/tools.ts), the
// environment variable EXITLAB_REQUIRE_QEMU=1 turns a missing qemu-user or GNU binutils into a
// failure; without it those tests skip and say why.

export const qemuRequired = process.env.EXITLAB_REQUIRE_QEMU === "1";
