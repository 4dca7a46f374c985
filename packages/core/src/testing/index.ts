/**
 * @vbus/core/testing: helpers for device authors' tests (mock drivers that build rings,
 * including hostile ones).
 * @module @vbus/core/testing
 */
export { IoqMockDriver, type IoqMockDriverOptions, type MockBuffer, type IoqHeaderField, type IoqIndexField, type IoqDescField, type SignalField } from './ioq-mock-driver.js';
