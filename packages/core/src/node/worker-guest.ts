import { workerData, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { BusError, ConfigError, VbusError } from '../common/errors.js';
import { RegionMemory } from '../common/memory/region-memory.js';
import type { GuestMemory } from '../common/memory/guest-memory.js';
import { checkEmbedderMemory, memoryOfRegions, type CheckedEmbedderMemory, type EmbedderMemory } from '../common/memory/embedder-memory.js';
import { DEFAULT_CONNECTOR_LIMITS } from '../common/connector/untrusted.js';
import { GuestAllocator } from '../common/memory/allocator.js';
import type { DeviceInfo } from '../common/bus/introspection.js';
import { DOORBELL_TO_GUEST, DOORBELL_TO_HOST, DoorbellLink, drainDoorbell, serveDoorbell, spinWhile } from '../common/connector/doorbell.js';
import { GuestConnectionImpl, type GuestBus, type GuestConnection } from '../common/connector/guest-connection.js';
import type { GuestToHost, HostToGuest, OpenReply } from './worker-protocol.js';

type WithReq = Extract<GuestToHost, { req: number }>;
type Request = WithReq extends infer M ? (M extends WithReq ? Omit<M, 'req'> : never) : never;

/** Options of {@link connectWorkerGuest}. */
export interface WorkerGuestOptions {
  /** Bytes of guest memory to allocate (one SharedArrayBuffer region). Default 4 MiB. Not with `memory`. */
  memoryBytes?: number;
  /** Guest address of that region. Default 0x10000. Not with `memory`. */
  baseAddress?: number;
  /**
   * The guest's memory is the embedder's own, chosen in this thread: SharedArrayBuffer regions
   * at the guest addresses it picks, and the range the allocator hands out. Checked against the
   * default connector limits (a ConfigError names the field); the host checks what it is told
   * again. When the host gave the memory at spawn (`WorkerConnector.spawn({ memory })`), that is
   * used and none of `memory`, `memoryBytes`, `baseAddress` may be given.
   */
  memory?: EmbedderMemory;
  /**
   * How signals from the device are received: `'event-loop'` (default) waits with
   * Atomics.waitAsync and dispatches on the worker's event loop; `'blocking'` dispatches only
   * inside {@link WorkerGuestRuntime.poll}, which blocks in Atomics.wait (a dedicated poll loop).
   */
  wait?: 'event-loop' | 'blocking';
  /**
   * Adaptive polling: before sleeping (Atomics.waitAsync or, in blocking mode, Atomics.wait),
   * spin this many microseconds for the device's next signal. Default 0: always sleep.
   */
  pollBudgetUs?: number;
}

/** What a guest worker gets: its memory, an allocator over it, and the bus. */
export interface WorkerGuestRuntime {
  readonly name: string;
  /** `workerData.data` as given to {@link WorkerConnector.spawn}. */
  readonly data: unknown;
  /** A {@link FlatMemory} when the memory is one region at guest address 0, else a {@link RegionMemory}. */
  readonly memory: GuestMemory;
  readonly allocator: GuestAllocator;
  readonly bus: GuestBus;
  /**
   * Blocking mode: dispatch signals and control messages, blocking in Atomics.wait between
   * them, until `until()` is true or `timeoutMs` passed without any signal. Returns the number
   * of doorbell wakes handled.
   */
  poll(until: () => boolean, timeoutMs?: number): number;
  /** Close every connection and the control port (the worker may then exit). */
  shutdown(): Promise<void>;
}

/**
 * In a worker started by {@link WorkerConnector.spawn}: allocate guest memory, share it with the
 * host, and return the guest's runtime.
 */
export function connectWorkerGuest(options: WorkerGuestOptions = {}): WorkerGuestRuntime {
  const port = workerData?.__vbusPort as MessagePort | undefined;
  if (!port) throw new BusError('connectWorkerGuest: this thread was not started by WorkerConnector.spawn');
  const given = workerData.__vbusMemory as CheckedEmbedderMemory | undefined;
  if (given !== undefined) refuseOwnMemory(options);
  const layout = given ?? ownMemory(options);
  const memory = memoryOfRegions(layout.regions);
  const allocator = new GuestAllocator(layout.allocator.address, layout.allocator.length);
  const blocking = options.wait === 'blocking';
  const pollBudgetUs = options.pollBudgetUs ?? 0;
  if (!Number.isFinite(pollBudgetUs) || pollBudgetUs < 0 || pollBudgetUs > 1_000_000)
    throw new ConfigError('pollBudgetUs', pollBudgetUs, 'must be a number of microseconds in [0, 1000000]');
  const wake = blocking ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
  const name = String(workerData.__vbusName ?? 'worker');
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  const conns = new Map<number, { guest: GuestConnectionImpl; cells: Int32Array; stop: boolean }>();
  let nextReq = 1;
  /** Work deferred by drivers in blocking mode, run by poll(). */
  const deferred: Array<() => void> = [];

  const onMessage = (m: HostToGuest): void => {
    if (m.t === 'reply') {
      const p = pending.get(m.req);
      if (!p) return;
      pending.delete(m.req);
      if (m.ok) p.resolve(m.value);
      else {
        const e = new VbusError(m.error.code, m.error.message);
        e.name = m.error.name;
        p.reject(e);
      }
    } else if (m.t === 'closed') {
      const c = conns.get(m.conn);
      if (c) {
        c.stop = true;
        conns.delete(m.conn);
        c.guest.closedBy(m.reason);
        Atomics.add(c.cells, DOORBELL_TO_GUEST + 1, 1);
        Atomics.notify(c.cells, DOORBELL_TO_GUEST + 1);
      }
    }
  };
  port.on('message', onMessage);
  const drainPort = (): void => {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) onMessage(m.message as HostToGuest);
  };

  const request = (msg: Request): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const req = nextReq++;
      pending.set(req, { resolve, reject });
      port.postMessage({ ...msg, req } as GuestToHost);
    });

  // memory the host gave at spawn is already the host's: the hello announces none
  const announce = given !== undefined ? [] : memory.regions().map((r) => ({ ...r, buffer: r.buffer as SharedArrayBuffer }));
  port.postMessage({ t: 'hello', guest: name, regions: announce, wake: wake?.buffer } satisfies GuestToHost);

  const open = async (deviceName: string): Promise<GuestConnection> => {
    const reply = (await request({ t: 'open', name: deviceName })) as OpenReply;
    const cells = new Int32Array(reply.doorbell);
    const connId = reply.conn;
    const guest = new GuestConnectionImpl(
      reply.device as DeviceInfo,
      memory,
      {
        call: async (func, data) => (await request({ t: 'call', conn: connId, func, data })) as Uint8Array,
        shm: async (id, address, length, signalAddress) => (await request({ t: 'shm', conn: connId, id, address, length, signalAddress })) as number,
        close: async () => {
          const c = conns.get(connId);
          if (c) c.stop = true;
          conns.delete(connId);
          await request({ t: 'close', conn: connId });
          Atomics.add(cells, DOORBELL_TO_GUEST + 1, 1);
          Atomics.notify(cells, DOORBELL_TO_GUEST + 1);
        },
      },
      new DoorbellLink(cells, DOORBELL_TO_HOST),
      // setImmediate, not a microtask: a long poll must let the doorbell and port be served.
      // In blocking mode the event loop is not running inside poll(), so poll() runs them.
      blocking ? (fn) => deferred.push(fn) : (fn) => setImmediate(fn),
    );
    const entry = { guest, cells, stop: false };
    conns.set(connId, entry);
    if (!blocking)
      void serveDoorbell(cells, DOORBELL_TO_GUEST, guest.router, () => entry.stop, drainPort, pollBudgetUs, (error) => {
        entry.stop = true;
        guest.closedBy(`doorbell server stopped: ${error instanceof Error ? error.message : String(error)}`);
      });
    return guest;
  };

  return {
    name,
    data: workerData.data,
    memory,
    allocator,
    bus: { devices: async () => (await request({ t: 'devices' })) as DeviceInfo[], open },
    poll(until, timeoutMs = Infinity) {
      if (!wake) throw new BusError("poll(): this guest was connected with wait: 'event-loop'; pass wait: 'blocking'");
      let handled = 0;
      while (!until()) {
        const seen = Atomics.load(wake, 0);
        let control = false;
        for (const c of conns.values()) if (drainDoorbell(c.cells, DOORBELL_TO_GUEST, c.guest.router)) control = true;
        if (control) drainPort();
        // run what drivers deferred (NAPI continuations), oldest first, without waiting
        for (let n = deferred.length; n > 0; n--) deferred.shift()!();
        if (until()) break;
        if (deferred.length > 0) continue;
        if (spinWhile(wake, 0, seen, pollBudgetUs)) continue;
        if (Atomics.wait(wake, 0, seen, timeoutMs) === 'timed-out') break;
        handled++;
      }
      return handled;
    },
    async shutdown() {
      for (const c of [...conns.values()]) await c.guest.close();
      port.close();
    },
  };
}

/** The host gave the memory at spawn: options that would choose another are an error, not ignored. */
function refuseOwnMemory(options: WorkerGuestOptions): void {
  for (const k of ['memory', 'memoryBytes', 'baseAddress'] as const)
    if (options[k] !== undefined) throw new ConfigError(k, typeof options[k] === 'object' ? '[object]' : options[k], 'must not be given: the host gave this guest its memory at spawn');
}

/** The guest's memory when the host gave none: the embedder's from `options.memory`, or a fresh region. */
function ownMemory(options: WorkerGuestOptions): CheckedEmbedderMemory {
  if (options.memory !== undefined) {
    for (const k of ['memoryBytes', 'baseAddress'] as const) if (options[k] !== undefined) throw new ConfigError(k, options[k], 'must not be given with memory (the embedder chose the regions)');
    return checkEmbedderMemory(options.memory, DEFAULT_CONNECTOR_LIMITS, 'memory');
  }
  const bytes = options.memoryBytes ?? 4 << 20;
  const base = options.baseAddress ?? 0x10000;
  const region = RegionMemory.create(base, bytes).regions()[0]!;
  return { regions: [region], allocator: { address: base, length: bytes } };
}
