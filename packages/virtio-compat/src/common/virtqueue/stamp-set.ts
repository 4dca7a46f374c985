/**
 * A set of small integers with O(1) clear, for loop detection while walking a chain: each
 * member is stamped with the current epoch, and clearing moves to the next epoch. No allocation
 * except when the set must grow (for an indirect table longer than any seen before).
 */
export class StampSet {
  private stamps: Uint32Array;
  private epoch = 1;

  constructor(capacity: number) {
    this.stamps = new Uint32Array(capacity);
  }

  /** Make room for members `0..n-1` (members kept). */
  resize(n: number): void {
    if (n <= this.stamps.length) return;
    const s = new Uint32Array(Math.max(n, this.stamps.length * 2));
    s.set(this.stamps);
    this.stamps = s;
  }

  /** Empty the set. */
  clear(): void {
    if (this.epoch === 0xffff_ffff) {
      this.stamps.fill(0);
      this.epoch = 1;
    } else this.epoch++;
  }

  /** Add `i` (below the capacity); false if it was already there. */
  add(i: number): boolean {
    if (this.stamps[i] === this.epoch) return false;
    this.stamps[i] = this.epoch;
    return true;
  }
}
