import { expect, it } from 'vitest';
import * as core from '@vbus/core';
import * as node from '@vbus/core/node';

// The public surface is a promise to plugin authors and embedders: a change here is deliberate.
it('pins the public exports of @vbus/core', () => {
  expect(Object.keys(core).sort()).toMatchInlineSnapshot(`
    [
      "Bus",
      "BusError",
      "Clock",
      "ConfigError",
      "ConsoleLogger",
      "DEFAULT_BUS_LIMITS",
      "DEFAULT_CONNECTOR_LIMITS",
      "DEFAULT_POLL_TURNS",
      "DeviceClass",
      "DriverRing",
      "FlatMemory",
      "FrameCopy",
      "GuestAllocator",
      "HostConnection",
      "IOQ_COMPLETE_PUBLISH_BATCH",
      "IOQ_DESC_COOKIE",
      "IOQ_DESC_LEN",
      "IOQ_DESC_PTR",
      "IOQ_DESC_SIZE",
      "IOQ_DESC_SOWN",
      "IOQ_DESC_VALID",
      "IOQ_HEADER_SIZE",
      "IOQ_IDX_FULL",
      "IOQ_IDX_HEAD",
      "IOQ_IDX_TAIL",
      "IOQ_ITER_AUTOUPDATE",
      "IOQ_ITER_NOFLIPOWNER",
      "IOQ_MAGIC",
      "IOQ_MAX_COUNT",
      "IOQ_OFF_COUNT",
      "IOQ_OFF_IDX_INUSE",
      "IOQ_OFF_IDX_VALID",
      "IOQ_OFF_MAGIC",
      "IOQ_OFF_SIGNAL",
      "IOQ_OFF_VERSION",
      "IOQ_POST_PUBLISH_BATCH",
      "IOQ_VERSION",
      "InProcessConnector",
      "Ioq",
      "IoqDeviceQueue",
      "IoqDriverQueue",
      "IoqIndex",
      "IoqIterator",
      "IoqSeek",
      "LimitError",
      "Logger",
      "MAX_POLL_TURNS",
      "MAX_SIGNALS_PER_CONNECTION",
      "MemoryAccessError",
      "MicrotaskScheduler",
      "ProtocolError",
      "REGION_ALIGN",
      "RandomSource",
      "RegionMemory",
      "RingError",
      "SHM_SIGNAL_MAGIC",
      "SHM_SIGNAL_OFF_MAGIC",
      "SHM_SIGNAL_OFF_SIDES",
      "SHM_SIGNAL_OFF_VERSION",
      "SHM_SIGNAL_SIDE_DIRTY",
      "SHM_SIGNAL_SIDE_ENABLED",
      "SHM_SIGNAL_SIDE_PENDING",
      "SHM_SIGNAL_SIDE_SIZE",
      "SHM_SIGNAL_SIZE",
      "SHM_SIGNAL_VERSION",
      "Scheduler",
      "ShmSignal",
      "Side",
      "SignalRouter",
      "SimulatedConnector",
      "TurnPoller",
      "Vbus",
      "VbusError",
      "VbusToken",
      "VirtualTimeScheduler",
      "checkConfigKeys",
      "checkEmbedderMemory",
      "checkPollTurns",
      "createVbus",
      "cryptoRandomSource",
      "describeFaultContext",
      "ioqByteLength",
      "le",
      "memoryOfRegions",
      "newQueueCounters",
      "openDriverRing",
      "runUntilSettled",
      "signalCell",
      "silentLogger",
      "standaloneDeviceContext",
      "systemClock",
      "withFaultContext",
    ]
  `);
});

it('pins the public exports of @vbus/core/node', () => {
  expect(Object.keys(node).sort()).toMatchInlineSnapshot(`
    [
      "WorkerConnector",
      "WorkerConnectorFactory",
      "connectWorkerGuest",
      "nodeModule",
    ]
  `);
});

it('pins the public exports of @vbus/core/browser', async () => {
  const browser = await import('@vbus/core/browser');
  expect(Object.keys(browser).sort()).toEqual(['WebWorkerConnector', 'connectWebWorkerGuest']);
});
