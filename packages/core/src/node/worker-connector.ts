import { Worker, type WorkerOptions, MessageChannel, type MessagePort } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import type { Bus, HostConnection } from '../common/bus/bus.js';
import { BusError, ConfigError, VbusError } from '../common/errors.js';
import { RegionMemory } from '../common/memory/region-memory.js';
import { DOORBELL_CONTROL_BIT, DOORBELL_TO_GUEST, DOORBELL_TO_HOST, DoorbellLink, newDoorbell, serveDoorbell } from '../common/connector/doorbell.js';
import type { GuestToHost, HostToGuest, OpenReply } from './worker-protocol.js';

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
}

/** Events of a {@link WorkerConnector}. */
export interface WorkerConnectorEvents {
  'guest-exit': (guest: string, code: number, error: Error | undefined) => void;
}

let nextGuest = 1;

/**
 * The worker connector, host side: runs guests in worker_threads. Control verbs travel over a
 * MessagePort; rings and buffers live in the guest's SharedArrayBuffers; signals cross through one
 * Atomics doorbell per connection. A worker that exits or crashes is detected: its connections
 * close, the host drops its memory, and the bus goes on.
 */
export class WorkerConnector extends EventEmitter<WorkerConnectorEvents> {
  /**
   * @param options.pollBudgetUs adaptive polling on the host side: after serving a doorbell,
   *   spin this many microseconds for the next ring before sleeping in Atomics.waitAsync (it
   *   blocks the host's event loop for that long). Default 0: always sleep.
   */
  constructor(
    readonly bus: Bus,
    readonly options: { pollBudgetUs?: number } = {},
  ) {
    super();
    const b = options.pollBudgetUs ?? 0;
    if (!Number.isFinite(b) || b < 0 || b > 1_000_000) throw new ConfigError('pollBudgetUs', b, 'must be a number of microseconds in [0, 1000000]');
  }

  /**
   * Start a guest: `entry` is the module the worker runs (TypeScript or JavaScript). In it, call
   * {@link connectWorkerGuest} to reach this bus. `workerData` is passed through as
   * `workerData.data`.
   */
  spawn(entry: URL | string, options: { name?: string; workerData?: unknown; worker?: WorkerOptions } = {}): WorkerGuest {
    const name = options.name ?? `worker-${nextGuest++}`;
    const channel = new MessageChannel();
    const href = entry instanceof URL ? entry.href : new URL(entry, `file://${process.cwd()}/`).href;
    const worker = new Worker(BOOT, {
      ...options.worker,
      workerData: { __vbusEntry: href, __vbusPort: channel.port2, __vbusName: name, data: options.workerData },
      transferList: [channel.port2, ...(options.worker?.transferList ?? [])],
    });
    return this.serve(name, worker, channel.port1);
  }

  /** Serve a worker the caller started, given the host's end of its control port. */
  serve(name: string, worker: Worker, port: MessagePort): WorkerGuest {
    const session = new GuestSession(this.bus, name, port, this.options.pollBudgetUs ?? 0);
    let lastError: Error | undefined;
    worker.on('error', (e) => {
      lastError = e;
    });
    const exited = new Promise<number>((resolve) => {
      worker.once('exit', (code) => {
        const reason = lastError ? `guest worker ${name} crashed: ${lastError.message}` : `guest worker ${name} exited with code ${code}`;
        session.shutdown(reason);
        this.emit('guest-exit', name, code, lastError);
        resolve(code);
      });
    });
    return { name, worker, exited, connections: () => session.connections.size, memoryBytes: () => session.memoryBytes() };
  }
}

/** The host's state for one guest worker. */
class GuestSession {
  memory: RegionMemory | undefined;
  /** Why the guest's memory was refused at hello, if it was. */
  private memoryError: string | undefined;
  /** The guest's wake word if it blocks in Atomics.wait across all its connections. */
  private wake: Int32Array | undefined;
  readonly connections = new Map<number, { host: HostConnection; doorbell: Int32Array; stop: boolean }>();
  private dead = false;

  constructor(
    private readonly bus: Bus,
    readonly name: string,
    private readonly port: MessagePort,
    private readonly pollBudgetUs: number,
  ) {
    port.on('message', (m: GuestToHost) => void this.handle(m));
  }

  memoryBytes(): number {
    return this.memory ? this.memory.regions().reduce((s, r) => s + r.length, 0) : 0;
  }

  private post(m: HostToGuest): void {
    if (!this.dead) this.port.postMessage(m);
  }

  private async handle(m: GuestToHost): Promise<void> {
    if (m.t === 'hello') {
      try {
        this.memory = new RegionMemory(m.regions);
        this.wake = m.wake ? new Int32Array(m.wake) : undefined;
      } catch (e) {
        this.memory = undefined;
        this.memoryError = e instanceof Error ? e.message : String(e);
      }
      return;
    }
    try {
      const value = await this.verb(m);
      this.post({ t: 'reply', req: m.req, ok: true, value });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.post({ t: 'reply', req: m.req, ok: false, error: { name: err.name, code: VbusError.is(err) ? err.code : 'error', message: err.message } });
    }
  }

  private async verb(m: Exclude<GuestToHost, { t: 'hello' }>): Promise<unknown> {
    switch (m.t) {
      case 'devices':
        return this.bus.devices();
      case 'open': {
        if (!this.memory)
          throw new BusError(this.memoryError ? `guest ${this.name}: its memory regions were refused: ${this.memoryError}` : `guest ${this.name}: open before its memory was registered`);
        const cells = newDoorbell();
        const toGuest = new DoorbellLink(cells, DOORBELL_TO_GUEST, this.wake);
        const host = this.bus.connect(m.name, {
          guest: this.name,
          memory: this.memory,
          toGuest,
          defer: (fn) => setImmediate(fn),
          onClosed: (reason) => {
            const c = this.connections.get(host.id);
            if (c) c.stop = true;
            this.connections.delete(host.id);
            this.post({ t: 'closed', conn: host.id, reason });
            toGuest.ring(DOORBELL_CONTROL_BIT);
            Atomics.notify(cells, DOORBELL_TO_HOST + 1);
          },
        });
        const entry = { host, doorbell: cells, stop: false };
        this.connections.set(host.id, entry);
        void serveDoorbell(cells, DOORBELL_TO_HOST, host.router, () => entry.stop, undefined, this.pollBudgetUs, (error) =>
          host.hostClose(`doorbell server of ${m.name} stopped: ${error instanceof Error ? error.message : String(error)}`),
        );
        const info = this.bus.devices().find((d) => d.name === m.name)!;
        const reply: OpenReply = { conn: host.id, device: info, doorbell: cells.buffer as SharedArrayBuffer };
        return reply;
      }
      case 'call':
        return await this.conn(m.conn).host.call(m.func, m.data);
      case 'shm':
        return this.conn(m.conn).host.shm(m.id, m.address, m.length, m.signalAddress);
      case 'close': {
        const c = this.connections.get(m.conn);
        if (c) {
          c.stop = true;
          this.connections.delete(m.conn);
          c.host.close();
          Atomics.add(c.doorbell, DOORBELL_TO_HOST + 1, 1);
          Atomics.notify(c.doorbell, DOORBELL_TO_HOST + 1);
        }
        return null;
      }
    }
  }

  private conn(id: number): { host: HostConnection; doorbell: Int32Array; stop: boolean } {
    const c = this.connections.get(id);
    if (!c) throw new BusError(`guest ${this.name}: connection ${id} is not open`);
    return c;
  }

  /** The worker is gone: close its connections, wake the doorbell servers so they stop, drop its memory. */
  shutdown(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    for (const c of this.connections.values()) {
      c.stop = true;
      c.host.close(reason);
      Atomics.add(c.doorbell, DOORBELL_TO_HOST + 1, 1);
      Atomics.notify(c.doorbell, DOORBELL_TO_HOST + 1);
    }
    this.connections.clear();
    this.memory = undefined;
    this.port.close();
  }
}
