/** @vbus/venet/testing: helpers for tests of NIC devices. @packageDocumentation */
export { CaptureBackend } from './capture-backend.js';
