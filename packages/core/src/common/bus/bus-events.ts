import type { EventEmitter } from 'eventemitter3';
import type { VbusError } from '../errors.js';
import type { DeviceInfo } from './introspection.js';

/** Events of a {@link Bus}. */
export interface BusEvents {
  'device-added': (info: DeviceInfo) => void;
  'device-removed': (info: DeviceInfo) => void;
  'device-failed': (info: DeviceInfo, error: VbusError) => void;
  connect: (device: string, connectionId: number, guest: string) => void;
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
