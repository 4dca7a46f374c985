export * from './echo-device.js';
export * from './echo-driver.js';
export * from './echo-scenario.js';
