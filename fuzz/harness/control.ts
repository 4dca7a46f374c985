/**
 * A worker connector's host side without a worker: the guest's end of the control port is
 * driven by the fuzz case. A message goes either through the port (structured clone, what a real
 * worker can send) or straight into the host's listener (any JavaScript value: getters, proxies,
 * lying typed arrays: what a future in-process connector could be handed).
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import type { Bus, ConnectorLimits } from '@vbus/core';
import { WorkerConnector, type WorkerGuest } from '@vbus/core/node';

export interface ControlRig {
  readonly connector: WorkerConnector;
  readonly guest: WorkerGuest;
  /** Everything the host sent the guest, in order. */
  readonly received: unknown[];
  /** Send one message; false if the port refused to clone it (the sender's problem, not the host's). */
  send(value: unknown, via: 'port' | 'direct'): boolean;
  /** The worker "exits": the host closes its connections and drops its memory. */
  exit(): Promise<void>;
}

/**
 * A Proxy whose every trap throws "proxy <trap> trap ran": a value a guest could hand an
 * in-process connector, which the host must refuse without running a trap's code into its replies.
 */
export function throwingProxy<T extends object>(target: T): T {
  const trap = (name: string) => () => {
    throw new Error(`proxy ${name} trap ran`);
  };
  return new Proxy(target, {
    get: trap('get'),
    getOwnPropertyDescriptor: trap('descriptor'),
    has: trap('has'),
    ownKeys: trap('ownKeys'),
    getPrototypeOf: trap('prototype'),
  });
}

export function controlRig(bus: Bus, limits?: Partial<ConnectorLimits>, name = 'hostile'): ControlRig {
  const channel = new MessageChannel();
  const worker = new EventEmitter();
  const connector = new WorkerConnector(bus, { limits });
  const guest = connector.serve(name, worker as unknown as Worker, channel.port1);
  const received: unknown[] = [];
  const guestEnd: MessagePort = channel.port2;
  guestEnd.on('message', (m: unknown) => received.push(m));
  return {
    connector,
    guest,
    received,
    send(value, via) {
      if (via === 'direct') {
        channel.port1.emit('message', value);
        return true;
      }
      try {
        guestEnd.postMessage(value);
        return true;
      } catch {
        return false;
      }
    },
    async exit() {
      worker.emit('exit', 0);
      await guest.exited;
      guestEnd.close();
    },
  };
}
