// The host's half of a guest on the worker protocol (worker-protocol.ts): one session per guest,
// whatever carries its control port (a Node worker_threads MessagePort, a browser Web Worker's
// MessagePort). Shared by the Node and browser worker connectors.
import type { Bus } from '../bus/bus.js';
import type { HostConnection } from '../bus/host-connection.js';
import { BusError, LimitError, ProtocolError, VbusError } from '../errors.js';
import { macrotask } from '../time/macrotask.js';
import type { ConnectorLimits } from './untrusted.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { memoryOfRegions } from '../memory/embedder-memory.js';
import { DOORBELL_CONTROL_BIT, DOORBELL_TO_GUEST, DOORBELL_TO_HOST, DoorbellLink, WAKE_WORD_CELLS, newDoorbell, serveDoorbell } from './doorbell.js';
import { parseGuestMessage, requestOf, UNKNOWN_VERB, verbOf, type GuestToHost, type HostToGuest, type OpenReply } from './worker-protocol.js';

/**
 * The host's end of a guest's control channel: what a session sends on. The session is handed
 * each incoming message by its connector (`GuestSession.receive`), so a Node port (`on('message')`)
 * and a web port (`onmessage`) both fit.
 */
export interface ControlPort {
  postMessage(message: unknown): void;
  close(): void;
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

/** One open connection of a guest: the bus's end and its doorbell. */
type Connection = { host: HostConnection; doorbell: Int32Array; stop: boolean };

/**
 * The host's state for one guest worker. Every message from the guest is hostile: it is checked
 * and copied by {@link parseGuestMessage} before anything is read from it, nothing the guest sends
 * can throw into the event loop, and each refusal is counted.
 */
export class GuestSession {
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
    private readonly port: ControlPort,
    private readonly pollBudgetUs: number,
    private readonly limits: ConnectorLimits,
    /** The embedder's memory given at spawn: the guest's memory, whatever its hello says. */
    private readonly embedderMemory: GuestMemory | undefined = undefined,
  ) {}

  /** A message the host could not even deserialize (the port's `messageerror`). */
  undeliverable(): void {
    this.refused.malformed++;
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
        this.port.postMessage({
          t: 'reply',
          req: m.req,
          ok: false,
          error: { name: 'BusError', code: 'bus', message: `reply to request ${m.req} could not be sent: ${describe(e)}` },
        } satisfies HostToGuest);
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
  receive(raw: unknown): void {
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
    if (LimitError.is(e) && e.limit in this.refused) this.refused[e.limit as keyof GuestRefusals]++;
    else if (ProtocolError.is(e) && e.field === 't' && e.rule.startsWith(UNKNOWN_VERB)) this.refused.unknownVerb++;
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
      this.wake = m.wake ? new Int32Array(m.wake, 0, WAKE_WORD_CELLS) : undefined;
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
      if (LimitError.is(e) || ProtocolError.is(e)) this.count(e);
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
    void serveDoorbell(
      cells,
      DOORBELL_TO_HOST,
      host.router,
      () => entry.stop,
      undefined,
      this.pollBudgetUs,
      (error) => host.hostClose(`doorbell server of ${device} stopped: ${describe(error)}`),
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
