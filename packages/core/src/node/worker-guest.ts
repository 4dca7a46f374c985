import { workerData, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { BusError, ConfigError } from '../common/errors.js';
import { RegionMemory } from '../common/memory/region-memory.js';
import type { GuestMemory } from '../common/memory/guest-memory.js';
import { checkEmbedderMemory, memoryOfRegions, type CheckedEmbedderMemory, type EmbedderMemory } from '../common/memory/embedder-memory.js';
import { DEFAULT_CONNECTOR_LIMITS } from '../common/connector/untrusted.js';
import { GuestAllocator } from '../common/memory/allocator.js';
import { DOORBELL_TO_GUEST, WAKE_ASLEEP, WAKE_SEQ, checkPollBudgetUs, drainDoorbell, newWakeWord, sleepOn, spinWhile } from '../common/connector/doorbell.js';
import type { GuestBus } from '../common/connector/guest-connection.js';
import { GuestControl } from '../common/connector/guest-control.js';
import type { HostToGuest } from '../common/connector/worker-protocol.js';

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
  /** A {@link "@vbus/core"!FlatMemory} when the memory is one region at guest address 0, else a {@link "@vbus/core"!RegionMemory}. */
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
  const pollBudgetUs = checkPollBudgetUs(options.pollBudgetUs);
  const wake = blocking ? newWakeWord() : undefined;
  const name = String(workerData.__vbusName ?? 'worker');
  const drainPort = (): void => {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) control.receive(m.message as HostToGuest);
  };
  const control = new GuestControl(port, {
    name,
    memory,
    // memory the host gave at spawn is already the host's: the hello announces none
    regions: given !== undefined ? [] : memory.regions().map((r) => ({ ...r, buffer: r.buffer as SharedArrayBuffer })),
    wake,
    blocking,
    pollBudgetUs,
    defer: (fn) => setImmediate(fn),
    drainPort,
  });
  port.on('message', (m: HostToGuest) => control.receive(m));

  return {
    name,
    data: workerData.data,
    memory,
    allocator,
    bus: control.bus,
    poll(until, timeoutMs = Infinity) {
      if (!wake) throw new BusError("poll(): this guest was connected with wait: 'event-loop'; pass wait: 'blocking'");
      let handled = 0;
      while (!until()) {
        const seen = Atomics.load(wake, WAKE_SEQ);
        let controlMessages = false;
        for (const c of control.connections.values()) if (drainDoorbell(c.cells, DOORBELL_TO_GUEST, c.guest.router)) controlMessages = true;
        if (controlMessages) drainPort();
        // run what drivers deferred (NAPI continuations), oldest first, without waiting
        const deferred = control.deferred;
        for (let n = deferred.length; n > 0; n--) deferred.shift()!();
        if (until()) break;
        if (deferred.length > 0) continue;
        if (spinWhile(wake, WAKE_SEQ, seen, pollBudgetUs)) continue;
        if (sleepOn(wake, WAKE_SEQ, WAKE_ASLEEP, seen, timeoutMs) === 'timed-out') break;
        handled++;
      }
      return handled;
    },
    shutdown: () => control.shutdown(),
  };
}

/** The host gave the memory at spawn: options that would choose another are an error, not ignored. */
function refuseOwnMemory(options: WorkerGuestOptions): void {
  for (const k of ['memory', 'memoryBytes', 'baseAddress'] as const)
    if (options[k] !== undefined)
      throw new ConfigError(k, typeof options[k] === 'object' ? '[object]' : options[k], 'must not be given: the host gave this guest its memory at spawn');
}

/** The guest's memory when the host gave none: the embedder's from `options.memory`, or a fresh region. */
function ownMemory(options: WorkerGuestOptions): CheckedEmbedderMemory {
  if (options.memory !== undefined) {
    for (const k of ['memoryBytes', 'baseAddress'] as const)
      if (options[k] !== undefined) throw new ConfigError(k, options[k], 'must not be given with memory (the embedder chose the regions)');
    return checkEmbedderMemory(options.memory, DEFAULT_CONNECTOR_LIMITS, 'memory');
  }
  const bytes = options.memoryBytes ?? 4 << 20;
  const base = options.baseAddress ?? 0x10000;
  const region = RegionMemory.create(base, bytes).regions()[0]!;
  return { regions: [region], allocator: { address: base, length: bytes } };
}
