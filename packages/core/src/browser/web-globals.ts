// The few web platform globals the browser connector uses, declared here on purpose: the
// project compiles without DOM types, so each use of a browser global is visible and typed once.
import { ConfigError } from '../common/errors.js';

/** The key of the message that hands a Web Worker its control port (the first message it receives). @internal */
export const HANDSHAKE = '__vbusWebGuest';

/** A web MessagePort (MessageChannel's ends, transferable to a Web Worker). */
export interface WebMessagePort {
  postMessage(message: unknown, transfer?: unknown[]): void;
  close(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onmessageerror: ((event: unknown) => void) | null;
}

/** A dedicated Web Worker as the page sees it. */
export interface WebWorker {
  postMessage(message: unknown, transfer?: unknown[]): void;
  terminate(): void;
  addEventListener(type: 'error', listener: (event: { message?: string; error?: unknown; preventDefault?: () => void }) => void): void;
}

/** The scope inside a dedicated Web Worker (`self`). */
export interface WebWorkerScope {
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

interface WebGlobals {
  Worker?: new (url: string | URL, options?: { type?: 'module' | 'classic'; name?: string }) => WebWorker;
  MessageChannel?: new () => { port1: WebMessagePort; port2: WebMessagePort };
  crossOriginIsolated?: boolean;
  SharedArrayBuffer?: unknown;
}

const web = globalThis as unknown as WebGlobals;

/**
 * The globals the connector needs, or a ConfigError saying which is missing. SharedArrayBuffer
 * exists only in a cross-origin isolated page (served with `Cross-Origin-Opener-Policy: same-origin`
 * and `Cross-Origin-Embedder-Policy: require-corp`).
 */
export function webPlatform(what: string): { Worker: NonNullable<WebGlobals['Worker']>; MessageChannel: NonNullable<WebGlobals['MessageChannel']> } {
  if (typeof web.SharedArrayBuffer !== 'function' || web.crossOriginIsolated === false)
    throw new ConfigError(
      'crossOriginIsolated',
      web.crossOriginIsolated,
      `${what} needs SharedArrayBuffer: serve the page with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp`,
    );
  if (web.MessageChannel === undefined) throw new ConfigError('MessageChannel', undefined, `${what} needs MessageChannel`);
  if (web.Worker === undefined) throw new ConfigError('Worker', undefined, `${what} needs Web Workers (new Worker)`);
  return { Worker: web.Worker, MessageChannel: web.MessageChannel };
}
