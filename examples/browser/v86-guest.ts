// A third guest for the page: a real Linux in v86 (an x86 emulator in JavaScript and wasm), its
// emulated NIC a port on the page's switch (EmulatorNic). v86 runs in a Web Worker of its own
// (v86-worker.ts); the server hands out the machine's files under /v86/ (v86.wasm, SeaBIOS, a
// 32-bit kernel and an initramfs).
import { EmulatorNic, type EmulatorNicBus, type LearningSwitch } from '@vbus/net';
import type { FromV86Worker, ToV86Worker } from './v86-worker.js';

/** The Linux machine of the page. */
export interface PageV86 {
  port: EmulatorNic;
  /** Everything the machine wrote to its serial console so far. */
  console(): string;
  /** Type on the machine's serial console. */
  serialSend(text: string): void;
  /** Take its port off the switch and stop the machine and its worker. */
  stop(): Promise<void>;
}

interface V86Worker {
  postMessage(m: ToV86Worker, transfer?: ArrayBuffer[]): void;
  addEventListener(t: 'message', f: (e: { data: FromV86Worker }) => void): void;
  terminate(): void;
}
/** The page's Worker constructor (declared here: the project compiles without DOM types). */
const WebWorker = (globalThis as unknown as { Worker: new (url: URL, options: { type: 'module' }) => V86Worker }).Worker;

/**
 * Boot the machine from the files under `base` (e.g. `/v86/`), its ne2k NIC on `sw` with `mac`
 * (the guest must give its NIC this MAC: the switch port accepts no other source).
 */
export function startPageV86(sw: LearningSwitch, base: string, mac: string): PageV86 {
  // #region page-v86
  const worker = new WebWorker(new URL('./v86-worker.js', import.meta.url), { type: 'module' });
  // the emulator's event bus, as EmulatorNic sees it, carried across to the worker
  const fromGuest = new Set<(frame: Uint8Array) => void>();
  const emulator: EmulatorNicBus = {
    add_listener: (event, f) => void (event === 'net0-send' && fromGuest.add(f)),
    remove_listener: (event, f) => void (event === 'net0-send' && fromGuest.delete(f)),
    bus: {
      send: (event, frame) => {
        // valid only during the call: the worker gets a copy
        const copy = frame.slice();
        if (event === 'net0-receive') worker.postMessage({ t: 'frame', frame: copy }, [copy.buffer]);
      },
    },
  };
  const port = EmulatorNic.attach(emulator, sw, { name: 'v86/net0', mac });
  // #endregion page-v86
  let text = '';
  let stopped: (() => void) | undefined;
  worker.addEventListener('message', (e) => {
    const m = e.data;
    if (m.t === 'frame') for (const f of fromGuest) f(m.frame);
    else if (m.t === 'serial') text += m.text;
    else if (m.t === 'stopped') stopped?.();
  });
  worker.postMessage({ t: 'start', base });
  return {
    port,
    console: () => text,
    serialSend: (s) => worker.postMessage({ t: 'serial', text: s }),
    stop: async () => {
      port.detach();
      await new Promise<void>((resolve) => {
        stopped = resolve;
        worker.postMessage({ t: 'stop' });
        setTimeout(resolve, 2000);
      });
      worker.terminate();
    },
  };
}
