/** What a device model tells the transport about itself. */
export interface VirtioDeviceSpec {
  /** Number of queues. */
  readonly numQueues: number;
  /** Largest queue size the device accepts. */
  readonly maxQueueSize: number;
  /** Features offered (VERSION_1 is always added). */
  readonly features: bigint;
  /** Name of queue `index` for errors and counters (e.g. `"rx0"`). */
  queueName(index: number): string;
}
