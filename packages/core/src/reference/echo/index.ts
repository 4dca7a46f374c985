/**
 * @vbus/core/reference/echo: the reference device of the docs and demos. An echo device class
 * (IOQ rings, notification prevention, completion mitigation), its guest driver and a scenario;
 * the smallest complete plugin, to copy when writing one.
 * @module @vbus/core/reference/echo
 */
export * from './echo-device.js';
export * from './echo-driver.js';
export * from './echo-scenario.js';
