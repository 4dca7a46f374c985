// A third guest for the page: a real Linux in v86 (an x86 emulator in JavaScript and wasm), its
// emulated NIC a port on the page's switch (EmulatorNic). The server hands out the machine's files
// under /v86/ (v86.wasm, SeaBIOS, a 32-bit kernel and an initramfs); whatever runs in the initramfs
// talks to the Web Worker guests over the switch.
import { V86 } from 'v86';
import { EmulatorNic, type EmulatorNicBus, type LearningSwitch } from '@vbus/net';

/** The Linux machine in the page. */
export interface PageV86 {
  emulator: V86;
  port: EmulatorNic;
  /** Everything the machine wrote to its serial console so far. */
  console(): string;
  /** Stop the machine and take its port off the switch. */
  stop(): Promise<void>;
}

/**
 * Boot the machine from the files under `base` (e.g. `/v86/`), its ne2k NIC on `sw` with `mac`
 * (the guest must give its NIC this MAC: the switch port accepts no other source).
 */
export function startPageV86(sw: LearningSwitch, base: string, mac: string): PageV86 {
  // #region page-v86
  const emulator = new V86({
    wasm_path: `${base}v86.wasm`,
    bios: { url: `${base}bios.bin` },
    vga_bios: { url: `${base}vgabios.bin` },
    bzimage: { url: `${base}vmlinuz` },
    initrd: { url: `${base}initrd` },
    cmdline: 'console=ttyS0 panic=-1 quiet',
    memory_size: 256 << 20,
    net_device: { type: 'ne2k' },
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
  });
  // v86's typings name `net0-send` but not its message bus; at run time a V86 has both
  const port = EmulatorNic.attach(emulator as unknown as EmulatorNicBus, sw, { name: 'v86/net0', mac });
  // #endregion page-v86
  let text = '';
  emulator.add_listener('serial0-output-byte', (byte: number) => {
    text += String.fromCharCode(byte);
  });
  return {
    emulator,
    port,
    console: () => text,
    stop: async () => {
      port.detach();
      await emulator.destroy();
    },
  };
}
