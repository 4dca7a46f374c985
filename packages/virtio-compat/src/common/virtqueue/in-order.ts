/**
 * The buffers of one queue in the order they were made available, for VIRTIO_F_IN_ORDER
 * (virtio 1.2 §2.7.9): a device uses them in that order and may write one used element for a
 * batch, naming the batch's last buffer; the buffers it skips count as used completely. Both
 * halves keep this queue in their own memory: the device to check that it uses buffers in order
 * and to know which ones it may skip, the driver to expand a batch back into its buffers.
 * Internal to the virtqueue module.
 */
export class InOrderQueue {
  private readonly heads: Uint16Array;
  /** Per entry: the bytes "used completely" means (the chain's device-writable total); -1: unknown. */
  private readonly full: Float64Array;
  private readonly mask: number;
  private first = 0;
  /** Buffers queued (made available and not yet used). */
  count = 0;

  /** @param capacity a power of two: the queue size */
  constructor(readonly capacity: number) {
    this.heads = new Uint16Array(capacity);
    this.full = new Float64Array(capacity);
    this.mask = capacity - 1;
  }

  /** Queue head `head` whose chain has `fullLen` device-writable bytes; false (nothing queued) when full. */
  push(head: number, fullLen: number): boolean {
    if (this.count === this.capacity) return false;
    const at = (this.first + this.count) & this.mask;
    this.heads[at] = head;
    this.full[at] = fullLen;
    this.count++;
    return true;
  }

  /** Head of the `k`-th oldest buffer (k below `count`). */
  head(k: number): number {
    return this.heads[(this.first + k) & this.mask]!;
  }

  /** The used length of the oldest buffer if it was used completely (-1: unknown). */
  fullLen(): number {
    return this.full[this.first]!;
  }

  /** Drop the oldest buffer. */
  shift(): void {
    this.first = (this.first + 1) & this.mask;
    this.count--;
  }
}
