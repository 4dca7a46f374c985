/**
 * @vbus/core: the bus, guest memory, shm-signal, the IOQ ring and the connectors.
 * @module @vbus/core
 */
export * from './common/errors.js';
export { checkConfigKeys } from './common/config-keys.js';
export * from './common/memory/guest-memory.js';
export { RegionMemory } from './common/memory/region-memory.js';
export { FlatMemory } from './common/memory/flat-memory.js';
export {
  REGION_ALIGN,
  checkEmbedderMemory,
  memoryOfRegions,
  type EmbedderMemory,
  type RegionSpec,
  type CheckedEmbedderMemory,
  type RegionListLimits,
} from './common/memory/embedder-memory.js';
export { GuestAllocator } from './common/memory/allocator.js';
export { FrameCopy } from './common/memory/frame-copy.js';
/** Little-endian (and network-order) integer access to byte arrays: the one module every layout reads and writes through. */
export * as le from './common/memory/le.js';
export * from './common/signal/layout.js';
export { ShmSignal, type Wake, type SignalCounters } from './common/signal/shm-signal.js';
export { TurnPoller, checkPollTurns, DEFAULT_POLL_TURNS, MAX_POLL_TURNS, type PolledQueue } from './common/signal/turn-poller.js';
export * from './common/ioq/layout.js';
export { Ioq, IoqIterator } from './common/ioq/ioq.js';
export * from './common/bus/device.js';
export { Bus } from './common/bus/bus.js';
export { Vbus } from './common/bus/vbus.js';
export { HostConnection, type GuestAttachment } from './common/bus/host-connection.js';
export type { BusEvents } from './common/bus/bus-events.js';
export type { DeviceInfo, DeviceState, DeviceSnapshot, BusSnapshot, ConnectionSnapshot, RegionSnapshot, SignalSnapshot, DeviceRefusals } from './common/bus/introspection.js';
export { DEFAULT_BUS_LIMITS, type BusLimits } from './common/bus/limits.js';
export { DEFAULT_CONNECTOR_LIMITS, type ConnectorLimits } from './common/connector/untrusted.js';
export { Clock, systemClock } from './common/time/clock.js';
export { Scheduler, type Cancel } from './common/time/scheduler.js';
export { MicrotaskScheduler } from './common/time/microtask-scheduler.js';
export { VirtualTimeScheduler } from './common/time/virtual-time-scheduler.js';
export { runUntilSettled, type SteppableScheduler, type RunUntilSettledOptions } from './common/time/run-until-settled.js';
export { Logger, ConsoleLogger, silentLogger, type LogLevel, type LogFields, type ConsoleLike } from './common/log/logger.js';
export { SignalRouter, type SignalLink, MAX_SIGNALS_PER_CONNECTION } from './common/bus/signal-router.js';
export { createVbus, VbusToken, type CreateVbusOptions } from './common/bus/container.js';
export { standaloneDeviceContext, type StandaloneDeviceContext } from './common/bus/device-context.js';
export { RandomSource, cryptoRandomSource } from './common/bus/random-source.js';
export type { GuestConnection, GuestConnectionEvents, GuestBus } from './common/connector/guest-connection.js';
export { InProcessConnector, SimulatedConnector } from './common/connector/in-process.js';
export { IoqDriverQueue, IoqDeviceQueue, IOQ_COMPLETE_PUBLISH_BATCH, IOQ_POST_PUBLISH_BATCH } from './common/ioq/queue-ends.js';
export { DriverRing, openDriverRing, type DriverRingOptions, type DriverRingCounters, type CompletionHandler } from './common/driver/driver-ring.js';
