import { EventEmitter } from 'eventemitter3';
import type { Bus } from '../common/bus/bus.js';
import { checkPollBudgetUs } from '../common/connector/doorbell.js';
import { connectorLimits, type ConnectorLimits } from '../common/connector/untrusted.js';
import { GuestSession, type GuestRefusals } from '../common/connector/guest-session.js';
import { HANDSHAKE, webPlatform, type WebWorker } from './web-globals.js';

/** A guest running in a Web Worker, as the page sees it. */
export interface WebWorkerGuest {
  readonly name: string;
  readonly worker: WebWorker;
  /** Resolves when the guest is gone: terminated, or failed with an uncaught error (then its message). */
  readonly exited: Promise<string>;
  /** Open connections of this guest. */
  connections(): number;
  /** Bytes of guest memory the host holds for this guest (0 once it is gone). */
  memoryBytes(): number;
  /** Control messages of this guest the host refused, by reason. */
  refused(): GuestRefusals;
  /** Stop the worker; its connections close and the host drops its memory. */
  terminate(): void;
}

/** Events of a {@link WebWorkerConnector}. */
export interface WebWorkerConnectorEvents {
  /** A guest's Web Worker ended (terminated, or an uncaught error): its connections are closed and its memory dropped. */
  'guest-exit': (guest: string, reason: string) => void;
}

/**
 * The worker connector for browsers, host side (the page): runs guests in Web Workers. The same
 * protocol and the same host session as the Node worker connector: control verbs over a
 * MessagePort, rings and buffers in the guest's SharedArrayBuffers, one Atomics doorbell per
 * connection for every signal (served with Atomics.waitAsync, never blocking the page). The page
 * must be cross-origin isolated. A worker that throws an uncaught error is taken as gone: it is
 * terminated, its connections close, and the bus goes on.
 */
export class WebWorkerConnector extends EventEmitter<WebWorkerConnectorEvents> {
  /** The per-guest limits in force (docs/reliability-hostile.md lists each with its default). */
  readonly limits: ConnectorLimits;
  private readonly sessions = new Set<GuestSession>();

  /**
   * @param options.pollBudgetUs spin this many microseconds for the next ring after serving a
   *   doorbell before sleeping (it blocks the page for that long). Default 0.
   * @param options.limits per-guest limits; unset ones take DEFAULT_CONNECTOR_LIMITS.
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
  introspect(): { limits: ConnectorLimits; guests: Array<{ name: string; connections: number; memoryBytes: number; refused: GuestRefusals }> } {
    return {
      limits: this.limits,
      guests: [...this.sessions].map((g) => ({ name: g.name, connections: g.connections.size, memoryBytes: g.memoryBytes(), refused: { ...g.refused } })),
    };
  }

  /**
   * Start a guest: `url` is the worker's module script (a bundle), which calls
   * {@link connectWebWorkerGuest}. `data` reaches it as the runtime's `data`.
   */
  spawn(url: string | URL, options: { name?: string; data?: unknown } = {}): WebWorkerGuest {
    const { Worker, MessageChannel } = webPlatform('WebWorkerConnector');
    // numbered per Vbus, so two identical runs name their guests alike
    const name = options.name ?? `web-worker-${this.bus.ids.nextGuest()}`;
    const worker = new Worker(url, { type: 'module', name });
    const channel = new MessageChannel();
    const port = channel.port1;
    const session = new GuestSession(this.bus, name, port, this.options.pollBudgetUs ?? 0, this.limits);
    port.onmessage = (e) => session.receive(e.data);
    // a message the host could not even deserialize
    port.onmessageerror = () => session.undeliverable();
    this.sessions.add(session);
    let gone!: (reason: string) => void;
    const exited = new Promise<string>((resolve) => (gone = resolve));
    let alive = true;
    const end = (reason: string) => {
      if (!alive) return;
      alive = false;
      worker.terminate();
      session.shutdown(reason);
      this.sessions.delete(session);
      this.emit('guest-exit', name, reason);
      gone(reason);
    };
    worker.addEventListener('error', (e) => end(`guest worker ${name} crashed: ${e.message ?? String(e.error)}`));
    worker.postMessage({ [HANDSHAKE]: { port: channel.port2, name, data: options.data } }, [channel.port2]);
    return {
      name,
      worker,
      exited,
      connections: () => session.connections.size,
      memoryBytes: () => session.memoryBytes(),
      refused: () => ({ ...session.refused }),
      terminate: () => end(`guest worker ${name} was terminated`),
    };
  }
}
