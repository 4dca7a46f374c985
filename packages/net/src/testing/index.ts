/** @vbus/net/testing: helpers for tests of NIC devices and backends. @packageDocumentation */
export { CaptureBackend } from './capture-backend.js';
