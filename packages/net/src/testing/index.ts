/** @vbus/net/testing: helpers for tests of NIC devices and backends. @module @vbus/net/testing */
export { CaptureBackend } from './capture-backend.js';
