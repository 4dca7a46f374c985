import { BusError, ConfigError } from '../common/errors.js';
import { checkPollBudgetUs } from '../common/connector/doorbell.js';
import { RegionMemory } from '../common/memory/region-memory.js';
import { GuestAllocator } from '../common/memory/allocator.js';
import { macrotask } from '../common/time/macrotask.js';
import type { GuestBus } from '../common/connector/guest-connection.js';
import { GuestControl } from '../common/connector/guest-control.js';
import type { HostToGuest } from '../common/connector/worker-protocol.js';
import { HANDSHAKE, type WebMessagePort, type WebWorkerScope } from './web-globals.js';

/** Options of {@link connectWebWorkerGuest}. */
export interface WebWorkerGuestOptions {
  /** Bytes of guest memory to allocate (one SharedArrayBuffer region). Default 4 MiB. */
  memoryBytes?: number;
  /** Guest address of that region. Default 0x10000. */
  baseAddress?: number;
  /** Spin this many microseconds for the device's next signal before sleeping. Default 0. */
  pollBudgetUs?: number;
}

/** What a guest in a Web Worker gets: its memory, an allocator over it, and the bus. */
export interface WebWorkerGuestRuntime {
  readonly name: string;
  /** `data` as given to {@link WebWorkerConnector.spawn}. */
  readonly data: unknown;
  readonly memory: RegionMemory;
  readonly allocator: GuestAllocator;
  readonly bus: GuestBus;
  /** Close every connection and the control port. */
  shutdown(): Promise<void>;
}

/**
 * In a Web Worker started by {@link WebWorkerConnector.spawn}: wait for the page's handshake,
 * allocate guest memory, share it with the host, and return the guest's runtime. Signals from the
 * device are dispatched on the worker's event loop (Atomics.waitAsync); a browser has no way to
 * take a control message synchronously, so there is no blocking poll mode here.
 */
export async function connectWebWorkerGuest(options: WebWorkerGuestOptions = {}): Promise<WebWorkerGuestRuntime> {
  if (typeof SharedArrayBuffer !== 'function')
    throw new ConfigError(
      'crossOriginIsolated',
      false,
      'connectWebWorkerGuest needs SharedArrayBuffer: the page must be cross-origin isolated (COOP same-origin, COEP require-corp)',
    );
  const pollBudgetUs = checkPollBudgetUs(options.pollBudgetUs);
  const scope = globalThis as unknown as WebWorkerScope;
  const hello = await new Promise<{ port: WebMessagePort; name: string; data: unknown }>((resolve) => {
    const listener = (e: { data: unknown }) => {
      const h = (e.data as Record<string, unknown> | null)?.[HANDSHAKE] as { port: WebMessagePort; name: string; data: unknown } | undefined;
      if (h === undefined) return;
      scope.removeEventListener('message', listener);
      resolve(h);
    };
    scope.addEventListener('message', listener);
  });
  if (hello.port === undefined) throw new BusError('connectWebWorkerGuest: the handshake carried no control port');
  const bytes = options.memoryBytes ?? 4 << 20;
  const base = options.baseAddress ?? 0x10000;
  const memory = RegionMemory.create(base, bytes);
  const allocator = new GuestAllocator(base, bytes);
  const port = hello.port;
  const control = new GuestControl(port, {
    name: String(hello.name),
    memory,
    regions: memory.regions().map((r) => ({ ...r, buffer: r.buffer as SharedArrayBuffer })),
    wake: undefined,
    blocking: false,
    pollBudgetUs,
    defer: macrotask,
  });
  port.onmessage = (e) => control.receive(e.data as HostToGuest);
  return { name: String(hello.name), data: hello.data, memory, allocator, bus: control.bus, shutdown: () => control.shutdown() };
}
