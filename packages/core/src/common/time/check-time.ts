import { ConfigError } from '../errors.js';

/** A time or delay given to a scheduler must be a finite number of milliseconds (ConfigError otherwise). */
export function checkTime(option: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new ConfigError(option, ms, 'must be a finite number of milliseconds');
}
