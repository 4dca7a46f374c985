import { Worker, type WorkerOptions, MessageChannel, type MessagePort } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import type { Bus } from '../common/bus/bus.js';
import type { HostConnection } from '../common/bus/host-connection.js';
import { BusError, ConfigError, LimitError, ProtocolError, VbusError } from '../common/errors.js';
import { macrotask } from '../common/time/macrotask.js';
import { connectorLimits, type ConnectorLimits } from '../common/connector/untrusted.js';
import type { GuestMemory } from '../common/memory/guest-memory.js';
import { checkEmbedderMemory, memoryOfRegions, type EmbedderMemory } from '../common/memory/embedder-memory.js';
import { DOORBELL_CONTROL_BIT, DOORBELL_TO_GUEST, DOORBELL_TO_HOST, DoorbellLink, newDoorbell, serveDoorbell } from '../common/connector/doorbell.js';
import { parseGuestMessage, requestOf, UNKNOWN_VERB, verbOf, type GuestToHost, type HostToGuest, type OpenReply } from './worker-protocol.js';

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
    const b = options.pollBudgetUs ?? 0;
    if (!Number.isFinite(b) || b < 0 || b > 1_000_000) throw new ConfigError('pollBudgetUs', b, 'must be a number of microseconds in [0, 1000000]');
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

/** Counts of a guest's control messages the host refused, by reason. */
export interface GuestRefusals {
  /** Not an object, a field of the wrong type or out of range, a second hello. */
  malformed: number;
  /** A verb the protocol does not have. */
  unknownVerb: number;
  connectionsPerGuest: number;
  regionsPerGuest: number;
  memoryPerGuest: number;
  requestsInFlight: number;
  /** Over the bus's call size limit (counted here as it is refused before the bus sees it). */
  callBytes: number;
}

type Connection = { host: HostConnection; doorbell: Int32Array; stop: boolean };

/**
 * The host's state for one guest worker. Every message from the guest is hostile: it is checked
 * and copied by {@link parseGuestMessage} before anything is read from it, nothing the guest sends
 * can throw into the event loop, and each refusal is counted.
 */
class GuestSession {
  memory: GuestMemory | undefined;
  /** Why the guest's memory was refused at hello, if it was. */
  private memoryError: string | undefined;
  private helloSeen = false;
  /** The guest's wake word if it blocks in Atomics.wait across all its connections. */
  private wake: Int32Array | undefined;
  readonly connections = new Map<number, Connection>();
  readonly refused: GuestRefusals = { malformed: 0, unknownVerb: 0, connectionsPerGuest: 0, regionsPerGuest: 0, memoryPerGuest: 0, requestsInFlight: 0, callBytes: 0 };
  private inFlight = 0;
  private dead = false;

  constructor(
    private readonly bus: Bus,
    readonly name: string,
    private readonly port: MessagePort,
    private readonly pollBudgetUs: number,
    private readonly limits: ConnectorLimits,
    /** The embedder's memory given at spawn: the guest's memory, whatever its hello says. */
    private readonly embedderMemory: GuestMemory | undefined,
  ) {
    port.on('message', (m: unknown) => this.receive(m));
    // a message the host could not even deserialize
    port.on('messageerror', () => this.refused.malformed++);
  }

  memoryBytes(): number {
    return this.memory ? this.memory.regions().reduce((s, r) => s + r.length, 0) : 0;
  }

  regionCount(): number {
    return this.memory ? this.memory.regions().length : 0;
  }

  /** Reply to the guest; a value that cannot be posted becomes an error reply. Never throws. */
  private post(m: HostToGuest): void {
    if (this.dead) return;
    try {
      this.port.postMessage(m);
    } catch (e) {
      if (m.t !== 'reply' || !m.ok) return;
      try {
        this.port.postMessage({ t: 'reply', req: m.req, ok: false, error: { name: 'BusError', code: 'bus', message: `reply to request ${m.req} could not be sent: ${describe(e)}` } } satisfies HostToGuest);
      } catch {
        /* the port is gone */
      }
    }
  }

  private replyError(req: number | undefined, e: unknown): void {
    if (req === undefined) return;
    const err = e instanceof Error ? e : new Error(describe(e));
    this.post({ t: 'reply', req, ok: false, error: { name: err.name, code: VbusError.is(err) ? err.code : 'error', message: err.message } });
  }

  /** One message from the guest. Never throws, never rejects. */
  private receive(raw: unknown): void {
    if (this.dead) return;
    let m: GuestToHost;
    try {
      m = parseGuestMessage(raw, { ...this.limits, callBytes: this.bus.limits.callBytes }, `guest ${this.name}`);
      if (m.t === 'hello') return this.hello(m);
      if (this.inFlight >= this.limits.requestsInFlight) throw new LimitError('requestsInFlight', this.inFlight + 1, this.limits.requestsInFlight, `guest ${this.name}: ${m.t}`);
    } catch (e) {
      this.count(e);
      // a hello has no request number: its refusal is what the guest's next open is told
      if (!this.helloSeen && verbOf(raw) === 'hello') this.memoryError = describe(e);
      this.replyError(requestOf(raw), e);
      return;
    }
    this.inFlight++;
    void this.serve(m);
  }

  private count(e: unknown): void {
    // debug: a hostile guest can send these by the million; the counters are the record
    this.bus.logger.debug(`guest ${this.name}: control message refused: ${describe(e)}`, { bus: this.bus.name, guest: this.name, code: VbusError.is(e) ? e.code : 'error' });
    if (e instanceof LimitError && e.limit in this.refused) this.refused[e.limit as keyof GuestRefusals]++;
    else if (e instanceof ProtocolError && e.field === 't' && e.rule.startsWith(UNKNOWN_VERB)) this.refused.unknownVerb++;
    else this.refused.malformed++;
  }

  private hello(m: Extract<GuestToHost, { t: 'hello' }>): void {
    // memory is registered once: a second hello must not swap the memory under open connections
    if (this.helloSeen) throw new ProtocolError('hello', 'hello was already received (memory is registered once per guest)', `guest ${this.name}`);
    this.helloSeen = true;
    try {
      if (this.embedderMemory !== undefined) {
        if (m.regions.length > 0) throw new ProtocolError('regions', "must be empty: this guest's memory is the embedder's, given at spawn", `guest ${this.name}`);
        this.memory = this.embedderMemory;
      } else this.memory = memoryOfRegions(m.regions);
      this.wake = m.wake ? new Int32Array(m.wake, 0, 1) : undefined;
    } catch (e) {
      this.memory = undefined;
      this.memoryError = describe(e);
      this.refused.malformed++;
    }
  }

  private async serve(m: Exclude<GuestToHost, { t: 'hello' }>): Promise<void> {
    try {
      const value = await this.verb(m);
      this.post({ t: 'reply', req: m.req, ok: true, value });
    } catch (e) {
      if (e instanceof LimitError || e instanceof ProtocolError) this.count(e);
      this.replyError(m.req, e);
    } finally {
      this.inFlight--;
    }
  }

  private async verb(m: Exclude<GuestToHost, { t: 'hello' }>): Promise<unknown> {
    switch (m.t) {
      case 'devices':
        return this.bus.devices();
      case 'open':
        return this.open(m.name);
      case 'call':
        return await this.conn(m.conn).host.call(m.func, m.data);
      case 'shm':
        return this.conn(m.conn).host.shm(m.id, m.address, m.length, m.signalAddress);
      case 'close': {
        const c = this.connections.get(m.conn);
        if (c) {
          this.connections.delete(m.conn);
          stopServer(c);
          c.host.close();
        }
        return null;
      }
    }
  }

  private open(device: string): OpenReply {
    const where = `guest ${this.name}: open ${device}`;
    if (!this.memory) throw new BusError(this.memoryError ? `${where}: its memory regions were refused: ${this.memoryError}` : `${where}: open before its memory was registered`);
    if (this.connections.size >= this.limits.connectionsPerGuest) throw new LimitError('connectionsPerGuest', this.connections.size + 1, this.limits.connectionsPerGuest, where);
    const cells = newDoorbell();
    const toGuest = new DoorbellLink(cells, DOORBELL_TO_GUEST, this.wake);
    const host = this.bus.connect(device, {
      guest: this.name,
      memory: this.memory,
      toGuest,
      defer: macrotask,
      onClosed: (reason) => {
        const c = this.connections.get(host.id);
        this.connections.delete(host.id);
        if (c) stopServer(c);
        this.post({ t: 'closed', conn: host.id, reason });
        toGuest.ring(DOORBELL_CONTROL_BIT);
      },
    });
    const entry: Connection = { host, doorbell: cells, stop: false };
    this.connections.set(host.id, entry);
    void serveDoorbell(cells, DOORBELL_TO_HOST, host.router, () => entry.stop, undefined, this.pollBudgetUs, (error) =>
      host.hostClose(`doorbell server of ${device} stopped: ${describe(error)}`),
    );
    const info = this.bus.devices().find((d) => d.name === device)!;
    return { conn: host.id, device: info, doorbell: cells.buffer as SharedArrayBuffer };
  }

  private conn(id: number): Connection {
    const c = this.connections.get(id);
    if (!c) throw new BusError(`guest ${this.name}: connection ${id} is not open`);
    return c;
  }

  /** The worker is gone: close its connections, wake the doorbell servers so they stop, drop its memory. */
  shutdown(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    for (const c of this.connections.values()) {
      stopServer(c);
      c.host.close(reason);
    }
    this.connections.clear();
    this.memory = undefined;
    this.wake = undefined;
    this.port.close();
  }
}

/** Stop a connection's doorbell server: flag it, then wake its wait. */
function stopServer(c: Connection): void {
  c.stop = true;
  Atomics.add(c.doorbell, DOORBELL_TO_HOST + 1, 1);
  Atomics.notify(c.doorbell, DOORBELL_TO_HOST + 1);
}

function describe(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return 'a value that cannot be printed';
  }
}
