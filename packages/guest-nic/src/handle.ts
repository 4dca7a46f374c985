import type { Worker } from 'node:worker_threads';
import type { EmbedderMemory } from '@vbus/core';
import type { WorkerConnector } from '@vbus/core/node';
import type { NicGuestCommand } from './worker.js';

/** The worker entry is a sibling of this module: .ts when run from the sources, .js from dist/. */
const MODULE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** The host's handle on a guest worker running guest-nic/worker.ts. */
export class NicGuestHandle {
  private constructor(
    readonly worker: Worker,
    readonly exited: Promise<number>,
    readonly mac: number[],
  ) {}

  /** Start the guest; with `memory`, its NIC's rings and buffers live in the embedder's regions (default: 32 MiB of its own). */
  static async spawn(connector: WorkerConnector, options: { device: string; kind: string; ip: string; memory?: EmbedderMemory }): Promise<NicGuestHandle> {
    const { memory, ...data } = options;
    const g = connector.spawn(new URL(`./worker${MODULE_EXT}`, import.meta.url), {
      name: `guest-${options.device}`,
      memory,
      workerData: { ...data, hostMemory: memory !== undefined },
    });
    const ready = await nextMessage(g.worker, 'ready');
    return new NicGuestHandle(g.worker, g.exited, ready.mac as number[]);
  }

  /** Send a command to the guest and resolve with its reply. */
  async request<T = Record<string, unknown>>(m: NicGuestCommand): Promise<T> {
    const reply = nextMessage(this.worker, m.cmd);
    this.worker.postMessage(m);
    return (await reply) as T;
  }

  /** Ask the guest to close its NIC and exit; resolves when the worker has exited. */
  async stop(): Promise<void> {
    this.worker.postMessage({ cmd: 'stop' } satisfies NicGuestCommand);
    await this.exited;
  }
}

function nextMessage(worker: Worker, cmd: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (m.cmd === 'error') done(() => reject(new Error(`guest: ${String(m.message)}`)));
      else if (m.cmd === cmd) done(() => resolve(m));
    };
    const onExit = (code: number) => done(() => reject(new Error(`guest exited (code ${code}) before answering ${cmd}`)));
    const onError = (e: Error) => done(() => reject(e));
    const done = (fn: () => void) => {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      worker.off('error', onError);
      fn();
    };
    worker.on('message', onMessage);
    worker.once('exit', onExit);
    worker.once('error', onError);
  });
}
