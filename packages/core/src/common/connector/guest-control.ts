// The guest's half of the worker protocol (worker-protocol.ts): requests and replies on the
// control port, connections whose signals cross one doorbell each. Shared by the Node worker guest
// (worker_threads) and the browser's Web Worker guest; each supplies its port and how it defers.
import type { DeviceInfo } from '../bus/introspection.js';
import { VbusError } from '../errors.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { DOORBELL_TO_GUEST, DOORBELL_TO_HOST, DoorbellLink, serveDoorbell } from './doorbell.js';
import { GuestConnectionImpl, type GuestBus, type GuestConnection } from './guest-connection.js';
import type { GuestToHost, HostToGuest, OpenReply, RegionMessage } from './worker-protocol.js';
import type { ControlPort } from './guest-session.js';

type WithReq = Extract<GuestToHost, { req: number }>;
type Request = WithReq extends infer M ? (M extends WithReq ? Omit<M, 'req'> : never) : never;

/** How a {@link GuestControl} runs: its name, memory, and the platform's ways to wait and defer. */
export interface GuestControlOptions {
  name: string;
  memory: GuestMemory;
  /** The regions announced to the host in the hello (the SharedArrayBuffers behind `memory`). */
  regions: RegionMessage[];
  /** The wake word of a guest that blocks in Atomics.wait across its connections (blocking mode). */
  wake: Int32Array | undefined;
  /**
   * Blocking mode: signals are dispatched only by the caller's poll loop (from {@link GuestControl.connections}),
   * and work drivers defer goes to {@link GuestControl.deferred}. Otherwise each connection's
   * doorbell is served with Atomics.waitAsync and deferred work runs through `defer`.
   */
  blocking: boolean;
  /** Spin this long for the next signal before sleeping (see serveDoorbell). */
  pollBudgetUs: number;
  /** A macrotask (not a microtask: a long poll must let the doorbell and port be served). */
  defer: (fn: () => void) => void;
  /** Deliver control messages that arrived but were not dispatched yet (Node: receiveMessageOnPort). */
  drainPort?: () => void;
}

/** One open connection of the guest and its doorbell. @internal */
export interface GuestControlConnection {
  guest: GuestConnectionImpl;
  cells: Int32Array;
  stop: boolean;
}

/**
 * The guest's side of the control channel: sends requests (hello, devices, open, call, shm,
 * close), matches replies, and wires each opened connection to its doorbell. Its connector hands
 * it every message from the host (`receive`).
 */
export class GuestControl {
  readonly bus: GuestBus;
  /** Open connections by id, for a blocking poll loop. */
  readonly connections = new Map<number, GuestControlConnection>();
  /** Work deferred by drivers in blocking mode, to be run by the poll loop. */
  readonly deferred: Array<() => void> = [];
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private nextReq = 1;

  constructor(
    private readonly port: ControlPort,
    private readonly options: GuestControlOptions,
  ) {
    port.postMessage({ t: 'hello', guest: options.name, regions: options.regions, wake: options.wake?.buffer as SharedArrayBuffer | undefined } satisfies GuestToHost);
    this.bus = { devices: async () => (await this.request({ t: 'devices' })) as DeviceInfo[], open: (name) => this.open(name) };
  }

  /** One message from the host. */
  receive(m: HostToGuest): void {
    if (m.t === 'reply') {
      const p = this.pending.get(m.req);
      if (!p) return;
      this.pending.delete(m.req);
      if (m.ok) p.resolve(m.value);
      else {
        const e = new VbusError(m.error.code, m.error.message);
        e.name = m.error.name;
        p.reject(e);
      }
    } else if (m.t === 'closed') {
      const c = this.connections.get(m.conn);
      if (c) {
        c.stop = true;
        this.connections.delete(m.conn);
        c.guest.closedBy(m.reason);
        wakeServer(c.cells);
      }
    }
  }

  /** Close every connection, then the control port. */
  async shutdown(): Promise<void> {
    for (const c of [...this.connections.values()]) await c.guest.close();
    this.port.close();
  }

  private request(msg: Request): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = this.nextReq++;
      this.pending.set(req, { resolve, reject });
      this.port.postMessage({ ...msg, req } as GuestToHost);
    });
  }

  private async open(deviceName: string): Promise<GuestConnection> {
    const reply = (await this.request({ t: 'open', name: deviceName })) as OpenReply;
    const cells = new Int32Array(reply.doorbell);
    const connId = reply.conn;
    const { blocking } = this.options;
    const guest = new GuestConnectionImpl(
      reply.device as DeviceInfo,
      this.options.memory,
      {
        call: async (func, data) => (await this.request({ t: 'call', conn: connId, func, data })) as Uint8Array,
        shm: async (id, address, length, signalAddress) => (await this.request({ t: 'shm', conn: connId, id, address, length, signalAddress })) as number,
        close: async () => {
          const c = this.connections.get(connId);
          if (c) c.stop = true;
          this.connections.delete(connId);
          await this.request({ t: 'close', conn: connId });
          wakeServer(cells);
        },
      },
      new DoorbellLink(cells, DOORBELL_TO_HOST),
      // In blocking mode the event loop is not running inside poll(), so poll() runs deferred work.
      blocking ? (fn) => this.deferred.push(fn) : this.options.defer,
    );
    const entry: GuestControlConnection = { guest, cells, stop: false };
    this.connections.set(connId, entry);
    if (!blocking)
      void serveDoorbell(
        cells,
        DOORBELL_TO_GUEST,
        guest.router,
        () => entry.stop,
        this.options.drainPort,
        this.options.pollBudgetUs,
        (error) => {
          entry.stop = true;
          guest.closedBy(`doorbell server stopped: ${error instanceof Error ? error.message : String(error)}`);
        },
      );
    return guest;
  }
}

/** Wake a connection's doorbell server so that it sees it must stop. */
function wakeServer(cells: Int32Array): void {
  Atomics.add(cells, DOORBELL_TO_GUEST + 1, 1);
  Atomics.notify(cells, DOORBELL_TO_GUEST + 1);
}
