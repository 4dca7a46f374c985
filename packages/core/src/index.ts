/**
 * @vbus/core: the bus, guest memory, shm-signal, the IOQ ring and the connectors.
 * @packageDocumentation
 */
export * from './common/errors.js';
export * from './common/memory/guest-memory.js';
export { RegionMemory } from './common/memory/region-memory.js';
export { GuestAllocator } from './common/memory/allocator.js';
export * as le from './common/memory/le.js';
