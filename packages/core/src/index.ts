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
export * from './common/bus/device.js';
export { Bus, Vbus, HostConnection, type DeviceInfo, type DeviceState, type DeviceSnapshot, type BusSnapshot, type ConnectionSnapshot, type BusEvents, type GuestAttachment, type DeviceRefusals } from './common/bus/bus.js';
export { DEFAULT_BUS_LIMITS, type BusLimits } from './common/bus/limits.js';
export { DEFAULT_CONNECTOR_LIMITS, type ConnectorLimits } from './common/connector/untrusted.js';
export { Scheduler, MicrotaskScheduler, VirtualTimeScheduler } from './common/bus/scheduler.js';
export { SignalRouter, type SignalLink, MAX_SIGNALS_PER_CONNECTION } from './common/bus/signal-router.js';
export { createVbus, VbusToken } from './common/bus/container.js';
export { RandomSource, cryptoRandomSource } from './common/bus/random-source.js';
export type { GuestConnection, GuestBus } from './common/connector/guest-connection.js';
export { InProcessConnector, SimulatedConnector } from './common/connector/in-process.js';
export { IoqDriverQueue, IoqDeviceQueue } from './common/ioq/queue-ends.js';
export { DriverRing, openDriverRing, type DriverRingOptions, type DriverRingCounters, type CompletionHandler } from './common/driver/driver-ring.js';
