import type { EventEmitter } from 'eventemitter3';
import type { VbusError } from '../errors.js';
import type { DeviceInfo } from './introspection.js';

/** Events of a {@link Bus}. */
export interface BusEvents {
  /** A device was created on the bus. */
  'device-added': (info: DeviceInfo) => void;
  /** A device was removed from the bus. */
  'device-removed': (info: DeviceInfo) => void;
  /** A device broke a rule (a hostile ring, a fault in its code): it is marked failed and its connections close; the rest of the bus goes on. */
  'device-failed': (info: DeviceInfo, error: VbusError) => void;
  /** A guest opened a connection to `device`. */
  connect: (device: string, connectionId: number, guest: string) => void;
  /** A connection to `device` closed, and why. */
  disconnect: (device: string, connectionId: number, reason: string) => void;
}

/**
 * Emit an event; a listener that throws does not reach the code that raised the event (a
 * failure path must finish). The listener's error is rethrown on its own task, where the
 * embedder's uncaught-exception handling sees it, as for any of its own callbacks.
 */
export function safeEmit<E extends keyof BusEvents>(bus: EventEmitter<BusEvents>, event: E, ...args: Parameters<BusEvents[E]>): void {
  try {
    (bus.emit as (e: E, ...a: Parameters<BusEvents[E]>) => boolean)(event, ...args);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** A message for any thrown value, without calling into it beyond reading `message`. */
export function describeError(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'a value that cannot be printed';
  }
}
