#!/usr/bin/env node
// `npm run fuzz`: registers tsx so the TypeScript sources run as they are, then starts the fuzzer.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../fuzz/main.ts', import.meta.url).href);
