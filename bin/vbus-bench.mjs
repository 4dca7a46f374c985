#!/usr/bin/env node
// `npm run bench`: registers tsx so the TypeScript sources run as they are, then starts the benchmark.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../bench/main.ts', import.meta.url).href);
