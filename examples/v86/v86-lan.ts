// v86 as an embedder of the bus: an x86 emulator (npm `v86`, JavaScript and wasm) whose emulated NIC
// (ne2k or virtio-net) is a port on a vbus learning switch, next to two TypeScript guests: one on a
// venet NIC, one on a virtio-net NIC, each with the guest IPv4 responder (ping, UDP echo on port 7).
// Whatever runs inside v86 (a Linux kernel, in the test) reaches both over the switch.
import { fileURLToPath } from 'node:url';
import { V86 } from 'v86';
import { createVbus, GuestAllocator, InProcessConnector, RegionMemory, type GuestConnection } from '@vbus/core';
import { attachPeer, EmulatorNic, GuestResponder, LearningSwitch, parseMac, type EmulatorNicBus, type GuestNic } from '@vbus/net';
import { venetModule, VenetDriver } from '@vbus/venet';
import { VirtioNetDriver, virtioNetModule } from '@vbus/virtio-compat';

/** A TypeScript guest on the switch: its NIC kind, address and responder. */
export interface LanGuest {
  kind: 'venet' | 'virtio-net';
  mac: string;
  ip: string;
  responder: GuestResponder;
  nic: GuestNic;
}

/** What the v86 machine boots. */
export interface V86LanOptions {
  /** SeaBIOS (Debian: /usr/share/seabios/bios.bin) and its VGA BIOS (vgabios-stdvga.bin). */
  bios: Uint8Array;
  vgaBios: Uint8Array;
  /** A 32-bit Linux bzImage and its initrd (v86 emulates a 32-bit x86 only). */
  bzimage: Uint8Array;
  initrd: Uint8Array;
  /** Kernel command line; the console should be ttyS0 (collected in `console()`). */
  cmdline?: string;
  /** The NIC v86 emulates. Default 'ne2k'. */
  nic?: 'ne2k' | 'virtio';
  /** The MAC the guest inside v86 gives its NIC (the switch port accepts only this source). */
  mac: string;
  /** Guest RAM in MiB; the initrd is loaded at 64 MiB, so at least 128. Default 256. */
  memoryMiB?: number;
  /** Addresses of the two TypeScript guests. */
  venetIp?: string;
  virtioIp?: string;
}

/** A running LAN: the switch, the TypeScript guests, the emulator and its port. */
export interface V86Lan {
  switch: LearningSwitch;
  venet: LanGuest;
  virtio: LanGuest;
  emulator: V86;
  port: EmulatorNic;
  /** Everything the emulated machine wrote to its first serial port so far. */
  console(): string;
  /** Stop the emulator and close the guests and the switch. */
  close(): Promise<void>;
}

function arrayBuffer(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}

/** v86's wasm module, next to its ES module in the npm package (ESM builds must be told where). */
export function v86WasmPath(): string {
  return fileURLToPath(new URL('v86.wasm', import.meta.resolve('v86')));
}

// #region ts-guest
async function tsGuest(sw: LearningSwitch, kind: LanGuest['kind'], mac: string, ip: string): Promise<LanGuest & { conn: GuestConnection }> {
  const { vbus } = createVbus({ modules: [venetModule, virtioNetModule] });
  const bus = vbus.createBus(`lan-${kind}`);
  bus.createDevice(kind === 'venet' ? 'virtual-ethernet' : 'virtio-net', 'nic0', { mac, backend: sw });
  const mem = RegionMemory.create(0x10000, 8 << 20);
  const conn = new InProcessConnector(bus, mem).open('nic0');
  const allocator = new GuestAllocator(0x10000, 8 << 20);
  const nic = kind === 'venet' ? await VenetDriver.open(conn, allocator) : await VirtioNetDriver.open(conn, allocator);
  // the emulated machine is slow: its replies can take seconds while it boots or is busy
  const responder = new GuestResponder({ mac: parseMac(mac), ip, timeoutMs: 20_000 });
  attachPeer(nic, responder);
  return { kind, mac, ip, responder, nic, conn };
}
// #endregion ts-guest

/**
 * Start the LAN: a learning switch, a venet guest and a virtio-net guest (in this thread, through
 * the in-process connector), and a v86 machine whose NIC is a switch port. The machine starts at once.
 */
export async function startV86Lan(options: V86LanOptions): Promise<V86Lan> {
  const sw = new LearningSwitch();
  const venet = await tsGuest(sw, 'venet', '52:54:00:00:01:01', options.venetIp ?? '192.0.2.1');
  const virtio = await tsGuest(sw, 'virtio-net', '52:54:00:00:01:03', options.virtioIp ?? '192.0.2.3');
  // #region v86-attach
  const emulator = new V86({
    wasm_path: v86WasmPath(),
    bios: { buffer: arrayBuffer(options.bios) },
    vga_bios: { buffer: arrayBuffer(options.vgaBios) },
    bzimage: { buffer: arrayBuffer(options.bzimage) },
    initrd: { buffer: arrayBuffer(options.initrd) },
    cmdline: options.cmdline ?? 'console=ttyS0 panic=-1 quiet',
    memory_size: (options.memoryMiB ?? 256) << 20,
    net_device: { type: options.nic ?? 'ne2k' },
    autostart: true,
  });
  // v86's typings name `net0-send` but not its message bus; at run time a V86 has both
  const port = EmulatorNic.attach(emulator as unknown as EmulatorNicBus, sw, { name: 'v86/net0', mac: options.mac });
  // #endregion v86-attach
  let consoleText = '';
  emulator.add_listener('serial0-output-byte', (byte: number) => {
    consoleText += String.fromCharCode(byte);
  });
  return {
    switch: sw,
    venet,
    virtio,
    emulator,
    port,
    console: () => consoleText,
    close: async () => {
      port.detach();
      await emulator.destroy();
      await venet.conn.close();
      await virtio.conn.close();
      await sw.close();
    },
  };
}
