import { Worker, type WorkerOptions, MessageChannel, type MessagePort } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import type { Bus } from '../common/bus/bus.js';
import { checkPollBudgetUs } from '../common/connector/doorbell.js';
import type { GuestMemory } from '../common/memory/guest-memory.js';
import { checkEmbedderMemory, memoryOfRegions, type EmbedderMemory } from '../common/memory/embedder-memory.js';
import { connectorLimits, type ConnectorLimits } from '../common/connector/untrusted.js';
import { GuestSession, type GuestRefusals } from '../common/connector/guest-session.js';

export type { GuestRefusals } from '../common/connector/guest-session.js';

const BOOT = new URL('./ts-worker.mjs', import.meta.url);

/** A guest running in a worker thread, as the host sees it. */
export interface WorkerGuest {
  readonly name: string;
  readonly worker: Worker;
  /** Resolves with the exit code when the worker has exited and its connections are closed. */
  readonly exited: Promise<number>;
  /** Open connections of this guest. */
  connections(): number;
  /** Bytes of guest memory the host holds for this guest (0 after exit). */
  memoryBytes(): number;
  /** Control messages of this guest the host refused, by reason. */
  refused(): GuestRefusals;
}

/** Introspection of a {@link WorkerConnector}: its limits and, per live guest, what it holds and what was refused. */
export interface WorkerConnectorSnapshot {
  limits: ConnectorLimits;
  guests: Array<{ name: string; connections: number; regions: number; memoryBytes: number; refused: GuestRefusals }>;
}

/** Events of a {@link WorkerConnector}. */
export interface WorkerConnectorEvents {
  /** A guest worker exited (`code`) or crashed (`error`); its connections are closed and its memory dropped. */
  'guest-exit': (guest: string, code: number, error: Error | undefined) => void;
}

/**
 * The worker connector, host side: runs guests in worker_threads. Control verbs travel over a
 * MessagePort; rings and buffers live in the guest's SharedArrayBuffers; signals cross through one
 * Atomics doorbell per connection. A worker that exits or crashes is detected: its connections
 * close, the host drops its memory, and the bus goes on.
 */
export class WorkerConnector extends EventEmitter<WorkerConnectorEvents> {
  /** The per-guest limits in force (docs/reliability-hostile.md lists each with its default). */
  readonly limits: ConnectorLimits;
  private readonly sessions = new Set<GuestSession>();

  /**
   * @param options.pollBudgetUs adaptive polling on the host side: after serving a doorbell,
   *   spin this many microseconds for the next ring before sleeping in Atomics.waitAsync (it
   *   blocks the host's event loop for that long). Default 0: always sleep.
   * @param options.limits per-guest limits; unset ones take DEFAULT_CONNECTOR_LIMITS (from @vbus/core).
   */
  constructor(
    readonly bus: Bus,
    readonly options: { pollBudgetUs?: number; limits?: Partial<ConnectorLimits> } = {},
  ) {
    super();
    checkPollBudgetUs(options.pollBudgetUs);
    this.limits = connectorLimits(options.limits);
  }

  /** Limits, and per live guest its connections, memory and refusal counts. */
  introspect(): WorkerConnectorSnapshot {
    return {
      limits: this.limits,
      guests: [...this.sessions].map((g) => ({ name: g.name, connections: g.connections.size, regions: g.regionCount(), memoryBytes: g.memoryBytes(), refused: { ...g.refused } })),
    };
  }

  /**
   * Start a guest: `entry` is the module the worker runs (TypeScript or JavaScript). In it, call
   * {@link connectWorkerGuest} to reach this bus. `workerData` is passed through as
   * `workerData.data`.
   *
   * `memory` gives the guest the embedder's own memory instead of letting it allocate its own:
   * SharedArrayBuffer regions at the guest addresses the embedder chooses, and the range its
   * driver may allocate from. It is checked here against {@link limits} (a ConfigError names the
   * field, e.g. `memory.regions[1].address`, and no worker starts); the host then serves the
   * guest's connections on exactly these regions and refuses a guest that announces others.
   */
  spawn(entry: URL | string, options: { name?: string; workerData?: unknown; worker?: WorkerOptions; memory?: EmbedderMemory } = {}): WorkerGuest {
    const memory = options.memory === undefined ? undefined : checkEmbedderMemory(options.memory, this.limits, 'memory');
    // numbered per Vbus, so two identical runs in one process name their guests alike
    const name = options.name ?? `worker-${this.bus.ids.nextGuest()}`;
    const channel = new MessageChannel();
    const href = entry instanceof URL ? entry.href : new URL(entry, `file://${process.cwd()}/`).href;
    const worker = new Worker(BOOT, {
      ...options.worker,
      workerData: { __vbusEntry: href, __vbusPort: channel.port2, __vbusName: name, __vbusMemory: memory, data: options.workerData },
      transferList: [channel.port2, ...(options.worker?.transferList ?? [])],
    });
    return this.start(name, worker, channel.port1, memory && memoryOfRegions(memory.regions));
  }

  /** Serve a worker the caller started, given the host's end of its control port. */
  serve(name: string, worker: Worker, port: MessagePort): WorkerGuest {
    return this.start(name, worker, port, undefined);
  }

  private start(name: string, worker: Worker, port: MessagePort, memory: GuestMemory | undefined): WorkerGuest {
    const session = new GuestSession(this.bus, name, port, this.options.pollBudgetUs ?? 0, this.limits, memory);
    port.on('message', (m: unknown) => session.receive(m));
    // a message the host could not even deserialize
    port.on('messageerror', () => session.undeliverable());
    this.sessions.add(session);
    let lastError: Error | undefined;
    worker.on('error', (e) => {
      lastError = e;
    });
    const exited = new Promise<number>((resolve) => {
      worker.once('exit', (code) => {
        const reason = lastError ? `guest worker ${name} crashed: ${lastError.message}` : `guest worker ${name} exited with code ${code}`;
        // a crash is worth a warning; an exit code (terminate() gives 1) is routine
        if (lastError) this.bus.logger.warn(reason, { bus: this.bus.name, guest: name, code });
        else this.bus.logger.info(reason, { bus: this.bus.name, guest: name, code });
        session.shutdown(reason);
        this.sessions.delete(session);
        this.emit('guest-exit', name, code, lastError);
        resolve(code);
      });
    });
    return { name, worker, exited, connections: () => session.connections.size, memoryBytes: () => session.memoryBytes(), refused: () => ({ ...session.refused }) };
  }
}
