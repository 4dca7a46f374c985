/**
 * Test helpers for virtio device and driver authors: a mock driver that builds split and packed
 * rings in a RegionMemory, writes chains and indirect tables, and pokes hostile values.
 * @module @vbus/virtio-compat/testing
 */
export { MockDriver, type MockDriverOptions, type MockUsed, type RingKind } from './mock-driver.js';
