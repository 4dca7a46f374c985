/**
 * The vbus-block example plugin: a paravirtual block device on one IOQ request ring, its driver,
 * its ABI and a memory backend. The file backend (Node only) is in `./file-backend.js`.
 * @packageDocumentation
 */
export * from './block-abi.js';
export { type BlockBackend, MemoryBlockBackend } from './backend.js';
export { BlockDeviceClass, BlockDevice, blockModule, type BlockConfig, type BlockCounters } from './block-device.js';
export { BlockDriver, BlockRequestError, type BlockInfo, type BlockDriverOptions, type BlockCompletion } from './block-driver.js';
export { runBlockScenario, type BlockScenarioResult } from './block-scenario.js';
