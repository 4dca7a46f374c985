/** Host-side network backends ("venet-tap"), shared by every NIC plugin. */
export * from './net-backend.js';
export { NetError } from './net-error.js';
export { BackendPort } from './port.js';
export { PortBurst } from './port-burst.js';
export { LoopbackBackend } from './loopback-backend.js';
export { LearningSwitch, type LearningSwitchOptions, type SwitchAttachOptions, type MacTableEntry, type SwitchStats, type SwitchPortInfo } from './learning-switch.js';
export { connectBackends, type PatchCable, type PatchCableOptions } from './patch-cable.js';
export { LINK_DEFAULT_QUEUE_FRAMES, type LinkOptions, type LinkModel, type LinkStats } from './link.js';
export * from './pcap.js';
export * from './offload.js';
export * from './gso-limits.js';
export * from './stream-framing.js';
export * from './vxlan-header.js';
export * from './vde-stream-framing.js';
export { NetBackendRegistry, NetBackendFactory, type NetBackendServices } from './backend-registry.js';
export { learningSwitchFactory, loopbackFactory } from './common-backend-factories.js';
export { EmulatorNic, type EmulatorNicBus, type EmulatorNicOptions, type EmulatorNicCounters } from './emulator-nic.js';
