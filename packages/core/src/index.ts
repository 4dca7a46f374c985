/**
 * @vbus/core: the bus, guest memory, shm-signal, the IOQ ring and the connectors.
 * @packageDocumentation
 */
export * from './common/errors.js';
export * from './common/memory/guest-memory.js';
export { RegionMemory } from './common/memory/region-memory.js';
export { GuestAllocator } from './common/memory/allocator.js';
export * as le from './common/memory/le.js';
export * from './common/signal/layout.js';
export { ShmSignal, type Wake, type SignalCounters } from './common/signal/shm-signal.js';
export * from './common/ioq/layout.js';
export { Ioq, IoqIterator } from './common/ioq/ioq.js';
