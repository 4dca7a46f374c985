import { RingError } from '@vbus/core';
import type { Fail } from './chain-checks.js';

/**
 * What every half of either ring layout shares: its name and size, and the failed state. Once
 * the other side breaks a rule the half records the {@link RingError} and stays failed: every
 * later ring operation throws that same error. Internal to the virtqueue module.
 */
export abstract class RingHalf {
  protected _error: RingError | null = null;
  /** {@link fail} as a function, for the shared checks of chain-checks.ts. */
  protected readonly failAt: Fail = (index, value, rule) => this.fail(index, value, rule);

  constructor(
    readonly name: string,
    readonly size: number,
  ) {}

  get failed(): boolean {
    return this._error !== null;
  }
  get error(): RingError | null {
    return this._error;
  }

  /** Record the broken rule (the half is failed from now on) and throw it. */
  protected fail(index: number, value: number | bigint, rule: string): never {
    this._error = new RingError(this.name, index, value, rule);
    throw this._error;
  }
}
