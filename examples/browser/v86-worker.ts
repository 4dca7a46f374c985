// v86 in a Web Worker of its own, so that the emulated machine never holds the page's main thread
// (where the bus's host side serves its doorbells). Its NIC's frames and its serial console cross
// to the page with postMessage; the page puts the NIC on its switch (v86-guest.ts).
import { V86 } from 'v86';

/** Page to worker. */
export type ToV86Worker = { t: 'start'; base: string } | { t: 'frame'; frame: Uint8Array } | { t: 'serial'; text: string } | { t: 'stop' };
/** Worker to page. */
export type FromV86Worker = { t: 'frame'; frame: Uint8Array } | { t: 'serial'; text: string } | { t: 'stopped' };

const scope = globalThis as unknown as {
  postMessage(m: FromV86Worker, transfer?: ArrayBuffer[]): void;
  addEventListener(t: 'message', f: (e: { data: ToV86Worker }) => void): void;
};
let emulator: V86 | undefined;
let serial = '';
// the console goes out in chunks, not a message per byte
const flush = setInterval(() => {
  if (serial === '') return;
  scope.postMessage({ t: 'serial', text: serial });
  serial = '';
}, 50);

scope.addEventListener('message', (e) => {
  const m = e.data;
  if (m.t === 'start') {
    emulator = new V86({
      wasm_path: `${m.base}v86.wasm`,
      bios: { url: `${m.base}bios.bin` },
      vga_bios: { url: `${m.base}vgabios.bin` },
      bzimage: { url: `${m.base}vmlinuz` },
      initrd: { url: `${m.base}initrd` },
      cmdline: 'console=ttyS0 panic=-1 quiet',
      memory_size: 256 << 20,
      net_device: { type: 'ne2k' },
      autostart: true,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
    });
    // a frame is a view into the emulator's memory: copy it, then hand the copy over
    emulator.add_listener('net0-send', (frame: Uint8Array) => {
      const copy = frame.slice();
      scope.postMessage({ t: 'frame', frame: copy }, [copy.buffer]);
    });
    emulator.add_listener('serial0-output-byte', (byte: number) => {
      serial += String.fromCharCode(byte);
    });
  } else if (m.t === 'frame') (emulator as unknown as { bus: { send(e: string, d: Uint8Array): void } } | undefined)?.bus.send('net0-receive', m.frame);
  else if (m.t === 'serial') emulator?.serial0_send(m.text);
  else if (m.t === 'stop') {
    clearInterval(flush);
    void (emulator?.destroy() ?? Promise.resolve()).then(() => scope.postMessage({ t: 'stopped' }));
  }
});
